//! `GET /api/v1/health`: is the server up, and which version.

use crate::json::Json;
use haven_core::api::Health;

#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "meta",
    operation_id = "health",
    responses((status = 200, description = "The server is up", body = Health))
)]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}
