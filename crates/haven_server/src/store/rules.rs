//! The trust's rule tables in the database: one row per published version,
//! never updated (triggers refuse it), the latest in force.

use crate::clock;
use crate::error::AppError;
use crate::store::db::parse_id;
use haven_core::rules::{RuleTables, RulesVersion};
use sqlx::{AnyConnection, AnyExecutor};

#[derive(Debug, sqlx::FromRow)]
struct RulesRow {
    id: String,
    version: i64,
    tables: String,
    published_at: i64,
}

impl TryFrom<RulesRow> for RulesVersion {
    type Error = AppError;

    fn try_from(row: RulesRow) -> Result<Self, AppError> {
        Ok(RulesVersion {
            id: parse_id(&row.id)?,
            version: u32::try_from(row.version).map_err(|_| {
                AppError::Internal(format!("bad rules version {} in the database", row.version))
            })?,
            published_at: row.published_at,
            tables: serde_json::from_str(&row.tables)
                .map_err(|e| AppError::Internal(format!("bad rule tables in the database: {e}")))?,
        })
    }
}

/// The tables in force: the latest published version.
pub async fn latest(db: impl AnyExecutor<'_>) -> Result<Option<RulesVersion>, AppError> {
    let row: Option<RulesRow> = sqlx::query_as(
        "SELECT id, version, tables, published_at FROM rules_versions ORDER BY version DESC LIMIT 1",
    )
    .fetch_optional(db)
    .await?;
    row.map(RulesVersion::try_from).transpose()
}

/// The latest version published in changes `since + 1` to `upto`, if any.
pub async fn changed_between(
    db: impl AnyExecutor<'_>,
    since: i64,
    upto: i64,
) -> Result<Option<RulesVersion>, AppError> {
    let row: Option<RulesRow> = sqlx::query_as(
        "SELECT r.id, r.version, r.tables, r.published_at \
         FROM changes c JOIN rules_versions r ON r.id = c.entity_id \
         WHERE c.entity = 'rules' AND c.seq > $1 AND c.seq <= $2 ORDER BY c.seq DESC LIMIT 1",
    )
    .bind(since)
    .bind(upto)
    .fetch_optional(db)
    .await?;
    row.map(RulesVersion::try_from).transpose()
}

/// Publishes `tables` as the next version, after checking them. Tables equal
/// to those in force are answered with the version in force, and nothing is
/// stored (`false`). Call it inside a write transaction.
pub async fn publish(
    conn: &mut AnyConnection,
    tables: RuleTables,
) -> Result<(RulesVersion, bool), AppError> {
    tables
        .validate()
        .map_err(|e| AppError::invalid("invalid_rules", e))?;
    let current = latest(&mut *conn).await?;
    if let Some(current) = current.as_ref().filter(|c| c.tables == tables) {
        return Ok((current.clone(), false));
    }
    let version = RulesVersion {
        id: clock::new_id(),
        version: current.map_or(1, |c| c.version + 1),
        published_at: clock::now_ms(),
        tables,
    };
    let json = serde_json::to_string(&version.tables)
        .map_err(|e| AppError::Internal(format!("cannot store rule tables: {e}")))?;
    sqlx::query(
        "INSERT INTO rules_versions (id, version, tables, published_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(version.id.to_string())
    .bind(i64::from(version.version))
    .bind(json)
    .bind(version.published_at)
    .execute(&mut *conn)
    .await?;
    tracing::info!(version = version.version, id = %version.id, "published rule tables");
    Ok((version, true))
}

/// Publishes the default tables ([`RuleTables::trust_default`]) if the trust
/// has none yet, so incident guidance always has tables to read. Returns
/// whether it did.
pub async fn ensure_default(pool: &sqlx::AnyPool) -> Result<bool, AppError> {
    let mut tx = crate::store::db::begin_write(pool).await?;
    if latest(&mut *tx).await?.is_some() {
        return Ok(false);
    }
    publish(&mut tx, RuleTables::trust_default()).await?;
    tx.commit().await?;
    Ok(true)
}
