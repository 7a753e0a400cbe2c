//! `GET /api/v1/pull?since=CURSOR&limit=N`: what changed after a cursor.

use crate::error::AppError;
use crate::json::Json;
use crate::pull;
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use haven_core::pull::{PullQuery, PullResponse, DEFAULT_PULL_LIMIT, MAX_PULL_LIMIT};

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
