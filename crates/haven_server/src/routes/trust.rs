//! `GET /api/v1/trust` and `PUT /api/v1/trust` (admin).

use crate::auth::TrustAdmin;
use crate::db;
use crate::error::AppError;
use crate::json::Json;
use crate::openapi::{
    examples, Forbidden, Internal, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::org::{self, Put};
use crate::state::AppState;
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
    _admin: TrustAdmin,
    State(state): State<AppState>,
    Json(input): Json<TrustInput>,
) -> Result<(StatusCode, Json<Trust>), AppError> {
    let mut tx = db::begin_write(&state.pool).await?;
    let (trust, outcome) = org::put_trust(&mut tx, input, None).await?;
    tx.commit().await?;
    let status = match outcome {
        Put::Created => StatusCode::CREATED,
        Put::Updated | Put::Unchanged => StatusCode::OK,
    };
    Ok((status, Json(trust)))
}
