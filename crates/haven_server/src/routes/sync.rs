//! `POST /api/v1/sync/push`: a device hands over its outbox.

use crate::clock::now_ms;
use crate::error::AppError;
use crate::json::Json;
use crate::openapi::{examples, Internal, PayloadTooLarge, UnsupportedMediaType};
use crate::push::apply_push;
use crate::state::AppState;
use axum::extract::State;
use haven_core::api::ApiError;
use haven_core::sync::wire::{Outcome, PushRequest, PushResponse};

/// A device's outbox, applied exactly once: every mutation is answered
/// `applied`, `duplicate` or `rejected`.
#[utoipa::path(
    post,
    path = "/api/v1/sync/push",
    tag = "sync",
    operation_id = "push",
    request_body(content = PushRequest, example = json!(examples::push())),
    responses(
        (status = 200, description = "What became of each mutation", body = PushResponse),
        (status = 400, description = "`bad_request`: malformed JSON, an unknown or missing field, a mutation id of 0 or above 2^63-1; `batch_too_large`: more than 500 mutations; `mutations_out_of_order`: ids not strictly increasing", body = ApiError),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
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
