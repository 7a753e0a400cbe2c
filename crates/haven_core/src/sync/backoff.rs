//! When to try again after a failed push.

/// First retry after about a second.
pub const BASE_DELAY_MS: u64 = 1_000;
/// Never wait longer than five minutes: a device that comes back should not sit idle.
pub const MAX_DELAY_MS: u64 = 300_000;

/// Delay before retry number `attempt` (0 for the first retry): capped
/// exponential growth with "full jitter", so many devices that lost the server
/// at once do not return at once. `jitter` is a random number in `[0, 1)`
/// supplied by the caller.
pub fn retry_delay_ms(attempt: u32, jitter: f64) -> u64 {
    let ceiling = BASE_DELAY_MS
        .saturating_mul(1u64 << attempt.min(20))
        .min(MAX_DELAY_MS);
    let jitter = jitter.clamp(0.0, 1.0);
    // Never less than half the ceiling, so retries do not bunch up at zero.
    let delay = ceiling as f64 * (0.5 + jitter / 2.0);
    delay as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_stop_at_the_cap() {
        assert_eq!(retry_delay_ms(0, 0.0), 500);
        assert_eq!(retry_delay_ms(1, 0.0), 1_000);
        assert_eq!(retry_delay_ms(3, 0.999_999), 7_999);
        assert_eq!(retry_delay_ms(30, 0.999_999), MAX_DELAY_MS - 1);
        assert_eq!(retry_delay_ms(u32::MAX, 0.0), MAX_DELAY_MS / 2);
    }

    #[test]
    fn jitter_spreads_retries_within_the_window() {
        let low = retry_delay_ms(4, 0.0);
        let high = retry_delay_ms(4, 0.99);
        assert!(low < high);
        assert!(high <= 16_000);
    }
}
