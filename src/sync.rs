//! Runs haven_core's sync rules against IndexedDB and the server.
//!
//! One pass: bring new policy versions down, then push the outbox in batches
//! until it is empty or the server stops answering. Passes run on start, when
//! the browser comes online, after each signature, and on a backoff timer.

use crate::api::{self, ApiClientError};
use crate::db::{Db, DbError};
use haven_core::sync::outbox::{next_batch, settle, EntryState};
use haven_core::sync::wire::PushRequest;

/// Mutations per push request.
pub const BATCH_SIZE: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] ApiClientError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub policies_fetched: usize,
    pub pushed: usize,
    pub rejected: usize,
}

impl SyncReport {
    pub fn changed_anything(&self) -> bool {
        self.policies_fetched + self.pushed + self.rejected > 0
    }
}

/// How far a push has got through the changes that were waiting when it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

/// Fetches policy versions the device does not have yet.
pub async fn pull_policies(db: &Db) -> Result<usize, SyncError> {
    let have = db.policy_ids().await?;
    let mut fetched = Vec::new();
    for summary in api::policies().await? {
        if !have.contains(&summary.id) {
            fetched.push(api::policy(summary.id).await?);
        }
    }
    db.put_policies(&fetched).await?;
    Ok(fetched.len())
}

/// Pushes pending outbox entries, oldest first, until none are left.
pub async fn push_outbox(db: &Db, on_progress: &dyn Fn(Progress)) -> Result<SyncReport, SyncError> {
    let device = db.device().await?;
    let mut report = SyncReport::default();
    let mut total = None;
    loop {
        let outbox = db.outbox().await?;
        let backlog = outbox
            .iter()
            .filter(|e| e.state == EntryState::Pending)
            .count();
        let total = *total.get_or_insert(backlog);
        let batch = next_batch(&outbox, BATCH_SIZE);
        if batch.is_empty() {
            return Ok(report);
        }
        on_progress(Progress {
            done: total.saturating_sub(backlog),
            total,
        });
        let sent: Vec<u64> = batch.iter().map(|m| m.id).collect();
        let request = PushRequest {
            device_id: device.device_id,
            mutations: batch,
            backlog: backlog as u64,
        };
        let reply = api::push(&request).await?;
        let settlement = settle(&sent, &reply);
        db.settle(&settlement).await?;
        report.pushed += settlement.acknowledged.len();
        report.rejected += settlement.rejected.len();
        if !settlement.unprocessed.is_empty() && settlement.acknowledged.is_empty() {
            // The server made no progress; try again on the next pass.
            return Ok(report);
        }
    }
}

/// One full pass: pull, then push.
pub async fn sync_once(db: &Db, on_progress: &dyn Fn(Progress)) -> Result<SyncReport, SyncError> {
    let policies_fetched = pull_policies(db).await?;
    let report = push_outbox(db, on_progress).await?;
    Ok(SyncReport {
        policies_fetched,
        ..report
    })
}
