//! Time and fresh ids, read in the browser and passed into haven_core.

use haven_core::Millis;
use uuid::Uuid;

/// Milliseconds since the Unix epoch from the browser's clock.
pub fn now_ms() -> Millis {
    js_sys::Date::now() as Millis
}

/// A UUID v7 (time-ordered), so records made offline sort by creation time.
pub fn new_id() -> Uuid {
    let ms = now_ms().max(0) as u64;
    let mut random = [0u8; 10];
    // crypto.getRandomValues; it cannot fail in a browser that runs wasm.
    getrandom::fill(&mut random).expect("crypto.getRandomValues is available");
    uuid::Builder::from_unix_timestamp_millis(ms, &random).into_uuid()
}
