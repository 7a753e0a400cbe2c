//! The policy library: `GET /api/v1/policies` (latest versions),
//! `POST /api/v1/policies` (publish, admin), `GET /api/v1/policies/{version_id}`
//! and `GET /api/v1/policies/{policy_id}/versions`.

use super::parse_id;
use crate::error::AppError;
use crate::http::auth::{ClientAddr, TrustAdmin};
use crate::http::json::Json;
use crate::http::openapi::{
    examples, Forbidden, Internal, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::state::AppState;
use crate::store::audit::{Action, Entry};
use crate::store::{db, policies};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use haven_core::api::ApiError;
use haven_core::policy::{PolicyOwner, PolicySummary, PolicyVersion, PublishPolicyVersion};

/// The latest version of each policy, sorted by title.
#[utoipa::path(
    get,
    path = "/api/v1/policies",
    tag = "policies",
    operation_id = "list_policies",
    responses(
        (status = 200, description = "The latest version of each policy, by title", body = Vec<PolicySummary>),
        (status = 500, response = Internal),
    )
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<PolicySummary>>, AppError> {
    Ok(Json(policies::latest_versions(&state.pool).await?))
}

/// One published version, body included.
#[utoipa::path(
    get,
    path = "/api/v1/policies/{version_id}",
    tag = "policies",
    operation_id = "get_policy_version",
    params(("version_id" = Uuid, Path, description = "Id of a policy version",
        example = json!(examples::staff_aua_version_id()))),
    responses(
        (status = 200, description = "The version, body included", body = PolicyVersion),
        (status = 400, description = "`bad_request`: the id is not a UUID", body = ApiError),
        (status = 404, description = "`not_found`: no such version", body = ApiError),
        (status = 500, response = Internal),
    )
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/policies/{policy_id}/versions",
    tag = "policies",
    operation_id = "list_policy_versions",
    params(("policy_id" = Uuid, Path, description = "Id of a policy (stable across its versions)",
        example = json!(examples::staff_aua_policy_id()))),
    responses(
        (status = 200, description = "Every version of the policy, oldest first", body = Vec<PolicySummary>),
        (status = 400, description = "`bad_request`: the id is not a UUID", body = ApiError),
        (status = 404, description = "`not_found`: no such policy", body = ApiError),
        (status = 500, response = Internal),
    )
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/policies",
    tag = "policies",
    operation_id = "publish_policy_version",
    request_body(content = PublishPolicyVersion, example = json!(examples::publish_policy())),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Published as a new version", body = PolicyVersion),
        (status = 200, description = "Already the policy's latest version (a retry): nothing changed", body = PolicyVersion),
        (status = 400, description = "`bad_request`: malformed JSON, an unknown or missing field; `invalid_policy`: a field breaks a rule (the message names it); `change_summary_required`: a new version of an existing policy without `change_summary` (what changed, shown to those asked to sign again)", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, description = "`kind_mismatch`: the policy's earlier versions are of another kind", body = ApiError),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn publish(
    TrustAdmin(admin): TrustAdmin,
    client: ClientAddr,
    State(state): State<AppState>,
    Json(request): Json<PublishPolicyVersion>,
) -> Result<(StatusCode, Json<PolicyVersion>), AppError> {
    let mut tx = db::begin_write(&state.pool).await?;
    let published = policies::publish(&mut tx, request).await?;
    if published.created {
        let version = &published.version;
        let mut entry = Entry::new(admin.actor(), Action::PolicyPublished)
            .subject(version.id.to_string())
            .client(&client)
            .detail(format!(
                "{} version {} of policy {}, effective {}",
                version.kind.label(),
                version.version,
                version.policy_id,
                version.effective_date
            ));
        if let PolicyOwner::Academy { academy_id } = version.owner {
            entry = entry.academy(academy_id);
        }
        entry.write(&mut *tx).await?;
    }
    tx.commit().await?;
    let status = if published.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(published.version)))
}
