//! `GET /api/v1/audit` (trust admins): the audit log, newest first.

use crate::error::AppError;
use crate::http::auth::{ClientAddr, TrustAdmin};
use crate::http::json::Json;
use crate::http::openapi::{Forbidden, Internal, Unauthorized};
use crate::http::query::Query;
use crate::state::AppState;
use crate::store::audit::{Action, Entry};
use axum::extract::State;
use haven_core::api::accounts::AuditEntry;
use haven_core::api::ApiError;
use serde::Deserialize;

/// At most this many entries per page.
const PAGE: i64 = 500;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries older than this `seq` (the last one of the previous page).
    pub before: Option<i64>,
}

/// The audit log, newest first, 500 entries a page. Reading it is audited too.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    operation_id = "audit_log",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "Entries, newest first", body = Vec<AuditEntry>),
        (status = 400, description = "`bad_request`: `before` is not a number", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    client: ClientAddr,
    TrustAdmin(admin): TrustAdmin,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, AppError> {
    Entry::new(admin.actor(), Action::ReadAuditLog)
        .client(&client)
        .write(&state.pool)
        .await?;
    let entries =
        crate::store::audit::page(&state.pool, query.before.unwrap_or(i64::MAX), PAGE).await?;
    Ok(Json(entries))
}
