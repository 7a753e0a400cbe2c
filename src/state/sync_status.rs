//! What people see of sync (reachable or not, changes waiting, progress, last
//! sync, rejections) and the loop that drives it.

use crate::clock::now_ms;
use crate::state::app_db;
use crate::state::background_sync::{listen_for_background_sync, register_background_sync};
use crate::state::tabs::{announce_change, on_change_elsewhere, with_sync_lock};
use crate::sync::{run_pass, Progress, SyncError, SyncReport};
use futures::channel::mpsc;
use futures::StreamExt;
use haven_core::sync::machine::DeviceSync;
use haven_core::sync::outbox::EntryState;
use haven_core::Millis;
use leptos::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;

/// How soon to look again when another tab was syncing.
const OTHER_TAB_INTERVAL_MS: u64 = 5_000;
/// Unsynced data older than this gets a warning.
pub const STALE_AFTER_MS: Millis = 24 * 60 * 60 * 1000;

#[derive(Clone, Copy)]
pub struct SyncStatus {
    /// The server answered the last request.
    pub reachable: RwSignal<bool>,
    /// Changes saved on this device and not yet on the server.
    pub pending: RwSignal<usize>,
    /// Changes the server refused; kept here with their reasons.
    pub rejected: RwSignal<usize>,
    /// When the oldest waiting change was saved.
    pub oldest_pending_at: RwSignal<Option<Millis>>,
    pub last_sync_at: RwSignal<Option<Millis>>,
    /// Set while a push is draining the outbox.
    pub progress: RwSignal<Option<Progress>>,
    /// A problem a person should see (not "offline", which is a state).
    pub problem: RwSignal<Option<String>>,
    /// Bumped whenever stored data changes, so views reading IndexedDB refresh.
    pub data_version: RwSignal<u64>,
    /// This device took a new id (another device used its old one): shown
    /// until dismissed or for [`NOTICE_FOR_MS`].
    pub identity_notice: RwSignal<Option<crate::db::IdentityNotice>>,
}

/// How long the notice that the device took a new id stays up undismissed.
pub const NOTICE_FOR_MS: Millis = 24 * 60 * 60 * 1000;

impl SyncStatus {
    /// Whether something has waited on this device for more than a day.
    pub fn is_stale(&self, now: Millis) -> bool {
        self.oldest_pending_at
            .get()
            .is_some_and(|t| now - t > STALE_AFTER_MS)
    }
}

thread_local! {
    static KICK: RefCell<Option<mpsc::UnboundedSender<()>>> = const { RefCell::new(None) };
}

/// Asks the sync loop to run a pass now (after a signature, on `online`, ...).
pub fn request_sync() {
    KICK.with(|k| {
        if let Some(tx) = k.borrow().as_ref() {
            let _ = tx.unbounded_send(());
        }
    });
}

pub fn use_sync_status() -> SyncStatus {
    expect_context::<SyncStatus>()
}

/// Provides the status and starts the loop. Call once, from `App`.
pub fn provide_sync_status() -> SyncStatus {
    let status = SyncStatus {
        reachable: RwSignal::new(true),
        pending: RwSignal::new(0),
        rejected: RwSignal::new(0),
        oldest_pending_at: RwSignal::new(None),
        last_sync_at: RwSignal::new(None),
        progress: RwSignal::new(None),
        problem: RwSignal::new(None),
        data_version: RwSignal::new(0),
        identity_notice: RwSignal::new(None),
    };
    provide_context(status);
    let (tx, rx) = mpsc::unbounded();
    KICK.with(|k| *k.borrow_mut() = Some(tx));
    listen_for_reconnection();
    on_change_elsewhere(move || {
        leptos::task::spawn_local(async move {
            refresh_counts(status).await;
            status.data_version.update(|v| *v += 1);
        })
    });
    request_persistent_storage();
    listen_for_background_sync();
    leptos::task::spawn_local(run_loop(status, rx));
    status
}

/// Coming back online or back to the tab are good moments to sync.
fn listen_for_reconnection() {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    let window = web_sys::window().expect("a browser window");
    let kick = Closure::<dyn Fn()>::new(request_sync);
    let _ = window.add_event_listener_with_callback("online", kick.as_ref().unchecked_ref());
    if let Some(doc) = window.document() {
        let _ =
            doc.add_event_listener_with_callback("visibilitychange", kick.as_ref().unchecked_ref());
    }
    // Lives as long as the page.
    kick.forget();
}

/// Asks the browser not to evict Haven's storage under pressure. Browsers
/// decide for themselves (Chromium grants it to installed or engaged sites);
/// a refusal changes nothing else.
fn request_persistent_storage() {
    if let Some(window) = web_sys::window() {
        if let Ok(promise) = window.navigator().storage().persist() {
            leptos::task::spawn_local(async move {
                let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
            });
        }
    }
}

/// Re-reads counts from the device database into the status.
pub async fn refresh_counts(status: SyncStatus) {
    let Ok(db) = app_db().await else { return };
    if let Ok(entries) = db.outbox().await {
        let pending: Vec<_> = entries
            .iter()
            .filter(|e| e.state == EntryState::Pending)
            .collect();
        status.pending.set(pending.len());
        status.rejected.set(entries.len() - pending.len());
        status
            .oldest_pending_at
            .set(pending.iter().map(|e| e.queued_at).min());
    }
    if let Ok(at) = db.last_sync_at().await {
        status.last_sync_at.set(at);
    }
    if let Ok(notice) = db.identity_notice().await {
        let notice = notice.filter(|n| now_ms() - n.at < NOTICE_FOR_MS);
        if status.identity_notice.get_untracked() != notice {
            status.identity_notice.set(notice);
        }
    }
}

/// One pass while holding the cross-tab lock; `None` if another tab is syncing.
async fn locked_pass(status: SyncStatus, machine: Rc<RefCell<DeviceSync>>) -> Option<SyncReport> {
    with_sync_lock(move || async move {
        let db = match app_db().await {
            Ok(db) => db,
            Err(e) => {
                status.problem.set(Some(e.to_string()));
                return None;
            }
        };
        let on_progress = move |p: Option<Progress>| status.progress.set(p);
        let report = run_pass(&db, &machine, &on_progress).await;
        if report.error.is_none() {
            let _ = db.set_last_sync_at(now_ms()).await;
        }
        Some(report)
    })
    .await
    .flatten()
}

async fn run_loop(status: SyncStatus, mut kicks: mpsc::UnboundedReceiver<()>) {
    refresh_counts(status).await;
    let device_id = match app_db().await {
        Ok(db) => db.device().await.map(|d| d.device_id),
        Err(e) => Err(e),
    };
    let device_id = match device_id {
        Ok(id) => id,
        Err(e) => {
            status.problem.set(Some(e.to_string()));
            return;
        }
    };
    // Volatile by design: a new tab starts a new machine, and the outbox in
    // IndexedDB is all it needs to carry on.
    let machine = Rc::new(RefCell::new(DeviceSync::new(device_id)));
    loop {
        let report = locked_pass(status, machine.clone()).await;
        refresh_counts(status).await;
        let next_at = match report {
            None => now_ms() + OTHER_TAB_INTERVAL_MS as Millis,
            Some(report) => {
                let unreachable = report.error.as_ref().is_some_and(SyncError::is_unreachable);
                if unreachable {
                    register_background_sync();
                }
                status.reachable.set(!unreachable);
                status.problem.set(
                    report
                        .error
                        .as_ref()
                        .filter(|e| !e.is_unreachable())
                        .map(|e| e.to_string()),
                );
                if report.changed_anything() {
                    // Only then: views re-read IndexedDB on every bump.
                    status.data_version.update(|v| *v += 1);
                    announce_change();
                }
                report.next_at
            }
        };
        // Wait for the machine's next time or a request to sync, whichever comes first.
        let delay = (next_at - now_ms()).clamp(0, u32::MAX as Millis) as u32;
        let timer = gloo_timers::future::TimeoutFuture::new(delay);
        if let futures::future::Either::Right(_) =
            futures::future::select(timer, kicks.next()).await
        {
            // Someone is waiting on this sync: start the backoff afresh.
            machine.borrow_mut().kick();
        }
    }
}
