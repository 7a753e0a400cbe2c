//! What people see of sync (reachable or not, changes waiting, progress, last
//! sync, rejections) and the loop that drives it.

use crate::clock::now_ms;
use crate::state::app_db;
use crate::state::background_sync::{listen_for_background_sync, register_background_sync};
use crate::state::lifecycle;
use crate::state::tabs::{announce_change, on_change_elsewhere, with_sync_lock};
use crate::sync::{run_pass, Progress, SyncError, SyncReport};
use futures::channel::mpsc;
use futures::StreamExt;
use haven_core::sync::machine::DeviceSync;
use haven_core::Millis;
use leptos::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;

/// How soon to look again when another tab was syncing.
const OTHER_TAB_INTERVAL_MS: u64 = 5_000;
/// Unsynced data older than this gets a warning.
pub const STALE_AFTER_MS: Millis = 24 * 60 * 60 * 1000;

/// Whether the school's server can be reached, as the last attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// No attempt has finished since the app opened.
    Checking,
    /// The server answered the last attempt.
    Online,
    /// The browser has a network, but the server did not answer (it is down,
    /// a captive portal, DNS): `navigator.onLine` says nothing about this.
    Unreachable,
    /// The browser has no network at all.
    Offline,
}

impl Connection {
    /// For the header's badge.
    pub fn label(self) -> &'static str {
        match self {
            Connection::Checking => "Connecting…",
            Connection::Online => "Online",
            Connection::Unreachable => "Cannot reach the school",
            Connection::Offline => "Offline",
        }
    }

    /// For `data-state`, which the CSS colours.
    pub fn state(self) -> &'static str {
        match self {
            Connection::Checking => "checking",
            Connection::Online => "online",
            Connection::Unreachable | Connection::Offline => "offline",
        }
    }
}

#[derive(Clone, Copy)]
pub struct SyncStatus {
    /// What the last attempt to reach the server found.
    pub connection: RwSignal<Connection>,
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

/// Why the loop is asked to sync before its timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// Something changed: a record was made, the network came back after
    /// being off, a person pressed "Sync now". Starts the backoff afresh.
    Changed,
    /// Nothing changed, but now is a good moment (the page was shown again,
    /// a Background Sync event): syncs only if no backoff is running.
    Nudge,
}

thread_local! {
    static KICK: RefCell<Option<mpsc::UnboundedSender<Trigger>>> = const { RefCell::new(None) };
}

fn send(trigger: Trigger) {
    KICK.with(|k| {
        if let Some(tx) = k.borrow().as_ref() {
            let _ = tx.unbounded_send(trigger);
        }
    });
}

/// Asks the sync loop to run a pass now because something changed (a
/// signature, the network back, "Sync now"): any backoff starts afresh.
pub fn request_sync() {
    send(Trigger::Changed);
}

/// Asks for a pass now unless the loop is backing off after failures (the
/// page shown again, a Background Sync event): never a reason to hammer a
/// server that does not answer.
pub fn nudge_sync() {
    send(Trigger::Nudge);
}

pub fn use_sync_status() -> SyncStatus {
    expect_context::<SyncStatus>()
}

/// Provides the status and starts the loop. Call once, from `App`.
pub fn provide_sync_status() -> SyncStatus {
    let status = SyncStatus {
        connection: RwSignal::new(Connection::Checking),
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
    lifecycle::watch_page_lifecycle();
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

/// The network coming back is a change; the page being shown again is a
/// good moment. Being hidden is neither: a sync started then would hold the
/// sync lock into the back/forward cache.
fn listen_for_reconnection() {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    let window = web_sys::window().expect("a browser window");
    let online = Closure::<dyn Fn()>::new(request_sync);
    let _ = window.add_event_listener_with_callback("online", online.as_ref().unchecked_ref());
    online.forget();
    if let Some(doc) = window.document() {
        let shown = Closure::<dyn Fn()>::new(|| {
            let visible = web_sys::window()
                .and_then(|w| w.document())
                .is_some_and(|d| !d.hidden());
            if visible {
                nudge_sync();
            }
        });
        let _ = doc
            .add_event_listener_with_callback("visibilitychange", shown.as_ref().unchecked_ref());
        // Lives as long as the page.
        shown.forget();
    }
}

/// Whether the browser says it has a network at all.
fn browser_online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
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
    if let Ok(counts) = db.outbox_counts().await {
        status.pending.set(counts.pending);
        status.rejected.set(counts.rejected);
        status.oldest_pending_at.set(counts.oldest_pending_at);
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

/// One pass while holding the cross-tab lock; `None` if another tab is
/// syncing, or if the page was left during the pass (which is abandoned, so
/// the lock goes with it: [`crate::state::lifecycle`]).
async fn locked_pass(status: SyncStatus, machine: Rc<RefCell<DeviceSync>>) -> Option<SyncReport> {
    if lifecycle::is_left() {
        return None;
    }
    with_sync_lock(move || pass(status, machine))
        .await
        .flatten()
}

async fn pass(status: SyncStatus, machine: Rc<RefCell<DeviceSync>>) -> Option<SyncReport> {
    {
        let db = match app_db().await {
            Ok(db) => db,
            Err(e) => {
                status.problem.set(Some(e.to_string()));
                return None;
            }
        };
        // What waited when the pass began, less what the server has answered
        // since: exact again once the pass is over (`refresh_counts`).
        let waiting = status.pending.get_untracked();
        let on_progress = move |p: Option<Progress>| {
            if let Some(p) = p {
                status.pending.set(waiting.saturating_sub(p.settled));
            }
            status.progress.set(p);
        };
        let report = run_pass(&db, &machine, &on_progress).await;
        if report.error.is_none() {
            let _ = db.set_last_sync_at(now_ms()).await;
        }
        Some(report)
    }
}

async fn run_loop(status: SyncStatus, mut kicks: mpsc::UnboundedReceiver<Trigger>) {
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
    let mut next_at = now_ms();
    loop {
        if now_ms() >= next_at && !lifecycle::is_left() {
            next_at = after_pass(status, locked_pass(status, machine.clone()).await).await;
        }
        // Wait for the next time or a trigger, whichever comes first. A page
        // that was left waits for a trigger only (being shown again).
        // (setTimeout fires at once for anything over 2^31 - 1 ms.)
        let delay = if lifecycle::is_left() {
            i32::MAX as u32
        } else {
            (next_at - now_ms()).clamp(0, i32::MAX as Millis) as u32
        };
        let timer = gloo_timers::future::TimeoutFuture::new(delay);
        if let futures::future::Either::Right((Some(trigger), _)) =
            futures::future::select(timer, kicks.next()).await
        {
            let mut machine = machine.borrow_mut();
            let now = match trigger {
                Trigger::Changed => {
                    machine.kick();
                    true
                }
                Trigger::Nudge => machine.nudge() || !machine.is_backing_off(),
            };
            if now {
                next_at = now_ms();
            }
        }
    }
}

/// Shows what a pass found and says when the next one is due.
async fn after_pass(status: SyncStatus, report: Option<SyncReport>) -> Millis {
    refresh_counts(status).await;
    let Some(report) = report else {
        // Another tab syncs (or this page was left mid-pass).
        return now_ms() + OTHER_TAB_INTERVAL_MS as Millis;
    };
    let unreachable = report.error.as_ref().is_some_and(SyncError::is_unreachable);
    let online = browser_online();
    if unreachable && !online {
        // Background Sync helps only when the device itself is offline: the
        // browser fires it when the network returns. With a network and a
        // server that does not answer, it would fire at once, again and again.
        register_background_sync();
    }
    status.connection.set(match (unreachable, online) {
        (false, _) => Connection::Online,
        (true, true) => Connection::Unreachable,
        (true, false) => Connection::Offline,
    });
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
