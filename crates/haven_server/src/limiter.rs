//! Rate limits on guessing: failed sign-ins per account and per client
//! address, and failed code or link attempts per address.
//!
//! Kept in memory: a restart forgets the counts, which costs an attacker a
//! restart they cannot cause, and keeps a hot path off the database. Each
//! key keeps the times of its failures within the window.

use std::collections::HashMap;
use std::sync::Mutex;

/// How many failures a key may have within the window.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub failures: usize,
    pub window_ms: i64,
}

/// 5 wrong passwords for one account in 15 minutes.
pub const PER_ACCOUNT: Limit = Limit {
    failures: 5,
    window_ms: 15 * 60 * 1000,
};
/// 30 failures (any account, code or link) from one address in 15 minutes:
/// a staff room behind one school router stays well under it.
pub const PER_ADDRESS: Limit = Limit {
    failures: 30,
    window_ms: 15 * 60 * 1000,
};

/// Pushes one credential may make in a minute: a device draining a backlog
/// sends one a few times a second at most, so this stops only a flood.
pub const PUSHES_PER_CREDENTIAL: Limit = Limit {
    failures: 600,
    window_ms: 60 * 1000,
};

/// Failure times by key ("account:<email>", "address:<ip>").
#[derive(Debug, Default)]
pub struct Limiter {
    failures: Mutex<HashMap<String, Vec<i64>>>,
}

impl Limiter {
    /// `Err(milliseconds to wait)` if `key` is over `limit` at `now`.
    pub fn check(&self, key: &str, limit: Limit, now: i64) -> Result<(), i64> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = map.get_mut(key) else {
            return Ok(());
        };
        times.retain(|t| now - t < limit.window_ms);
        if times.len() < limit.failures {
            return Ok(());
        }
        // Free again once the oldest failure that counts leaves the window.
        let oldest = times[times.len() - limit.failures];
        Err(oldest + limit.window_ms - now)
    }

    /// Counts a failure for `key`.
    pub fn fail(&self, key: &str, now: i64) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Drop keys whose failures have all aged out, so the map cannot grow
        // without bound under a spray of made-up emails.
        if map.len() > 10_000 {
            let window = PER_ACCOUNT.window_ms.max(PER_ADDRESS.window_ms);
            map.retain(|_, times| times.iter().any(|t| now - t < window));
        }
        map.entry(key.to_owned()).or_default().push(now);
    }

    /// Forgets `key`'s failures (after a successful sign-in).
    pub fn clear(&self, key: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(key);
    }
}

/// "12 minutes", "1 minute", "30 seconds": how long to wait, for a person.
pub fn wait_words(ms: i64) -> String {
    let secs = (ms.max(1000) + 999) / 1000;
    if secs < 60 {
        return format!("{secs} seconds");
    }
    let minutes = (secs + 59) / 60;
    if minutes == 1 {
        "1 minute".into()
    } else {
        format!("{minutes} minutes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_after_its_limit_until_the_window_passes() {
        let limiter = Limiter::default();
        let limit = Limit {
            failures: 3,
            window_ms: 1000,
        };
        for t in [0, 100, 200] {
            assert!(limiter.check("k", limit, t).is_ok());
            limiter.fail("k", t);
        }
        assert_eq!(limiter.check("k", limit, 300), Err(700));
        assert!(limiter.check("other", limit, 300).is_ok());
        assert!(
            limiter.check("k", limit, 1000).is_ok(),
            "first failure aged out"
        );
        limiter.clear("k");
        assert!(limiter.check("k", limit, 300).is_ok());
    }

    #[test]
    fn waits_read_as_words() {
        assert_eq!(wait_words(12_000), "12 seconds");
        assert_eq!(wait_words(60_000), "1 minute");
        assert_eq!(wait_words(11 * 60_000 + 1), "12 minutes");
    }
}
