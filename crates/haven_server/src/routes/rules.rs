//! The trust's rule tables: `GET /api/v1/rules` (the version in force) and
//! `PUT /api/v1/rules` (publish new tables, admin).

use crate::auth::AdminUser;
use crate::error::AppError;
use crate::json::Json;
use crate::state::AppState;
use crate::{db, rules};
use axum::extract::State;
use axum::http::StatusCode;
use haven_core::rules::{RuleTables, RulesVersion};

pub async fn get(State(state): State<AppState>) -> Result<Json<RulesVersion>, AppError> {
    rules::latest(&state.pool)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound("no rule tables have been published".to_owned()))
}

/// Publishes the tables as a new version: 201, or 200 with the version in
/// force when the tables are the same (a retry).
pub async fn put(
    _admin: AdminUser,
    State(state): State<AppState>,
    Json(tables): Json<RuleTables>,
) -> Result<(StatusCode, Json<RulesVersion>), AppError> {
    let mut tx = db::begin_write(&state.pool).await?;
    let (version, created) = rules::publish(&mut tx, tables).await?;
    tx.commit().await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(version)))
}
