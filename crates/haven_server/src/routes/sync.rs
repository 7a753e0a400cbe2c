//! `POST /api/v1/sync/push`: a device hands over its outbox.

use crate::auth::Caller;
use crate::clock::now_ms;
use crate::error::AppError;
use crate::json::Json;
use crate::openapi::{
    examples, Forbidden, Internal, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::push::apply_push;
use crate::state::AppState;
use axum::extract::State;
use haven_core::api::ApiError;
use haven_core::sync::wire::{Outcome, PushRequest, PushResponse};

/// A device's outbox, applied exactly once: every mutation is answered
/// `applied`, `duplicate` or `rejected`. Any signed-in staff member, enrolled
/// device or parent session may push; an enrolled device only under its own id.
#[utoipa::path(
    post,
    path = "/api/v1/sync/push",
    tag = "sync",
    operation_id = "push",
    request_body(content = PushRequest, example = json!(examples::push())),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What became of each mutation", body = PushResponse),
        (status = 400, description = "`bad_request`: malformed JSON, an unknown or missing field, a mutation id of 0 or above 2^63-1; `batch_too_large`: more than 500 mutations; `mutations_out_of_order`: ids not strictly increasing", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn push(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<PushRequest>,
) -> Result<Json<PushResponse>, AppError> {
    // An enrolled device pushes only its own outbox; staff and parents push
    // from their own phones, whose device ids are theirs to choose.
    if let Caller::Device(device) = &caller {
        if device.sync_device_id != request.device_id {
            return Err(AppError::Forbidden);
        }
    }
    let response = apply_push(
        &state.pool,
        &request,
        now_ms(),
        &caller,
        &state.incident_key,
    )
    .await?;
    // Committed: the alert email (if configured) goes in its own task.
    if let Some(mailer) = &state.alert_mailer {
        mailer.spawn_alerts(
            state.pool.clone(),
            crate::alert_mail::newly_stored_incidents(&request, &response),
        );
    }
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
