//! `POST /api/v1/auth/sync-credential`: what a browser that is not an enrolled
//! device keeps so its outbox drains while the screen is locked, in place of
//! the person's session (which it keeps sealed under their key).

use crate::clock::now_ms;
use crate::crypto::tokens::{new_prefixed_token, token_digest, SYNC_CREDENTIAL_PREFIX};
use crate::error::AppError;
use crate::http::auth::Staff;
use crate::http::json::Json;
use crate::http::openapi::{
    Forbidden, Internal, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::state::AppState;
use crate::store::push::device_secret_digest;
use axum::extract::State;
use haven_core::api::ApiError;
use haven_core::sync::wire::{SyncCredential, SyncCredentialRequest};

/// Makes a sync credential for this browser from a full staff session: it
/// may push and upload attachments under device ids bound to
/// `device_secret`, nothing else (any other endpoint answers 403
/// `sync_credential_only`), and ends with the session (sign-out, sign out
/// everywhere, a second-factor reset, a deactivated account). Asking again
/// from the same session and browser replaces the previous one.
#[utoipa::path(
    post,
    path = "/api/v1/auth/sync-credential",
    tag = "auth",
    operation_id = "create_sync_credential",
    security(("bearer" = [])),
    request_body(content = SyncCredentialRequest, example = json!({"device_secret": "q7mZ1vU0b1v0c2E4d5F6g7H8i9J0k1L2m3N4o5P6q7R"})),
    responses(
        (status = 200, description = "The sync credential", body = SyncCredential),
        (status = 400, description = "`bad_request`: malformed JSON or a `device_secret` that is not 43 base64url characters", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Staff(staff): Staff,
    Json(request): Json<SyncCredentialRequest>,
) -> Result<Json<SyncCredential>, AppError> {
    let secret = device_secret_digest(&request.device_secret)?;
    let token = new_prefixed_token(SYNC_CREDENTIAL_PREFIX);
    let expires_at = crate::store::accounts::session_expiry(&state.pool, &staff.session_digest)
        .await?
        .ok_or(AppError::Unauthorized)?;
    crate::store::accounts::put_sync_credential(
        &state.pool,
        &token_digest(&token),
        &staff.session_digest,
        secret.as_str(),
        now_ms(),
    )
    .await?;
    Ok(Json(SyncCredential { token, expires_at }))
}
