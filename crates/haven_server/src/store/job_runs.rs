//! Claims on the hourly jobs (`job_runs`): the first instance to insert a
//! job's slot runs it, so several instances on one database run each job once.

use crate::error::AppError;
use sqlx::AnyPool;

/// Inserts `(job, slot)`: true if this call made the claim, false if it was
/// already there.
pub async fn claim(pool: &AnyPool, job: &str, slot: i64, now: i64) -> Result<bool, AppError> {
    let claimed = sqlx::query(
        "INSERT INTO job_runs (job, slot, started_at) VALUES ($1, $2, $3) \
         ON CONFLICT (job, slot) DO NOTHING",
    )
    .bind(job)
    .bind(slot)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Removes claims started before `before`.
pub async fn forget_before(pool: &AnyPool, before: i64) -> Result<(), AppError> {
    sqlx::query("DELETE FROM job_runs WHERE started_at < $1")
        .bind(before)
        .execute(pool)
        .await?;
    Ok(())
}
