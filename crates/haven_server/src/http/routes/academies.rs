//! `GET /api/v1/academies` and `PUT /api/v1/academies/{id}` (a trust admin, or
//! that academy's headteacher: the key personnel are theirs to keep right).

use super::parse_id;
use crate::error::AppError;
use crate::http::auth::{ClientAddr, Staff};
use crate::http::json::Json;
use crate::http::openapi::{
    examples, Forbidden, Internal, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::state::AppState;
use crate::store::audit::{Action, Entry};
use crate::store::db;
use crate::store::org::{self, Put};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use haven_core::accounts::permissions::Capability;
use haven_core::api::ApiError;
use haven_core::org::{Academy, AcademyInput};

/// Every academy with its key personnel, by name.
#[utoipa::path(
    get,
    path = "/api/v1/academies",
    tag = "organisation",
    operation_id = "list_academies",
    responses(
        (status = 200, description = "Every academy with its key personnel, by name", body = Vec<Academy>),
        (status = 500, response = Internal),
    )
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Academy>>, AppError> {
    Ok(Json(org::academies(&state.pool).await?))
}

/// Adds (201) or replaces (200) an academy; the id is chosen by the caller, so
/// sending the same request twice is harmless.
#[utoipa::path(
    put,
    path = "/api/v1/academies/{academy_id}",
    tag = "organisation",
    operation_id = "put_academy",
    params(("academy_id" = Uuid, Path, description = "Id of the academy, chosen by the caller",
        example = json!(examples::academy_id()))),
    request_body(content = AcademyInput, example = json!(examples::academy())),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added", body = Academy),
        (status = 200, description = "Replaced, or already exactly so", body = Academy),
        (status = 400, description = "`bad_request`: malformed JSON, an unknown or missing field, the id is not a UUID; `invalid_academy`: a field breaks a rule (the message names it)", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn put(
    Staff(staff): Staff,
    client: ClientAddr,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(input): Json<AcademyInput>,
) -> Result<(StatusCode, Json<Academy>), AppError> {
    let id = parse_id(&id, "academy id")?;
    staff.require(Some(id), Capability::ManageAcademy)?;
    let mut tx = db::begin_write(&state.pool).await?;
    let before = org::find_academy(&mut *tx, id).await?;
    let (academy, outcome) = org::put_academy(&mut tx, id, input).await?;
    if !matches!(outcome, Put::Unchanged) {
        Entry::new(staff.actor(), Action::AcademyChanged)
            .subject(id.to_string())
            .academy(id)
            .client(&client)
            .detail(changed_fields(before.as_ref(), &academy))
            .write(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    let status = match outcome {
        Put::Created => StatusCode::CREATED,
        Put::Updated | Put::Unchanged => StatusCode::OK,
    };
    Ok((status, Json(academy)))
}

/// Which of the academy's details changed, by field name (never the names or
/// contact details themselves): "added" for a new academy.
fn changed_fields(before: Option<&Academy>, after: &Academy) -> String {
    let Some(before) = before else {
        return "added".to_owned();
    };
    let (b, a) = (&before.key_personnel, &after.key_personnel);
    let fields = [
        ("name", before.name == after.name),
        ("key_personnel.headteacher", b.headteacher == a.headteacher),
        (
            "key_personnel.esafety_lead",
            b.esafety_lead == a.esafety_lead,
        ),
        ("key_personnel.dsl", b.dsl == a.dsl),
    ];
    let changed: Vec<&str> = fields
        .iter()
        .filter(|(_, same)| !same)
        .map(|(field, _)| *field)
        .collect();
    format!("changed {}", changed.join(", "))
}
