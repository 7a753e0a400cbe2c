//! One device and the server, in memory, over a network that loses, duplicates
//! and reorders messages, with restarts of either side between any two steps.
//!
//! The device is an outbox (durable, like IndexedDB) plus a
//! [`DeviceSync`] machine (volatile, like the tab). The server is a model of
//! `haven_server::push` that makes its decisions with
//! `haven_core::sync::server_rules`: per device the last processed mutation id,
//! the stored records and the stored rejections, a batch committed all or
//! nothing. Each run takes a few hundred random steps with faults, then heals
//! the network and runs until the outbox has nothing pending, checking:
//!
//! - no record's effect is applied twice (the mutation numbering alone
//!   prevents it; the server's record-id guard is never needed);
//! - every entry the device deleted as acknowledged is on the server;
//! - after healing, every valid record is on the server and every invalid one
//!   is kept on the device, rejected with its reason, and nothing is pending;
//! - every push is the oldest pending entries, never a rejected one, and the
//!   server never refuses a batch, so the queue never blocks.
//!
//! A failing run prints its seed; `HAVEN_SIM_SEED=n cargo test -p haven_core
//! --test sync_simulation` replays that seed alone and prints its trace.
//! `HAVEN_SIM_RUNS=n` changes how many seeds the main test runs.

use haven_core::agreement::AgreementRecord;
use haven_core::hash::Sha256Hex;
use haven_core::sync::machine::{Command, DeviceSync, FailureKind, Ticket};
use haven_core::sync::outbox::{EntryState, OutboxEntry, Settlement};
use haven_core::sync::server_rules::{
    advance, check_batch, classify, replay_outcome, BatchError, Classification,
};
use haven_core::sync::wire::{
    Change, Mutation, MutationResult, Outcome, PushRequest, PushResponse,
};
use haven_core::Millis;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use uuid::Uuid;

/// Seeds the main test runs.
const RUNS: u64 = 10_000;
/// Start of simulated time: a plausible signing date.
const T0: Millis = 1_790_000_000_000;
/// The policy version the server has; records signing anything else are
/// refused for good ("unknown_policy_version").
const KNOWN_VERSION: Uuid = Uuid::from_u128(0xAAAA);
const UNKNOWN_VERSION: Uuid = Uuid::from_u128(0xBBBB);
/// Steps the heal phase may take before the run counts as stuck.
const HEAL_LIMIT: usize = 20_000;
/// Violations kept per run; the first is what matters.
const MAX_VIOLATIONS: usize = 10;

// ----------------------------------------------------------------- server --

/// Deliberate server bugs, to show the simulation notices them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerFlaw {
    None,
    /// Answers every replayed mutation `Duplicate`, as push.rs did: a rejected
    /// mutation whose reply was lost is then "acknowledged" by the device.
    AnswersDuplicateToReplayedRejections,
    /// Stores the batch's highest id as last processed, even when lower.
    LowersLastProcessed,
    /// A crash mid-batch keeps half the batch's records but not the new last
    /// processed id (no transaction).
    CommitsHalfABatchOnCrash,
}

struct Server {
    flaw: ServerFlaw,
    known_versions: BTreeSet<Uuid>,
    /// Per device: the highest mutation id processed.
    last_processed: BTreeMap<Uuid, u64>,
    /// Stored agreements by record id.
    records: BTreeMap<Uuid, AgreementRecord>,
    /// Per record id: how many committed pushes processed it as a new, valid
    /// mutation. The record-id guard keeps a second one from adding a row; this
    /// counts what would have happened without that guard.
    effects: BTreeMap<Uuid, u32>,
    /// `rejected_mutations`: (device, mutation id) -> (code, reason).
    rejections: BTreeMap<(Uuid, u64), (String, String)>,
    /// Unavailable (restarting) until then: connections are refused.
    down_until: Millis,
    /// Replayed mutations answered with their stored rejection.
    replayed_rejections: u64,
}

/// What one push would write, committed only if the server does not crash.
#[derive(Default)]
struct Transaction {
    inserts: Vec<AgreementRecord>,
    effects: Vec<Uuid>,
    rejections: Vec<(u64, String, String)>,
}

impl Server {
    fn new(flaw: ServerFlaw) -> Self {
        Self {
            flaw,
            known_versions: BTreeSet::from([KNOWN_VERSION]),
            last_processed: BTreeMap::new(),
            records: BTreeMap::new(),
            effects: BTreeMap::new(),
            rejections: BTreeMap::new(),
            down_until: 0,
            replayed_rejections: 0,
        }
    }

    /// `apply_push`: check the batch, then decide each mutation against the
    /// device's last processed id; commit everything at the end unless the
    /// server crashes first.
    fn push(&mut self, request: &PushRequest, crash: bool) -> Result<PushResponse, BatchError> {
        check_batch(&request.mutations)?;
        let device = request.device_id;
        let mut last = self.last_processed.get(&device).copied().unwrap_or(0);
        let mut tx = Transaction::default();
        let mut results = Vec::with_capacity(request.mutations.len());
        for mutation in &request.mutations {
            let outcome = match classify(last, mutation.id) {
                Classification::Replay => {
                    if self.flaw == ServerFlaw::AnswersDuplicateToReplayedRejections {
                        Outcome::Duplicate
                    } else {
                        let earlier = self.rejections.get(&(device, mutation.id)).cloned();
                        self.replayed_rejections += u64::from(earlier.is_some());
                        let kept = haven_core::sync::server_rules::Processed {
                            change_sha256: None,
                            rejection: earlier,
                        };
                        replay_outcome(mutation.id, &Default::default(), Some(kept))
                            .expect("an honest device never reuses a number")
                    }
                }
                Classification::New => {
                    let outcome = self.apply(device, mutation, &mut tx);
                    last = advance(last, mutation.id);
                    outcome
                }
            };
            results.push(MutationResult {
                id: mutation.id,
                outcome,
            });
        }
        if self.flaw == ServerFlaw::LowersLastProcessed {
            if let Some(m) = request.mutations.last() {
                last = m.id;
            }
        }
        if crash {
            if self.flaw == ServerFlaw::CommitsHalfABatchOnCrash {
                let half = tx.inserts.len() / 2;
                for record in tx.inserts.drain(..half) {
                    *self.effects.entry(record.id).or_default() += 1;
                    self.records.insert(record.id, record);
                }
            }
            // Rolled back: nothing else was written.
        } else {
            for record in tx.inserts {
                self.records.insert(record.id, record);
            }
            for id in tx.effects {
                *self.effects.entry(id).or_default() += 1;
            }
            for (id, code, reason) in tx.rejections {
                self.rejections
                    .entry((device, id))
                    .or_insert((code, reason));
            }
            self.last_processed.insert(device, last);
        }
        Ok(PushResponse {
            last_mutation_id: last,
            results,
        })
    }

    /// `create_agreement`: validate, then insert unless the record id exists.
    fn apply(&self, device: Uuid, mutation: &Mutation, tx: &mut Transaction) -> Outcome {
        let Change::CreateAgreement(record) = &mutation.change else {
            unreachable!("the simulation makes agreements only")
        };
        let rejected = |code: &str, reason: String| Outcome::Rejected {
            code: code.into(),
            reason,
        };
        let outcome = if let Err(e) = record.validate() {
            rejected("invalid_agreement", e.to_string())
        } else if record.device_id != device {
            rejected("device_mismatch", format!("made on {}", record.device_id))
        } else if !self.known_versions.contains(&record.policy_version_id) {
            rejected(
                "unknown_policy_version",
                format!(
                    "policy version {} does not exist on the server",
                    record.policy_version_id
                ),
            )
        } else {
            tx.effects.push(record.id);
            let exists = self.records.contains_key(&record.id)
                || tx.inserts.iter().any(|r| r.id == record.id);
            if exists {
                // The record-id guard.
                Outcome::Duplicate
            } else {
                tx.inserts.push(record.clone());
                Outcome::Applied
            }
        };
        if let Outcome::Rejected { code, reason } = &outcome {
            tx.rejections
                .push((mutation.id, code.clone(), reason.clone()));
        }
        outcome
    }
}

// ---------------------------------------------------------------- network --

#[derive(Debug, Clone)]
enum Message {
    ToServer {
        boot: u32,
        ticket: Ticket,
        request: PushRequest,
    },
    /// `boot` is the device incarnation the request came from: a reply to a
    /// machine that has since been replaced never arrives (its tab is closed).
    ToDevice {
        boot: u32,
        ticket: Ticket,
        reply: Result<PushResponse, FailureKind>,
    },
}

/// Fault rates, drawn per run so some runs are gentle and some are brutal.
#[derive(Debug, Clone, Copy)]
struct Faults {
    loss: f64,
    duplicate: f64,
    /// The server dies while applying a batch (before commit).
    crash_mid_batch: f64,
    /// A gateway answers 504 after the server committed.
    error_after_commit: f64,
    /// The server answers 500 without processing anything.
    error_before_commit: f64,
    device_restart: f64,
    server_restart: f64,
    invalid_records: f64,
}

impl Faults {
    fn draw(rng: &mut ChaCha8Rng) -> Self {
        Self {
            loss: rng.gen_range(0.0..0.4),
            duplicate: rng.gen_range(0.0..0.3),
            crash_mid_batch: rng.gen_range(0.0..0.05),
            error_after_commit: rng.gen_range(0.0..0.1),
            error_before_commit: rng.gen_range(0.0..0.1),
            device_restart: rng.gen_range(0.0..0.03),
            server_restart: rng.gen_range(0.0..0.03),
            invalid_records: rng.gen_range(0.0..0.3),
        }
    }

    fn none(self) -> Self {
        Self {
            loss: 0.0,
            duplicate: 0.0,
            crash_mid_batch: 0.0,
            error_after_commit: 0.0,
            error_before_commit: 0.0,
            device_restart: 0.0,
            server_restart: 0.0,
            ..self
        }
    }
}

// ----------------------------------------------------------------- device --

struct Created {
    mutation_id: u64,
    record_id: Uuid,
    valid: bool,
}

struct Device {
    id: Uuid,
    batch_size: usize,
    /// Durable: survives restarts.
    next_mutation_id: u64,
    outbox: Vec<OutboxEntry>,
    /// Volatile: replaced on restart.
    machine: DeviceSync,
    boot: u32,
    /// Ticket of the last push sent by this incarnation.
    last_ticket: Option<Ticket>,
    /// When the machine asked to be polled again.
    wake_at: Option<Millis>,
    /// Bookkeeping for the checks, not device state.
    created: Vec<Created>,
    acknowledged: Vec<(u64, Uuid)>,
}

// ------------------------------------------------------------- simulation --

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Property {
    EffectAppliedTwice,
    AcknowledgedButNotOnServer,
    ValidRecordMissing,
    InvalidRecordNotKept,
    PendingAfterHeal,
    NotConverged,
    ServerRefusedBatch,
    PushNotOldestPending,
    InconsistentSettlement,
    LastProcessedLowered,
}

#[derive(Debug)]
struct Violation {
    step: usize,
    property: Property,
    detail: String,
}

/// Counts of interesting events, summed over runs to show they happen.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    steps: u64,
    pushes: u64,
    records: u64,
    duplicates_answered: u64,
    replayed_rejections_answered: u64,
    rejections_settled: u64,
    stale_replies_ignored: u64,
    settlements_lost_to_restart: u64,
    timeouts: u64,
    device_restarts_mid_push: u64,
    server_restarts: u64,
    crashes_mid_batch: u64,
    errors_after_commit: u64,
    stale_requests_after_newer: u64,
    messages_lost: u64,
    messages_duplicated: u64,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.steps += o.steps;
        self.pushes += o.pushes;
        self.records += o.records;
        self.duplicates_answered += o.duplicates_answered;
        self.replayed_rejections_answered += o.replayed_rejections_answered;
        self.rejections_settled += o.rejections_settled;
        self.stale_replies_ignored += o.stale_replies_ignored;
        self.settlements_lost_to_restart += o.settlements_lost_to_restart;
        self.timeouts += o.timeouts;
        self.device_restarts_mid_push += o.device_restarts_mid_push;
        self.server_restarts += o.server_restarts;
        self.crashes_mid_batch += o.crashes_mid_batch;
        self.errors_after_commit += o.errors_after_commit;
        self.stale_requests_after_newer += o.stale_requests_after_newer;
        self.messages_lost += o.messages_lost;
        self.messages_duplicated += o.messages_duplicated;
    }
}

struct Sim {
    rng: ChaCha8Rng,
    faults: Faults,
    now: Millis,
    step: usize,
    server: Server,
    device: Device,
    network: Vec<Message>,
    violations: Vec<Violation>,
    stats: Stats,
    trace: Option<String>,
}

struct RunResult {
    violations: Vec<Violation>,
    stats: Stats,
    trace: Option<String>,
}

fn run(seed: u64, flaw: ServerFlaw, trace: bool) -> RunResult {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let faults = Faults::draw(&mut rng);
    let batch_size = [1, 2, 3, 5, 100][rng.gen_range(0..5)];
    let steps = rng.gen_range(200..=400);
    let device_id = Uuid::from_u128(0xD0_0000 + u128::from(seed));
    let mut sim = Sim {
        rng,
        faults,
        now: T0,
        step: 0,
        server: Server::new(flaw),
        device: Device {
            id: device_id,
            batch_size,
            next_mutation_id: 1,
            outbox: Vec::new(),
            machine: DeviceSync::new(device_id).with_batch_size(batch_size),
            boot: 0,
            last_ticket: None,
            wake_at: None,
            created: Vec::new(),
            acknowledged: Vec::new(),
        },
        network: Vec::new(),
        violations: Vec::new(),
        stats: Stats::default(),
        trace: trace.then(String::new),
    };
    sim.log(|| format!("faults {faults:?}, batch size {batch_size}, {steps} steps"));
    for _ in 0..steps {
        sim.random_step();
    }
    sim.heal();
    sim.final_checks();
    sim.stats.replayed_rejections_answered = sim.server.replayed_rejections;
    RunResult {
        violations: sim.violations,
        stats: sim.stats,
        trace: sim.trace,
    }
}

impl Sim {
    fn log(&mut self, line: impl FnOnce() -> String) {
        if let Some(trace) = &mut self.trace {
            let _ = writeln!(
                trace,
                "[{:>4} t+{:>8}] {}",
                self.step,
                self.now - T0,
                line()
            );
        }
    }

    fn violate(&mut self, property: Property, detail: String) {
        self.log(|| format!("VIOLATION {property:?}: {detail}"));
        if self.violations.len() < MAX_VIOLATIONS {
            self.violations.push(Violation {
                step: self.step,
                property,
                detail,
            });
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p.clamp(0.0, 1.0))
    }

    fn random_step(&mut self) {
        self.step += 1;
        self.stats.steps += 1;
        let roll: f64 = self.rng.gen();
        let f = self.faults;
        if roll < 0.10 {
            self.create_record();
        } else if roll < 0.45 {
            self.deliver_one();
        } else if roll < 0.70 {
            self.advance_time();
        } else if roll < 0.72 {
            self.log(|| "online: kick".into());
            self.device.machine.kick();
        } else if roll < 0.72 + f.device_restart {
            self.restart_device();
        } else if roll < 0.72 + f.device_restart + f.server_restart {
            self.restart_server();
        }
        self.device_acts();
    }

    /// `record_signature` then `request_sync`: the record, its outbox entry and
    /// the counter are stored together.
    fn create_record(&mut self) {
        let valid = !self.chance(self.faults.invalid_records);
        let mutation_id = self.device.next_mutation_id;
        self.device.next_mutation_id += 1;
        let record_id = Uuid::from_u128(0x5EC0_0000_0000 + u128::from(mutation_id));
        let record = AgreementRecord {
            id: record_id,
            policy_version_id: if valid {
                KNOWN_VERSION
            } else {
                UNKNOWN_VERSION
            },
            policy_text_sha256: Sha256Hex::of(b"policy text"),
            signer_name: format!("Signer {mutation_id}"),
            agreed: true,
            signed_at: self.now,
            device_id: self.device.id,
            ..Default::default()
        };
        self.device.outbox.push(OutboxEntry {
            mutation: Mutation {
                proof: None,
                id: mutation_id,
                change: Change::CreateAgreement(record),
            },
            state: EntryState::Pending,
            queued_at: self.now,
        });
        self.device.created.push(Created {
            mutation_id,
            record_id,
            valid,
        });
        self.stats.records += 1;
        self.log(|| format!("record {mutation_id} created (valid: {valid})"));
        self.device.machine.kick();
    }

    fn advance_time(&mut self) {
        // Mostly a moment; sometimes as far as the machine's next timer
        // (a retry, the idle timer or a push's deadline).
        match self.device.wake_at {
            Some(at) if at > self.now && self.rng.gen_bool(0.3) => self.now = at,
            _ => self.now += self.rng.gen_range(0..3_000),
        }
    }

    /// The tab is closed and opened again: the outbox stays, the machine and
    /// its connections go.
    fn restart_device(&mut self) {
        if self.device.machine.is_pushing() {
            self.stats.device_restarts_mid_push += 1;
        }
        self.log(|| "device restarts".into());
        self.device.boot += 1;
        self.device.machine =
            DeviceSync::new(self.device.id).with_batch_size(self.device.batch_size);
        self.device.last_ticket = None;
        self.device.wake_at = None;
    }

    /// The server process dies: committed state stays, every open connection
    /// goes. The device may notice at once (connection reset) or only by its
    /// timeout.
    fn restart_server(&mut self) {
        self.stats.server_restarts += 1;
        let dropped = self.network.len();
        self.log(|| format!("server restarts, {dropped} messages dropped"));
        self.network.clear();
        self.server.down_until = self.now + self.rng.gen_range(0..30_000);
        if let Some(ticket) = self.device.last_ticket {
            if self.rng.gen_bool(0.5) {
                self.network.push(Message::ToDevice {
                    boot: self.device.boot,
                    ticket,
                    reply: Err(FailureKind::Unreachable),
                });
            }
        }
    }

    fn send(&mut self, message: Message) {
        if self.chance(self.faults.loss) {
            self.stats.messages_lost += 1;
            self.log(|| "message lost".into());
            return;
        }
        if self.chance(self.faults.duplicate) {
            self.stats.messages_duplicated += 1;
            self.network.push(message.clone());
        }
        self.network.push(message);
    }

    /// Delivers one message chosen at random: whatever waits in the network
    /// may overtake anything else.
    fn deliver_one(&mut self) {
        if self.network.is_empty() {
            return;
        }
        let i = self.rng.gen_range(0..self.network.len());
        match self.network.swap_remove(i) {
            Message::ToServer {
                boot,
                ticket,
                request,
            } => self.server_receives(boot, ticket, request),
            Message::ToDevice {
                boot,
                ticket,
                reply,
            } => self.device_receives(boot, ticket, reply),
        }
    }

    fn server_receives(&mut self, boot: u32, ticket: Ticket, request: PushRequest) {
        let reply = |reply| Message::ToDevice {
            boot,
            ticket,
            reply,
        };
        if self.now < self.server.down_until {
            self.log(|| format!("{ticket:?} refused: server down"));
            self.send(reply(Err(FailureKind::Unreachable)));
            return;
        }
        if self.chance(self.faults.error_before_commit) {
            self.log(|| format!("{ticket:?} answered 500"));
            self.send(reply(Err(FailureKind::Temporary)));
            return;
        }
        let before = self
            .server
            .last_processed
            .get(&request.device_id)
            .copied()
            .unwrap_or(0);
        if request.mutations.last().is_some_and(|m| m.id < before) {
            self.stats.stale_requests_after_newer += 1;
        }
        let crash = self.chance(self.faults.crash_mid_batch);
        let result = self.server.push(&request, crash);
        let after = self
            .server
            .last_processed
            .get(&request.device_id)
            .copied()
            .unwrap_or(0);
        if after < before {
            self.violate(
                Property::LastProcessedLowered,
                format!("last processed went from {before} to {after}"),
            );
        }
        if crash {
            self.stats.crashes_mid_batch += 1;
            self.log(|| format!("{ticket:?} server crashed mid-batch"));
            self.restart_server();
            return;
        }
        match result {
            Ok(response) => {
                self.log(|| {
                    format!(
                        "{ticket:?} committed: last {}, {:?}",
                        response.last_mutation_id,
                        summarise(&response.results)
                    )
                });
                if self.chance(self.faults.error_after_commit) {
                    self.stats.errors_after_commit += 1;
                    self.log(|| format!("{ticket:?} reply replaced by a 504"));
                    self.send(reply(Err(FailureKind::Temporary)));
                } else {
                    self.send(reply(Ok(response)));
                }
            }
            Err(e) => {
                self.violate(Property::ServerRefusedBatch, e.to_string());
                self.send(reply(Err(FailureKind::Refused)));
            }
        }
    }

    fn device_receives(
        &mut self,
        boot: u32,
        ticket: Ticket,
        reply: Result<PushResponse, FailureKind>,
    ) {
        if boot != self.device.boot {
            self.log(|| format!("{ticket:?} reply to a closed tab dropped"));
            return;
        }
        match reply {
            Ok(response) => {
                self.stats.duplicates_answered += response
                    .results
                    .iter()
                    .filter(|r| r.outcome == Outcome::Duplicate)
                    .count() as u64;
                match self.device.machine.on_reply(self.now, ticket, &response) {
                    Some(_) if self.chance(self.faults.device_restart * 5.0) => {
                        // Read, but the tab closed before the settlement was stored.
                        self.stats.settlements_lost_to_restart += 1;
                        self.restart_device();
                    }
                    Some(settlement) => self.settle(settlement),
                    None => {
                        self.stats.stale_replies_ignored += 1;
                        self.log(|| format!("{ticket:?} stale reply ignored"));
                    }
                }
            }
            Err(kind) => {
                self.log(|| format!("{ticket:?} failed: {kind:?}"));
                let jitter = self.rng.gen();
                self.device
                    .machine
                    .on_failure(self.now, ticket, kind, jitter);
            }
        }
    }

    /// `Db::settle`, in one transaction: acknowledged entries leave the
    /// outbox, rejected ones stay with their reason.
    fn settle(&mut self, s: Settlement) {
        self.log(|| {
            format!(
                "settle: ack {:?} rejected {:?} unprocessed {:?}",
                s.acknowledged,
                s.rejected.iter().map(|r| r.0).collect::<Vec<_>>(),
                s.unprocessed
            )
        });
        for id in s.acknowledged {
            let Some(i) = self.device.outbox.iter().position(|e| e.mutation.id == id) else {
                continue; // already settled by another reply
            };
            let entry = self.device.outbox.remove(i);
            let Change::CreateAgreement(record) = &entry.mutation.change else {
                unreachable!("the simulation makes agreements only")
            };
            if entry.state != EntryState::Pending {
                self.violate(
                    Property::InconsistentSettlement,
                    format!("mutation {id} acknowledged after being rejected"),
                );
            }
            if !self.server.records.contains_key(&record.id) {
                self.violate(
                    Property::AcknowledgedButNotOnServer,
                    format!("mutation {id} (record {}) was acknowledged", record.id),
                );
            }
            self.device.acknowledged.push((id, record.id));
        }
        for (id, code, reason) in s.rejected {
            self.stats.rejections_settled += 1;
            let Some(entry) = self.device.outbox.iter_mut().find(|e| e.mutation.id == id) else {
                self.violate(
                    Property::InconsistentSettlement,
                    format!("mutation {id} rejected after being acknowledged"),
                );
                continue;
            };
            entry.state = EntryState::Rejected { code, reason };
        }
    }

    /// The shell's loop: poll the machine and do what it says.
    fn device_acts(&mut self) {
        let jitter = self.rng.gen();
        let was_pushing = self.device.machine.is_pushing();
        match self
            .device
            .machine
            .poll(self.now, &self.device.outbox, jitter)
        {
            Command::Push { ticket, request } => {
                self.stats.pushes += 1;
                self.check_push(&request);
                self.log(|| {
                    let ids: Vec<u64> = request.mutations.iter().map(|m| m.id).collect();
                    format!("{ticket:?} push {ids:?}")
                });
                self.device.last_ticket = Some(ticket);
                self.device.wake_at = None;
                let boot = self.device.boot;
                self.send(Message::ToServer {
                    boot,
                    ticket,
                    request,
                });
            }
            Command::WaitUntil(at) => {
                if was_pushing && !self.device.machine.is_pushing() {
                    self.stats.timeouts += 1;
                    self.log(|| "push timed out".into());
                }
                self.device.wake_at = Some(at);
            }
        }
    }

    /// A push is the oldest pending entries, in order, within the batch size.
    fn check_push(&mut self, request: &PushRequest) {
        let mut pending: Vec<u64> = self
            .device
            .outbox
            .iter()
            .filter(|e| e.state == EntryState::Pending)
            .map(|e| e.mutation.id)
            .collect();
        pending.sort_unstable();
        pending.truncate(self.device.batch_size);
        let sent: Vec<u64> = request.mutations.iter().map(|m| m.id).collect();
        if sent != pending || request.device_id != self.device.id {
            self.violate(
                Property::PushNotOldestPending,
                format!("pushed {sent:?}, oldest pending {pending:?}"),
            );
        }
    }

    /// No more faults: deliver what is still in the network, in random order,
    /// and let the device run until nothing is pending.
    fn heal(&mut self) {
        self.faults = self.faults.none();
        self.log(|| "heal".into());
        for _ in 0..HEAL_LIMIT {
            self.step += 1;
            if !self.network.is_empty() {
                self.deliver_one();
                self.device_acts();
                continue;
            }
            self.device_acts();
            if !self.network.is_empty() {
                continue;
            }
            let pending = self
                .device
                .outbox
                .iter()
                .any(|e| e.state == EntryState::Pending);
            if !pending && !self.device.machine.is_pushing() {
                return;
            }
            match self.device.wake_at {
                Some(at) if at > self.now => self.now = at,
                _ => self.now += 1_000,
            }
        }
        self.violate(
            Property::NotConverged,
            format!("still pending after {HEAL_LIMIT} heal steps"),
        );
    }

    fn final_checks(&mut self) {
        let mut violations = Vec::new();
        for (record, count) in &self.server.effects {
            if *count > 1 {
                violations.push((
                    Property::EffectAppliedTwice,
                    format!("record {record} applied {count} times"),
                ));
            }
        }
        for (mutation, record) in &self.device.acknowledged {
            if !self.server.records.contains_key(record) {
                violations.push((
                    Property::AcknowledgedButNotOnServer,
                    format!("mutation {mutation} (record {record}) lost"),
                ));
            }
        }
        for c in &self.device.created {
            let entry = self
                .device
                .outbox
                .iter()
                .find(|e| e.mutation.id == c.mutation_id);
            if c.valid {
                if !self.server.records.contains_key(&c.record_id) {
                    violations.push((
                        Property::ValidRecordMissing,
                        format!("mutation {} is not on the server", c.mutation_id),
                    ));
                }
                if entry.is_some() {
                    violations.push((
                        Property::PendingAfterHeal,
                        format!("mutation {} still in the outbox", c.mutation_id),
                    ));
                }
            } else {
                let kept = matches!(
                    entry.map(|e| &e.state),
                    Some(EntryState::Rejected { code, reason })
                        if code == "unknown_policy_version" && !reason.is_empty()
                );
                let stored = self
                    .server
                    .rejections
                    .contains_key(&(self.device.id, c.mutation_id));
                if !kept || !stored || self.server.records.contains_key(&c.record_id) {
                    violations.push((
                        Property::InvalidRecordNotKept,
                        format!(
                            "mutation {}: outbox {:?}, rejection stored {stored}",
                            c.mutation_id,
                            entry.map(|e| &e.state)
                        ),
                    ));
                }
            }
        }
        if let Some(e) = self
            .device
            .outbox
            .iter()
            .find(|e| e.state == EntryState::Pending)
        {
            violations.push((
                Property::PendingAfterHeal,
                format!("mutation {} still pending", e.mutation.id),
            ));
        }
        let newest = self.device.next_mutation_id - 1;
        let last = self
            .server
            .last_processed
            .get(&self.device.id)
            .copied()
            .unwrap_or(0);
        if last != newest {
            violations.push((
                Property::PendingAfterHeal,
                format!("server processed up to {last}, device made {newest}"),
            ));
        }
        for (property, detail) in violations {
            self.violate(property, detail);
        }
    }
}

fn summarise(results: &[MutationResult]) -> Vec<(u64, &'static str)> {
    results
        .iter()
        .map(|r| {
            let s = match r.outcome {
                Outcome::Applied => "applied",
                Outcome::Duplicate => "duplicate",
                Outcome::Rejected { .. } => "rejected",
            };
            (r.id, s)
        })
        .collect()
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {value:?}")),
    )
}

fn report(seed: u64, result: &RunResult) -> String {
    let mut out = format!(
        "seed {seed} broke the sync protocol (replay: HAVEN_SIM_SEED={seed} cargo test -p \
         haven_core --test sync_simulation -- --nocapture)\n"
    );
    for v in &result.violations {
        let _ = writeln!(out, "  step {}: {:?}: {}", v.step, v.property, v.detail);
    }
    out
}

// ------------------------------------------------------------------ tests --

#[test]
fn no_acknowledged_record_is_lost_and_no_effect_is_applied_twice_over_10_000_seeded_runs() {
    if let Some(seed) = env_u64("HAVEN_SIM_SEED") {
        let result = run(seed, ServerFlaw::None, true);
        println!("{}", result.trace.as_deref().unwrap_or_default());
        println!("{:#?}", result.stats);
        assert!(result.violations.is_empty(), "{}", report(seed, &result));
        return;
    }
    let runs = env_u64("HAVEN_SIM_RUNS").unwrap_or(RUNS);
    // Two halves on two threads: the runs are independent.
    let half = runs / 2;
    let (a, b) = std::thread::scope(|s| {
        let first = s.spawn(move || run_range(0..half));
        let second = s.spawn(move || run_range(half..runs));
        (first.join(), second.join())
    });
    let (mut stats, mut failures) = a.expect("first half panicked");
    let (more_stats, more_failures) = b.expect("second half panicked");
    stats.add(&more_stats);
    failures.extend(more_failures);
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed; first:\n{}",
        failures.len(),
        failures[0]
    );
    println!("{runs} runs: {stats:#?}");
    if runs == RUNS {
        // The runs are only worth something if the hard cases happen in them.
        let s = stats;
        for (what, count) in [
            ("duplicates answered", s.duplicates_answered),
            (
                "replayed rejections answered",
                s.replayed_rejections_answered,
            ),
            ("stale replies ignored", s.stale_replies_ignored),
            (
                "settlements lost to a restart",
                s.settlements_lost_to_restart,
            ),
            ("timeouts", s.timeouts),
            ("device restarts mid-push", s.device_restarts_mid_push),
            ("server crashes mid-batch", s.crashes_mid_batch),
            ("errors after commit", s.errors_after_commit),
            (
                "old requests after newer ones",
                s.stale_requests_after_newer,
            ),
            ("rejections settled", s.rejections_settled),
        ] {
            assert!(count >= 100, "only {count} {what} in {runs} runs");
        }
    }
}

fn run_range(seeds: std::ops::Range<u64>) -> (Stats, Vec<String>) {
    let mut stats = Stats::default();
    let mut failures = Vec::new();
    for seed in seeds {
        // A panic inside a run (in the machine, say) is a failure of that seed too.
        match std::panic::catch_unwind(|| run(seed, ServerFlaw::None, false)) {
            Ok(result) => {
                stats.add(&result.stats);
                if !result.violations.is_empty() {
                    failures.push(report(seed, &result));
                }
            }
            Err(_) => failures.push(format!(
                "seed {seed} panicked (replay: HAVEN_SIM_SEED={seed} cargo test -p haven_core \
                 --test sync_simulation -- --nocapture)"
            )),
        }
    }
    (stats, failures)
}

/// Runs seeds against a flawed server until one breaks `property`.
fn first_seed_catching(flaw: ServerFlaw, property: Property) -> Option<u64> {
    (0..2_000).find(|&seed| {
        run(seed, flaw, false)
            .violations
            .iter()
            .any(|v| v.property == property)
    })
}

#[test]
fn the_simulation_catches_a_server_that_answers_duplicate_to_a_replayed_rejection() {
    // A rejected record whose reply was lost is resent; `Duplicate` makes the
    // device delete it as if stored.
    let seed = first_seed_catching(
        ServerFlaw::AnswersDuplicateToReplayedRejections,
        Property::AcknowledgedButNotOnServer,
    );
    assert!(seed.is_some(), "no seed noticed the flaw");
}

#[test]
fn the_simulation_catches_a_server_that_lowers_its_last_processed_id() {
    let seed = first_seed_catching(
        ServerFlaw::LowersLastProcessed,
        Property::EffectAppliedTwice,
    );
    assert!(seed.is_some(), "no seed noticed the flaw");
}

#[test]
fn the_simulation_catches_a_server_that_commits_part_of_a_batch() {
    let seed = first_seed_catching(
        ServerFlaw::CommitsHalfABatchOnCrash,
        Property::EffectAppliedTwice,
    );
    assert!(seed.is_some(), "no seed noticed the flaw");
}

#[test]
fn a_seed_replays_the_same_run() {
    let a = run(42, ServerFlaw::None, true);
    let b = run(42, ServerFlaw::None, true);
    assert_eq!(a.trace, b.trace);
    assert!(a.stats.pushes > 0);
}
