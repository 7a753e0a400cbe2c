//! `GET /api/v1/reception/{academy_id}`: the roll call a reception device
//! polls (who is on site according to every desk that has synced, whom
//! visitors may come to see, the academy's rules), and
//! `PUT /api/v1/academies/{academy_id}/reception`: those rules, for the
//! academy's headteacher or a trust admin.

use super::parse_id;
use crate::clock::now_ms;
use crate::error::AppError;
use crate::http::auth::{Caller, ClientAddr, Staff};
use crate::http::json::Json;
use crate::http::openapi::{
    examples, Forbidden, Internal, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::state::AppState;
use crate::store::audit::{Action, Entry};
use crate::store::visits;
use axum::extract::{Path, State};
use haven_core::accounts::permissions::Capability;
use haven_core::api::ApiError;
use haven_core::visit::{ReceptionSettings, ReceptionSnapshot};
use uuid::Uuid;

/// 404 for an academy the server does not know.
async fn require_academy(state: &AppState, academy: Uuid) -> Result<(), AppError> {
    if crate::store::org::academy_exists(&state.pool, academy).await? {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("there is no academy {academy}")))
    }
}

/// The academy's roll call: visits not yet ended (merged from every device
/// that has pushed), visits ended in the last day, active staff as hosts,
/// the reception rules and its reception kiosks with when each last synced.
/// For a device enrolled at the academy or anyone with a role there.
#[utoipa::path(
    get,
    path = "/api/v1/reception/{academy_id}",
    tag = "reception",
    operation_id = "reception_snapshot",
    security(("bearer" = [])),
    params(("academy_id" = Uuid, Path, description = "The academy",
        example = json!(examples::academy_id()))),
    responses(
        (status = 200, description = "The roll call, made now", body = ReceptionSnapshot),
        (status = 400, description = "`bad_request`: the id is not a UUID", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`not_found`: there is no such academy", body = ApiError),
        (status = 500, response = Internal),
    )
)]
pub async fn snapshot(
    State(state): State<AppState>,
    client: ClientAddr,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ReceptionSnapshot>, AppError> {
    let academy = parse_id(&id, "academy id")?;
    if let Caller::Staff(staff) = &caller {
        if staff.limited {
            return Err(AppError::SecondFactorEnrolmentRequired);
        }
    }
    if !caller.belongs_to(academy) {
        return Err(AppError::Forbidden);
    }
    require_academy(&state, academy).await?;
    // Who is on site is personal data: a person reading it is audited. The
    // academy's own devices poll it all day and are not.
    if let Caller::Staff(staff) = &caller {
        Entry::new(staff.actor(), Action::ReadReception)
            .academy(academy)
            .client(&client)
            .write(&state.pool)
            .await?;
    }
    Ok(Json(
        visits::snapshot(&state.pool, academy, now_ms()).await?,
    ))
}

/// Replaces an academy's reception rules: the escort rule and how long
/// devices and the server keep visits once they have ended.
#[utoipa::path(
    put,
    path = "/api/v1/academies/{academy_id}/reception",
    tag = "reception",
    operation_id = "put_reception_settings",
    security(("bearer" = [])),
    params(("academy_id" = Uuid, Path, description = "The academy",
        example = json!(examples::academy_id()))),
    request_body(content = ReceptionSettings, example = json!(examples::reception_settings())),
    responses(
        (status = 200, description = "The rules now", body = ReceptionSettings),
        (status = 400, description = "`bad_request`: malformed JSON, an unknown or missing field, the id is not a UUID; `invalid_settings`: a value out of range (the message names the field)", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`not_found`: there is no such academy", body = ApiError),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn put_settings(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(staff): Staff,
    Path(id): Path<String>,
    Json(settings): Json<ReceptionSettings>,
) -> Result<Json<ReceptionSettings>, AppError> {
    let academy = parse_id(&id, "academy id")?;
    staff.require(Some(academy), Capability::ManageAcademy)?;
    settings
        .validate()
        .map_err(|e| AppError::invalid("invalid_settings", e))?;
    require_academy(&state, academy).await?;
    let mut tx = crate::store::db::begin_write(&state.pool).await?;
    visits::put_settings(&mut *tx, academy, &settings, now_ms()).await?;
    Entry::new(staff.actor(), Action::ReceptionSettingsChanged)
        .academy(academy)
        .client(&client)
        .detail(format!(
            "{}; ended visits kept {} days on devices, {} days on the server",
            settings.escort_rule.label(),
            settings.device_retention_days,
            settings.server_retention_days
        ))
        .write(&mut *tx)
        .await?;
    let stored = visits::settings(&mut *tx, academy).await?;
    tx.commit().await?;
    Ok(Json(stored))
}
