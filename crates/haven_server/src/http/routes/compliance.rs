//! `GET /api/v1/compliance` (per academy, for its headteacher and e-safety
//! lead) and `GET /api/v1/compliance/mine` (a person's own "to sign"): each
//! person × each agreement their roles sign (staff, governor, volunteer,
//! community user), with where they stand on it (`haven_core::compliance`).

use crate::error::AppError;
use crate::http::auth::{ClientAddr, Staff};
use crate::http::json::Json;
use crate::http::openapi::{
    Forbidden, Internal, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::http::query::Query;
use crate::state::AppState;
use crate::store::audit::{Action, Entry};
use crate::store::compliance::{library, rows_for};
use axum::extract::State;
use haven_core::accounts::permissions::Capability;
use haven_core::api::accounts::ComplianceRow;
use haven_core::api::ApiError;
use haven_core::reminders::{ChaseRow, ReminderReport, SendReminders};
use serde::Deserialize;
use uuid::Uuid;

/// Days a new member of staff has to sign, unless the query says otherwise.
pub const DEFAULT_DUE_DAYS: u32 = 14;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ComplianceQuery {
    /// The academy whose staff to list.
    pub academy_id: Uuid,
    /// Days after joining within which new staff must sign: 1 to 90 (14).
    pub due_days: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MineQuery {
    /// Days after joining within which new staff must sign: 1 to 90 (14).
    pub due_days: Option<u32>,
}

fn due_days(given: Option<u32>) -> Result<u32, AppError> {
    let days = given.unwrap_or(DEFAULT_DUE_DAYS);
    if (1..=90).contains(&days) {
        Ok(days)
    } else {
        Err(AppError::BadRequest(format!(
            "due_days must be 1 to 90; it was {days}"
        )))
    }
}

/// Who at an academy has signed the staff agreements' current versions, who
/// signed an older one, who declined and who has not signed.
#[utoipa::path(
    get,
    path = "/api/v1/compliance",
    tag = "agreements",
    operation_id = "compliance",
    security(("bearer" = [])),
    params(ComplianceQuery),
    responses(
        (status = 200, description = "One row per person and agreement, by name", body = Vec<ComplianceRow>),
        (status = 400, description = "`bad_request`: no or a bad `academy_id`, or `due_days` out of range", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn academy(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(caller): Staff,
    Query(query): Query<ComplianceQuery>,
) -> Result<Json<Vec<ComplianceRow>>, AppError> {
    caller.require(Some(query.academy_id), Capability::ViewCompliance)?;
    let days = due_days(query.due_days)?;
    Entry::new(caller.actor(), Action::ReadCompliance)
        .academy(query.academy_id)
        .client(&client)
        .write(&state.pool)
        .await?;
    let library = library(&state.pool).await?;
    Ok(Json(
        rows_for(&state.pool, &library, query.academy_id, None, days).await?,
    ))
}

/// The signed-in person's own agreements, at each academy they work at.
#[utoipa::path(
    get,
    path = "/api/v1/compliance/mine",
    tag = "agreements",
    operation_id = "my_compliance",
    security(("bearer" = [])),
    params(MineQuery),
    responses(
        (status = 200, description = "One row per academy and agreement", body = Vec<ComplianceRow>),
        (status = 400, description = "`bad_request`: `due_days` out of range", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn mine(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Query(query): Query<MineQuery>,
) -> Result<Json<Vec<ComplianceRow>>, AppError> {
    let days = due_days(query.due_days)?;
    let mut academies: Vec<Uuid> = caller
        .grants
        .0
        .iter()
        .filter_map(|g| g.academy_id)
        .collect();
    academies.sort();
    academies.dedup();
    let library = library(&state.pool).await?;
    let mut rows = Vec::new();
    for academy in academies {
        rows.extend(rows_for(&state.pool, &library, academy, Some(&caller.user_id), days).await?);
    }
    Ok(Json(rows))
}

/// Who at an academy is due to sign (staff with agreements to sign,
/// parents/carers who have not opened their link), with when each was last
/// reminded.
#[utoipa::path(
    get,
    path = "/api/v1/compliance/chase",
    tag = "agreements",
    operation_id = "chase_list",
    security(("bearer" = [])),
    params(ChaseQuery),
    responses(
        (status = 200, description = "Staff by name, then parents/carers by name", body = Vec<ChaseRow>),
        (status = 400, description = "`bad_request`: no or a bad `academy_id`", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn chase(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(caller): Staff,
    Query(query): Query<ChaseQuery>,
) -> Result<Json<Vec<ChaseRow>>, AppError> {
    caller.require(Some(query.academy_id), Capability::ViewCompliance)?;
    Entry::new(caller.actor(), Action::ReadCompliance)
        .academy(query.academy_id)
        .client(&client)
        .detail("chase list")
        .write(&state.pool)
        .await?;
    Ok(Json(
        crate::jobs::reminders::chase_list(&state.pool, query.academy_id).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChaseQuery {
    /// The academy whose people to chase.
    pub academy_id: Uuid,
}

/// Emails a reminder to everyone at an academy who is due to sign and was
/// not reminded within the trust's interval: one email each, with the link
/// to sign and nothing else personal.
#[utoipa::path(
    post,
    path = "/api/v1/compliance/reminders",
    tag = "agreements",
    operation_id = "send_reminders",
    security(("bearer" = [])),
    request_body(content = SendReminders),
    responses(
        (status = 200, description = "What the round did", body = ReminderReport),
        (status = 400, description = "`bad_request`", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`not_found`: no such academy", body = ApiError),
        (status = 409, description = "`reminders_not_configured`: the server has no relay or public address", body = ApiError),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn remind(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(caller): Staff,
    Json(request): Json<SendReminders>,
) -> Result<Json<ReminderReport>, AppError> {
    caller.require(Some(request.academy_id), Capability::ViewCompliance)?;
    let Some(sender) = state.reminders.as_deref() else {
        return Err(AppError::Conflict {
            code: "reminders_not_configured",
            message: "Haven cannot send reminders yet: whoever runs the server must set \
                      HAVEN_SMTP_URL, HAVEN_ALERT_FROM and HAVEN_PUBLIC_URL (see the README)."
                .into(),
        });
    };
    let entry = Entry::new(caller.actor(), Action::RemindersSent).client(&client);
    Ok(Json(
        crate::jobs::reminders::round(&state.pool, sender, request.academy_id, entry).await?,
    ))
}
