//! The trust's rule tables: `GET /api/v1/rules` (the version in force) and
//! `PUT /api/v1/rules` (publish new tables, admin).

use crate::error::AppError;
use crate::http::auth::{ClientAddr, TrustAdmin};
use crate::http::json::Json;
use crate::http::openapi::{
    examples, Forbidden, Internal, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::state::AppState;
use crate::store::audit::{Action, Entry};
use crate::store::{db, rules};
use axum::extract::State;
use axum::http::StatusCode;
use haven_core::api::ApiError;
use haven_core::rules::{RuleTables, RulesVersion};

/// The rule tables in force.
#[utoipa::path(
    get,
    path = "/api/v1/rules",
    tag = "rules",
    operation_id = "get_rules",
    responses(
        (status = 200, description = "The rule tables in force", body = RulesVersion),
        (status = 404, description = "`not_found`: no rule tables have been published", body = ApiError),
        (status = 500, response = Internal),
    )
)]
pub async fn get(State(state): State<AppState>) -> Result<Json<RulesVersion>, AppError> {
    rules::latest(&state.pool)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound("no rule tables have been published".to_owned()))
}

/// Publishes the tables as a new version: 201, or 200 with the version in
/// force when the tables are the same (a retry).
#[utoipa::path(
    put,
    path = "/api/v1/rules",
    tag = "rules",
    operation_id = "put_rules",
    request_body(content = RuleTables, example = json!(examples::rules())),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Published as a new version", body = RulesVersion),
        (status = 200, description = "The same as the tables in force (a retry): nothing changed", body = RulesVersion),
        (status = 400, description = "`bad_request`: malformed JSON, an unknown or missing field; `invalid_rules`: a row breaks a rule (the message names it)", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn put(
    TrustAdmin(admin): TrustAdmin,
    client: ClientAddr,
    State(state): State<AppState>,
    Json(tables): Json<RuleTables>,
) -> Result<(StatusCode, Json<RulesVersion>), AppError> {
    let mut tx = db::begin_write(&state.pool).await?;
    let (version, created) = rules::publish(&mut tx, tables).await?;
    if created {
        Entry::new(admin.actor(), Action::RulesPublished)
            .subject(version.id.to_string())
            .client(&client)
            .detail(format!("rule tables version {}", version.version))
            .write(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(version)))
}
