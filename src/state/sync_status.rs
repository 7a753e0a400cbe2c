//! What people see of sync (reachable or not, changes waiting, last sync) and
//! the loop that drives it.

use crate::api::ApiClientError;
use crate::clock::now_ms;
use crate::state::app_db;
use crate::sync::{sync_once, SyncError};
use futures::channel::mpsc;
use futures::StreamExt;
use haven_core::sync::backoff::retry_delay_ms;
use haven_core::Millis;
use leptos::prelude::*;
use std::cell::RefCell;

/// How often to look for new policies when nothing is waiting.
const IDLE_INTERVAL_MS: u64 = 60_000;

#[derive(Clone, Copy)]
pub struct SyncStatus {
    /// The server answered the last request.
    pub reachable: RwSignal<bool>,
    /// Changes saved on this device and not yet on the server.
    pub pending: RwSignal<usize>,
    /// Changes the server refused; kept here with their reasons.
    pub rejected: RwSignal<usize>,
    pub last_sync_at: RwSignal<Option<Millis>>,
    pub syncing: RwSignal<bool>,
    /// A problem a person should see (not "offline", which is a state).
    pub problem: RwSignal<Option<String>>,
    /// Bumped whenever stored data changes, so views reading IndexedDB refresh.
    pub data_version: RwSignal<u64>,
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
        last_sync_at: RwSignal::new(None),
        syncing: RwSignal::new(false),
        problem: RwSignal::new(None),
        data_version: RwSignal::new(0),
    };
    provide_context(status);
    let (tx, rx) = mpsc::unbounded();
    KICK.with(|k| *k.borrow_mut() = Some(tx));
    listen_for_reconnection();
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

/// Re-reads counts from the device database into the status.
pub async fn refresh_counts(status: SyncStatus) {
    let Ok(db) = app_db().await else { return };
    if let Ok(entries) = db.outbox().await {
        let pending = entries
            .iter()
            .filter(|e| e.state == haven_core::sync::outbox::EntryState::Pending)
            .count();
        status.pending.set(pending);
        status.rejected.set(entries.len() - pending);
    }
    if let Ok(at) = db.last_sync_at().await {
        status.last_sync_at.set(at);
    }
}

async fn run_loop(status: SyncStatus, mut kicks: mpsc::UnboundedReceiver<()>) {
    let mut failures: u32 = 0;
    refresh_counts(status).await;
    loop {
        status.syncing.set(true);
        let result = match app_db().await {
            Ok(db) => {
                let result = sync_once(&db).await;
                if result.is_ok() {
                    let _ = db.set_last_sync_at(now_ms()).await;
                }
                result
            }
            Err(e) => Err(SyncError::Db(e)),
        };
        status.syncing.set(false);
        refresh_counts(status).await;
        status.data_version.update(|v| *v += 1);
        let delay = match result {
            Ok(_) => {
                failures = 0;
                status.reachable.set(true);
                status.problem.set(None);
                IDLE_INTERVAL_MS
            }
            Err(e) => {
                let unreachable = matches!(&e, SyncError::Api(ApiClientError::Unreachable));
                status.reachable.set(!unreachable);
                status.problem.set((!unreachable).then(|| e.to_string()));
                let delay = retry_delay_ms(failures, js_sys::Math::random());
                failures = failures.saturating_add(1);
                delay
            }
        };
        // Wait for the timer or a request to sync, whichever comes first.
        let timer = gloo_timers::future::TimeoutFuture::new(delay.min(u32::MAX as u64) as u32);
        if let futures::future::Either::Right(_) =
            futures::future::select(timer, kicks.next()).await
        {
            // Someone is waiting on this sync: start the backoff afresh.
            failures = 0;
        }
    }
}
