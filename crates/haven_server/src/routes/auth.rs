//! `POST /api/v1/auth/login`: email and password in, bearer token out.

use crate::auth::{
    dummy_password_hash, new_token, token_digest, verify_password, TOKEN_LIFETIME_MS,
};
use crate::clock::now_ms;
use crate::error::AppError;
use crate::json::Json;
use crate::openapi::{examples, Internal, PayloadTooLarge, UnsupportedMediaType};
use crate::state::AppState;
use axum::extract::State;
use haven_core::api::{ApiError, LoginRequest, LoginResponse};

/// Signs in: a bearer token for `Authorization: Bearer ...`, valid for 12 hours.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    operation_id = "login",
    request_body(content = LoginRequest, example = json!(examples::login())),
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 400, description = "`bad_request`: malformed JSON, an unknown or missing field", body = ApiError),
        (status = 401, description = "`invalid_credentials`: the email or password is wrong", body = ApiError,
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    Json(request): Json<LoginRequest>,
) -> Result<Json<LoginResponse>, AppError> {
    let user: Option<(String, String)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE email = ?")
            .bind(request.email.trim())
            .fetch_optional(&state.pool)
            .await?;

    // An unknown email is checked against a dummy hash so that it takes as long
    // to refuse as a wrong password and does not reveal which emails exist.
    let (user_id, stored_hash) = match user {
        Some((id, hash)) => (Some(id), hash),
        None => (None, dummy_password_hash().to_owned()),
    };
    let password = request.password;
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &stored_hash))
        .await
        .map_err(|e| AppError::Internal(format!("password check did not finish: {e}")))?;
    let user_id = match (user_id, matches) {
        (Some(id), true) => id,
        _ => return Err(AppError::InvalidCredentials),
    };

    let now = now_ms();
    let token = new_token();
    let expires_at = now + TOKEN_LIFETIME_MS;
    let mut tx = state.pool.begin().await?;
    sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO sessions (token_sha256, user_id, expires_at) VALUES (?, ?, ?)")
        .bind(token_digest(&token))
        .bind(&user_id)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(%user_id, "signed in");
    Ok(Json(LoginResponse { token, expires_at }))
}
