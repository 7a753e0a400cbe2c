//! `POST /api/v1/sync/push`: a device hands over its outbox.

use crate::clock::now_ms;
use crate::error::AppError;
use crate::json::Json;
use crate::push::apply_push;
use crate::state::AppState;
use axum::extract::State;
use haven_core::sync::wire::{Outcome, PushRequest, PushResponse};

pub async fn push(
    State(state): State<AppState>,
    Json(request): Json<PushRequest>,
) -> Result<Json<PushResponse>, AppError> {
    let response = apply_push(&state.pool, &request, now_ms()).await?;
    let rejected = response
        .results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Rejected { .. }))
        .count();
    tracing::info!(
        device_id = %request.device_id,
        mutations = request.mutations.len(),
        rejected,
        last_mutation_id = response.last_mutation_id,
        "push"
    );
    Ok(Json(response))
}
