//! The server's one reading of the wall clock.

/// Milliseconds since the Unix epoch, from the system clock.
#[allow(clippy::disallowed_methods)] // The server is native, where SystemTime::now is fine; the ban is for wasm32.
pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// A monotonic instant, to time how long something took (`.elapsed()`).
#[allow(clippy::disallowed_methods)] // Native only, as above; the ban is for wasm32.
pub fn stopwatch() -> std::time::Instant {
    std::time::Instant::now()
}

/// A new UUID v7: the current time in milliseconds, then random bits, so ids
/// made later sort later (to the millisecond).
pub fn new_id() -> uuid::Uuid {
    use rand::RngCore;
    let mut random = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let millis = u64::try_from(now_ms()).unwrap_or_default();
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_version_7_distinct_and_carry_the_time() {
        let before = now_ms();
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.get_version_num(), 7);
        assert_ne!(a, b);
        let (secs, nanos) = a.get_timestamp().unwrap().to_unix();
        let millis = i64::try_from(secs * 1000 + u64::from(nanos) / 1_000_000).unwrap();
        assert!((before..=now_ms()).contains(&millis));
    }
}
