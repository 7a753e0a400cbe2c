//! `GET /api/v1/policies` and `GET /api/v1/policies/{version_id}`.

use crate::error::AppError;
use crate::json::Json;
use crate::policies;
use crate::state::AppState;
use axum::extract::{Path, State};
use haven_core::policy::{PolicySummary, PolicyVersion};
use uuid::Uuid;

/// The latest version of each policy, sorted by title.
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<PolicySummary>>, AppError> {
    Ok(Json(policies::latest_versions(&state.pool).await?))
}

/// One published version, body included.
pub async fn get_version(
    State(state): State<AppState>,
    Path(version_id): Path<String>,
) -> Result<Json<PolicyVersion>, AppError> {
    let id = Uuid::parse_str(&version_id).map_err(|_| {
        AppError::BadRequest(format!(
            "{version_id:?} is not a policy version id; expected a UUID"
        ))
    })?;
    policies::find_version(&state.pool, id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("policy version {id} does not exist")))
}
