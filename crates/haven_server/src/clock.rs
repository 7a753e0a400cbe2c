//! The server's one reading of the wall clock.

/// Milliseconds since the Unix epoch, from the system clock.
#[allow(clippy::disallowed_methods)] // The server is native, where SystemTime::now is fine; the ban is for wasm32.
pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}
