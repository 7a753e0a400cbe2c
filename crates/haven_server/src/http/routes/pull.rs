//! `GET /api/v1/pull?since=CURSOR&limit=N`: what changed after a cursor.

use crate::error::AppError;
use crate::http::json::Json;
use crate::http::openapi::Internal;
use crate::state::AppState;
use crate::store::pull;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use haven_core::api::ApiError;
use haven_core::pull::{PullQuery, PullResponse, DEFAULT_PULL_LIMIT, MAX_PULL_LIMIT};

/// What changed after a cursor: policy versions, the rule tables, academies,
/// the trust.
#[utoipa::path(
    get,
    path = "/api/v1/pull",
    tag = "sync",
    operation_id = "pull",
    params(PullQuery),
    responses(
        (status = 200, description = "The changes after `since`, up to `cursor`", body = PullResponse),
        (status = 400, description = "`bad_request`: `since` or `limit` is not a whole number in range, or an unknown parameter", body = ApiError),
        (status = 500, response = Internal),
    )
)]
pub async fn pull(
    State(state): State<AppState>,
    query: Result<Query<PullQuery>, QueryRejection>,
) -> Result<Json<PullResponse>, AppError> {
    let Query(query) = query.map_err(|e| {
        AppError::BadRequest(format!(
            "{}; expected ?since=CURSOR (a whole number, 0 for everything) and optionally &limit=1..{MAX_PULL_LIMIT}",
            e.body_text()
        ))
    })?;
    let limit = query.limit.unwrap_or(DEFAULT_PULL_LIMIT);
    if !(1..=MAX_PULL_LIMIT).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "limit must be 1 to {MAX_PULL_LIMIT}; it was {limit}"
        )));
    }
    Ok(Json(pull::pull(&state.pool, query.since, limit).await?))
}
