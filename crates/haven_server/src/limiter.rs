//! Rate limits on guessing: failed sign-ins per account and per client
//! address, and failed code or link attempts per address.
//!
//! Sign-in and the public look-ups (receipt check, enrolment code, parent,
//! set-up and invitation links) count against separate keys per address
//! ([`signin_key`], [`lookup_key`]), so guessing receipt codes can never lock
//! a staff room out of signing in. A sign-in attempt is counted before its
//! password is checked ([`Limiter::attempt`]): fifty guesses sent at once
//! count as fifty, and only as many as the limit allows reach the hash.
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

/// 30 failed look-ups (receipt codes, enrolment codes, links) from one
/// address in 15 minutes: their own budget, apart from sign-in's.
pub const LOOKUPS_PER_ADDRESS: Limit = Limit {
    failures: 30,
    window_ms: 15 * 60 * 1000,
};

/// The key of an account's failed sign-ins (the email as typed, lowercased).
pub fn account_key(email: &str) -> String {
    format!("account:{}", email.trim().to_lowercase())
}

/// The key of failed sign-ins from a client address.
pub fn signin_key(client: &str) -> String {
    format!("address:{}", address_bucket(client))
}

/// The key of failed public look-ups from a client address.
pub fn lookup_key(client: &str) -> String {
    format!("lookup:{}", address_bucket(client))
}

/// What one client is, for counting: an IPv4 address, or an IPv6 address's
/// /64 network (one household or phone gets a whole /64, so counting single
/// IPv6 addresses would give a guesser endless fresh ones).
fn address_bucket(client: &str) -> String {
    match client.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        _ => client.to_owned(),
    }
}

/// Pushes one credential may make in a minute: a device draining a backlog
/// sends one a few times a second at most, so this stops only a flood.
pub const PUSHES_PER_CREDENTIAL: Limit = Limit {
    failures: 600,
    window_ms: 60 * 1000,
};

/// Failure times by key ("account:<email>", "address:<ip>", "lookup:<ip>").
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

    /// Counts an attempt against every key at once, before it is tried, if
    /// none of them is over its limit; otherwise counts nothing and says which
    /// key (by index) refused and how many milliseconds to wait. Check and
    /// count happen under one lock, so parallel attempts cannot all slip in
    /// under the limit. An attempt that turns out right is handed back with
    /// [`Limiter::forgive`] or [`Limiter::clear`].
    pub fn attempt(&self, keys: &[(&str, Limit)], now: i64) -> Result<(), (usize, i64)> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for (index, (key, limit)) in keys.iter().enumerate() {
            if let Some(times) = map.get_mut(*key) {
                times.retain(|t| now - t < limit.window_ms);
                if times.len() >= limit.failures {
                    let oldest = times[times.len() - limit.failures];
                    return Err((index, oldest + limit.window_ms - now));
                }
            }
        }
        Self::sweep(&mut map, now);
        for (key, _) in keys {
            map.entry((*key).to_owned()).or_default().push(now);
        }
        Ok(())
    }

    /// Takes back one attempt counted at `at` for `key` (it was not a
    /// failure after all).
    pub fn forgive(&self, key: &str, at: i64) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(times) = map.get_mut(key) {
            if let Some(i) = times.iter().rposition(|t| *t == at) {
                times.remove(i);
            }
        }
    }

    /// Drops keys whose failures have all aged out, so the map cannot grow
    /// without bound under a spray of made-up emails.
    fn sweep(map: &mut HashMap<String, Vec<i64>>, now: i64) {
        if map.len() > 10_000 {
            let window = PER_ACCOUNT
                .window_ms
                .max(PER_ADDRESS.window_ms)
                .max(LOOKUPS_PER_ADDRESS.window_ms);
            map.retain(|_, times| times.iter().any(|t| now - t < window));
        }
    }

    /// Counts a failure for `key`.
    pub fn fail(&self, key: &str, now: i64) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        Self::sweep(&mut map, now);
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
    fn an_attempt_counts_before_it_is_tried_on_every_key_or_on_none() {
        let limiter = Limiter::default();
        let two = Limit {
            failures: 2,
            window_ms: 1000,
        };
        let ten = Limit {
            failures: 10,
            window_ms: 1000,
        };
        assert!(limiter.attempt(&[("a", two), ("ip", ten)], 0).is_ok());
        assert!(limiter.attempt(&[("a", two), ("ip", ten)], 1).is_ok());
        // The third is refused by the first key and counts on neither.
        assert_eq!(
            limiter.attempt(&[("a", two), ("ip", ten)], 2),
            Err((0, 998))
        );
        assert!(limiter
            .check(
                "ip",
                Limit {
                    failures: 3,
                    window_ms: 1000
                },
                2
            )
            .is_ok());
        // A right attempt is handed back.
        limiter.forgive("a", 1);
        assert!(limiter.attempt(&[("a", two)], 3).is_ok());
        assert!(limiter.check("a", two, 3).is_err());
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_network() {
        assert_eq!(
            signin_key("2001:db8:1:2:aaaa::1"),
            "address:2001:db8:1:2::/64"
        );
        assert_eq!(
            signin_key("2001:db8:1:2:bbbb::9"),
            "address:2001:db8:1:2::/64"
        );
        assert_eq!(lookup_key("::ffff:192.0.2.7"), "lookup:192.0.2.7");
        assert_eq!(lookup_key("192.0.2.7"), "lookup:192.0.2.7");
        assert_eq!(account_key(" Ann@X.example "), "account:ann@x.example");
    }

    #[test]
    fn waits_read_as_words() {
        assert_eq!(wait_words(12_000), "12 seconds");
        assert_eq!(wait_words(60_000), "1 minute");
        assert_eq!(wait_words(11 * 60_000 + 1), "12 minutes");
    }
}
