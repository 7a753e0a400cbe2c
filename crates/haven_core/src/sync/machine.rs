//! The device's push loop as a sans-IO state machine.
//!
//! [`DeviceSync`] decides when to push which outbox entries and what to do with
//! the answer; the shell does the waiting, the HTTP request and the storage.
//! Every input carries the time (`now`), and the ones that schedule a retry
//! carry a random `jitter` in `[0, 1)`, so the machine reads no clock and no
//! random source and the whole protocol runs in memory in tests
//! (`crates/haven_server/tests/sync_simulation.rs`).
//!
//! The machine holds no records. The outbox is the shell's durable storage and
//! is passed to [`DeviceSync::poll`]; a [`Settlement`] returned by
//! [`DeviceSync::on_reply`] is for the shell to apply to it. Losing the machine
//! (a closed tab) loses nothing: a new one starts ready to push and
//! sends the oldest pending entries again, which the server answers without
//! applying them twice.
//!
//! A shell drives it like this:
//!
//! ```text
//! loop {
//!     match machine.poll(now(), &outbox, random()) {
//!         Command::Push { ticket, request } => start the request in the background;
//!             its reply calls on_reply(now, ticket, &reply) and the shell applies
//!             the settlement; an error calls on_failure(now, ticket, kind, random())
//!         Command::WaitUntil(t) => sleep until t, a reply, or a kick()
//!     }
//! }
//! ```

use super::backoff::retry_delay_ms;
use super::outbox::{next_batch, settle, EntryState, OutboxEntry, Settlement};
use super::wire::{PushRequest, PushResponse, MAX_BATCH};
use crate::Millis;
use uuid::Uuid;

/// Mutations in the first push of a backlog, unless
/// [`DeviceSync::with_batch_size`] fixes another size. Pushes answered
/// within [`QUICK_REPLY_MS`] double it, up to the server's [`MAX_BATCH`]: a
/// fast network drains a large backlog in a few large pushes, and a slow one
/// never sends more at once than it has shown it can carry.
pub const DEFAULT_BATCH_SIZE: usize = 100;
/// A full push answered within this long lets the next one be twice as large.
pub const QUICK_REPLY_MS: u64 = 2_000;
/// A push answered after this long (a quarter of [`REQUEST_TIMEOUT_MS`])
/// makes the next one half as large, well before a batch could time out.
pub const SLOW_REPLY_MS: u64 = REQUEST_TIMEOUT_MS / 4;
/// A push with no reply after this long is given up and counts as a failure.
/// Its request may still reach the server; sending the same mutations again is
/// harmless.
pub const REQUEST_TIMEOUT_MS: u64 = 30_000;
/// How long to wait when nothing is pending (or the server made no progress)
/// before looking again without being asked.
pub const IDLE_INTERVAL_MS: u64 = 60_000;

/// Names one push. A reply or failure for any other ticket than the push in
/// flight is stale (the push timed out) and is ignored.
///
/// Tickets are numbered per machine: when a machine is replaced (the tab was
/// closed) the shell must drop replies to the old machine's requests, as a
/// closed tab's connections are gone with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket(u64);

/// What the shell should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send this request and report its reply or failure under `ticket`.
    Push {
        ticket: Ticket,
        request: PushRequest,
    },
    /// Nothing to do until this time, a reply, or a [`DeviceSync::kick`]; then
    /// poll again.
    WaitUntil(Millis),
}

/// Why a push got no usable reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// No answer: offline, server down, or a gateway saying so (502/503/504).
    /// Shown as "offline", not as an error.
    Unreachable,
    /// The server answered with an error that may pass (500, 429, a reply that
    /// could not be read).
    Temporary,
    /// The server refused the whole request (a 4xx such as an out-of-order
    /// batch). Sending it again will fail the same way until the app or the
    /// server changes, so a person should see it; it is still retried, slowly.
    Refused,
    /// No reply within [`REQUEST_TIMEOUT_MS`].
    TimedOut,
    /// The server refused the request as too large (413): the records
    /// themselves are within their limits, so fewer at a time will go. The
    /// next push sends half as many, down to one.
    TooLarge,
}

/// Where the machine stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Push at the next poll if anything is pending.
    Ready,
    /// Do nothing before `until`: a retry after a failure, or the idle timer.
    Waiting { until: Millis },
    /// One push is out; its reply is awaited until `deadline`.
    InFlight {
        ticket: Ticket,
        sent: Vec<u64>,
        sent_at: Millis,
        deadline: Millis,
    },
}

/// The device side of push, one request at a time.
///
/// States and transitions (`n` counts failures in a row):
///
/// ```text
/// state               input                          next state
/// ─────────────────── ────────────────────────────── ─────────────────────────────────
/// Ready               poll, entries pending          InFlight (returns Push)
/// Ready               poll, nothing pending          Waiting { now + IDLE_INTERVAL_MS }
/// InFlight            poll before the deadline       InFlight (returns WaitUntil(deadline))
/// InFlight            poll at/after the deadline     Waiting { now + retry_delay_ms(n, jitter) }, n += 1
/// InFlight            on_failure (its ticket)        Waiting { now + retry_delay_ms(n, jitter) }, n += 1
/// InFlight            on_reply (its ticket)          Ready, n = 0 (Waiting idle if nothing processed)
/// InFlight            kick                           InFlight, n = 0
/// Waiting { until }   poll before `until`            Waiting (returns WaitUntil(until))
/// Waiting { until }   poll at/after `until`          as Ready
/// Waiting             kick                           Ready, n = 0
/// Waiting, n = 0      nudge                          Ready
/// Waiting, n > 0      nudge                          unchanged (the backoff holds)
/// Ready/Waiting       back_off (server unreachable)  Waiting { now + retry_delay_ms(n, jitter) }, n += 1
/// any                 take_new_id                    Ready, n = 0 (a push out is forgotten)
/// any                 reply/failure, other ticket    unchanged (stale)
/// ```
///
/// - **Ready**: the next [`poll`](Self::poll) sends the oldest pending entries
///   (at most the batch size) or, if there are none, waits [`IDLE_INTERVAL_MS`].
/// - **InFlight**: exactly one push is out. Polls answer
///   [`Command::WaitUntil`] its deadline; a [`kick`](Self::kick) does not send a
///   second one. A reply settles it; a failure, or a poll at or after the
///   deadline, schedules a retry.
/// - **Waiting**: polls answer [`Command::WaitUntil`] until the time comes or
///   a kick makes the machine Ready.
///
/// Backoff: the n-th failure in a row (n from 0) waits
/// [`retry_delay_ms`]`(n, jitter)`: capped exponential with jitter. A reply or a
/// kick (something changed: a new record, the network back after being off,
/// a person asking) starts the count afresh; a nudge (the page shown again, a
/// Background Sync event, a page restored from the back/forward cache)
/// syncs now only when no backoff is running, so no trigger can turn a
/// server that does not answer into a stream of requests.
///
/// Batch size: a backlog's first push carries [`DEFAULT_BATCH_SIZE`]; each
/// full push answered within [`QUICK_REPLY_MS`] doubles the next, up to
/// [`MAX_BATCH`] (never back up to a size refused with 413 in this backlog);
/// a reply slower than [`SLOW_REPLY_MS`], a timeout or a 413 halves it. Each
/// push is still one batch the server applies whole or not at all.
#[derive(Debug, Clone)]
pub struct DeviceSync {
    device_id: Uuid,
    /// The most mutations one push may carry.
    max_batch: usize,
    /// What a backlog's first push carries.
    first_batch: usize,
    /// What the next push carries: `first_batch` when a backlog starts,
    /// doubled after each quick full reply (up to `max_batch`), halved after
    /// a slow reply, a timeout or a 413 (down to one).
    batch: usize,
    /// The smallest push refused as too large in this backlog: growth stays
    /// below it, so a backlog of large records does not meet 413 every
    /// other push.
    too_large: usize,
    state: State,
    failures: u32,
    last_failure: Option<FailureKind>,
    next_ticket: u64,
    /// Set by [`take_new_id`](Self::take_new_id) until the server first
    /// answers a push under the new id: while set, a refusal of the new id
    /// is not answered by yet another one (see [`may_take_new_id`](Self::may_take_new_id)).
    new_id_unanswered: bool,
}

impl DeviceSync {
    /// A machine for `device_id`, Ready: it pushes at the first poll, as the app
    /// syncs when it opens.
    pub fn new(device_id: Uuid) -> Self {
        Self {
            device_id,
            max_batch: MAX_BATCH,
            first_batch: DEFAULT_BATCH_SIZE,
            batch: DEFAULT_BATCH_SIZE,
            too_large: usize::MAX,
            state: State::Ready,
            failures: 0,
            last_failure: None,
            next_ticket: 0,
            new_id_unanswered: false,
        }
    }

    /// Sends `batch_size` mutations per push (kept between 1 and the
    /// server's [`MAX_BATCH`]) and never more: quick replies no longer grow
    /// it, though a slow reply, a timeout or a 413 still halve it.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        let size = batch_size.clamp(1, MAX_BATCH);
        self.max_batch = size;
        self.first_batch = size;
        self.batch = size;
        self
    }

    /// How many mutations the next push may carry: a shell reads at least
    /// this many pending entries for [`poll`](Self::poll).
    pub fn next_batch_size(&self) -> usize {
        self.batch
    }

    /// What to do now, given the outbox as stored. `jitter` (random, `[0, 1)`)
    /// is used only if a push in flight has passed its deadline and a retry
    /// must be scheduled.
    pub fn poll(&mut self, now: Millis, outbox: &[OutboxEntry], jitter: f64) -> Command {
        match self.state {
            State::InFlight { deadline, .. } if now < deadline => {
                return Command::WaitUntil(deadline);
            }
            State::InFlight { ticket, .. } => {
                self.on_failure(now, ticket, FailureKind::TimedOut, jitter);
            }
            _ => {}
        }
        if let State::Waiting { until } = self.state {
            if now < until {
                return Command::WaitUntil(until);
            }
        }

        let batch = next_batch(outbox, self.batch);
        if batch.is_empty() {
            // The next backlog starts small again: the network may have changed.
            self.batch = self.first_batch;
            self.too_large = usize::MAX;
            let until = later(now, IDLE_INTERVAL_MS);
            self.state = State::Waiting { until };
            return Command::WaitUntil(until);
        }
        let backlog = outbox
            .iter()
            .filter(|e| e.state == EntryState::Pending)
            .count() as u64;
        let ticket = Ticket(self.next_ticket);
        self.next_ticket += 1;
        self.state = State::InFlight {
            ticket,
            sent: batch.iter().map(|m| m.id).collect(),
            sent_at: now,
            deadline: later(now, REQUEST_TIMEOUT_MS),
        };
        Command::Push {
            ticket,
            request: PushRequest {
                device_secret: None,
                device_id: self.device_id,
                mutations: batch,
                backlog,
            },
        }
    }

    /// Reads the server's reply to push `ticket`. Returns what to do with the
    /// outbox, or `None` if the ticket is not the push in flight (it timed out
    /// or was already answered); a stale reply is ignored because its entries
    /// are still pending and will be sent, and answered, again.
    pub fn on_reply(
        &mut self,
        now: Millis,
        ticket: Ticket,
        reply: &PushResponse,
    ) -> Option<Settlement> {
        let (sent, sent_at) = match &self.state {
            State::InFlight {
                ticket: t,
                sent,
                sent_at,
                ..
            } if *t == ticket => (sent, *sent_at),
            _ => return None,
        };
        let settlement = settle(sent, reply);
        let took = u64::try_from(now.saturating_sub(sent_at)).unwrap_or(0);
        if took > SLOW_REPLY_MS {
            self.batch = (sent.len() / 2).max(1);
        } else if took <= QUICK_REPLY_MS && sent.len() >= self.batch {
            self.batch = (self.batch * 2)
                .min(self.max_batch)
                .min(self.too_large - 1)
                .max(self.batch);
        }
        self.new_id_unanswered = false;
        self.failures = 0;
        self.last_failure = None;
        let progress = !settlement.acknowledged.is_empty() || !settlement.rejected.is_empty();
        self.state = if progress || settlement.unprocessed.is_empty() {
            // More may be pending: go straight on with the next batch.
            State::Ready
        } else {
            // The server answered but processed nothing: do not hammer it.
            State::Waiting {
                until: later(now, IDLE_INTERVAL_MS),
            }
        };
        Some(settlement)
    }

    /// Push `ticket` failed: wait [`retry_delay_ms`] before the next one.
    /// Ignored if `ticket` is not the push in flight.
    pub fn on_failure(&mut self, now: Millis, ticket: Ticket, kind: FailureKind, jitter: f64) {
        match self.state {
            State::InFlight { ticket: t, .. } if t == ticket => {}
            _ => return,
        }
        if matches!(kind, FailureKind::TooLarge | FailureKind::TimedOut) {
            let sent = match &self.state {
                State::InFlight { sent, .. } => sent.len(),
                _ => self.batch,
            };
            if kind == FailureKind::TooLarge {
                self.too_large = self.too_large.min(sent);
            }
            self.batch = (sent / 2).max(1);
        }
        let delay = retry_delay_ms(self.failures, jitter);
        self.failures = self.failures.saturating_add(1);
        self.last_failure = Some(kind);
        self.state = State::Waiting {
            until: later(now, delay),
        };
    }

    /// Sync now, not at the next timer: a record was just made, the browser
    /// came online, the tab became visible. Starts the backoff afresh. A push
    /// already in flight is not doubled; the machine goes on from its reply.
    pub fn kick(&mut self) {
        self.failures = 0;
        if !matches!(self.state, State::InFlight { .. }) {
            self.state = State::Ready;
        }
    }

    /// Sync now if nothing says wait: a trigger that changes nothing (the
    /// page became visible, a Background Sync event fired, a page came back
    /// from the back/forward cache). While a backoff runs it is ignored.
    /// Returns whether the machine is now Ready.
    pub fn nudge(&mut self) -> bool {
        if self.failures == 0 && matches!(self.state, State::Waiting { .. }) {
            self.state = State::Ready;
        }
        matches!(self.state, State::Ready)
    }

    /// Whether failures in a row have the machine waiting before it tries again.
    pub fn is_backing_off(&self) -> bool {
        self.failures > 0 && matches!(self.state, State::Waiting { .. })
    }

    /// The pass could not reach the server before pushing (its pull went
    /// unanswered): count a failure and wait as after a failed push. Returns
    /// when to try again. A push in flight is left to its own reply.
    pub fn back_off(&mut self, now: Millis, kind: FailureKind, jitter: f64) -> Millis {
        if let State::InFlight { deadline, .. } = self.state {
            return deadline;
        }
        let until = later(now, retry_delay_ms(self.failures, jitter));
        self.failures = self.failures.saturating_add(1);
        self.last_failure = Some(kind);
        self.state = State::Waiting { until };
        until
    }

    /// The device took a new id (its old one was refused as another
    /// device's, or the server's count for it was not the device's) and
    /// renumbered its outbox from 1: push under `device_id` from now on, at
    /// once. A push still out under the old id is forgotten, so a late reply
    /// to it, which names the old numbers, cannot settle the new ones.
    pub fn take_new_id(&mut self, device_id: Uuid) {
        self.device_id = device_id;
        self.state = State::Ready;
        self.failures = 0;
        self.last_failure = None;
        self.new_id_unanswered = true;
    }

    /// Whether a refusal of this id may be answered by taking a new one:
    /// not if this id is itself a new one the server has not yet answered.
    /// A fresh random id cannot honestly be in use or behind, so a second
    /// refusal means something is wrong that a third id would not fix, and
    /// taking ids in a loop would only use up the server's allowance.
    pub fn may_take_new_id(&self) -> bool {
        !self.new_id_unanswered
    }

    /// Follows an id another tab took (the shell reads it from storage at
    /// the start of a pass): unlike [`take_new_id`](Self::take_new_id), not
    /// a new refusal here, so the guard is left as it is.
    pub fn follow_id(&mut self, device_id: Uuid) {
        if self.device_id != device_id {
            self.device_id = device_id;
            self.state = State::Ready;
        }
    }

    /// The id this machine pushes under.
    pub fn device_id(&self) -> Uuid {
        self.device_id
    }

    /// Whether a push is out and not yet answered.
    pub fn is_pushing(&self) -> bool {
        matches!(self.state, State::InFlight { .. })
    }

    /// Why the last push failed, if the last push did not get a reply.
    pub fn last_failure(&self) -> Option<FailureKind> {
        self.last_failure
    }
}

fn later(now: Millis, delay_ms: u64) -> Millis {
    now.saturating_add(Millis::try_from(delay_ms).unwrap_or(Millis::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agreement::AgreementRecord;
    use crate::hash::Sha256Hex;
    use crate::sync::backoff::{BASE_DELAY_MS, MAX_DELAY_MS};
    use crate::sync::wire::{Change, Mutation, MutationResult, Outcome};

    const T0: Millis = 1_790_000_000_000;
    const DEVICE: Uuid = Uuid::from_u128(9);

    fn entry(id: u64, state: EntryState) -> OutboxEntry {
        OutboxEntry {
            mutation: Mutation {
                proof: None,
                id,
                change: Change::CreateAgreement(AgreementRecord {
                    id: Uuid::from_u128(u128::from(id)),
                    policy_version_id: Uuid::from_u128(1),
                    policy_text_sha256: Sha256Hex::of(b"x"),
                    signer_name: "A".into(),
                    agreed: true,
                    signed_at: T0,
                    device_id: DEVICE,
                    ..Default::default()
                }),
            },
            state,
            queued_at: T0,
        }
    }

    fn pending(ids: impl IntoIterator<Item = u64>) -> Vec<OutboxEntry> {
        ids.into_iter()
            .map(|id| entry(id, EntryState::Pending))
            .collect()
    }

    fn applied(ids: &[u64]) -> PushResponse {
        PushResponse {
            last_mutation_id: ids.iter().copied().max().unwrap_or(0),
            results: ids
                .iter()
                .map(|&id| MutationResult {
                    id,
                    outcome: Outcome::Applied,
                })
                .collect(),
        }
    }

    /// Polls and expects a push; returns its ticket and mutation ids.
    fn expect_push(m: &mut DeviceSync, now: Millis, outbox: &[OutboxEntry]) -> (Ticket, Vec<u64>) {
        match m.poll(now, outbox, 0.5) {
            Command::Push { ticket, request } => {
                assert_eq!(request.device_id, DEVICE);
                let pending = outbox
                    .iter()
                    .filter(|e| e.state == EntryState::Pending)
                    .count();
                assert_eq!(request.backlog, pending as u64);
                (ticket, request.mutations.iter().map(|m| m.id).collect())
            }
            other => panic!("expected a push, got {other:?}"),
        }
    }

    fn expect_push_as(
        m: &mut DeviceSync,
        now: Millis,
        outbox: &[OutboxEntry],
        device: Uuid,
    ) -> (Ticket, Vec<u64>) {
        match m.poll(now, outbox, 0.5) {
            Command::Push { ticket, request } => {
                assert_eq!(request.device_id, device);
                (ticket, request.mutations.iter().map(|m| m.id).collect())
            }
            other => panic!("expected a push, got {other:?}"),
        }
    }

    #[test]
    fn a_new_machine_pushes_the_oldest_pending_entries_at_once() {
        let mut m = DeviceSync::new(DEVICE).with_batch_size(2);
        let mut outbox = pending([3, 1, 2]);
        outbox.push(entry(
            0,
            EntryState::Rejected {
                code: "c".into(),
                reason: "r".into(),
            },
        ));
        let (_, ids) = expect_push(&mut m, T0, &outbox);
        assert_eq!(ids, vec![1, 2]);
        assert!(m.is_pushing());
    }

    #[test]
    fn with_nothing_pending_the_machine_waits_the_idle_interval() {
        let mut m = DeviceSync::new(DEVICE);
        let idle = T0 + IDLE_INTERVAL_MS as Millis;
        assert_eq!(m.poll(T0, &[], 0.5), Command::WaitUntil(idle));
        // Entries that appear without a kick wait for the timer...
        let outbox = pending([1]);
        assert_eq!(m.poll(T0 + 1, &outbox, 0.5), Command::WaitUntil(idle));
        // ...and go when it fires.
        expect_push(&mut m, idle, &outbox);
    }

    #[test]
    fn only_one_push_is_in_flight_until_its_deadline() {
        let mut m = DeviceSync::new(DEVICE);
        let outbox = pending([1]);
        expect_push(&mut m, T0, &outbox);
        let deadline = T0 + REQUEST_TIMEOUT_MS as Millis;
        assert_eq!(m.poll(T0 + 5, &outbox, 0.5), Command::WaitUntil(deadline));
        m.kick();
        assert_eq!(m.poll(T0 + 6, &outbox, 0.5), Command::WaitUntil(deadline));
    }

    #[test]
    fn a_reply_settles_the_sent_ids_and_the_next_batch_goes_at_once() {
        let mut m = DeviceSync::new(DEVICE).with_batch_size(2);
        let mut outbox = pending([1, 2, 3]);
        let (ticket, ids) = expect_push(&mut m, T0, &outbox);
        let s = m.on_reply(T0 + 10, ticket, &applied(&ids)).unwrap();
        assert_eq!(s.acknowledged, vec![1, 2]);
        outbox.retain(|e| !s.acknowledged.contains(&e.mutation.id));
        let (_, ids) = expect_push(&mut m, T0 + 10, &outbox);
        assert_eq!(ids, vec![3]);
    }

    #[test]
    fn a_rejection_is_settled_as_rejected_and_the_queue_moves_past_it() {
        let mut m = DeviceSync::new(DEVICE).with_batch_size(1);
        let mut outbox = pending([1, 2]);
        let (ticket, _) = expect_push(&mut m, T0, &outbox);
        let reply = PushResponse {
            last_mutation_id: 1,
            results: vec![MutationResult {
                id: 1,
                outcome: Outcome::Rejected {
                    code: "unknown_policy_version".into(),
                    reason: "gone".into(),
                },
            }],
        };
        let s = m.on_reply(T0 + 1, ticket, &reply).unwrap();
        assert_eq!(
            s.rejected,
            vec![(1, "unknown_policy_version".into(), "gone".into())]
        );
        outbox[0].state = EntryState::Rejected {
            code: "unknown_policy_version".into(),
            reason: "gone".into(),
        };
        let (_, ids) = expect_push(&mut m, T0 + 1, &outbox);
        assert_eq!(ids, vec![2]);
    }

    #[test]
    fn a_reply_that_processed_nothing_waits_the_idle_interval() {
        let mut m = DeviceSync::new(DEVICE);
        let outbox = pending([5]);
        let (ticket, _) = expect_push(&mut m, T0, &outbox);
        let nothing = PushResponse {
            last_mutation_id: 4,
            results: vec![],
        };
        let s = m.on_reply(T0 + 1, ticket, &nothing).unwrap();
        assert_eq!(s.unprocessed, vec![5]);
        assert_eq!(
            m.poll(T0 + 2, &outbox, 0.5),
            Command::WaitUntil(T0 + 1 + IDLE_INTERVAL_MS as Millis)
        );
    }

    #[test]
    fn a_failure_waits_the_backoff_delay_before_the_retry() {
        let mut m = DeviceSync::new(DEVICE);
        let outbox = pending([1]);
        let (ticket, _) = expect_push(&mut m, T0, &outbox);
        m.on_failure(T0 + 100, ticket, FailureKind::Unreachable, 0.0);
        assert_eq!(m.last_failure(), Some(FailureKind::Unreachable));
        assert!(!m.is_pushing());
        let retry = T0 + 100 + retry_delay_ms(0, 0.0) as Millis;
        assert_eq!(m.poll(retry - 1, &outbox, 0.5), Command::WaitUntil(retry));
        let (_, ids) = expect_push(&mut m, retry, &outbox);
        assert_eq!(ids, vec![1]);
    }

    #[test]
    fn failures_in_a_row_back_off_exponentially_up_to_the_cap() {
        let mut m = DeviceSync::new(DEVICE);
        let outbox = pending([1]);
        let mut now = T0;
        let mut delays = Vec::new();
        for _ in 0..12 {
            let (ticket, _) = expect_push(&mut m, now, &outbox);
            m.on_failure(now, ticket, FailureKind::Temporary, 0.999_999);
            let Command::WaitUntil(until) = m.poll(now, &outbox, 0.5) else {
                panic!("expected to wait");
            };
            delays.push((until - now) as u64);
            now = until;
        }
        assert_eq!(delays[0], BASE_DELAY_MS - 1);
        assert!(delays.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*delays.last().unwrap(), MAX_DELAY_MS - 1);
    }

    #[test]
    fn jitter_spreads_the_retry_time() {
        let outbox = pending([1]);
        let retry_at = |jitter| {
            let mut m = DeviceSync::new(DEVICE);
            let (ticket, _) = expect_push(&mut m, T0, &outbox);
            m.on_failure(T0, ticket, FailureKind::Unreachable, jitter);
            m.poll(T0, &outbox, 0.5)
        };
        assert_ne!(retry_at(0.0), retry_at(0.9));
    }

    #[test]
    fn a_push_with_no_reply_by_its_deadline_times_out_and_is_retried_with_backoff() {
        let mut m = DeviceSync::new(DEVICE);
        let outbox = pending([1]);
        let (first, _) = expect_push(&mut m, T0, &outbox);
        let deadline = T0 + REQUEST_TIMEOUT_MS as Millis;
        let retry = deadline + retry_delay_ms(0, 0.0) as Millis;
        assert_eq!(m.poll(deadline, &outbox, 0.0), Command::WaitUntil(retry));
        assert_eq!(m.last_failure(), Some(FailureKind::TimedOut));
        let (second, ids) = expect_push(&mut m, retry, &outbox);
        assert_ne!(first, second);
        assert_eq!(ids, vec![1]);
    }

    #[test]
    fn a_late_reply_to_a_timed_out_push_is_ignored() {
        let mut m = DeviceSync::new(DEVICE);
        let outbox = pending([1, 2]);
        let (old, ids) = expect_push(&mut m, T0, &outbox);
        let deadline = T0 + REQUEST_TIMEOUT_MS as Millis;
        m.poll(deadline, &outbox, 0.0);
        assert_eq!(m.on_reply(deadline + 1, old, &applied(&ids)), None);
        // Also while a newer push is out: the newer one is still awaited.
        m.kick();
        let (new, _) = expect_push(&mut m, deadline + 2, &outbox);
        assert_eq!(m.on_reply(deadline + 3, old, &applied(&ids)), None);
        m.on_failure(deadline + 3, old, FailureKind::Unreachable, 0.0);
        assert!(m.is_pushing());
        assert!(m.on_reply(deadline + 4, new, &applied(&ids)).is_some());
        // Answered once; the same reply again is stale.
        assert_eq!(m.on_reply(deadline + 5, new, &applied(&ids)), None);
    }

    #[test]
    fn a_kick_cuts_the_backoff_short_and_starts_it_afresh() {
        let mut m = DeviceSync::new(DEVICE);
        let outbox = pending([1]);
        for _ in 0..5 {
            let (ticket, _) = expect_push(&mut m, T0, &outbox);
            m.on_failure(T0, ticket, FailureKind::Unreachable, 0.0);
            m.kick();
        }
        // Every retry was immediate, and the count did not grow.
        let (ticket, _) = expect_push(&mut m, T0, &outbox);
        m.on_failure(T0, ticket, FailureKind::Unreachable, 0.0);
        assert_eq!(
            m.poll(T0, &outbox, 0.5),
            Command::WaitUntil(T0 + retry_delay_ms(0, 0.0) as Millis)
        );
    }

    #[test]
    fn a_nudge_syncs_an_idle_machine_now_but_never_cuts_a_backoff_short() {
        let mut m = DeviceSync::new(DEVICE);
        // Idle, nothing wrong: a nudge (the page shown again) syncs now.
        assert!(matches!(m.poll(T0, &[], 0.5), Command::WaitUntil(_)));
        assert!(m.nudge());
        let outbox = pending([1]);
        let (ticket, _) = expect_push(&mut m, T0, &outbox);
        m.on_failure(T0, ticket, FailureKind::Unreachable, 0.0);
        // Backing off: a hundred nudges change nothing, and the wait stands.
        let until = T0 + retry_delay_ms(0, 0.0) as Millis;
        for _ in 0..100 {
            assert!(!m.nudge());
            assert!(m.is_backing_off());
            assert_eq!(m.poll(T0 + 1, &outbox, 0.5), Command::WaitUntil(until));
        }
        // Its time comes: the retry goes, and failing again doubles the wait.
        let (ticket, _) = expect_push(&mut m, until, &outbox);
        m.on_failure(until, ticket, FailureKind::Unreachable, 0.0);
        assert_eq!(
            m.poll(until, &outbox, 0.5),
            Command::WaitUntil(until + retry_delay_ms(1, 0.0) as Millis)
        );
    }

    #[test]
    fn an_unreachable_server_before_any_push_backs_off_like_a_failed_push() {
        let mut m = DeviceSync::new(DEVICE);
        let mut now = T0;
        let mut waits = Vec::new();
        for _ in 0..4 {
            let until = m.back_off(now, FailureKind::Unreachable, 0.0);
            waits.push(until - now);
            assert!(!m.nudge(), "a nudge does not cut it short");
            now = until;
        }
        assert_eq!(
            waits,
            (0..4)
                .map(|n| retry_delay_ms(n, 0.0) as Millis)
                .collect::<Vec<_>>()
        );
        assert_eq!(m.last_failure(), Some(FailureKind::Unreachable));
        // Something changed (a new record, the network back): at once.
        m.kick();
        assert!(!m.is_backing_off());
        expect_push(&mut m, now, &pending([1]));
    }

    #[test]
    fn back_off_leaves_a_push_in_flight_to_its_reply() {
        let mut m = DeviceSync::new(DEVICE);
        let outbox = pending([1]);
        let (ticket, ids) = expect_push(&mut m, T0, &outbox);
        assert_eq!(
            m.back_off(T0, FailureKind::Unreachable, 0.0),
            T0 + REQUEST_TIMEOUT_MS as Millis
        );
        assert!(m.on_reply(T0, ticket, &applied(&ids)).is_some());
    }

    #[test]
    fn a_reply_starts_the_backoff_afresh() {
        let mut m = DeviceSync::new(DEVICE);
        let outbox = pending([1]);
        let mut now = T0;
        for _ in 0..4 {
            let (ticket, _) = expect_push(&mut m, now, &outbox);
            m.on_failure(now, ticket, FailureKind::Temporary, 0.0);
            now += MAX_DELAY_MS as Millis;
        }
        let (ticket, ids) = expect_push(&mut m, now, &outbox);
        m.on_reply(now, ticket, &applied(&ids)).unwrap();
        assert_eq!(m.last_failure(), None);
        let (ticket, _) = expect_push(&mut m, now, &outbox);
        m.on_failure(now, ticket, FailureKind::Temporary, 0.0);
        assert_eq!(
            m.poll(now, &outbox, 0.5),
            Command::WaitUntil(now + retry_delay_ms(0, 0.0) as Millis)
        );
    }

    #[test]
    fn a_refused_batch_is_retried_slowly_and_reported() {
        let mut m = DeviceSync::new(DEVICE);
        let outbox = pending([1]);
        let (ticket, _) = expect_push(&mut m, T0, &outbox);
        m.on_failure(T0, ticket, FailureKind::Refused, 0.0);
        assert_eq!(m.last_failure(), Some(FailureKind::Refused));
        assert!(matches!(m.poll(T0, &outbox, 0.5), Command::WaitUntil(t) if t > T0));
    }

    #[test]
    fn after_a_new_id_the_machine_pushes_the_renumbered_outbox_under_it_at_once() {
        let mut m = DeviceSync::new(DEVICE);
        let (old_ticket, ids) = expect_push(&mut m, T0, &pending([7, 8]));
        assert_eq!(ids, vec![7, 8]);
        // The server refused the whole push (409 device_conflict).
        m.on_failure(T0 + 1, old_ticket, FailureKind::Refused, 0.5);
        assert!(
            matches!(m.poll(T0 + 2, &pending([7, 8]), 0.5), Command::WaitUntil(t) if t > T0 + 2)
        );

        let new_id = Uuid::from_u128(10);
        m.take_new_id(new_id);
        assert_eq!(m.device_id(), new_id);
        assert_eq!(m.last_failure(), None);
        // No backoff wait: the renumbered entries go now, under the new id.
        let renumbered = pending([1, 2]);
        let Command::Push { ticket, request } = m.poll(T0 + 2, &renumbered, 0.5) else {
            panic!("expected a push under the new id");
        };
        assert_eq!(request.device_id, new_id);
        assert_eq!(
            request.mutations.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![1, 2]
        );
        // A late reply to the old push names old numbers: ignored.
        assert_eq!(m.on_reply(T0 + 3, old_ticket, &applied(&[7, 8])), None);
        assert!(m.on_reply(T0 + 3, ticket, &applied(&[1, 2])).is_some());
    }

    #[test]
    fn a_new_id_refused_before_any_answer_is_not_replaced_by_another() {
        let mut m = DeviceSync::new(DEVICE);
        assert!(m.may_take_new_id());
        m.take_new_id(Uuid::from_u128(10));
        assert!(!m.may_take_new_id(), "refused again: stop, do not loop");
        let (ticket, ids) = expect_push_as(&mut m, T0, &pending([1]), Uuid::from_u128(10));
        m.on_reply(T0 + 1, ticket, &applied(&ids)).unwrap();
        assert!(
            m.may_take_new_id(),
            "answered once: a later clash may take another"
        );
    }

    #[test]
    fn a_new_id_taken_while_a_push_is_out_drops_that_push() {
        let mut m = DeviceSync::new(DEVICE);
        let (old_ticket, _) = expect_push(&mut m, T0, &pending([1]));
        m.take_new_id(Uuid::from_u128(11));
        assert!(!m.is_pushing());
        assert_eq!(m.on_reply(T0 + 1, old_ticket, &applied(&[1])), None);
        let Command::Push { request, .. } = m.poll(T0 + 1, &pending([1]), 0.5) else {
            panic!("expected a push");
        };
        assert_eq!(request.device_id, Uuid::from_u128(11));
    }

    #[test]
    fn a_push_refused_as_too_large_is_sent_again_in_halves_until_the_backlog_is_in() {
        let outbox = pending(1..=8);
        let mut m = DeviceSync::new(DEVICE).with_batch_size(8);
        let (ticket, sent) = expect_push(&mut m, T0, &outbox);
        assert_eq!(sent.len(), 8);
        m.on_failure(T0, ticket, FailureKind::TooLarge, 0.0);
        let (ticket, sent) = expect_push(&mut m, T0 + 600_000, &outbox);
        assert_eq!(sent, [1, 2, 3, 4]);
        m.on_failure(T0 + 600_000, ticket, FailureKind::TooLarge, 0.0);
        let (ticket, sent) = expect_push(&mut m, T0 + 1_200_000, &outbox);
        assert_eq!(sent, [1, 2]);
        // Taken at once: the next push grows, but stays below the smallest
        // size refused while this backlog lasts.
        m.on_reply(T0 + 1_200_001, ticket, &applied(&[1, 2]));
        let (ticket, sent) = expect_push(&mut m, T0 + 1_200_002, &outbox[2..]);
        assert_eq!(sent, [3, 4, 5]);
        m.on_reply(T0 + 1_200_003, ticket, &applied(&[3, 4, 5]));
        let (ticket, sent) = expect_push(&mut m, T0 + 1_200_004, &outbox[5..]);
        assert_eq!(sent, [6, 7, 8]);
        m.on_reply(T0 + 1_200_005, ticket, &applied(&[6, 7, 8]));
        // Once nothing waits, a new backlog goes at the full size again.
        assert!(matches!(
            m.poll(T0 + 1_200_006, &[], 0.0),
            Command::WaitUntil(_)
        ));
        m.kick();
        let later = pending(5..=14);
        let (_, sent) = expect_push(&mut m, T0 + 1_300_000, &later);
        assert_eq!(sent.len(), 8);
    }

    /// Replies to every push of `m` at `took` ms after sending it, as long as
    /// `outbox` has pending entries; returns the size of each push.
    fn drain(m: &mut DeviceSync, mut outbox: Vec<OutboxEntry>, took: Millis) -> Vec<usize> {
        let mut now = T0;
        let mut sizes = Vec::new();
        while !outbox.is_empty() {
            let (ticket, sent) = expect_push(m, now, &outbox);
            sizes.push(sent.len());
            now += took;
            m.on_reply(now, ticket, &applied(&sent)).unwrap();
            outbox.drain(..sent.len());
        }
        sizes
    }

    #[test]
    fn quick_replies_double_the_batch_up_to_what_the_server_accepts() {
        let mut m = DeviceSync::new(DEVICE);
        let sizes = drain(&mut m, pending(1..=2_000), QUICK_REPLY_MS as Millis);
        assert_eq!(sizes, [100, 200, 400, 500, 500, 300]);
        // The next backlog starts at the first size again.
        assert!(matches!(
            m.poll(T0 + 60_000, &[], 0.0),
            Command::WaitUntil(_)
        ));
        m.kick();
        assert_eq!(
            expect_push(&mut m, T0 + 60_001, &pending(2_001..=3_000))
                .1
                .len(),
            100
        );
    }

    #[test]
    fn replies_neither_quick_nor_slow_keep_the_batch_and_slow_ones_halve_it() {
        let mut steady = DeviceSync::new(DEVICE);
        let sizes = drain(&mut steady, pending(1..=300), QUICK_REPLY_MS as Millis + 1);
        assert_eq!(sizes, [100, 100, 100]);
        let mut slow = DeviceSync::new(DEVICE);
        let sizes = drain(&mut slow, pending(1..=200), SLOW_REPLY_MS as Millis + 1);
        assert_eq!(sizes[..4], [100, 50, 25, 12]);
        assert_eq!(sizes.iter().sum::<usize>(), 200);
    }

    #[test]
    fn a_push_that_times_out_is_sent_again_at_half_the_size() {
        let mut m = DeviceSync::new(DEVICE);
        let outbox = pending(1..=300);
        let (_, sent) = expect_push(&mut m, T0, &outbox);
        assert_eq!(sent.len(), 100);
        // Polled after the deadline: a timeout.
        let deadline = T0 + REQUEST_TIMEOUT_MS as Millis;
        assert!(matches!(
            m.poll(deadline, &outbox, 0.0),
            Command::WaitUntil(_)
        ));
        let (_, sent) = expect_push(&mut m, deadline + MAX_DELAY_MS as Millis, &outbox);
        assert_eq!(sent.len(), 50);
    }

    #[test]
    fn a_fixed_batch_size_does_not_grow() {
        let mut m = DeviceSync::new(DEVICE).with_batch_size(7);
        assert_eq!(drain(&mut m, pending(1..=21), 1), [7, 7, 7]);
    }

    #[test]
    fn batch_size_is_kept_within_what_the_server_accepts() {
        let outbox = pending(1..=600);
        let mut big = DeviceSync::new(DEVICE).with_batch_size(10_000);
        assert_eq!(expect_push(&mut big, T0, &outbox).1.len(), MAX_BATCH);
        let mut zero = DeviceSync::new(DEVICE).with_batch_size(0);
        assert_eq!(expect_push(&mut zero, T0, &outbox).1.len(), 1);
        let mut default = DeviceSync::new(DEVICE);
        assert_eq!(
            expect_push(&mut default, T0, &outbox).1.len(),
            DEFAULT_BATCH_SIZE
        );
    }
}
