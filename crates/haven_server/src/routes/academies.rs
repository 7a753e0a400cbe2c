//! `GET /api/v1/academies` and `PUT /api/v1/academies/{id}` (admin).

use super::parse_id;
use crate::auth::AdminUser;
use crate::db;
use crate::error::AppError;
use crate::json::Json;
use crate::org::{self, Put};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use haven_core::org::{Academy, AcademyInput};

/// Every academy with its key personnel, by name.
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Academy>>, AppError> {
    Ok(Json(org::academies(&state.pool).await?))
}

/// Adds (201) or replaces (200) an academy; the id is chosen by the caller, so
/// sending the same request twice is harmless.
pub async fn put(
    _admin: AdminUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(input): Json<AcademyInput>,
) -> Result<(StatusCode, Json<Academy>), AppError> {
    let id = parse_id(&id, "academy id")?;
    let mut tx = db::begin_write(&state.pool).await?;
    let (academy, outcome) = org::put_academy(&mut tx, id, input).await?;
    tx.commit().await?;
    let status = match outcome {
        Put::Created => StatusCode::CREATED,
        Put::Updated | Put::Unchanged => StatusCode::OK,
    };
    Ok((status, Json(academy)))
}
