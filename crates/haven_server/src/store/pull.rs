//! Pull: what changed after a cursor, read from one snapshot.
//!
//! Every insert or update of a policy version, rules version, academy or the
//! trust writes a row to `changes` in the same transaction (triggers,
//! migration 0003); its `seq` is the cursor. SQLite has one writer at a time,
//! so changes become visible in `seq` order and a reader never skips one that
//! commits later. Reading the range and the rows in one transaction makes the
//! reply a consistent snapshot.

use super::{org, policies, rules};
use crate::error::AppError;
use haven_core::pull::{Cursor, PullResponse};
use sqlx::AnyPool;

/// What changed after `since`: at most `limit` changes, oldest first.
pub async fn pull(pool: &AnyPool, since: Cursor, limit: u32) -> Result<PullResponse, AppError> {
    let mut tx = pool.begin().await?;
    let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM changes")
        .fetch_one(&mut *tx)
        .await?;
    // A cursor ahead of the server means the server's data was replaced:
    // start again from the beginning and say so.
    let (from, reset) = match i64::try_from(since.0) {
        Ok(since) if since <= last => (since, false),
        _ => (0, true),
    };
    let upto: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(seq) FROM (SELECT seq FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2) AS page",
    )
    .bind(from)
    .bind(i64::from(limit))
    .fetch_one(&mut *tx)
    .await?;
    let upto = upto.unwrap_or(from);
    let response = PullResponse {
        cursor: Cursor(u64::try_from(upto).unwrap_or_default()),
        more: upto < last,
        reset,
        policies: policies::changed_between(&mut *tx, from, upto).await?,
        rules: rules::changed_between(&mut *tx, from, upto).await?,
        academies: org::academies_changed_between(&mut *tx, from, upto).await?,
        trust: org::trust_changed_between(&mut *tx, from, upto).await?,
    };
    tx.rollback().await?;
    Ok(response)
}
