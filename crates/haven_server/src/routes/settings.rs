//! `/api/v1/settings/accounts`: the trust's account rules (second factor
//! for which roles; idle lock time). Anyone signed in or enrolled reads them,
//! since devices need the idle time; trust admins change them.

use crate::auth::{Caller, TrustAdmin};
use crate::error::AppError;
use crate::json::Json;
use crate::openapi::{Forbidden, Internal, PayloadTooLarge, Unauthorized, UnsupportedMediaType};
use crate::state::AppState;
use axum::extract::State;
use haven_core::api::accounts::AccountSettings;
use haven_core::api::ApiError;

/// The trust's account rules.
#[utoipa::path(
    get,
    path = "/api/v1/settings/accounts",
    tag = "staff",
    operation_id = "get_account_settings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rules", body = AccountSettings),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<AccountSettings>, AppError> {
    Ok(Json(crate::accounts::settings(&state.pool).await?))
}

/// Changes the trust's account rules.
#[utoipa::path(
    put,
    path = "/api/v1/settings/accounts",
    tag = "staff",
    operation_id = "put_account_settings",
    security(("bearer" = [])),
    request_body(content = AccountSettings),
    responses(
        (status = 200, description = "The rules now", body = AccountSettings),
        (status = 400, description = "`bad_request`; `invalid_settings`: the message names the field", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    _admin: TrustAdmin,
    Json(settings): Json<AccountSettings>,
) -> Result<Json<AccountSettings>, AppError> {
    if !(1..=120).contains(&settings.idle_lock_minutes) {
        return Err(AppError::Invalid {
            code: "invalid_settings",
            message: format!(
                "idle_lock_minutes must be 1 to 120; it was {}",
                settings.idle_lock_minutes
            ),
        });
    }
    if let Some(role) = settings
        .second_factor_required
        .iter()
        .find(|r| !r.second_factor_may_be_required())
    {
        return Err(AppError::Invalid {
            code: "invalid_settings",
            message: format!(
                "second_factor_required: {} cannot be required to use a second factor; \
                 choose from trust_admin, dsl, esafety_lead",
                role.as_str()
            ),
        });
    }
    let mut roles = settings.second_factor_required.clone();
    roles.sort();
    roles.dedup();
    sqlx::query("UPDATE account_settings SET second_factor_required = ?, idle_lock_minutes = ?")
        .bind(serde_json::to_string(&roles).unwrap_or_else(|_| "[]".into()))
        .bind(settings.idle_lock_minutes)
        .execute(&state.pool)
        .await?;
    Ok(Json(crate::accounts::settings(&state.pool).await?))
}
