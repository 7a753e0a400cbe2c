//! The server's own scheduled work: the retention purges, run at start-up
//! ([`crate::Server::build`]) and then every hour while it serves, each run
//! counted in the metrics ([`crate::metrics::Job`]).

use crate::error::AppError;
use crate::metrics::{Job, Metrics};
use crate::{attachments, clock, visits};
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

/// One hourly run: both purges. A failure is logged and counted, and tried
/// again at the next hour: serving reception desks matters more than one
/// late purge.
pub async fn hourly(pool: &AnyPool, metrics: &Metrics) {
    let _ = purge_visits(pool, metrics).await;
    purge_abandoned_uploads(pool, metrics).await;
}

/// Runs [`hourly`] every [`visits::PURGE_EVERY`] (the first run was at
/// start-up), until the task is aborted.
pub async fn every_hour(pool: AnyPool, metrics: std::sync::Arc<Metrics>) {
    loop {
        tokio::time::sleep(visits::PURGE_EVERY).await;
        hourly(&pool, &metrics).await;
    }
}
