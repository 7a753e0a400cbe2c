//! A page that is left must not keep what the next page needs.
//!
//! Firefox and WebKit keep a page someone leaves alive and frozen in their
//! back/forward cache (Chromium too, for a page holding no lock). A Web Lock
//! or an IndexedDB transaction that page held stays held while it is frozen:
//! the next Haven page could never sync (the lock) or never write (a
//! readwrite transaction on the same stores). So at `pagehide` (and
//! Chromium's `freeze`), before the page is frozen, Haven lets go: the sync
//! pass holding the lock is abandoned ([`leaving`] wakes it), every
//! IndexedDB transaction still open is aborted, and none is started
//! until the page is shown again. Nothing is lost by either: an
//! aborted write was never reported as saved, and the sync pass is run again
//! when the page comes back (`pageshow` with `persisted`, or `resume`).

use futures::channel::oneshot;
use std::cell::{Cell, RefCell};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

// WebIDL gives no way to list a database's open transactions, and rexie
// hides the ones it makes, so the page records each transaction as it is
// made (wrapping `IDBDatabase.prototype.transaction` once) until it
// completes or aborts.
#[wasm_bindgen(inline_js = r#"
const open = new Set();
let left = false;
export function track_transactions() {
  const proto = globalThis.IDBDatabase && IDBDatabase.prototype;
  if (!proto || proto.__havenTracked) return;
  const make = proto.transaction;
  proto.transaction = function (...args) {
    if (left) {
      // Work still running after the page was left (an await that resumed
      // between pagehide and the freeze) must not start a transaction the
      // frozen page would hold.
      throw new DOMException("the page was left", "AbortError");
    }
    const tx = make.apply(this, args);
    open.add(tx);
    const done = () => open.delete(tx);
    tx.addEventListener("complete", done);
    tx.addEventListener("abort", done);
    return tx;
  };
  Object.defineProperty(proto, "__havenTracked", { value: true });
}
export function set_left(value) {
  left = value;
}
export function abort_open_transactions() {
  let aborted = 0;
  for (const tx of open) {
    try { tx.abort(); aborted += 1; } catch (_) { /* already finished */ }
  }
  open.clear();
  return aborted;
}
export function open_transactions() {
  return open.size;
}
"#)]
extern "C" {
    fn track_transactions();
    fn set_left(left: bool);
    fn abort_open_transactions() -> u32;
    /// How many transactions this page has open (for tests).
    pub fn open_transactions() -> u32;
}

thread_local! {
    static HIDDEN: Cell<bool> = const { Cell::new(false) };
    static WAITING: RefCell<Vec<oneshot::Sender<()>>> = const { RefCell::new(Vec::new()) };
}

/// Whether the page has been left (hidden for good or frozen) and not shown again.
pub fn is_left() -> bool {
    HIDDEN.with(Cell::get)
}

/// Resolves when the page is left; at once if it already has been.
pub async fn leaving() {
    if is_left() {
        return;
    }
    let (tx, rx) = oneshot::channel();
    WAITING.with(|w| w.borrow_mut().push(tx));
    let _ = rx.await;
}

/// What the page does when it is left: abandon work that holds a lock, abort
/// open transactions. Public so tests can run it as the browser would.
pub fn on_left() {
    HIDDEN.with(|h| h.set(true));
    set_left(true);
    for waiter in WAITING.with(|w| std::mem::take(&mut *w.borrow_mut())) {
        let _ = waiter.send(());
    }
    let aborted = abort_open_transactions();
    if aborted > 0 {
        leptos::logging::log!("left the page: {aborted} IndexedDB transaction(s) aborted");
    }
}

/// The page is in use again after being left: sync resumes.
pub fn on_shown_again() {
    HIDDEN.with(|h| h.set(false));
    set_left(false);
    crate::state::nudge_sync();
}

/// Starts tracking transactions and listens for the page being left and
/// shown again. Call once, before the database is opened.
pub fn watch_page_lifecycle() {
    track_transactions();
    let Some(window) = web_sys::window() else {
        return;
    };
    let left = Closure::<dyn Fn()>::new(on_left);
    let _ = window.add_event_listener_with_callback("pagehide", left.as_ref().unchecked_ref());
    if let Some(doc) = window.document() {
        // Chromium freezes background tabs without a pagehide.
        let _ = doc.add_event_listener_with_callback("freeze", left.as_ref().unchecked_ref());
    }
    left.forget();
    let shown = Closure::<dyn Fn(web_sys::Event)>::new(|ev: web_sys::Event| {
        // A first `pageshow` (not from the cache) is the page loading.
        let restored = ev
            .dyn_ref::<web_sys::PageTransitionEvent>()
            .is_none_or(|e| e.persisted());
        if restored && is_left() {
            on_shown_again();
        }
    });
    let _ = window.add_event_listener_with_callback("pageshow", shown.as_ref().unchecked_ref());
    if let Some(doc) = window.document() {
        let _ = doc.add_event_listener_with_callback("resume", shown.as_ref().unchecked_ref());
    }
    shown.forget();
}
