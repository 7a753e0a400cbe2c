//! Incidents in SQLite: storing one from a push, the log as each caller may
//! see it, the chronology of follow-ups, and the anonymised report.
//!
//! Who may see what is one rule ([`Visibility`], in haven_core) so the list,
//! the detail, the alerts, the report and the person search cannot
//! disagree; the SQL of [`list`] applies the same rule in the query.
//! Handlers in `http/routes/incidents.rs` decide which of these an endpoint needs.

use crate::clock::new_id;
use crate::error::AppError;
use crate::http::auth::StaffCaller;
use crate::store::db::parse_id;
use haven_core::accounts::permissions::Capability;
use haven_core::api::incidents::{FollowUp, IncidentDetail, IncidentSummary};
use haven_core::incident::{
    is_overdue, FollowUpInput, FollowUpKind, IncidentRecord, IncidentStatus,
};
use haven_core::incident_log::Visibility;
use haven_core::rules::{Involved, RuleTables};
use haven_core::slug::Slug;
use haven_core::Millis;
use sqlx::{Any, AnyConnection, AnyExecutor, AnyPool, Transaction};
use uuid::Uuid;

/// What `staff` may see of the incident log.
pub fn visibility(staff: &StaffCaller) -> Visibility {
    Visibility {
        all: staff.grants.is_trust_admin(),
        academies: staff
            .grants
            .academies_with(Capability::FollowUpIncidents.roles(), &[]),
        user_id: staff.user_id.clone(),
    }
}

/// What the log can be narrowed to.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub academy_id: Option<Uuid>,
    pub incident_type: Option<String>,
    pub status: Option<IncidentStatus>,
    /// `Some(true)`: pupils' incidents; `Some(false)`: everyone else's.
    pub pupil: Option<bool>,
    /// Happened at or after (ms).
    pub from: Option<Millis>,
    /// Happened before (ms).
    pub to: Option<Millis>,
    pub overdue: Option<bool>,
    /// Only incidents at academies the caller leads (not their own reports
    /// elsewhere): for the report, the alerts and the person search.
    pub led_only: bool,
}

/// Stores an opened, checked incident; `false` if one with its id is
/// already there (a duplicate push).
pub async fn insert(
    tx: &mut Transaction<'static, Any>,
    record: &IncidentRecord,
    mutation_id: i64,
    now: Millis,
    identified_by: &str,
) -> Result<bool, AppError> {
    let json = serde_json::to_string(record)
        .map_err(|e| AppError::Internal(format!("cannot store an incident: {e}")))?;
    let inserted = sqlx::query(
        "INSERT INTO incidents (id, academy_id, reported_by, device_id, mutation_id, occurred_at, \
         reported_at, received_at, involved, incident_type, illegal, immediate, record_json, \
         identified_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(record.id.to_string())
    .bind(record.academy_id.to_string())
    .bind(record.reported_by.to_string())
    .bind(record.device_id.to_string())
    .bind(mutation_id)
    .bind(record.occurred_at)
    .bind(record.reported_at)
    .bind(now)
    .bind(involved_to_db(record.involved))
    .bind(record.incident_type.as_str())
    .bind(i64::from(record.recommended.illegal))
    .bind(i64::from(record.recommended.immediate))
    .bind(json)
    .bind(identified_by)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        // Its attachments may arrive before or after it; either way they now
        // belong to an incident.
        crate::store::attachments::link_to_incident(tx, record).await?;
    }
    Ok(inserted == 1)
}

/// Whether `user` is an active account with a role at `academy` (or a trust
/// admin): who a shared tablet may log an incident for.
pub async fn works_at(
    db: impl AnyExecutor<'_>,
    user: Uuid,
    academy: Uuid,
) -> Result<bool, AppError> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM users u JOIN user_roles r ON r.user_id = u.id \
         WHERE u.id = $1 AND u.active = 1 AND (r.academy_id = $2 OR r.role = 'trust_admin') LIMIT 1",
    )
    .bind(user.to_string())
    .bind(academy.to_string())
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}

fn involved_to_db(involved: Involved) -> String {
    serde_json::to_value(involved)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn from_db<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, AppError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| AppError::Internal(format!("bad {what} {s:?} in the database")))
}

/// An incident row with its current status, as the log needs it.
struct IncidentRow {
    id: Uuid,
    academy: Uuid,
    reported_by: String,
    reported_by_name: String,
    occurred_at: Millis,
    reported_at: Millis,
    received_at: Millis,
    involved: Involved,
    incident_type: Slug,
    illegal: bool,
    immediate: bool,
    status: IncidentStatus,
}

type RawRow = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    String,
    String,
    i64,
    i64,
    String,
);

/// The current status of each incident: its latest status change, else new.
const SELECT_ROWS: &str = "SELECT i.id, i.academy_id, i.reported_by, u.name, i.occurred_at, \
     i.reported_at, i.received_at, i.involved, i.incident_type, i.illegal, i.immediate, \
     COALESCE((SELECT f.status FROM incident_follow_ups f WHERE f.incident_id = i.id \
               AND f.status IS NOT NULL ORDER BY f.rowid DESC LIMIT 1), 'new') \
     FROM incidents i JOIN users u ON u.id = i.reported_by";

fn row_from_db(raw: RawRow) -> Result<IncidentRow, AppError> {
    let (id, academy, reported_by, name, occurred, reported, received, involved, kind, il, im, st) =
        raw;
    Ok(IncidentRow {
        id: parse_id(&id)?,
        academy: parse_id(&academy)?,
        reported_by,
        reported_by_name: name,
        occurred_at: occurred,
        reported_at: reported,
        received_at: received,
        involved: from_db("involved", &involved)?,
        incident_type: Slug::parse(&kind).map_err(|_| {
            AppError::Internal(format!("bad incident type {kind:?} in the database"))
        })?,
        illegal: il == 1,
        immediate: im == 1,
        status: from_db("status", &st)?,
    })
}

/// The words of an incident type in `tables`, or its id if the row is gone.
pub fn type_label(tables: &RuleTables, involved: Involved, incident_type: &Slug) -> String {
    let id = incident_type.as_str();
    let words = if involved.is_pupil() {
        tables.pupil_row(id).map(|r| r.incident.clone())
    } else {
        tables.staff_row(id).map(|r| r.incident.clone())
    };
    words.unwrap_or_else(|| id.to_owned())
}

/// The rule tables in force (the default if none were ever published).
pub async fn tables(db: impl AnyExecutor<'_>) -> Result<RuleTables, AppError> {
    Ok(crate::store::rules::latest(db)
        .await?
        .map_or_else(RuleTables::trust_default, |v| v.tables))
}

fn summary(row: &IncidentRow, tables: &RuleTables, now: Millis) -> IncidentSummary {
    IncidentSummary {
        id: row.id,
        academy_id: row.academy,
        incident_label: type_label(tables, row.involved, &row.incident_type),
        incident_type: row.incident_type.clone(),
        involved: row.involved,
        illegal: row.illegal,
        immediate: row.immediate,
        status: row.status,
        occurred_at: row.occurred_at,
        reported_at: row.reported_at,
        received_at: row.received_at,
        reported_by_name: row.reported_by_name.clone(),
        overdue: is_overdue(row.status, row.immediate, row.received_at, now),
    }
}

/// The incidents `who` may see that pass `filter`, newest first.
pub async fn list(
    db: &mut AnyConnection,
    who: &Visibility,
    filter: &Filter,
    now: Millis,
) -> Result<Vec<IncidentSummary>, AppError> {
    let tables = tables(&mut *db).await?;
    // The academies the caller leads, one placeholder each after the eleven
    // fixed ones (`NULL`, matching nothing, when there are none).
    let led = if who.academies.is_empty() {
        "NULL".to_owned()
    } else {
        (12..12 + who.academies.len())
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sql = format!(
        "{SELECT_ROWS} WHERE ($1 = 1 OR ($2 = 0 AND i.reported_by = $3) \
             OR i.academy_id IN ({led})) \
         AND ($4 IS NULL OR i.academy_id = $5) AND ($6 IS NULL OR i.incident_type = $7) \
         AND ($8 IS NULL OR i.occurred_at >= $9) AND ($10 IS NULL OR i.occurred_at < $11) \
         ORDER BY i.received_at DESC, i.id DESC"
    );
    let academy = filter.academy_id.map(|a| a.to_string());
    let mut query = sqlx::query_as(&sql)
        .bind(i64::from(who.all))
        .bind(i64::from(filter.led_only))
        .bind(&who.user_id)
        .bind(&academy)
        .bind(&academy)
        .bind(&filter.incident_type)
        .bind(&filter.incident_type)
        .bind(filter.from)
        .bind(filter.from)
        .bind(filter.to)
        .bind(filter.to);
    for led in &who.academies {
        query = query.bind(led.to_string());
    }
    let rows: Vec<RawRow> = query.fetch_all(&mut *db).await?;
    let mut out = Vec::new();
    for raw in rows {
        let row = row_from_db(raw)?;
        if filter.pupil.is_some_and(|p| p != row.involved.is_pupil()) {
            continue;
        }
        if filter.status.is_some_and(|s| s != row.status) {
            continue;
        }
        let summary = summary(&row, &tables, now);
        if filter.overdue.is_some_and(|o| o != summary.overdue) {
            continue;
        }
        out.push(summary);
    }
    Ok(out)
}

/// One incident with its chronology, if it exists and `who` may see it.
/// `None` for both, so a caller cannot tell them apart.
pub async fn detail(
    db: &mut AnyConnection,
    who: &Visibility,
    id: Uuid,
    now: Millis,
) -> Result<Option<IncidentDetail>, AppError> {
    let raw: Option<RawRow> = sqlx::query_as(&format!("{SELECT_ROWS} WHERE i.id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut *db)
        .await?;
    let Some(row) = raw.map(row_from_db).transpose()? else {
        return Ok(None);
    };
    if !who.sees(&row.reported_by, row.academy) {
        return Ok(None);
    }
    let tables = tables(&mut *db).await?;
    let json: String = sqlx::query_scalar("SELECT record_json FROM incidents WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(&mut *db)
        .await?;
    let mut record: IncidentRecord = serde_json::from_str(&json)
        .map_err(|e| AppError::Internal(format!("stored incident {id}: {e}")))?;
    let named: Vec<String> = record
        .attachments
        .iter()
        .map(|a| a.sha256.clone())
        .collect();
    let arrived = crate::store::attachments::arrived(db, &named).await?;
    // Only the server opens attachments: their keys stay here.
    for a in &mut record.attachments {
        a.key.clear();
        a.iv.clear();
    }
    Ok(Some(IncidentDetail {
        summary: summary(&row, &tables, now),
        record,
        follow_ups: follow_ups(&mut *db, id).await?,
        arrived,
    }))
}

/// The record of incident `id`, if it exists and `who` may see it (`None`
/// for both, as [`detail`]), with its academy.
pub async fn record(
    db: &mut AnyConnection,
    who: &Visibility,
    id: Uuid,
) -> Result<Option<(IncidentRecord, Uuid)>, AppError> {
    let raw: Option<RawRow> = sqlx::query_as(&format!("{SELECT_ROWS} WHERE i.id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut *db)
        .await?;
    let Some(row) = raw.map(row_from_db).transpose()? else {
        return Ok(None);
    };
    if !who.sees(&row.reported_by, row.academy) {
        return Ok(None);
    }
    let json: String = sqlx::query_scalar("SELECT record_json FROM incidents WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(&mut *db)
        .await?;
    let record = serde_json::from_str(&json)
        .map_err(|e| AppError::Internal(format!("stored incident {id}: {e}")))?;
    Ok(Some((record, row.academy)))
}

/// An incident's follow-ups, oldest first.
pub async fn follow_ups(
    db: impl AnyExecutor<'_>,
    incident: Uuid,
) -> Result<Vec<FollowUp>, AppError> {
    let rows: Vec<(String, String, i64, String, String)> = sqlx::query_as(
        "SELECT f.id, u.name, f.at, f.kind_json, f.note FROM incident_follow_ups f \
         JOIN users u ON u.id = f.by_user WHERE f.incident_id = $1 ORDER BY f.rowid",
    )
    .bind(incident.to_string())
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|(id, by_name, at, kind, note)| {
            let kind: FollowUpKind = serde_json::from_str(&kind)
                .map_err(|e| AppError::Internal(format!("stored follow-up {id}: {e}")))?;
            Ok(FollowUp {
                id: parse_id(&id)?,
                incident_id: incident,
                by_name,
                at,
                kind,
                note,
            })
        })
        .collect()
}

/// Adds a follow-up (already validated) by `user` at `now`.
pub async fn add_follow_up(
    tx: &mut Transaction<'static, Any>,
    incident: Uuid,
    user: &str,
    input: &FollowUpInput,
    now: Millis,
) -> Result<Uuid, AppError> {
    let id = new_id();
    let kind_json = serde_json::to_value(&input.kind)
        .map_err(|e| AppError::Internal(format!("cannot store a follow-up: {e}")))?;
    let tag = kind_json["kind"].as_str().unwrap_or_default().to_owned();
    let status = match &input.kind {
        FollowUpKind::StatusChanged { .. } => kind_json["status"].as_str().map(str::to_owned),
        _ => None,
    };
    sqlx::query(
        "INSERT INTO incident_follow_ups (id, incident_id, by_user, at, kind, kind_json, status, \
         note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id.to_string())
    .bind(incident.to_string())
    .bind(user)
    .bind(now)
    .bind(tag)
    .bind(kind_json.to_string())
    .bind(status)
    .bind(&input.note)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Incidents at the academies `who` leads naming `name` among the people
/// involved (compared as `accounts::clean`, ignoring case), newest first.
pub async fn naming(
    db: &mut AnyConnection,
    who: &Visibility,
    name: &str,
    now: Millis,
) -> Result<Vec<IncidentDetail>, AppError> {
    use haven_core::accounts::clean;
    let wanted = clean(name).to_lowercase();
    let filter = Filter {
        led_only: true,
        ..Filter::default()
    };
    let mut out = Vec::new();
    for summary in list(&mut *db, who, &filter, now).await? {
        let Some(detail) = detail(&mut *db, who, summary.id, now).await? else {
            continue;
        };
        if detail
            .record
            .people
            .iter()
            .any(|p| clean(&p.name).to_lowercase() == wanted)
        {
            out.push(detail);
        }
    }
    Ok(out)
}

/// The academy of `incident` if it is stored and its route says immediately
/// (the alert email's question).
pub async fn immediate_academy(pool: &AnyPool, incident: Uuid) -> Result<Option<Uuid>, AppError> {
    let academy: Option<String> =
        sqlx::query_scalar("SELECT academy_id FROM incidents WHERE id = $1 AND immediate = 1")
            .bind(incident.to_string())
            .fetch_optional(pool)
            .await?;
    academy.map(|id| parse_id(&id)).transpose()
}
