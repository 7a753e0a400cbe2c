//! The incident log under `/api/v1/incidents`: the public key devices seal
//! incidents for, the log and one incident with its chronology, follow-ups,
//! alerts, the anonymised report (JSON and CSV) and the search by person.
//!
//! Who sees what is [`haven_core::incident_log::Visibility`]: a trust admin every
//! incident; a DSL, e-safety lead or headteacher those at their academies;
//! any member of staff what they reported. Parents and devices see none.
//! An incident someone may not see answers 404, exactly as one that does not
//! exist, so its existence is not revealed. Every read naming incidents is
//! audited.

use super::parse_id;
use crate::clock::now_ms;
use crate::error::AppError;
use crate::http::auth::{ClientAddr, Staff};
use crate::http::json::Json;
use crate::http::openapi::{
    Forbidden, Internal, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::http::query::Query;
use crate::state::AppState;
use crate::store::audit::{Action, Entry};
use crate::store::incidents::{self, Filter};
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use haven_core::api::incidents::{
    FollowUp, IncidentAlert, IncidentDetail, IncidentReport, IncidentSummary,
};
use haven_core::api::ApiError;
use haven_core::incident::{FollowUpInput, FollowUpKind, IncidentKey, IncidentStatus};
use haven_core::incident_log;
use haven_core::Millis;
use serde::Deserialize;
use uuid::Uuid;

/// Whose conduct an incident is about, for the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Pupil,
    Staff,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this academy's incidents.
    pub academy_id: Option<Uuid>,
    /// Only this incident type (a row id of the tables).
    pub incident_type: Option<String>,
    pub status: Option<IncidentStatus>,
    /// Pupils' incidents, or everyone else's.
    #[param(inline)]
    pub group: Option<Group>,
    /// Happened at or after this time (ms since the Unix epoch).
    pub from: Option<i64>,
    /// Happened before this time (ms since the Unix epoch).
    pub to: Option<i64>,
    /// Only those still new past the time their route allows (or only not).
    pub overdue: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// One academy (one the caller leads); all of theirs if absent.
    pub academy_id: Option<Uuid>,
    /// Happened at or after this time (ms since the Unix epoch).
    pub from: Option<i64>,
    /// Happened before this time (ms since the Unix epoch).
    pub to: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PersonQuery {
    /// The person's name as written in incidents (case and spacing ignored).
    pub name: String,
}

fn check_range(from: Option<Millis>, to: Option<Millis>) -> Result<(), AppError> {
    match (from, to) {
        (Some(from), Some(to)) if from > to => Err(AppError::BadRequest(format!(
            "`from` ({from}) is after `to` ({to})"
        ))),
        _ => Ok(()),
    }
}

/// The public key devices seal incidents for (made on first need). Public:
/// it is a public key, and a device fetches it before anyone unlocks it.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/key",
    tag = "incidents",
    operation_id = "incident_key",
    responses(
        (status = 200, description = "The RSA-OAEP (SHA-256) public key and its id", body = IncidentKey),
        (status = 500, response = Internal),
    )
)]
pub async fn key(State(state): State<AppState>) -> Result<Json<IncidentKey>, AppError> {
    let pair = state
        .incident_key
        .get()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(Json(pair.public().clone()))
}

/// The incident log, newest first: every incident for a trust admin, those
/// at their academies for a DSL, e-safety lead or headteacher, and for
/// anyone else only what they reported. Each read is audited.
#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    tag = "incidents",
    operation_id = "list_incidents",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "Incidents the caller may see, newest first", body = Vec<IncidentSummary>),
        (status = 400, description = "`bad_request`: a filter is not of its type, or `from` is after `to`", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(staff): Staff,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<IncidentSummary>>, AppError> {
    check_range(q.from, q.to)?;
    let who = incidents::visibility(&staff);
    let filter = Filter {
        academy_id: q.academy_id,
        incident_type: q.incident_type,
        status: q.status,
        pupil: q.group.map(|g| g == Group::Pupil),
        from: q.from,
        to: q.to,
        overdue: q.overdue,
        led_only: false,
    };
    let found = incidents::list(&mut *state.pool.acquire().await?, &who, &filter, now_ms()).await?;
    let mut entry = Entry::new(staff.actor(), Action::ReadIncidents)
        .client(&client)
        .detail(format!("{} incidents listed", found.len()));
    if let Some(academy) = filter.academy_id {
        entry = entry.academy(academy);
    }
    entry.write(&state.pool).await?;
    Ok(Json(found))
}

/// One incident as logged, with its follow-ups, for whoever may see it in
/// the log. An incident the caller may not see answers 404 like one that
/// does not exist. Each read is audited.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{incident_id}",
    tag = "incidents",
    operation_id = "get_incident",
    security(("bearer" = [])),
    params(("incident_id" = Uuid, Path, description = "The incident")),
    responses(
        (status = 200, description = "The incident and its chronology", body = IncidentDetail),
        (status = 400, description = "`bad_request`: the id is not a UUID", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`not_found`: no such incident, or not one the caller may see", body = ApiError),
        (status = 500, response = Internal),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(staff): Staff,
    Path(id): Path<String>,
) -> Result<Json<IncidentDetail>, AppError> {
    let id = parse_id(&id, "incident id")?;
    let who = incidents::visibility(&staff);
    let detail = incidents::detail(&mut *state.pool.acquire().await?, &who, id, now_ms())
        .await?
        .ok_or_else(|| not_found(id))?;
    Entry::new(staff.actor(), Action::ReadIncident)
        .subject(id.to_string())
        .academy(detail.summary.academy_id)
        .client(&client)
        .write(&state.pool)
        .await?;
    Ok(Json(detail))
}

/// One attachment of an incident, opened: for whoever may see the incident.
/// The server decrypts it with the key in the incident record and checks it
/// is the size and kind the record says. Each read is audited.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{incident_id}/attachments/{sha256}",
    tag = "incidents",
    operation_id = "get_incident_attachment",
    security(("bearer" = [])),
    params(
        ("incident_id" = Uuid, Path, description = "The incident"),
        ("sha256" = String, Path, pattern = "^[0-9a-f]{64}$", description = "The attachment's `sha256`, as in the record"),
    ),
    responses(
        (status = 200, description = "The file, as the member of staff attached it (after any shrinking), with its own type", content(
            (inline(crate::http::routes::attachments::Binary) = "image/jpeg"),
            (inline(crate::http::routes::attachments::Binary) = "image/png"),
            (inline(crate::http::routes::attachments::Binary) = "image/webp"),
            (inline(crate::http::routes::attachments::Binary) = "application/pdf"),
        )),
        (status = 400, description = "`bad_request`: the id is not a UUID", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`not_found`: no such incident (or not one the caller may see), or no such attachment of it", body = ApiError),
        (status = 409, description = "`attachment_not_arrived`: the device has not finished sending it; it is still arriving", body = ApiError),
        (status = 422, description = "`attachment_damaged`: it does not open with the incident's key, or is not the size or kind the incident says", body = ApiError),
        (status = 500, response = Internal),
    )
)]
pub async fn attachment(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(staff): Staff,
    Path((id, sha256)): Path<(String, String)>,
) -> Result<Response, crate::store::attachments::UploadError> {
    let id = parse_id(&id, "incident id")?;
    let who = incidents::visibility(&staff);
    let mut db = state.pool.acquire().await?;
    let (record, academy) = incidents::record(&mut db, &who, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let attachment = record
        .attachments
        .iter()
        .find(|a| a.sha256 == sha256)
        .ok_or_else(|| AppError::NotFound(format!("incident {id} has no attachment {sha256}")))?;
    let Some(opened) = crate::store::attachments::open(&mut db, attachment).await? else {
        return Err(AppError::Conflict {
            code: "attachment_not_arrived",
            message: format!(
                "{} is still arriving from the device that logged the incident; it is sent \
                 when that device is next online",
                attachment.name
            ),
        }
        .into());
    };
    drop(db);
    Entry::new(staff.actor(), Action::ReadIncidentAttachment)
        .subject(id.to_string())
        .academy(academy)
        .client(&client)
        .detail(format!("attachment {sha256}"))
        .write(&state.pool)
        .await?;
    // The name as typed on a device goes into a header: keep it plain.
    let filename: String = attachment
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (CONTENT_TYPE, opened.content_type),
            (
                CONTENT_DISPOSITION,
                format!("inline; filename=\"{filename}\""),
            ),
        ],
        opened.bytes,
    )
        .into_response())
}

fn not_found(id: Uuid) -> AppError {
    AppError::NotFound(format!("there is no incident {id} that you may see"))
}

/// Adds an entry to an incident's chronology: an action, a referral, parents
/// informed, the second investigator, the outcome, or a status change
/// (forward only; closing needs an outcome). For the DSL, e-safety lead or
/// headteacher of the incident's academy, or a trust admin.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{incident_id}/follow-ups",
    tag = "incidents",
    operation_id = "add_incident_follow_up",
    security(("bearer" = [])),
    params(("incident_id" = Uuid, Path, description = "The incident")),
    request_body(content = FollowUpInput, example = json!({"kind": "action_taken", "note": "Spoke to the pupil with their class teacher."})),
    responses(
        (status = 201, description = "The entry as stored", body = FollowUp),
        (status = 400, description = "`bad_request`: malformed JSON, an unknown or missing field, the id is not a UUID; `invalid_follow_up`: the entry breaks a rule (the message names the field: a status that does not move forward, closing without an outcome, an empty note, anything added to a closed incident)", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`not_found`: no such incident, or not one the caller may see", body = ApiError),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn add_follow_up(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(staff): Staff,
    Path(id): Path<String>,
    Json(body): Json<serde_json::Value>,
) -> Result<(StatusCode, Json<FollowUp>), AppError> {
    let id = parse_id(&id, "incident id")?;
    let input = follow_up_input(body)?;
    let who = incidents::visibility(&staff);
    let now = now_ms();
    let mut tx = crate::store::db::begin_write(&state.pool).await?;
    let detail = incidents::detail(&mut tx, &who, id, now)
        .await?
        .ok_or_else(|| not_found(id))?;
    let academy = detail.summary.academy_id;
    if !who.leads(academy) {
        return Err(AppError::Forbidden);
    }
    let has_outcome = detail.record.outcome.is_some()
        || detail
            .follow_ups
            .iter()
            .any(|f| matches!(f.kind, FollowUpKind::Outcome { .. }));
    input
        .validate(detail.summary.status, has_outcome)
        .map_err(|e| AppError::invalid("invalid_follow_up", e))?;
    let follow_up = incidents::add_follow_up(&mut tx, id, &staff.user_id, &input, now).await?;
    let what = serde_json::to_value(&input.kind)
        .ok()
        .and_then(|v| v["kind"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Entry::new(staff.actor(), Action::IncidentFollowUpAdded)
        .subject(id.to_string())
        .academy(academy)
        .client(&client)
        .detail(what)
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(FollowUp {
            id: follow_up,
            incident_id: id,
            by_name: staff.name,
            at: now,
            kind: input.kind,
            note: input.note,
        }),
    ))
}

/// A [`FollowUpInput`] from a request body, strictly: no field beyond the
/// kind's own and `note`.
///
/// Read by hand because serde cannot derive it: `FollowUpInput` flattens
/// its kind and also denies unknown fields, which serde does not support
/// together (every body is refused with "unknown field `kind`").
fn follow_up_input(body: serde_json::Value) -> Result<FollowUpInput, AppError> {
    use serde_json::Value;
    let Value::Object(mut fields) = body else {
        return Err(AppError::BadRequest(
            "send the follow-up as a JSON object".to_owned(),
        ));
    };
    let note = match fields.remove("note") {
        None => String::new(),
        Some(Value::String(note)) => note,
        Some(_) => {
            return Err(AppError::BadRequest(
                "note: invalid type, expected a string".to_owned(),
            ))
        }
    };
    let given: Vec<String> = fields.keys().cloned().collect();
    let kind: FollowUpKind = serde_json::from_value(Value::Object(fields))
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    // A kind without fields of its own ignores extra ones: refuse them here.
    let known = serde_json::to_value(&kind).unwrap_or_default();
    if let Some(extra) = given.iter().find(|k| known.get(k.as_str()).is_none()) {
        return Err(AppError::BadRequest(format!("unknown field `{extra}`")));
    }
    Ok(FollowUpInput { kind, note })
}

/// New incidents whose route says "immediately", at the academies where the
/// caller is DSL, e-safety lead or headteacher (all for a trust admin),
/// oldest first; an empty list for other staff. An alert names no one.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/alerts",
    tag = "incidents",
    operation_id = "incident_alerts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Immediate incidents nobody has acknowledged yet", body = Vec<IncidentAlert>),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn alerts(
    State(state): State<AppState>,
    Staff(staff): Staff,
) -> Result<Json<Vec<IncidentAlert>>, AppError> {
    let who = incidents::visibility(&staff);
    if !who.is_lead() {
        return Ok(Json(Vec::new()));
    }
    let filter = Filter {
        status: Some(IncidentStatus::New),
        led_only: true,
        ..Filter::default()
    };
    let mut alerts: Vec<IncidentAlert> =
        incidents::list(&mut *state.pool.acquire().await?, &who, &filter, now_ms())
            .await?
            .into_iter()
            .filter(|i| i.immediate)
            .map(|i| IncidentAlert {
                id: i.id,
                academy_id: i.academy_id,
                incident_label: i.incident_label,
                received_at: i.received_at,
            })
            .collect();
    alerts.reverse();
    Ok(Json(alerts))
}

/// The incidents a report counts: at the academies the caller leads (one of
/// them if asked), happened within the range.
async fn report_of(
    state: &AppState,
    staff: &crate::http::auth::StaffCaller,
    client: &ClientAddr,
    q: ReportQuery,
) -> Result<IncidentReport, AppError> {
    check_range(q.from, q.to)?;
    let who = incidents::visibility(staff);
    if !who.is_lead() || q.academy_id.is_some_and(|a| !who.leads(a)) {
        return Err(AppError::Forbidden);
    }
    let filter = Filter {
        academy_id: q.academy_id,
        from: q.from,
        to: q.to,
        led_only: true,
        ..Filter::default()
    };
    let found = incidents::list(&mut *state.pool.acquire().await?, &who, &filter, now_ms()).await?;
    let names = crate::store::org::academy_names(&state.pool).await?;
    let mut entry = Entry::new(staff.actor(), Action::ReadIncidentReport).client(client);
    if let Some(academy) = q.academy_id {
        entry = entry.academy(academy);
    }
    entry.write(&state.pool).await?;
    Ok(incident_log::report(&found, &names))
}

/// Counts of incidents by type, academy, month and group (pupil or staff),
/// for governors and the online safety group: anonymised, no content. For
/// DSLs, e-safety leads and headteachers (their academies) and trust admins.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/report",
    tag = "incidents",
    operation_id = "incident_report",
    security(("bearer" = [])),
    params(ReportQuery),
    responses(
        (status = 200, description = "The counts", body = IncidentReport),
        (status = 400, description = "`bad_request`: a parameter is not of its type, or `from` is after `to`", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn report(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(staff): Staff,
    Query(q): Query<ReportQuery>,
) -> Result<Json<IncidentReport>, AppError> {
    Ok(Json(report_of(&state, &staff, &client, q).await?))
}

/// The same report as CSV (grouping, key, label, count), safe to open in a
/// spreadsheet.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/report.csv",
    tag = "incidents",
    operation_id = "incident_report_csv",
    security(("bearer" = [])),
    params(ReportQuery),
    responses(
        (status = 200, description = "The counts as CSV", content_type = "text/csv", body = String),
        (status = 400, description = "`bad_request`: a parameter is not of its type, or `from` is after `to`", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn report_csv(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(staff): Staff,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    let report = report_of(&state, &staff, &client, q).await?;
    let csv = haven_core::accounts::csv_export::to_csv(
        &["Grouping", "Key", "Label", "Count"],
        &incident_log::report_rows(&report),
    );
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                CONTENT_DISPOSITION,
                "attachment; filename=\"incident-report.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

/// Every incident naming a person, in full (subject access, or a transfer
/// to a new school): at the academies the caller leads, newest first. For
/// DSLs, e-safety leads, headteachers and trust admins; audited.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/person",
    tag = "incidents",
    operation_id = "incidents_naming_person",
    security(("bearer" = [])),
    params(PersonQuery),
    responses(
        (status = 200, description = "The incidents naming the person, newest first", body = Vec<IncidentDetail>),
        (status = 400, description = "`bad_request`: no `name`, or an empty or over-long one", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn person(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(staff): Staff,
    Query(q): Query<PersonQuery>,
) -> Result<Json<Vec<IncidentDetail>>, AppError> {
    let who = incidents::visibility(&staff);
    if !who.is_lead() {
        return Err(AppError::Forbidden);
    }
    haven_core::validate::line("name", &q.name, haven_core::incident::MAX_LINE_CHARS)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let found =
        incidents::naming(&mut *state.pool.acquire().await?, &who, &q.name, now_ms()).await?;
    // Which incidents were read is kept; the name searched for is not.
    let ids: Vec<String> = found.iter().map(|d| d.summary.id.to_string()).collect();
    Entry::new(staff.actor(), Action::ReadPersonIncidents)
        .client(&client)
        .detail(format!("{} incidents: {}", ids.len(), ids.join(", ")))
        .write(&state.pool)
        .await?;
    Ok(Json(found))
}
