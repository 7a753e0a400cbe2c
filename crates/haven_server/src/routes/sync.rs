//! `POST /api/v1/sync/push`: a device hands over its outbox.

use crate::auth::Caller;
use crate::clock::now_ms;
use crate::error::AppError;
use crate::json::Json;
use crate::limiter::{wait_words, PUSHES_PER_CREDENTIAL};
use crate::openapi::{
    examples, Forbidden, Internal, PayloadTooLarge, TooManyAttempts, Unauthorized,
    UnsupportedMediaType,
};
use crate::push::{apply_push, PushKeys};
use crate::state::AppState;
use axum::extract::State;
use haven_core::api::ApiError;
use haven_core::sync::wire::{Outcome, PushRequest, PushResponse};

/// A device's outbox, applied exactly once: every mutation is answered
/// `applied`, `duplicate` or `rejected`. Any signed-in staff member, enrolled
/// device or parent session may push, only under a device id that is theirs:
/// an enrolled device's own, or one bound to the browser's `device_secret`.
/// A push under another device's id is a 403 `device_not_yours`; a push that
/// does not follow on from the server's count (`mutation_gap`) or carries a
/// different change under a number already processed (`device_conflict`)
/// is a 409; too many pushes, refusals or new devices from one credential a
/// 429. None of these applies anything.
#[utoipa::path(
    post,
    path = "/api/v1/sync/push",
    tag = "sync",
    operation_id = "push",
    request_body(content = PushRequest, example = json!(examples::push())),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What became of each mutation", body = PushResponse),
        (status = 400, description = "`bad_request`: malformed JSON, an unknown or missing field, a mutation id of 0 or above 2^63-1, a missing or malformed `device_secret`; `batch_too_large`: more than 500 mutations; `mutations_out_of_order`: ids not going up by one", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, description = "`mutation_gap`: the push does not start where the server left off for this device; `device_conflict`: a number already processed carries a different change (two devices share this id). Nothing was applied; the device should take a new id and send its records again", body = ApiError),
        (status = 429, response = TooManyAttempts),
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
    // Each credential has a bounded rate of pushes, counted before any work.
    let now = now_ms();
    let key = format!("push:{}", caller.identification());
    if let Err(wait) = state.limiter.check(&key, PUSHES_PER_CREDENTIAL, now) {
        return Err(AppError::TooManyAttempts {
            message: format!(
                "this device is sending faster than the server takes; it will try again in {}",
                wait_words(wait)
            ),
            retry_after_ms: wait,
        });
    }
    state.limiter.fail(&key, now);
    let keys = PushKeys {
        server_key: &state.key,
        incident_key: &state.incident_key,
    };
    let response = match apply_push(&state.pool, &request, now, &caller, keys).await {
        Ok(response) => response,
        Err(e) => {
            if matches!(e, AppError::DeviceNotYours | AppError::Conflict { .. }) {
                tracing::warn!(device_id = %request.device_id, caller = %caller.identification(), error = %e, "push refused: device id");
            }
            return Err(e);
        }
    };
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
