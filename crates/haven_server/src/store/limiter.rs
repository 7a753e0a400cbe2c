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
//! Guesses are counted in the database (table `failed_attempts`), so every
//! server instance on one database sees the same counts: a guesser gains
//! nothing by spreading attempts over a load balancer's instances, and a
//! restart forgets nothing. Check and count run in one write transaction
//! ([`crate::store::db::begin_write`]), which all instances serialise on.
//!
//! The push flood guard and the count of incidents opened per credential
//! ([`Limiter`]) stay in each instance's memory: they protect that
//! instance's CPU from one device, not a secret from a guesser, and are on
//! every push's path.

use crate::error::AppError;
use crate::store::db::begin_write;
use sqlx::{AnyConnection, AnyPool};
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

/// The longest window of the guess limits: counts older are purged.
const LONGEST_WINDOW_MS: i64 = {
    let (a, b, c) = (
        PER_ACCOUNT.window_ms,
        PER_ADDRESS.window_ms,
        LOOKUPS_PER_ADDRESS.window_ms,
    );
    let ab = if a > b { a } else { b };
    if ab > c {
        ab
    } else {
        c
    }
};

/// The rows one [`attempt`] added, one per key in the order given, to hand
/// back with [`forgive`] when the attempt turns out right.
#[derive(Debug)]
pub struct Counted(Vec<i64>);

impl Counted {
    /// The row counted against the `index`th key.
    pub fn row(&self, index: usize) -> i64 {
        self.0[index]
    }
}

/// Counts an attempt against every key at once, before it is tried, if none
/// of them is over its limit; otherwise counts nothing and says which key (by
/// index) refused and how many milliseconds to wait. Check and count are one
/// write transaction: parallel attempts, on any instance, cannot all slip in
/// under the limit.
pub async fn attempt(
    pool: &AnyPool,
    keys: &[(&str, Limit)],
    now: i64,
) -> Result<Result<Counted, (usize, i64)>, AppError> {
    let mut tx = begin_write(pool).await?;
    for (index, (key, limit)) in keys.iter().enumerate() {
        if let Err(wait) = over(&mut tx, key, *limit, now).await? {
            return Ok(Err((index, wait)));
        }
    }
    let mut rows = Vec::with_capacity(keys.len());
    for (key, _) in keys {
        rows.push(insert(&mut tx, key, now).await?);
    }
    tx.commit().await?;
    Ok(Ok(Counted(rows)))
}

/// `Err(milliseconds to wait)` if `key` is over `limit` at `now`.
pub async fn check(
    pool: &AnyPool,
    key: &str,
    limit: Limit,
    now: i64,
) -> Result<Result<(), i64>, AppError> {
    let mut conn = pool.acquire().await?;
    Ok(over(&mut conn, key, limit, now).await?)
}

/// Counts a failure for `key`.
pub async fn fail(pool: &AnyPool, key: &str, now: i64) -> Result<(), AppError> {
    let mut conn = pool.acquire().await?;
    insert(&mut conn, key, now).await?;
    Ok(())
}

/// Takes back one counted attempt (it was not a failure after all).
pub async fn forgive(pool: &AnyPool, row: i64) -> Result<(), AppError> {
    sqlx::query("DELETE FROM failed_attempts WHERE id = $1")
        .bind(row)
        .execute(pool)
        .await?;
    Ok(())
}

/// Forgets `key`'s failures (after a successful sign-in).
pub async fn clear(pool: &AnyPool, key: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM failed_attempts WHERE key = $1")
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

/// Removes counts that no window reaches any more (the hourly job).
pub async fn purge(pool: &AnyPool, now: i64) -> Result<u64, AppError> {
    let done = sqlx::query("DELETE FROM failed_attempts WHERE at <= $1")
        .bind(now - LONGEST_WINDOW_MS)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

async fn over(
    conn: &mut AnyConnection,
    key: &str,
    limit: Limit,
    now: i64,
) -> Result<Result<(), i64>, sqlx::Error> {
    // The newest `failures` counts within the window, newest first.
    let times: Vec<i64> = sqlx::query_scalar(
        "SELECT at FROM failed_attempts WHERE key = $1 AND at > $2 ORDER BY at DESC LIMIT $3",
    )
    .bind(key)
    .bind(now - limit.window_ms)
    .bind(i64::try_from(limit.failures).unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await?;
    match times.last() {
        // Free again once the oldest count that matters leaves the window.
        Some(oldest) if times.len() >= limit.failures => Ok(Err(oldest + limit.window_ms - now)),
        _ => Ok(Ok(())),
    }
}

async fn insert(conn: &mut AnyConnection, key: &str, now: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO failed_attempts (key, at) VALUES ($1, $2) RETURNING id")
        .bind(key)
        .bind(now)
        .fetch_one(&mut *conn)
        .await
}

/// Pushes one credential may make in a minute: a device draining a backlog
/// sends one a few times a second at most, so this stops only a flood.
pub const PUSHES_PER_CREDENTIAL: Limit = Limit {
    failures: 600,
    window_ms: 60 * 1000,
};

/// Counts by key kept in this instance's memory: pushes and incidents
/// opened per credential ("push:<credential>", "opens:<credential>"), each
/// with the times within its window. A restart forgets them, which is fine for
/// a guard on this instance's own work.
#[derive(Debug, Default)]
pub struct Limiter {
    counts: Mutex<HashMap<String, Vec<i64>>>,
}

impl Limiter {
    /// `Err(milliseconds to wait)` if `key` is over `limit` at `now`.
    pub fn check(&self, key: &str, limit: Limit, now: i64) -> Result<(), i64> {
        let mut map = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = map.get_mut(key) else {
            return Ok(());
        };
        times.retain(|t| now - t < limit.window_ms);
        if times.len() < limit.failures {
            return Ok(());
        }
        // Free again once the oldest count that matters leaves the window.
        let oldest = times[times.len() - limit.failures];
        Err(oldest + limit.window_ms - now)
    }

    /// Counts one for `key`.
    pub fn fail(&self, key: &str, now: i64) {
        let mut map = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        // Keys whose counts have all aged out go, so the map stays bounded.
        if map.len() > 10_000 {
            map.retain(|_, times| times.iter().any(|t| now - t < MEMORY_WINDOW_MS));
        }
        map.entry(key.to_owned()).or_default().push(now);
    }
}

/// The longest window a [`Limiter`] key is counted over (incidents opened: an hour).
const MEMORY_WINDOW_MS: i64 = 60 * 60 * 1000;

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
    }

    #[test]
    fn every_window_is_within_what_is_kept() {
        for limit in [PER_ACCOUNT, PER_ADDRESS, LOOKUPS_PER_ADDRESS] {
            assert!(limit.window_ms <= LONGEST_WINDOW_MS);
        }
        for limit in [
            PUSHES_PER_CREDENTIAL,
            crate::store::push::OPENS_PER_CREDENTIAL,
        ] {
            assert!(limit.window_ms <= MEMORY_WINDOW_MS);
        }
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
