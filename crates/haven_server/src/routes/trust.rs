//! `GET /api/v1/trust` and `PUT /api/v1/trust` (admin).

use crate::auth::AdminUser;
use crate::db;
use crate::error::AppError;
use crate::json::Json;
use crate::org::{self, Put};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use haven_core::org::{Trust, TrustInput};

pub async fn get(State(state): State<AppState>) -> Result<Json<Trust>, AppError> {
    org::trust(&state.pool)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound("the trust has not been set up yet".to_owned()))
}

/// Sets up (201) or edits (200) the trust.
pub async fn put(
    _admin: AdminUser,
    State(state): State<AppState>,
    Json(input): Json<TrustInput>,
) -> Result<(StatusCode, Json<Trust>), AppError> {
    let mut tx = db::begin_write(&state.pool).await?;
    let (trust, outcome) = org::put_trust(&mut tx, input, None).await?;
    tx.commit().await?;
    let status = match outcome {
        Put::Created => StatusCode::CREATED,
        Put::Updated | Put::Unchanged => StatusCode::OK,
    };
    Ok((status, Json(trust)))
}
