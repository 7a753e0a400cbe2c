//! Enrolled devices (reception kiosks, shared staff tablets) and their
//! one-time enrolment codes in the database. `http/routes/devices` decides who may
//! enrol, list and revoke; this module only reads and writes.

use crate::error::AppError;
use haven_core::api::accounts::{DeviceKind, DeviceView};
use sqlx::AnyExecutor;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: String,
    sync_device_id: String,
    academy_id: String,
    kind: String,
    label: String,
    enrolled_at: i64,
    last_contact_at: i64,
    reported_backlog: Option<i64>,
    revoked_at: Option<i64>,
}

const DEVICE_SELECT: &str = "SELECT e.id, e.sync_device_id, e.academy_id, e.kind, e.label, \
     e.enrolled_at, e.last_contact_at, d.reported_backlog, e.revoked_at \
     FROM enrolled_devices e LEFT JOIN devices d ON d.device_id = (SELECT device_id FROM devices \
     WHERE binding = 'enrolled:' || e.id ORDER BY last_seen_at DESC LIMIT 1)";

impl TryFrom<DeviceRow> for DeviceView {
    type Error = AppError;

    fn try_from(row: DeviceRow) -> Result<Self, AppError> {
        Ok(DeviceView {
            id: crate::store::db::parse_id(&row.id)?,
            sync_device_id: crate::store::db::parse_id(&row.sync_device_id)?,
            academy_id: crate::store::db::parse_id(&row.academy_id)?,
            kind: DeviceKind::parse(&row.kind)
                .ok_or_else(|| AppError::Internal(format!("stored device kind {}", row.kind)))?,
            label: row.label,
            enrolled_at: row.enrolled_at,
            last_contact_at: row.last_contact_at,
            reported_backlog: u64::try_from(row.reported_backlog.unwrap_or(0)).unwrap_or(0),
            revoked_at: row.revoked_at,
        })
    }
}

/// The enrolled device `id` (not its sync id).
pub async fn device(db: impl AnyExecutor<'_>, id: &str) -> Result<DeviceView, AppError> {
    let row: Option<DeviceRow> = sqlx::query_as(&format!("{DEVICE_SELECT} WHERE e.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.ok_or_else(|| AppError::NotFound(format!("there is no enrolled device {id}")))?
        .try_into()
}

/// Every enrolled device, most recently in contact first.
pub async fn all(db: impl AnyExecutor<'_>) -> Result<Vec<DeviceView>, AppError> {
    let rows: Vec<DeviceRow> = sqlx::query_as(&format!(
        "{DEVICE_SELECT} ORDER BY e.last_contact_at DESC, e.id"
    ))
    .fetch_all(db)
    .await?;
    rows.into_iter().map(DeviceView::try_from).collect()
}

/// A new enrolment code, by its digest.
pub struct NewCode<'a> {
    pub code_sha256: &'a str,
    pub academy_id: Uuid,
    pub kind: &'a str,
    pub label: &'a str,
    pub created_by: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn insert_code(db: impl AnyExecutor<'_>, code: &NewCode<'_>) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO enrolment_codes (code_sha256, academy_id, kind, label, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(code.code_sha256)
    .bind(code.academy_id.to_string())
    .bind(code.kind)
    .bind(code.label)
    .bind(code.created_by)
    .bind(code.created_at)
    .bind(code.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// An enrolment code as stored: academy id, kind, label, who made it, when
/// it expires and when it was used.
pub type StoredCode = (String, String, String, String, i64, Option<i64>);

/// The enrolment code with digest `code_sha256`, if there is one.
pub async fn code(
    db: impl AnyExecutor<'_>,
    code_sha256: &str,
) -> Result<Option<StoredCode>, AppError> {
    Ok(sqlx::query_as(
        "SELECT academy_id, kind, label, created_by, expires_at, used_at FROM enrolment_codes \
         WHERE code_sha256 = $1",
    )
    .bind(code_sha256)
    .fetch_optional(db)
    .await?)
}

/// Marks the enrolment code with digest `code_sha256` used at `now`.
pub async fn use_code(
    db: impl AnyExecutor<'_>,
    code_sha256: &str,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query("UPDATE enrolment_codes SET used_at = $1 WHERE code_sha256 = $2")
        .bind(now)
        .bind(code_sha256)
        .execute(db)
        .await?;
    Ok(())
}

/// The enrolled device with sync id `sync_device_id`: its id and when it
/// was revoked (`None` while enrolled).
pub async fn enrolled_by_sync_id(
    db: impl AnyExecutor<'_>,
    sync_device_id: &str,
) -> Result<Option<(String, Option<i64>)>, AppError> {
    Ok(
        sqlx::query_as("SELECT id, revoked_at FROM enrolled_devices WHERE sync_device_id = $1")
            .bind(sync_device_id)
            .fetch_optional(db)
            .await?,
    )
}

/// What an enrolment gives a device: where it is, what it is, its token's
/// digest and who made its code.
pub struct Enrolment<'a> {
    pub academy_id: &'a str,
    pub kind: &'a str,
    pub label: &'a str,
    pub token_sha256: &'a str,
    pub enrolled_by: &'a str,
}

/// Enrols a revoked device again: it keeps its row (and its sync history).
pub async fn re_enrol(
    db: impl AnyExecutor<'_>,
    id: &str,
    enrolment: &Enrolment<'_>,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE enrolled_devices SET academy_id = $1, kind = $2, label = $3, token_sha256 = $4, \
         enrolled_at = $5, enrolled_by = $6, last_contact_at = $7, revoked_at = NULL WHERE id = $8",
    )
    .bind(enrolment.academy_id)
    .bind(enrolment.kind)
    .bind(enrolment.label)
    .bind(enrolment.token_sha256)
    .bind(now)
    .bind(enrolment.enrolled_by)
    .bind(now)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Enrols a device for the first time, as `id`.
pub async fn enrol(
    db: impl AnyExecutor<'_>,
    id: &str,
    sync_device_id: &str,
    enrolment: &Enrolment<'_>,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO enrolled_devices (id, sync_device_id, academy_id, kind, label, \
         token_sha256, enrolled_at, enrolled_by, last_contact_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(sync_device_id)
    .bind(enrolment.academy_id)
    .bind(enrolment.kind)
    .bind(enrolment.label)
    .bind(enrolment.token_sha256)
    .bind(now)
    .bind(enrolment.enrolled_by)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Revokes the device `id` at `now` (a device already revoked keeps its time).
pub async fn revoke(db: impl AnyExecutor<'_>, id: &str, now: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE enrolled_devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// An enrolled device as its bearer token finds it.
#[derive(Debug, sqlx::FromRow)]
pub struct TokenDevice {
    pub id: String,
    pub sync_device_id: String,
    pub academy_id: String,
    pub kind: String,
    pub revoked_at: Option<i64>,
}

/// The device whose token has this SHA-256, revoked or not.
pub async fn by_token(
    db: impl AnyExecutor<'_>,
    token_sha256: &str,
) -> Result<Option<TokenDevice>, AppError> {
    Ok(sqlx::query_as(
        "SELECT id, sync_device_id, academy_id, kind, revoked_at FROM enrolled_devices \
         WHERE token_sha256 = $1",
    )
    .bind(token_sha256)
    .fetch_optional(db)
    .await?)
}

/// Notes that the device called, for the admins' device list.
pub async fn touch(db: impl AnyExecutor<'_>, id: &str, now: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE enrolled_devices SET last_contact_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Records still waiting on devices after their last push, and how many
/// devices had any, over the devices seen since `since` (as they reported it).
pub async fn backlog(db: impl AnyExecutor<'_>, since: i64) -> Result<(i64, i64), AppError> {
    Ok(sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(reported_backlog), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN reported_backlog > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM devices WHERE last_seen_at >= $1",
    )
    .bind(since)
    .fetch_one(db)
    .await?)
}
