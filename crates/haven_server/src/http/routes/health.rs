//! `GET /api/v1/health`: is the process up, and which version (liveness).
//! `GET /api/v1/ready`: can it serve requests now, that is, does its
//! database answer (readiness). A load balancer restarts a server whose
//! health check fails and stops sending requests to one that is not ready;
//! docs/operations.md says which to use where.

use crate::error::AppError;
use crate::http::json::Json;
use crate::state::AppState;
use axum::extract::State;
use haven_core::api::{ApiError, Health};
use std::time::Duration;

/// How long readiness waits for the database: a load balancer's check
/// usually gives up after a few seconds, and a database that takes longer
/// than this for a trivial query is not serving pushes either.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Never touches the database: a server whose database is slow or gone is
/// still alive, and restarting it would not help (readiness says so).
#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "meta",
    operation_id = "health",
    responses((status = 200, description = "The server process is up (liveness); says nothing of the database, which `/api/v1/ready` checks", body = Health))
)]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// Ready when a connection from the pool reads the database file (its
/// schema table, so a file gone bad fails where `SELECT 1` would not)
/// within [`READY_TIMEOUT`].
#[utoipa::path(
    get,
    path = "/api/v1/ready",
    tag = "meta",
    operation_id = "ready",
    responses(
        (status = 200, description = "The database answers: the server can take requests (`status` is `ready`)", body = Health),
        (status = 503, description = "`database_unavailable`: the database did not answer within 2 seconds; send requests elsewhere. The cause is in the server's log", body = ApiError),
    )
)]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Health>, AppError> {
    let query = crate::store::db::answers(&state.pool);
    match tokio::time::timeout(READY_TIMEOUT, query).await {
        Ok(Ok(_)) => Ok(Json(Health {
            status: "ready".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "not ready: the database refused a trivial query");
            Err(AppError::DatabaseUnavailable)
        }
        Err(_) => {
            tracing::error!(
                timeout = ?READY_TIMEOUT,
                "not ready: the database did not answer a trivial query in time \
                 (every connection busy, or the disk stalled)"
            );
            Err(AppError::DatabaseUnavailable)
        }
    }
}
