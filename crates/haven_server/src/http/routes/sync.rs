//! `POST /api/v1/sync/push`: a device hands over its outbox.

use crate::clock::now_ms;
use crate::error::AppError;
use crate::http::auth::{Caller, PushCaller};
use crate::http::json::Json;
use crate::http::openapi::{
    examples, Forbidden, Internal, PayloadTooLarge, TooManyAttempts, Unauthorized,
    UnsupportedMediaType,
};
use crate::state::AppState;
use crate::store::limiter::{wait_words, PUSHES_PER_CREDENTIAL};
use crate::store::push::{apply_push, PushKeys};
use axum::extract::State;
use haven_core::api::ApiError;
use haven_core::sync::wire::{Mutation, Outcome, PushRequest, PushResponse, StaffProof};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::Arc;
use uuid::Uuid;

/// A push as it arrives: the envelope is read strictly (a malformed one is
/// a 400), each change on its own, so one record the server cannot read is
/// refused by itself ([`haven_core::sync::wire::Change::Unreadable`]) and
/// never holds back the records behind it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushEnvelope {
    device_id: Uuid,
    #[serde(default)]
    device_secret: Option<String>,
    mutations: Vec<RawMutation>,
    #[serde(default)]
    backlog: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMutation {
    id: u64,
    change: Box<RawValue>,
    #[serde(default)]
    proof: Option<StaffProof>,
}

impl PushEnvelope {
    /// The push, each change read on its own. A change that is not even a
    /// JSON object is a malformed push, not a record.
    fn read(self) -> Result<PushRequest, AppError> {
        if let Some(i) = self
            .mutations
            .iter()
            .position(|m| !m.change.get().trim_start().starts_with('{'))
        {
            return Err(AppError::BadRequest(format!(
                "mutations[{i}].change must be a JSON object: {{\"type\": ..., \"record\": ...}}"
            )));
        }
        Ok(PushRequest {
            device_id: self.device_id,
            device_secret: self.device_secret,
            mutations: self
                .mutations
                .into_iter()
                .map(|m| Mutation::lenient(m.id, m.change.get(), m.proof))
                .collect(),
            backlog: self.backlog,
        })
    }
}

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
    PushCaller(caller): PushCaller,
    Json(envelope): Json<PushEnvelope>,
) -> Result<Json<PushResponse>, AppError> {
    let started = crate::clock::stopwatch();
    let answer = accept(&state, &caller, envelope).await;
    state.metrics.push_answered(
        started.elapsed(),
        answer
            .as_ref()
            .ok()
            .map(|(request, response)| (request, response)),
    );
    answer.map(|(_, response)| Json(response))
}

/// The push itself: the request as read, and its answer.
async fn accept(
    state: &AppState,
    caller: &Caller,
    envelope: PushEnvelope,
) -> Result<(PushRequest, PushResponse), AppError> {
    let request = envelope.read()?;
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
        opens: Some(&state.limiter),
    };
    let response = match apply_push(&state.pool, &request, now, caller, keys).await {
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
            Arc::clone(&state.metrics),
            crate::jobs::alert_mail::newly_stored_incidents(&request, &response),
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
    Ok((request, response))
}
