//! Published policy versions in the database.

use crate::error::AppError;
use haven_core::hash::Sha256Hex;
use haven_core::policy::{PolicyKind, PolicySummary, PolicyVersion};
use sqlx::SqliteExecutor;
use uuid::Uuid;

/// The columns of one `policy_versions` row.
#[derive(Debug, sqlx::FromRow)]
struct PolicyVersionRow {
    id: String,
    policy_id: String,
    version: i64,
    title: String,
    kind: String,
    body_markdown: String,
    approved_by: String,
    effective_date: String,
    next_review_due: String,
    published_at: i64,
    text_sha256: String,
}

const COLUMNS: &str = "id, policy_id, version, title, kind, body_markdown, approved_by, \
                       effective_date, next_review_due, published_at, text_sha256";

/// The name a kind is stored under: its wire name.
pub fn kind_to_str(kind: PolicyKind) -> String {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(s)) => s,
        _ => unreachable!("PolicyKind serialises as a string"),
    }
}

fn kind_from_str(s: &str) -> Result<PolicyKind, AppError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| AppError::Internal(format!("unknown policy kind {s:?} in the database")))
}

pub(crate) fn uuid_from_db(s: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(s).map_err(|_| AppError::Internal(format!("bad UUID {s:?} in the database")))
}

fn version_from_db(v: i64) -> Result<u32, AppError> {
    u32::try_from(v)
        .map_err(|_| AppError::Internal(format!("bad version number {v} in the database")))
}

pub(crate) fn digest_from_db(s: String) -> Result<Sha256Hex, AppError> {
    Sha256Hex::try_from(s).map_err(|e| AppError::Internal(format!("in the database: {e}")))
}

impl TryFrom<PolicyVersionRow> for PolicyVersion {
    type Error = AppError;

    fn try_from(row: PolicyVersionRow) -> Result<Self, AppError> {
        Ok(PolicyVersion {
            id: uuid_from_db(&row.id)?,
            policy_id: uuid_from_db(&row.policy_id)?,
            version: version_from_db(row.version)?,
            title: row.title,
            kind: kind_from_str(&row.kind)?,
            body_markdown: row.body_markdown,
            approved_by: row.approved_by,
            effective_date: row.effective_date,
            next_review_due: row.next_review_due,
            published_at: row.published_at,
            text_sha256: digest_from_db(row.text_sha256)?,
        })
    }
}

/// One version by id, if it exists.
pub async fn find_version(
    db: impl SqliteExecutor<'_>,
    id: Uuid,
) -> Result<Option<PolicyVersion>, AppError> {
    let row: Option<PolicyVersionRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM policy_versions WHERE id = ?"
    ))
    .bind(id.to_string())
    .fetch_optional(db)
    .await?;
    row.map(PolicyVersion::try_from).transpose()
}

/// The columns of a `policy_versions` row that a summary shows.
#[derive(Debug, sqlx::FromRow)]
struct PolicySummaryRow {
    id: String,
    policy_id: String,
    version: i64,
    title: String,
    kind: String,
    effective_date: String,
    next_review_due: String,
    text_sha256: String,
}

impl TryFrom<PolicySummaryRow> for PolicySummary {
    type Error = AppError;

    fn try_from(row: PolicySummaryRow) -> Result<Self, AppError> {
        Ok(PolicySummary {
            id: uuid_from_db(&row.id)?,
            policy_id: uuid_from_db(&row.policy_id)?,
            version: version_from_db(row.version)?,
            title: row.title,
            kind: kind_from_str(&row.kind)?,
            effective_date: row.effective_date,
            next_review_due: row.next_review_due,
            text_sha256: digest_from_db(row.text_sha256)?,
        })
    }
}

/// The latest version of every policy, sorted by title.
pub async fn latest_versions(db: impl SqliteExecutor<'_>) -> Result<Vec<PolicySummary>, AppError> {
    let rows: Vec<PolicySummaryRow> = sqlx::query_as(
        "SELECT id, policy_id, version, title, kind, effective_date, next_review_due, text_sha256 \
         FROM policy_versions p \
         WHERE version = (SELECT MAX(version) FROM policy_versions WHERE policy_id = p.policy_id) \
         ORDER BY title COLLATE NOCASE, policy_id",
    )
    .fetch_all(db)
    .await?;
    rows.into_iter().map(PolicySummary::try_from).collect()
}

/// Stores a new published version.
pub async fn insert_version(
    db: impl SqliteExecutor<'_>,
    v: &PolicyVersion,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO policy_versions ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(v.id.to_string())
    .bind(v.policy_id.to_string())
    .bind(i64::from(v.version))
    .bind(&v.title)
    .bind(kind_to_str(v.kind))
    .bind(&v.body_markdown)
    .bind(&v.approved_by)
    .bind(&v.effective_date)
    .bind(&v.next_review_due)
    .bind(v.published_at)
    .bind(v.text_sha256.as_str())
    .execute(db)
    .await?;
    Ok(())
}

/// How many policy versions are stored.
pub async fn count(db: impl SqliteExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM policy_versions")
        .fetch_one(db)
        .await
}
