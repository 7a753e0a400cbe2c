//! When each person was last reminded to sign (`reminders`) and the trust's
//! reminder rules (`reminder_settings`): see `jobs::reminders`.

use crate::error::AppError;
use haven_core::reminders::ReminderSettings;
use sqlx::AnyExecutor;
use std::collections::HashMap;

/// The trust's rules (the defaults until an admin saves some).
pub async fn settings(db: impl AnyExecutor<'_>) -> Result<ReminderSettings, AppError> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT interval_days, weekly FROM reminder_settings")
            .fetch_optional(db)
            .await?;
    Ok(match row {
        Some((days, weekly)) => ReminderSettings {
            interval_days: u32::try_from(days)
                .unwrap_or(haven_core::reminders::DEFAULT_INTERVAL_DAYS),
            weekly: weekly != 0,
        },
        None => ReminderSettings::default(),
    })
}

pub async fn put_settings(
    db: impl AnyExecutor<'_>,
    settings: &ReminderSettings,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO reminder_settings (only_one, interval_days, weekly) VALUES (1, $1, $2) \
         ON CONFLICT (only_one) DO UPDATE SET interval_days = excluded.interval_days, \
         weekly = excluded.weekly",
    )
    .bind(i64::from(settings.interval_days))
    .bind(i64::from(settings.weekly))
    .execute(db)
    .await?;
    Ok(())
}

/// When each person was last reminded, by key (`staff:<id>`, `parent:<id>`).
pub async fn last_reminded(db: impl AnyExecutor<'_>) -> Result<HashMap<String, i64>, AppError> {
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT person, last_at FROM reminders")
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Claims `person` for a reminder at `now` if they were not reminded after
/// `cutoff`: true if this call made the claim. One statement, so two rounds
/// at once cannot both claim one person.
pub async fn claim(
    db: impl AnyExecutor<'_>,
    person: &str,
    now: i64,
    cutoff: i64,
) -> Result<bool, AppError> {
    let claimed = sqlx::query(
        "INSERT INTO reminders (person, last_at) VALUES ($1, $2) \
         ON CONFLICT (person) DO UPDATE SET last_at = excluded.last_at \
         WHERE reminders.last_at <= $3",
    )
    .bind(person)
    .bind(now)
    .bind(cutoff)
    .execute(db)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Gives back the claim on `person` made at `at` when its email did not go:
/// their last reminder is `before` again (none: no row).
pub async fn release(
    db: impl AnyExecutor<'_>,
    person: &str,
    at: i64,
    before: Option<i64>,
) -> Result<(), AppError> {
    match before {
        Some(before) => {
            sqlx::query("UPDATE reminders SET last_at = $1 WHERE person = $2 AND last_at = $3")
                .bind(before)
                .bind(person)
                .bind(at)
                .execute(db)
                .await?
        }
        None => {
            sqlx::query("DELETE FROM reminders WHERE person = $1 AND last_at = $2")
                .bind(person)
                .bind(at)
                .execute(db)
                .await?
        }
    };
    Ok(())
}
