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

#[wasm_bindgen_test]
async fn a_page_left_mid_write_lets_the_next_pages_write_through() {
    watch_page_lifecycle();
    let name = format!("lifecycle-{}", js_sys::Math::random());
    let a = JsFuture::from(busy_writer(&name));
    // Let A's transaction start before B asks for the same store.
    gloo_timers::future::TimeoutFuture::new(50).await;
    assert!(open_transactions() >= 1, "A's transaction is tracked");
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
    gloo_timers::future::TimeoutFuture::new(50).await;
    let held = JsFuture::from(held_locks()).await.unwrap();
    assert!(
        js_sys::Array::from(&held).includes(&"haven-sync".into(), 0),
        "the pass holds the lock"
    );
    on_left();
    assert_eq!(pass.await.unwrap(), None, "the pass was abandoned");
    let held = JsFuture::from(held_locks()).await.unwrap();
    assert!(
        !js_sys::Array::from(&held).includes(&"haven-sync".into(), 0),
        "released when the page is left"
    );
    // Shown again, the page syncs as before.
    on_shown_again();
    assert_eq!(with_sync_lock(|| async { 7 }).await, Some(7));
}
