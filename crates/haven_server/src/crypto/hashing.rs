//! Password hashes run a few at a time.
//!
//! An argon2id hash takes one core and 19 MiB for tens of milliseconds, on
//! purpose. Unbounded, a burst of sign-ins (or a guesser spraying made-up
//! emails, each checked against a dummy hash) would take every core and
//! every blocking thread from sync and reception. [`HashGate`] lets at most
//! [`HashGate::size`] hashes run at once; the rest wait their turn, which
//! costs only a small future each, for at most [`HASH_WAIT`]. Past that the
//! server is flooded and says so at once (503 `busy` with `Retry-After`)
//! rather than holding the connection until the request timeout: a person
//! signing in waits a few seconds at worst, and the caller that floods gains
//! nothing, since no password was checked.

use crate::error::AppError;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long a hash may wait for its turn before the request is refused.
pub const HASH_WAIT: Duration = Duration::from_secs(5);

/// Lets a few password hashes run at once; see the module.
#[derive(Debug)]
pub struct HashGate {
    permits: Arc<Semaphore>,
    size: usize,
    wait: Duration,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    finished: Arc<AtomicU64>,
}

impl Default for HashGate {
    /// One hash per core, between 1 and 4: this many keep the cores busy
    /// and leave the runtime's own threads free between them.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        HashGate::new(cores.clamp(1, 4), HASH_WAIT)
    }
}

impl HashGate {
    pub fn new(size: usize, wait: Duration) -> Self {
        let size = size.max(1);
        HashGate {
            permits: Arc::new(Semaphore::new(size)),
            size,
            wait,
            running: Arc::default(),
            peak: Arc::default(),
            finished: Arc::default(),
        }
    }

    /// How many hashes may run at once.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The most hashes that ever ran at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// How many hashes have finished.
    pub fn finished(&self) -> u64 {
        self.finished.load(Ordering::SeqCst)
    }

    /// Runs `hash` on a blocking thread once a place is free; `Busy` if none
    /// comes free within the wait. The place is held by the blocking task
    /// itself, so a request given up half way (a closed connection) still
    /// holds it until its hash is done.
    pub async fn run<T, F>(&self, hash: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit =
            match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                Ok(Err(_closed)) => {
                    return Err(AppError::Internal(
                        "the password hash gate is closed".into(),
                    ))
                }
                Err(_elapsed) => {
                    tracing::warn!(
                        running = self.size,
                        "too many password checks waiting; refusing one as busy"
                    );
                    return Err(AppError::Busy {
                        retry_after_ms: self.wait.as_millis() as i64,
                    });
                }
            };
        let running = self.running.clone();
        let peak = self.peak.clone();
        let finished = self.finished.clone();
        tokio::task::spawn_blocking(move || {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let result = hash();
            running.fetch_sub(1, Ordering::SeqCst);
            finished.fetch_add(1, Ordering::SeqCst);
            drop(permit);
            result
        })
        .await
        .map_err(|e| AppError::Internal(format!("a password hash did not finish: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_its_size_run_at_once() {
        let gate = Arc::new(HashGate::new(2, Duration::from_secs(60)));
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let gate = gate.clone();
                tokio::spawn(async move {
                    gate.run(|| std::thread::sleep(Duration::from_millis(5)))
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(gate.finished(), 12);
        assert!((1..=2).contains(&gate.peak()), "{}", gate.peak());
    }

    #[tokio::test]
    async fn a_hash_that_cannot_get_a_place_in_time_is_refused_as_busy() {
        let gate = Arc::new(HashGate::new(1, Duration::from_millis(0)));
        let (started, wait) = std::sync::mpsc::channel::<()>();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let holder = {
            let gate = gate.clone();
            tokio::spawn(async move {
                gate.run(move || {
                    started.send(()).unwrap();
                    held.recv().unwrap();
                })
                .await
            })
        };
        tokio::task::spawn_blocking(move || wait.recv().unwrap())
            .await
            .unwrap();
        let refused = gate.run(|| ()).await;
        assert!(matches!(refused, Err(AppError::Busy { .. })), "{refused:?}");
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        assert_eq!(gate.finished(), 1);
    }
}
