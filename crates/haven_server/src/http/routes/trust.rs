//! `GET /api/v1/trust` and `PUT /api/v1/trust` (admin).

use crate::error::AppError;
use crate::http::auth::{ClientAddr, TrustAdmin};
use crate::http::json::Json;
use crate::http::openapi::{
    examples, Forbidden, Internal, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::state::AppState;
use crate::store::audit::{Action, Entry};
use crate::store::db;
use crate::store::org::{self, Put};
use axum::extract::State;
use axum::http::StatusCode;
use haven_core::api::ApiError;
use haven_core::org::{Trust, TrustInput};

/// The trust and its key people.
#[utoipa::path(
    get,
    path = "/api/v1/trust",
    tag = "organisation",
    operation_id = "get_trust",
    responses(
        (status = 200, description = "The trust", body = Trust),
        (status = 404, description = "`not_found`: the trust has not been set up yet", body = ApiError),
        (status = 500, response = Internal),
    )
)]
pub async fn get(State(state): State<AppState>) -> Result<Json<Trust>, AppError> {
    org::trust(&state.pool)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound("the trust has not been set up yet".to_owned()))
}

/// Sets up (201) or edits (200) the trust.
#[utoipa::path(
    put,
    path = "/api/v1/trust",
    tag = "organisation",
    operation_id = "put_trust",
    request_body(content = TrustInput, example = json!(examples::trust())),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Set up", body = Trust),
        (status = 200, description = "Edited, or already exactly so", body = Trust),
        (status = 400, description = "`bad_request`: malformed JSON, an unknown or missing field; `invalid_trust`: a field breaks a rule (the message names it)", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn put(
    TrustAdmin(admin): TrustAdmin,
    client: ClientAddr,
    State(state): State<AppState>,
    Json(input): Json<TrustInput>,
) -> Result<(StatusCode, Json<Trust>), AppError> {
    let mut tx = db::begin_write(&state.pool).await?;
    let before = org::trust(&mut *tx).await?;
    let (trust, outcome) = org::put_trust(&mut tx, input, None).await?;
    if !matches!(outcome, Put::Unchanged) {
        Entry::new(admin.actor(), Action::TrustChanged)
            .subject(trust.id.to_string())
            .client(&client)
            .detail(changed_fields(before.as_ref(), &trust))
            .write(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    let status = match outcome {
        Put::Created => StatusCode::CREATED,
        Put::Updated | Put::Unchanged => StatusCode::OK,
    };
    Ok((status, Json(trust)))
}

/// Which of the trust's details changed, by field name (never the names or
/// contact details themselves): "set up" for a new trust.
fn changed_fields(before: Option<&Trust>, after: &Trust) -> String {
    let Some(before) = before else {
        return "set up".to_owned();
    };
    let fields = [
        ("name", before.name == after.name),
        (
            "chief_executive",
            before.chief_executive == after.chief_executive,
        ),
        (
            "chair_of_trustees",
            before.chair_of_trustees == after.chair_of_trustees,
        ),
        (
            "data_protection_officer",
            before.data_protection_officer == after.data_protection_officer,
        ),
    ];
    let changed: Vec<&str> = fields
        .iter()
        .filter(|(_, same)| !same)
        .map(|(field, _)| *field)
        .collect();
    format!("changed {}", changed.join(", "))
}
