//! Published policy versions in the database.
//!
//! A row is never updated or deleted (triggers refuse it); publishing inserts
//! a new row, and a trigger numbers the change for pull (migration 0003).

use crate::clock;
use crate::error::AppError;
use crate::store::db::parse_id;
use haven_core::hash::Sha256Hex;
use haven_core::policy::{
    Audience, PolicyKind, PolicyOwner, PolicySummary, PolicyVersion, PublishPolicyVersion,
};
use sqlx::{AnyConnection, AnyExecutor};
use uuid::Uuid;

/// The columns of one `policy_versions` row.
#[derive(Debug, sqlx::FromRow)]
struct PolicyVersionRow {
    id: String,
    policy_id: String,
    version: i64,
    title: String,
    kind: String,
    audiences: String,
    owner_academy_id: Option<String>,
    body_markdown: String,
    approved_by: String,
    effective_date: String,
    last_reviewed: String,
    next_review_due: String,
    published_at: i64,
    text_sha256: String,
    change_summary: Option<String>,
}

const COLUMNS: &str = "id, policy_id, version, title, kind, audiences, owner_academy_id, \
                       body_markdown, approved_by, effective_date, last_reviewed, \
                       next_review_due, published_at, text_sha256, change_summary";

/// The same columns qualified with the table alias `p`, for joins.
fn columns_of_p() -> String {
    COLUMNS
        .split(", ")
        .map(|c| format!("p.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

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

fn version_from_db(v: i64) -> Result<u32, AppError> {
    u32::try_from(v)
        .map_err(|_| AppError::Internal(format!("bad version number {v} in the database")))
}

pub(crate) fn digest_from_db(s: String) -> Result<Sha256Hex, AppError> {
    Sha256Hex::try_from(s).map_err(|e| AppError::Internal(format!("in the database: {e}")))
}

fn audiences_from_db(s: &str) -> Result<Vec<Audience>, AppError> {
    serde_json::from_str(s)
        .map_err(|e| AppError::Internal(format!("bad audiences {s:?} in the database: {e}")))
}

fn audiences_to_db(audiences: &[Audience]) -> String {
    serde_json::to_string(audiences).unwrap_or_else(|_| "[]".to_owned())
}

fn owner_from_db(academy_id: Option<&str>) -> Result<PolicyOwner, AppError> {
    Ok(match academy_id {
        None => PolicyOwner::Trust,
        Some(id) => PolicyOwner::Academy {
            academy_id: parse_id(id)?,
        },
    })
}

impl TryFrom<PolicyVersionRow> for PolicyVersion {
    type Error = AppError;

    fn try_from(row: PolicyVersionRow) -> Result<Self, AppError> {
        Ok(PolicyVersion {
            id: parse_id(&row.id)?,
            policy_id: parse_id(&row.policy_id)?,
            version: version_from_db(row.version)?,
            title: row.title,
            kind: kind_from_str(&row.kind)?,
            audiences: audiences_from_db(&row.audiences)?,
            owner: owner_from_db(row.owner_academy_id.as_deref())?,
            body_markdown: row.body_markdown,
            approved_by: row.approved_by,
            effective_date: row.effective_date,
            last_reviewed: row.last_reviewed,
            next_review_due: row.next_review_due,
            published_at: row.published_at,
            text_sha256: digest_from_db(row.text_sha256)?,
            change_summary: row.change_summary,
        })
    }
}

/// One version by id, if it exists.
pub async fn find_version(
    db: impl AnyExecutor<'_>,
    id: Uuid,
) -> Result<Option<PolicyVersion>, AppError> {
    let row: Option<PolicyVersionRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM policy_versions WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(db)
    .await?;
    row.map(PolicyVersion::try_from).transpose()
}

/// The latest version of a policy, if it has any.
pub async fn latest_version_of(
    db: impl AnyExecutor<'_>,
    policy_id: Uuid,
) -> Result<Option<PolicyVersion>, AppError> {
    let row: Option<PolicyVersionRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM policy_versions WHERE policy_id = $1 ORDER BY version DESC LIMIT 1"
    ))
    .bind(policy_id.to_string())
    .fetch_optional(db)
    .await?;
    row.map(PolicyVersion::try_from).transpose()
}

/// The policy versions whose publication is change `since + 1` to `upto`, in
/// the order they were published.
pub async fn changed_between(
    db: impl AnyExecutor<'_>,
    since: i64,
    upto: i64,
) -> Result<Vec<PolicyVersion>, AppError> {
    let rows: Vec<PolicyVersionRow> = sqlx::query_as(&format!(
        "SELECT {} FROM changes c JOIN policy_versions p ON p.id = c.entity_id \
         WHERE c.entity = 'policy_version' AND c.seq > $1 AND c.seq <= $2 ORDER BY c.seq",
        columns_of_p()
    ))
    .bind(since)
    .bind(upto)
    .fetch_all(db)
    .await?;
    rows.into_iter().map(PolicyVersion::try_from).collect()
}

/// The columns of a `policy_versions` row that a summary shows.
#[derive(Debug, sqlx::FromRow)]
struct PolicySummaryRow {
    id: String,
    policy_id: String,
    version: i64,
    title: String,
    kind: String,
    audiences: String,
    owner_academy_id: Option<String>,
    effective_date: String,
    last_reviewed: String,
    next_review_due: String,
    text_sha256: String,
}

const SUMMARY_COLUMNS: &str = "id, policy_id, version, title, kind, audiences, owner_academy_id, \
                               effective_date, last_reviewed, next_review_due, text_sha256";

impl TryFrom<PolicySummaryRow> for PolicySummary {
    type Error = AppError;

    fn try_from(row: PolicySummaryRow) -> Result<Self, AppError> {
        Ok(PolicySummary {
            id: parse_id(&row.id)?,
            policy_id: parse_id(&row.policy_id)?,
            version: version_from_db(row.version)?,
            title: row.title,
            kind: kind_from_str(&row.kind)?,
            audiences: audiences_from_db(&row.audiences)?,
            owner: owner_from_db(row.owner_academy_id.as_deref())?,
            effective_date: row.effective_date,
            last_reviewed: row.last_reviewed,
            next_review_due: row.next_review_due,
            text_sha256: digest_from_db(row.text_sha256)?,
        })
    }
}

/// The latest version of every policy, sorted by title.
pub async fn latest_versions(db: impl AnyExecutor<'_>) -> Result<Vec<PolicySummary>, AppError> {
    let rows: Vec<PolicySummaryRow> = sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM policy_versions p \
         WHERE version = (SELECT MAX(version) FROM policy_versions WHERE policy_id = p.policy_id) \
         ORDER BY lower(title), policy_id"
    ))
    .fetch_all(db)
    .await?;
    rows.into_iter().map(PolicySummary::try_from).collect()
}

/// Every version of one policy, oldest first (empty if there is no such policy).
pub async fn versions_of(
    db: impl AnyExecutor<'_>,
    policy_id: Uuid,
) -> Result<Vec<PolicySummary>, AppError> {
    let rows: Vec<PolicySummaryRow> = sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM policy_versions WHERE policy_id = $1 ORDER BY version"
    ))
    .bind(policy_id.to_string())
    .fetch_all(db)
    .await?;
    rows.into_iter().map(PolicySummary::try_from).collect()
}

/// Stores a version exactly as given. Callers that publish should use
/// [`publish`], which numbers the version and computes the hash; this is for
/// data whose ids are fixed in advance (the demo trust).
pub async fn insert_version(
    db: impl AnyExecutor<'_>,
    v: &PolicyVersion,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO policy_versions ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(v.id.to_string())
    .bind(v.policy_id.to_string())
    .bind(i64::from(v.version))
    .bind(&v.title)
    .bind(kind_to_str(v.kind))
    .bind(audiences_to_db(&v.audiences))
    .bind(v.owner.academy_id().map(|id| id.to_string()))
    .bind(&v.body_markdown)
    .bind(&v.approved_by)
    .bind(&v.effective_date)
    .bind(&v.last_reviewed)
    .bind(&v.next_review_due)
    .bind(v.published_at)
    .bind(v.text_sha256.as_str())
    .bind(v.change_summary.as_deref())
    .execute(db)
    .await?;
    Ok(())
}

/// What [`publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub version: PolicyVersion,
    /// False when the request was already the policy's latest version (a
    /// retry): nothing was stored.
    pub created: bool,
}

/// Publishes a request as the next version of its policy (the previous
/// version's number + 1), or as version 1 of a new policy: checks it (a new
/// version must say what changed: 400 `change_summary_required`), gives it a
/// new UUID v7 and the current time, and computes its hash. A request equal
/// to the policy's latest version is answered with that version.
///
/// Call it inside a write transaction ([`crate::store::db::begin_write`]), so that
/// two publishers cannot both take the same number.
pub async fn publish(
    conn: &mut AnyConnection,
    request: PublishPolicyVersion,
) -> Result<Published, AppError> {
    request
        .validate()
        .map_err(|e| AppError::invalid("invalid_policy", e))?;
    if let PolicyOwner::Academy { academy_id } = request.owner {
        if !crate::store::org::academy_exists(&mut *conn, academy_id).await? {
            return Err(AppError::Invalid {
                code: "invalid_policy",
                message: format!("owner.academy_id: there is no academy {academy_id}"),
            });
        }
    }
    let policy_id = request.policy_id.unwrap_or_else(clock::new_id);
    let latest = latest_version_of(&mut *conn, policy_id).await?;
    let number = match &latest {
        Some(latest) if request.is_published_as(latest) => {
            return Ok(Published {
                version: latest.clone(),
                created: false,
            })
        }
        Some(latest) if latest.kind != request.kind => {
            return Err(AppError::Conflict {
                code: "kind_mismatch",
                message: format!(
                    "policy {policy_id} is a {} ({}); a new version cannot be a {} ({})",
                    kind_to_str(latest.kind),
                    latest.kind.label(),
                    kind_to_str(request.kind),
                    request.kind.label()
                ),
            });
        }
        Some(latest) => latest.version + 1,
        None => 1,
    };
    request
        .check_change_summary(latest.as_ref())
        .map_err(|e| AppError::invalid("change_summary_required", e))?;
    let version = request.into_version(clock::new_id(), policy_id, number, clock::now_ms());
    insert_version(&mut *conn, &version).await?;
    tracing::info!(
        policy_id = %version.policy_id,
        version = version.version,
        id = %version.id,
        "published a policy version"
    );
    Ok(Published {
        version,
        created: true,
    })
}

/// How many policy versions are stored.
pub async fn count(db: impl AnyExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM policy_versions")
        .fetch_one(db)
        .await
}
