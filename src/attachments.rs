//! Uploads the encrypted incident attachments waiting on this device, in
//! pieces, apart from the push (docs/sync-protocol.md, "How attachments
//! travel"). An attachment that fails waits for the next pass and holds up
//! nothing else: not the records, which the push has already sent, and not
//! the other attachments.

use crate::api::{self, ApiClientError};
use crate::clock::now_ms;
use crate::db::{Db, SyncState};
use futures::future::{select, Either};
use haven_core::incident::piece_range;
use haven_core::sync::machine::REQUEST_TIMEOUT_MS;
use std::future::Future;

/// A request that has not answered in [`REQUEST_TIMEOUT_MS`] counts as the
/// server unreachable: a hung upload must not hold the sync pass (and so
/// the records of the next one).
async fn in_time<T>(
    request: impl Future<Output = Result<T, ApiClientError>>,
) -> Result<T, ApiClientError> {
    let timeout = gloo_timers::future::TimeoutFuture::new(REQUEST_TIMEOUT_MS as u32);
    match select(Box::pin(request), timeout).await {
        Either::Left((answer, _)) => answer,
        Either::Right(_) => Err(ApiClientError::Unreachable),
    }
}

/// What a pass of uploads did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// Attachments the server now has whole.
    pub completed: usize,
    /// Attachments still waiting here (their upload failed, or their
    /// incident is not received yet).
    pub waiting: usize,
}

/// Sends every waiting attachment's missing pieces. An attachment is
/// deleted here once the server has it whole and its incident is received
/// (until then a resealed incident may still need it sent again). Stops at
/// the first sign the server cannot be reached.
pub async fn upload_waiting(db: &Db) -> Uploaded {
    let mut done = Uploaded::default();
    let Ok(names) = db.waiting_attachments().await else {
        return done;
    };
    let token = match db.credential().await {
        Ok(Some(c)) if c.usable(now_ms()) => c.token,
        _ => {
            done.waiting = names.len();
            return done;
        }
    };
    let incidents = db.incidents().await.unwrap_or_default();
    for (i, sha256) in names.iter().enumerate() {
        let Ok(Some(stored)) = db.attachment(sha256).await else {
            continue;
        };
        let incident = incidents.iter().find(|x| x.id == stored.incident_id);
        // A refused incident's attachments wait with it: if it is sealed
        // again and sent, they go too.
        if matches!(incident.map(|x| &x.sync), Some(SyncState::Rejected { .. })) {
            done.waiting += 1;
            continue;
        }
        match upload_one(&stored.sha256, &stored.ciphertext, &token).await {
            Ok(true) => {
                done.completed += 1;
                let received = incident.is_none_or(|x| x.sync == SyncState::Synced);
                if received {
                    let _ = db.delete_attachment(sha256).await;
                } else {
                    done.waiting += 1;
                }
            }
            Ok(false) => done.waiting += 1,
            Err(e) if e.is_unreachable() || e.is_credential_refused() => {
                done.waiting += names.len() - i;
                break;
            }
            Err(e) => {
                leptos::logging::warn!("attachment {sha256} not uploaded yet: {e}");
                done.waiting += 1;
            }
        }
    }
    done
}

/// Asks what the server has and sends the rest; `true` once it has the
/// whole file.
async fn upload_one(sha256: &str, ciphertext: &[u8], token: &str) -> Result<bool, ApiClientError> {
    let size = ciphertext.len() as u64;
    let have = in_time(api::attachment_status(sha256, token)).await?;
    if have.as_ref().is_some_and(|u| u.complete) {
        return Ok(true);
    }
    let received = have.map(|u| u.received).unwrap_or_default();
    let mut complete = false;
    for index in 0..haven_core::incident::piece_count(size) {
        if received.contains(&index) {
            continue;
        }
        let Some(range) = piece_range(size, index) else {
            break;
        };
        let piece = &ciphertext[range.start as usize..range.end as usize];
        complete = in_time(api::put_attachment_piece(sha256, size, index, piece, token))
            .await?
            .complete;
    }
    Ok(complete)
}
