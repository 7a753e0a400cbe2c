//! The policy library: `GET /api/v1/policies` (latest versions),
//! `POST /api/v1/policies` (publish, admin), `GET /api/v1/policies/{version_id}`
//! and `GET /api/v1/policies/{policy_id}/versions`.

use super::parse_id;
use crate::auth::AdminUser;
use crate::error::AppError;
use crate::json::Json;
use crate::state::AppState;
use crate::{db, policies};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use haven_core::policy::{PolicySummary, PolicyVersion, PublishPolicyVersion};

/// The latest version of each policy, sorted by title.
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<PolicySummary>>, AppError> {
    Ok(Json(policies::latest_versions(&state.pool).await?))
}

/// One published version, body included.
pub async fn get_version(
    State(state): State<AppState>,
    Path(version_id): Path<String>,
) -> Result<Json<PolicyVersion>, AppError> {
    let id = parse_id(&version_id, "policy version id")?;
    policies::find_version(&state.pool, id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("policy version {id} does not exist")))
}

/// Every version of one policy, oldest first.
pub async fn versions(
    State(state): State<AppState>,
    Path(policy_id): Path<String>,
) -> Result<Json<Vec<PolicySummary>>, AppError> {
    let id = parse_id(&policy_id, "policy id")?;
    let list = policies::versions_of(&state.pool, id).await?;
    if list.is_empty() {
        return Err(AppError::NotFound(format!("policy {id} does not exist")));
    }
    Ok(Json(list))
}

/// Publishes a version: 201 with the new version, or 200 with the existing
/// one when the request is already the policy's latest version (a retry).
pub async fn publish(
    _admin: AdminUser,
    State(state): State<AppState>,
    Json(request): Json<PublishPolicyVersion>,
) -> Result<(StatusCode, Json<PolicyVersion>), AppError> {
    let mut tx = db::begin_write(&state.pool).await?;
    let published = policies::publish(&mut tx, request).await?;
    tx.commit().await?;
    let status = if published.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(published.version)))
}
