//! A page that is left (and may be frozen in the back/forward cache) lets go
//! of the sync lock and of its IndexedDB transactions, so the next page can
//! sync and write.

use haven::state::lifecycle::{on_left, on_shown_again, open_transactions, watch_page_lifecycle};
use haven::state::tabs::with_sync_lock;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen(module = "/tests/web/browser.js")]
extern "C" {
    fn busy_writer(name: &str) -> js_sys::Promise;
    fn one_write(name: &str, events: &js_sys::Array) -> js_sys::Promise;
    fn held_locks() -> js_sys::Promise;
}

/// Waits until this page has a transaction open and tracked (opening a new
/// database first can take a while in a busy Firefox); fails after 10 s.
async fn until_a_transaction_is_open() {
    for _ in 0..200 {
        if open_transactions() >= 1 {
            return;
        }
        gloo_timers::future::TimeoutFuture::new(50).await;
    }
    panic!("no transaction was opened and tracked");
}

async fn sync_lock_held() -> bool {
    let held = JsFuture::from(held_locks()).await.unwrap();
    js_sys::Array::from(&held).includes(&"haven-sync".into(), 0)
}

#[wasm_bindgen_test]
async fn a_page_left_mid_write_lets_the_next_pages_write_through() {
    watch_page_lifecycle();
    let name = format!("lifecycle-{}", js_sys::Math::random());
    let a = JsFuture::from(busy_writer(&name));
    // Let A's transaction start before B asks for the same store.
    until_a_transaction_is_open().await;
    let events = js_sys::Array::new();
    let b = JsFuture::from(one_write(&name, &events));
    gloo_timers::future::TimeoutFuture::new(200).await;
    assert_eq!(events.length(), 0, "B waits behind A's transaction");
    // A is left: its transaction goes, and B's write goes through.
    events.push(&"a left".into());
    on_left();
    assert_eq!(a.await.unwrap(), "aborted");
    b.await.unwrap();
    on_shown_again();
    let order: Vec<String> = events.iter().filter_map(|e| e.as_string()).collect();
    assert_eq!(order, ["a left", "b committed"]);
}

#[wasm_bindgen_test]
async fn a_page_left_while_syncing_releases_the_sync_lock() {
    watch_page_lifecycle();
    // A sync pass that would never finish (a request hanging as the page freezes).
    let (done, pass) = futures::channel::oneshot::channel();
    wasm_bindgen_futures::spawn_local(async move {
        let _ = done.send(with_sync_lock(std::future::pending::<()>).await);
    });
    let mut held = false;
    for _ in 0..200 {
        held = sync_lock_held().await;
        if held {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(50).await;
    }
    assert!(held, "the pass holds the lock");
    on_left();
    assert_eq!(pass.await.unwrap(), None, "the pass was abandoned");
    assert!(!sync_lock_held().await, "released when the page is left");
    // Shown again, the page syncs as before.
    on_shown_again();
    assert_eq!(with_sync_lock(|| async { 7 }).await, Some(7));
}

#[wasm_bindgen_test]
async fn a_page_that_was_left_starts_no_transaction_until_shown_again() {
    watch_page_lifecycle();
    let name = format!("lifecycle-{}", js_sys::Math::random());
    // Work that resumes after pagehide, before the freeze, cannot start a
    // transaction the frozen page would hold.
    on_left();
    let refused = JsFuture::from(busy_writer(&name)).await.unwrap_err();
    assert_eq!(
        js_sys::Reflect::get(&refused, &"name".into()).unwrap(),
        "AbortError"
    );
    assert_eq!(open_transactions(), 0);
    // Shown again, the page writes as before.
    on_shown_again();
    let a = JsFuture::from(busy_writer(&name));
    until_a_transaction_is_open().await;
    on_left();
    assert_eq!(a.await.unwrap(), "aborted");
    on_shown_again();
}
