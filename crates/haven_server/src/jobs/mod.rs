//! The server's own scheduled work: the retention purges, run at start-up
//! ([`crate::Server::build`]) and then every hour while it serves, each run
//! counted in the metrics ([`crate::metrics::Job`]).
//!
//! Several instances on one database run each hourly job once between them:
//! an instance runs a job only if it is the first to claim that hour in the
//! `job_runs` table ([`claim`]). The start-up purges are not claimed (a start
//! is rare, and a purge that finds nothing left to remove removes nothing).
//! The alert email needs no claim: it goes from the instance whose push
//! stored the incident, and a push is stored once ([`alert_mail`]).

pub mod alert_mail;
pub mod reminders;

use crate::clock;
use crate::error::AppError;
use crate::metrics::{Job, Metrics};
use crate::store::{attachments, job_runs, visits};
use sqlx::AnyPool;

/// Removes the visits past their academy's retention, now.
pub async fn purge_visits(pool: &AnyPool, metrics: &Metrics) -> Result<u64, AppError> {
    let removed = visits::purge(pool, clock::now_ms()).await;
    metrics.job_ran(Job::VisitRetentionPurge, removed.is_ok());
    match &removed {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "visits past their retention removed"),
        Err(e) => tracing::error!(error = %e, "cannot remove visits past their retention"),
    }
    removed
}

/// Removes attachment uploads no incident names after
/// [`haven_core::incident::ABANDONED_UPLOAD_MS`]; a failure is logged and
/// waits for the next hour.
pub async fn purge_abandoned_uploads(pool: &AnyPool, metrics: &Metrics) {
    let removed = attachments::purge(pool, clock::now_ms()).await;
    metrics.job_ran(Job::AbandonedUploadPurge, removed.is_ok());
    match removed {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "abandoned attachment uploads removed"),
        Err(e) => tracing::error!(error = %e, "cannot remove abandoned attachment uploads"),
    }
}

/// One hourly run: each purge this instance is first to claim for the hour,
/// and the weekly reminders to sign if it is first to claim the week. A
/// failure is logged and counted, and tried again at the next hour: serving
/// reception desks matters more than one late purge.
pub async fn hourly(pool: &AnyPool, metrics: &Metrics, reminders: Option<&reminders::Reminders>) {
    hourly_at(pool, metrics, reminders, clock::now_ms()).await;
}

/// [`hourly`] as if the server's clock said `now` (for claiming the hour or
/// week; the purges themselves go by the clock).
pub async fn hourly_at(
    pool: &AnyPool,
    metrics: &Metrics,
    reminders: Option<&reminders::Reminders>,
    now: i64,
) {
    if let Some(sender) = reminders {
        reminders::weekly(pool, sender, metrics, now).await;
    }
    for job in [Job::VisitRetentionPurge, Job::AbandonedUploadPurge] {
        match claim(pool, job, now).await {
            Ok(true) => match job {
                Job::VisitRetentionPurge => {
                    let _ = purge_visits(pool, metrics).await;
                }
                _ => purge_abandoned_uploads(pool, metrics).await,
            },
            Ok(false) => tracing::debug!(job = job.label(), "another instance ran it this hour"),
            Err(e) => {
                metrics.job_ran(job, false);
                tracing::error!(job = job.label(), error = %e, "cannot claim the hourly job");
            }
        }
    }
    // Guess counts no window reaches any more, and old claims: housekeeping
    // any instance may do, as often as it likes.
    if let Err(e) = crate::store::limiter::purge(pool, now).await {
        tracing::error!(error = %e, "cannot remove old failed-attempt counts");
    }
    if let Err(e) = job_runs::forget_before(pool, now - KEEP_CLAIMS_MS).await {
        tracing::error!(error = %e, "cannot remove old job claims");
    }
}

/// How long a claim is kept: long enough to see which hours ran.
const KEEP_CLAIMS_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Claims this hour's run of `job`: true for the first instance on the
/// database to ask in the hour (by its own clock), false for every other.
pub async fn claim(pool: &AnyPool, job: Job, now: i64) -> Result<bool, AppError> {
    let hour = i64::try_from(visits::PURGE_EVERY.as_millis()).unwrap_or(i64::MAX);
    job_runs::claim(pool, job.label(), now.div_euclid(hour), now).await
}

/// Runs [`hourly`] every [`visits::PURGE_EVERY`] (the first run was at
/// start-up), until the task is aborted.
pub async fn every_hour(
    pool: AnyPool,
    metrics: std::sync::Arc<Metrics>,
    reminders: Option<std::sync::Arc<reminders::Reminders>>,
) {
    loop {
        tokio::time::sleep(visits::PURGE_EVERY).await;
        hourly(&pool, &metrics, reminders.as_deref()).await;
    }
}
