//! `GET /api/v1/agreements`: every stored signature, for admins.

use crate::error::AppError;
use crate::http::auth::{ClientAddr, TrustAdmin};
use crate::http::json::Json;
use crate::http::openapi::{Forbidden, Internal, Unauthorized};
use crate::state::AppState;
use crate::store::audit::{Action, Entry};
use axum::extract::State;
use haven_core::api::AgreementView;

/// All agreements, newest signature first.
#[utoipa::path(
    get,
    path = "/api/v1/agreements",
    tag = "agreements",
    operation_id = "list_agreements",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every stored agreement, newest signature first", body = Vec<AgreementView>),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn list(
    TrustAdmin(admin): TrustAdmin,
    client: ClientAddr,
    State(state): State<AppState>,
) -> Result<Json<Vec<AgreementView>>, AppError> {
    Entry::new(admin.actor(), Action::ReadAgreements)
        .client(&client)
        .write(&state.pool)
        .await?;
    Ok(Json(crate::store::agreements::all(&state.pool).await?))
}
