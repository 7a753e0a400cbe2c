//! `GET /api/v1/audit` (trust admins): the audit log, newest first.

use crate::audit::{Action, Entry};
use crate::auth::{ClientAddr, TrustAdmin};
use crate::error::AppError;
use crate::json::Json;
use crate::openapi::{Forbidden, Internal, Unauthorized};
use crate::query::Query;
use crate::state::AppState;
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
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT seq, at, actor, action, subject, academy_id, client, detail FROM audit_log \
         WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
    )
    .bind(query.before.unwrap_or(i64::MAX))
    .bind(PAGE)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows.into_iter().map(AuditEntry::from).collect()))
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    seq: i64,
    at: i64,
    actor: String,
    action: String,
    subject: String,
    academy_id: String,
    client: String,
    detail: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            seq: r.seq,
            at: r.at,
            actor: r.actor,
            action: r.action,
            subject: r.subject,
            academy_id: uuid::Uuid::parse_str(&r.academy_id).ok(),
            client: r.client,
            detail: r.detail,
        }
    }
}
