//! Devices, adversaries and the real server's push, over a network that
//! loses, duplicates and reorders messages, with restarts of either side.
//!
//! The server is `haven_server::store::push::apply_push` itself, on an in-memory
//! SQLite database (or, with `HAVEN_TEST_POSTGRES` set, a new PostgreSQL
//! database and 1,000 seeds) with the migrations run and the demo trust
//! loaded: every SQL statement of a push runs as it does in production. A crash mid-batch
//! is the real push dying just before its commit (`sim_faults`).
//!
//! Each seed has two or three honest devices: a reception kiosk (enrolled,
//! pushing with its token; visits, their ends, visitor and staff agreements
//! and incidents with the teacher's staff proof) and staff laptops (a staff
//! session and the browser's device secret; staff agreements, visits, ends
//! and incidents). A device is an outbox (durable, like IndexedDB) plus a
//! [`DeviceSync`] machine (volatile, like the tab). Some of their records can
//! never be accepted (an unknown policy version, an unknown academy, a
//! signer's name far too long, an incident sealed for another key or too
//! large), and must come back rejected for that reason while the rest go on.
//!
//! Mixed into the seeds are adversaries: a clone (a second device with the
//! same id, secret and credential, copied with its outbox at some step, that
//! goes on making its own records: honest records, which must not be lost),
//! a stranger pushing under a device's id with another session, id jumps
//! under a device's own credential, and captured pushes replayed under
//! another credential. An honest device told `device_conflict`,
//! `mutation_gap` or `device_not_yours` takes a new id and renumbers its
//! pending entries 1..n, keeping every record (the shell's job; modelled
//! here in [`Sim::take_new_id`]).
//!
//! Each run takes random steps with faults, then heals the network and runs
//! until no device has anything pending, checking:
//!
//! - lost: every entry a device deleted as acknowledged is on the server, and
//!   at the end every honest record is on the server or rejected on its device;
//! - duplicated: no record is answered `applied` twice;
//! - held back: every valid honest record is stored, every never-acceptable
//!   one is rejected for its own reason, nothing is pending;
//! - a replay is answered as the first time, and never with a different change;
//! - the adversaries' pushes are refused whole (a stranger 403, a jump 409);
//!   only a clone makes an honest device take a new id;
//! - every push is the oldest pending entries under the device's current id.
//!
//! The "broken server" tests turn on one fault inside the real push
//! (`haven_server::store::push::sim_faults`) and expect some seed to catch it.
//!
//! A failing run prints its seed; `HAVEN_SIM_SEED=n cargo test -p
//! haven_server --test sync_simulation` replays that seed alone and prints
//! its trace. `HAVEN_SIM_RUNS=n` changes how many seeds the main test runs.

use haven_core::accounts::{Grants, Role, RoleGrant};
use haven_core::agreement::AgreementRecord;
use haven_core::hash::Sha256Hex;
use haven_core::incident::{
    IncidentKey, IncidentRecord, PersonInvolved, PersonKind, Recommended, SealedIncident,
    MAX_SEALED_CHARS,
};
use haven_core::rules::{Involved, RuleTables};
use haven_core::sync::machine::{Command, DeviceSync, FailureKind, Ticket};
use haven_core::sync::outbox::{next_batch, EntryState, OutboxEntry, Settlement};
use haven_core::sync::staff_proof::{self, change_digest};
use haven_core::sync::wire::{Change, Mutation, Outcome, PushRequest, PushResponse};
use haven_core::visit::{
    badge_code, DbsStatus, Host, SignOutMethod, VisitEnd, VisitRecord, VisitorChecks, VisitorType,
};
use haven_core::Millis;
use haven_server::crypto::incident_key::IncidentKeyStore;
use haven_server::crypto::keys::ServerKey;
use haven_server::http::auth::{Caller, DeviceCaller, StaffCaller};
use haven_server::store::demo::{
    self, DEMO_STAFF, OAKFIELD_ID, STAFF_AUA_VERSION_ID, VISITOR_AUA_VERSION_ID,
};
use haven_server::store::push::sim_faults::{self, Fault};
use haven_server::store::push::{apply_push, PushKeys};
use haven_server::AppError;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use uuid::Uuid;

/// Seeds the main test runs.
const RUNS: u64 = 10_000;
/// Seeds the main test runs when the server's database is PostgreSQL.
const RUNS_ON_POSTGRES: u64 = 1_000;
/// Seeds run on one database before a fresh one is made.
const SEEDS_PER_DATABASE: u64 = 1_000;
/// Start of simulated time: a plausible signing date.
const T0: Millis = 1_790_000_000_000;
/// Each seed on a database starts this much later than the one before, so
/// the server's per-credential budgets (new device ids a day, refusals an
/// hour) count only the seed's own pushes.
const SEED_SPACING_MS: Millis = 3 * 24 * 60 * 60 * 1000;
/// Steps the heal phase may take before the run counts as stuck.
const HEAL_LIMIT: usize = 20_000;
/// Violations kept per run; the first is what matters.
const MAX_VIOLATIONS: usize = 10;
/// Honest laptops' staff: Tom Reilly (staff) and Grace Mensah (DSL), Oakfield.
const LAPTOP_STAFF: [usize; 2] = [3, 2];
/// The stranger's session: Helen Okafor, head at Oakfield.
const STRANGER_STAFF: usize = 0;
/// The replayer's session: Priya Shah, head at Hilltop.
const REPLAYER_STAFF: usize = 4;
/// The kiosk's staff records are Tom's, with his proof.
const KIOSK_STAFF: usize = 3;

// ------------------------------------------------------------------ world --

/// The real server: one in-memory SQLite database with the migrations run
/// and the demo trust loaded, its keys, and a runtime to drive it.
struct World {
    rt: tokio::runtime::Runtime,
    pool: AnyPool,
    server_key: ServerKey,
    incident_key: IncidentKeyStore,
    public: IncidentKey,
    staff_aua: Sha256Hex,
    visitor_aua: Sha256Hex,
}

/// The PostgreSQL server to run on instead of SQLite, as the API tests take
/// it (`HAVEN_TEST_POSTGRES`, set by `cargo xtask test`).
fn postgres_base() -> Option<String> {
    std::env::var("HAVEN_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// One in-memory SQLite database, on one connection never closed (it is the
/// database), with the migrations run.
async fn sqlite_world() -> AnyPool {
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::Executor::execute(conn, "PRAGMA foreign_keys = ON").await?;
                Ok(())
            })
        })
        .connect("sqlite::memory:")
        .await
        .expect("in-memory database");
    haven_server::store::db::SQLITE_MIGRATOR
        .run(&pool)
        .await
        .expect("migrations");
    pool
}

/// A new database on the PostgreSQL server, opened as the server opens its
/// own (migrations run, writes under the advisory lock).
async fn postgres_world(base: &str) -> AnyPool {
    use sqlx::Connection;
    let name = format!("haven_sim_{}", Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(base)
        .await
        .expect("PostgreSQL is up");
    sqlx::raw_sql(&format!(
        "CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'"
    ))
    .execute(&mut admin)
    .await
    .expect("a database for the simulation");
    let mut url = url::Url::parse(base).expect("HAVEN_TEST_POSTGRES is a URL");
    url.set_path(&name);
    haven_server::store::db::connect(&haven_server::store::db::Database::Postgres(
        url.to_string(),
    ))
    .await
    .expect("the simulation's database opens")
}

impl World {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let incident_key = IncidentKeyStore::in_memory();
        let (pool, public) = rt.block_on(async {
            sqlx::any::install_default_drivers();
            let pool = match postgres_base() {
                Some(base) => postgres_world(&base).await,
                None => sqlite_world().await,
            };
            demo::load_if_empty(&pool).await.expect("demo data");
            let public = incident_key
                .get()
                .await
                .expect("incident key")
                .public()
                .clone();
            (pool, public)
        });
        let text = |id: Uuid| {
            demo::policy_versions()
                .into_iter()
                .find(|v| v.id == id)
                .expect("demo version")
                .text_sha256
        };
        World {
            rt,
            pool,
            server_key: ServerKey::random(),
            incident_key,
            public,
            staff_aua: text(STAFF_AUA_VERSION_ID),
            visitor_aua: text(VISITOR_AUA_VERSION_ID),
        }
    }

    fn push(
        &self,
        request: &PushRequest,
        now: Millis,
        caller: &Caller,
    ) -> Result<PushResponse, AppError> {
        let keys = PushKeys {
            server_key: &self.server_key,
            incident_key: &self.incident_key,
            opens: None,
        };
        self.rt
            .block_on(apply_push(&self.pool, request, now, caller, keys))
    }

    fn scalar(&self, sql: &str, bind: &str) -> Option<i64> {
        self.rt.block_on(async {
            sqlx::query_scalar(sql)
                .bind(bind)
                .fetch_optional(&self.pool)
                .await
                .expect("query")
        })
    }

    /// Whether the server holds the effect of `record`.
    fn stored(&self, record: &RecordKey) -> bool {
        let (sql, id) = match record {
            RecordKey::Agreement(id) => ("SELECT 1 FROM agreements WHERE id = $1", id),
            RecordKey::Visit(id) => ("SELECT 1 FROM visits WHERE id = $1", id),
            // The first end of a visit is kept; another desk's end of the same
            // visit is answered `duplicate`: the visitor is signed out.
            RecordKey::EndOf(visit) => ("SELECT 1 FROM visit_ends WHERE visit_id = $1", visit),
            RecordKey::Incident(id) => ("SELECT 1 FROM incidents WHERE id = $1", id),
        };
        self.scalar(sql, &id.to_string()).is_some()
    }

    fn last_processed(&self, device: Uuid) -> Option<u64> {
        self.scalar(
            "SELECT last_mutation_id FROM devices WHERE device_id = $1",
            &device.to_string(),
        )
        .map(|n| n as u64)
    }

    fn enrol(&self, enrolment: &str, sync_device_id: Uuid, now: Millis) {
        self.rt.block_on(async {
            sqlx::query(
                "INSERT INTO enrolled_devices (id, sync_device_id, academy_id, kind, label, \
                 token_sha256, enrolled_at, enrolled_by, last_contact_at) \
                 VALUES ($1, $2, $3, 'reception_kiosk', 'Simulated desk', $4, $5, 'sim', $6)",
            )
            .bind(enrolment)
            .bind(sync_device_id.to_string())
            .bind(OAKFIELD_ID.to_string())
            .bind(enrolment)
            .bind(now)
            .bind(now)
            .execute(&self.pool)
            .await
            .expect("enrol kiosk");
        });
    }

    fn proof_key(&self, staff: usize) -> [u8; 32] {
        let account = DEMO_STAFF[staff].0.to_string();
        staff_proof::proof_key(&self.server_key.online_key(&account))
    }
}

fn staff_caller(staff: usize) -> Caller {
    let (id, name, email, role, academy) = DEMO_STAFF[staff];
    Caller::Staff(StaffCaller {
        user_id: id.to_string(),
        name: name.into(),
        email: email.into(),
        grants: Grants(vec![RoleGrant {
            role,
            academy_id: (role != Role::TrustAdmin).then_some(academy),
        }]),
        session_digest: format!("sim-session-{staff}"),
        limited: false,
        sync_only: None,
    })
}

/// A browser's device secret: 32 bytes, base64url, fixed by `seed`.
fn secret(rng: &mut ChaCha8Rng) -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------- records --

/// What names a record's effect on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum RecordKey {
    Agreement(Uuid),
    Visit(Uuid),
    EndOf(Uuid),
    Incident(Uuid),
}

fn key_of(change: &Change) -> RecordKey {
    let id = change.record_id();
    if let Change::EndVisit(end) = change {
        RecordKey::EndOf(end.visit_id)
    } else if let Change::CreateAgreement(_) = change {
        RecordKey::Agreement(id)
    } else if let Change::CreateVisit(_) = change {
        RecordKey::Visit(id)
    } else {
        RecordKey::Incident(id)
    }
}

/// A record an honest device made, for the checks.
#[derive(Debug, Clone)]
struct Created {
    key: RecordKey,
    /// `None` for a valid record; otherwise the code it must be refused with.
    refusal: Option<&'static str>,
}

// ---------------------------------------------------------------- network --

/// A push refused whole: how the device sees it, and the server's code.
#[derive(Debug, Clone)]
struct Refusal {
    kind: FailureKind,
    code: &'static str,
}

#[derive(Debug, Clone)]
enum Message {
    ToServer {
        device: usize,
        boot: u32,
        ticket: Ticket,
        request: PushRequest,
    },
    /// `boot` is the device incarnation the request came from: a reply to a
    /// machine that has since been replaced never arrives (its tab is closed,
    /// or it has taken a new device id).
    ToDevice {
        device: usize,
        boot: u32,
        ticket: Ticket,
        reply: Result<PushResponse, Refusal>,
    },
}

/// Fault and adversary rates, drawn per run so some runs are gentle and some
/// are brutal.
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
    /// Per step: a stranger, a jump, a replay under another credential.
    stranger: f64,
    jump: f64,
    replay: f64,
    /// Per step, until it happens once: a device is cloned.
    clone: f64,
}

impl Faults {
    fn draw(rng: &mut ChaCha8Rng) -> Self {
        let mut adversary = |p: f64| {
            if rng.gen_bool(p) {
                rng.gen_range(0.0..0.04)
            } else {
                0.0
            }
        };
        let (stranger, jump, replay, clone) = (
            adversary(0.4),
            adversary(0.4),
            adversary(0.4),
            adversary(0.3),
        );
        Self {
            loss: rng.gen_range(0.0..0.4),
            duplicate: rng.gen_range(0.0..0.3),
            crash_mid_batch: rng.gen_range(0.0..0.05),
            error_after_commit: rng.gen_range(0.0..0.1),
            error_before_commit: rng.gen_range(0.0..0.1),
            device_restart: rng.gen_range(0.0..0.03),
            server_restart: rng.gen_range(0.0..0.03),
            invalid_records: rng.gen_range(0.0..0.3),
            stranger,
            jump,
            replay,
            clone,
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
            stranger: 0.0,
            jump: 0.0,
            replay: 0.0,
            clone: 0.0,
            ..self
        }
    }
}

// ----------------------------------------------------------------- device --

#[derive(Debug, Clone)]
enum Kind {
    /// An enrolled reception kiosk: pushes with its token.
    Kiosk { enrolment: String, first_id: Uuid },
    /// A staff member's browser: their session and the browser's secret.
    Laptop { staff: usize, secret: String },
}

#[derive(Clone)]
struct Device {
    name: String,
    kind: Kind,
    /// The id it pushes under now, and every id it has had.
    id: Uuid,
    ids: Vec<Uuid>,
    batch_size: usize,
    /// Durable: survives restarts.
    next_mutation_id: u64,
    outbox: Vec<OutboxEntry>,
    /// Rejected entries from before the device took a new id: kept and
    /// shown, never sent, out of the way of the new numbers.
    archived: Vec<OutboxEntry>,
    /// Visits it signed in that it may sign out.
    open_visits: Vec<VisitRecord>,
    /// Volatile: replaced on restart.
    machine: DeviceSync,
    boot: u32,
    last_ticket: Option<Ticket>,
    wake_at: Option<Millis>,
    /// Bookkeeping for the checks, not device state.
    created: Vec<Created>,
    /// A clone shares (or shared) its id: a conflict is expected.
    cloned: bool,
}

impl Device {
    fn caller(&self) -> Caller {
        match &self.kind {
            Kind::Kiosk {
                enrolment,
                first_id,
            } => Caller::Device(DeviceCaller {
                id: enrolment.clone(),
                sync_device_id: *first_id,
                academy_id: OAKFIELD_ID,
                kind: "reception_kiosk".into(),
            }),
            Kind::Laptop { staff, .. } => staff_caller(*staff),
        }
    }

    fn secret(&self) -> Option<String> {
        match &self.kind {
            Kind::Kiosk { .. } => None,
            Kind::Laptop { secret, .. } => Some(secret.clone()),
        }
    }

    fn staff(&self) -> usize {
        match self.kind {
            Kind::Kiosk { .. } => KIOSK_STAFF,
            Kind::Laptop { staff, .. } => staff,
        }
    }

    fn restart(&mut self) {
        self.boot += 1;
        self.machine = DeviceSync::new(self.id).with_batch_size(self.batch_size);
        self.last_ticket = None;
        self.wake_at = None;
    }

    fn entry(&self, key: RecordKey) -> Option<&OutboxEntry> {
        self.outbox
            .iter()
            .chain(&self.archived)
            .find(|e| key_of(&e.mutation.change) == key)
    }
}

// ------------------------------------------------------------- simulation --

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Property {
    /// Acknowledged (deleted from the outbox) but not on the server, or gone
    /// from the device and not on the server at the end.
    Lost,
    /// Answered `applied` twice.
    Duplicated,
    /// A valid honest record refused, a never-acceptable one refused for
    /// another reason, or anything still pending at the end.
    HeldBack,
    /// A replay answered otherwise than the first time, or a different change
    /// under a processed number answered as a replay.
    ReplayAnsweredDifferently,
    /// A stranger's push under a device's id was not refused.
    StrangerAccepted,
    /// A jump in the numbering was not refused.
    JumpAccepted,
    /// An honest device no clone shares an id with was told its id is not
    /// its own, or the server refused an honest push for another reason.
    FalseConflict,
    NotConverged,
    PushNotOldestPending,
    InconsistentSettlement,
    LastProcessedWrong,
    Panicked,
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
    agreements: u64,
    visits: u64,
    ends: u64,
    incidents: u64,
    never_acceptable: u64,
    devices: u64,
    lost: u64,
    duplicated: u64,
    held_back: u64,
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
    clones: u64,
    conflicts_detected: u64,
    new_ids_taken: u64,
    strangers_refused: u64,
    jumps_refused: u64,
    replays_under_another_credential: u64,
    messages_lost: u64,
    messages_duplicated: u64,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        macro_rules! sum {
            ($($f:ident),*) => { $(self.$f += o.$f;)* };
        }
        sum!(
            steps,
            pushes,
            records,
            agreements,
            visits,
            ends,
            incidents,
            never_acceptable,
            devices,
            lost,
            duplicated,
            held_back,
            duplicates_answered,
            replayed_rejections_answered,
            rejections_settled,
            stale_replies_ignored,
            settlements_lost_to_restart,
            timeouts,
            device_restarts_mid_push,
            server_restarts,
            crashes_mid_batch,
            errors_after_commit,
            clones,
            conflicts_detected,
            new_ids_taken,
            strangers_refused,
            jumps_refused,
            replays_under_another_credential,
            messages_lost,
            messages_duplicated
        );
    }
}

struct Sim<'w> {
    world: &'w World,
    seed: u64,
    rng: ChaCha8Rng,
    faults: Faults,
    now: Millis,
    step: usize,
    next_uuid: u64,
    devices: Vec<Device>,
    network: Vec<Message>,
    /// The server is restarting until then: connections are refused.
    down_until: Millis,
    /// Committed answers by (device id, mutation id): the change's digest
    /// and the first answer.
    first_answers: BTreeMap<(Uuid, u64), (Sha256Hex, Outcome)>,
    /// Records answered `applied` in a committed push.
    applied: BTreeSet<RecordKey>,
    /// Honest pushes seen on the wire, for the replayer.
    captured: Vec<PushRequest>,
    violations: Vec<Violation>,
    stats: Stats,
    trace: Option<String>,
}

struct RunResult {
    violations: Vec<Violation>,
    stats: Stats,
    trace: Option<String>,
}

fn run(world: &World, seed: u64, fault: Option<Fault>, trace: bool) -> RunResult {
    sim_faults::set(fault);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let faults = Faults::draw(&mut rng);
    let steps = rng.gen_range(60..=120);
    let mut sim = Sim {
        world,
        seed,
        rng,
        faults,
        now: T0 + (seed % SEEDS_PER_DATABASE) as Millis * SEED_SPACING_MS,
        step: 0,
        next_uuid: 0,
        devices: Vec::new(),
        network: Vec::new(),
        down_until: 0,
        first_answers: BTreeMap::new(),
        applied: BTreeSet::new(),
        captured: Vec::new(),
        violations: Vec::new(),
        stats: Stats::default(),
        trace: trace.then(String::new),
    };
    sim.log(|| format!("faults {faults:?}, {steps} steps"));
    sim.add_device(Kind::Kiosk {
        enrolment: String::new(),
        first_id: Uuid::nil(),
    });
    sim.add_device(Kind::Laptop {
        staff: LAPTOP_STAFF[0],
        secret: String::new(),
    });
    if sim.rng.gen_bool(0.5) {
        sim.add_device(Kind::Laptop {
            staff: LAPTOP_STAFF[1],
            secret: String::new(),
        });
    }
    for _ in 0..steps {
        sim.random_step();
    }
    sim.heal();
    sim.final_checks();
    sim_faults::set(None);
    RunResult {
        violations: sim.violations,
        stats: sim.stats,
        trace: sim.trace,
    }
}

impl Sim<'_> {
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
        match property {
            Property::Lost => self.stats.lost += 1,
            Property::Duplicated => self.stats.duplicated += 1,
            Property::HeldBack => self.stats.held_back += 1,
            _ => {}
        }
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

    /// A UUID no other seed on this database uses.
    fn fresh_uuid(&mut self) -> Uuid {
        self.next_uuid += 1;
        // Version 7 and variant bits set, as a device's ids are.
        let raw = (u128::from(self.seed) << 64) | u128::from(self.next_uuid);
        let bits = (raw & !(0xF << 76) & !(0x3 << 62)) | (0x7 << 76) | (0x2 << 62);
        Uuid::from_u128(bits | (0x0198 << 112))
    }

    fn add_device(&mut self, kind: Kind) {
        let id = self.fresh_uuid();
        let name = format!("d{}", self.devices.len());
        let kind = match kind {
            Kind::Kiosk { .. } => {
                let enrolment = format!("sim-{}-{}", self.seed, name);
                self.world.enrol(&enrolment, id, self.now);
                Kind::Kiosk {
                    enrolment,
                    first_id: id,
                }
            }
            Kind::Laptop { staff, .. } => Kind::Laptop {
                staff,
                secret: secret(&mut self.rng),
            },
        };
        let batch_size = [1, 2, 3, 5, 100][self.rng.gen_range(0..5)];
        self.stats.devices += 1;
        self.devices.push(Device {
            name,
            kind,
            id,
            ids: vec![id],
            batch_size,
            next_mutation_id: 1,
            outbox: Vec::new(),
            archived: Vec::new(),
            open_visits: Vec::new(),
            machine: DeviceSync::new(id).with_batch_size(batch_size),
            boot: 0,
            last_ticket: None,
            wake_at: None,
            created: Vec::new(),
            cloned: false,
        });
    }

    fn random_step(&mut self) {
        self.step += 1;
        self.stats.steps += 1;
        let roll: f64 = self.rng.gen();
        let f = self.faults;
        let d = self.rng.gen_range(0..self.devices.len());
        let mut at = 0.0;
        let mut next = |p: f64| {
            at += p;
            roll < at
        };
        if next(0.12) {
            self.create_record(d);
        } else if next(0.35) {
            self.deliver_one();
        } else if next(0.25) {
            self.advance_time();
        } else if next(0.02) {
            self.log(|| "online: kick".into());
            self.devices[d].machine.kick();
        } else if next(f.device_restart) {
            self.restart_device(d);
        } else if next(f.server_restart) {
            self.restart_server();
        } else if next(f.stranger) {
            self.stranger(d);
        } else if next(f.jump) {
            self.jump(d);
        } else if next(f.replay) {
            self.replay_under_another_credential();
        } else if next(f.clone) {
            self.clone_device(d);
        }
        for d in 0..self.devices.len() {
            self.device_acts(d);
        }
    }

    /// A record, its outbox entry and the counter are stored together, then
    /// the device is kicked.
    fn create_record(&mut self, d: usize) {
        let invalid = self.chance(self.faults.invalid_records);
        let kiosk = matches!(self.devices[d].kind, Kind::Kiosk { .. });
        let roll: f64 = self.rng.gen();
        let has_open = !self.devices[d].open_visits.is_empty();
        let (change, refusal) = if roll < 0.05 {
            self.incident(d, invalid)
        } else if has_open && roll < 0.3 {
            let i = self.rng.gen_range(0..self.devices[d].open_visits.len());
            let visit = self.devices[d].open_visits.swap_remove(i);
            self.stats.ends += 1;
            let end = VisitEnd {
                id: self.fresh_uuid(),
                visit_id: visit.id,
                device_id: self.devices[d].id,
                signed_out_at: self.now,
                method: SignOutMethod::List,
            };
            (Change::EndVisit(end), None)
        } else if roll < if kiosk { 0.65 } else { 0.4 } {
            self.visit(d, invalid)
        } else {
            self.agreement(d, invalid, kiosk && roll < 0.85)
        };
        self.stats.records += 1;
        self.stats.never_acceptable += u64::from(refusal.is_some());
        let device = &mut self.devices[d];
        let mutation_id = device.next_mutation_id;
        device.next_mutation_id += 1;
        let key = key_of(&change);
        // A shared device's staff record carries the person's proof.
        let proof = (kiosk && staff_proof::needs_proof(&change)).then(|| {
            let staff = device.staff();
            staff_proof::sign(&self.world.proof_key(staff), DEMO_STAFF[staff].0, &change)
        });
        device.outbox.push(OutboxEntry {
            mutation: Mutation {
                id: mutation_id,
                change,
                proof,
            },
            state: EntryState::Pending,
            queued_at: self.now,
        });
        device.created.push(Created { key, refusal });
        device.machine.kick();
        let name = device.name.clone();
        self.log(|| format!("{name}: record {mutation_id} {key:?} (refusal: {refusal:?})"));
    }

    fn agreement(
        &mut self,
        d: usize,
        invalid: bool,
        visitor: bool,
    ) -> (Change, Option<&'static str>) {
        self.stats.agreements += 1;
        let staff = self.devices[d].staff();
        let mut record = AgreementRecord {
            id: self.fresh_uuid(),
            policy_version_id: STAFF_AUA_VERSION_ID,
            policy_text_sha256: self.world.staff_aua.clone(),
            signer_name: DEMO_STAFF[staff].1.into(),
            agreed: true,
            signed_at: self.now,
            device_id: self.devices[d].id,
            signer_account: Some(DEMO_STAFF[staff].0),
            ..Default::default()
        };
        if visitor {
            record.policy_version_id = VISITOR_AUA_VERSION_ID;
            record.policy_text_sha256 = self.world.visitor_aua.clone();
            record.signer_name = format!("Visitor {}", self.next_uuid);
            record.signer_account = None;
        }
        let refusal = match (invalid, self.rng.gen_bool(0.5)) {
            (false, _) => None,
            (true, true) => {
                record.policy_version_id = self.fresh_uuid();
                Some("unknown_policy_version")
            }
            (true, false) => {
                // Oversized: a name no form lets through.
                record.signer_name = "x".repeat(5_000);
                Some("invalid_agreement")
            }
        };
        (Change::CreateAgreement(record), refusal)
    }

    fn visit(&mut self, d: usize, invalid: bool) -> (Change, Option<&'static str>) {
        self.stats.visits += 1;
        let id = self.fresh_uuid();
        let visit = VisitRecord {
            id,
            academy_id: if invalid {
                self.fresh_uuid()
            } else {
                OAKFIELD_ID
            },
            device_id: self.devices[d].id,
            visitor_name: format!("Visitor {}", self.next_uuid),
            organisation: "Analytical Engines Ltd".into(),
            visitor_type: VisitorType::Contractor,
            host: Host {
                staff_id: None,
                name: "Tom Reilly".into(),
            },
            car_registration: None,
            badge_code: badge_code(id),
            signed_in_at: self.now,
            checks: VisitorChecks {
                id_seen: true,
                dbs: DbsStatus::NotChecked,
            },
            escort_required: true,
            agreement_id: self.fresh_uuid(),
            agreement_version_id: VISITOR_AUA_VERSION_ID,
        };
        if !invalid {
            self.devices[d].open_visits.push(visit.clone());
        }
        (
            Change::CreateVisit(visit),
            invalid.then_some("unknown_academy"),
        )
    }

    fn incident(&mut self, d: usize, invalid: bool) -> (Change, Option<&'static str>) {
        self.stats.incidents += 1;
        let staff = self.devices[d].staff();
        let involved = Involved::PupilInLesson;
        let tables = RuleTables::trust_default();
        let guidance = tables
            .guidance(involved, "personal-device")
            .expect("guidance");
        let recommended = Recommended::from_guidance(&guidance);
        let record = IncidentRecord {
            id: self.fresh_uuid(),
            academy_id: OAKFIELD_ID,
            device_id: self.devices[d].id,
            reported_by: DEMO_STAFF[staff].0,
            reported_at: self.now,
            occurred_at: self.now - 60_000,
            location: "Room 4".into(),
            involved,
            people: vec![PersonInvolved {
                kind: PersonKind::Pupil,
                name: "Sam Pupil".into(),
                class: Some("4B".into()),
            }],
            incident_type: haven_core::slug::Slug::parse("personal-device").expect("slug"),
            description: "Found a proxy site during the lesson.".into(),
            urls: vec![],
            device_involved: "Year 4 iPad 12".into(),
            immediate_action: "Closed the tab.".into(),
            actions_taken: recommended.referrals.clone(),
            told_dsl_in_person: recommended.immediate.then_some(true),
            recommended,
            difference_reason: None,
            second_senior_staff: None,
            outcome: None,
            attachments: vec![],
        };
        let mut sealed = seal(&record, &self.world.public, &mut self.rng);
        let refusal = match (invalid, self.rng.gen_bool(0.9)) {
            (false, _) => None,
            (true, true) => {
                sealed.key_id = "an-old-key".into();
                Some("unknown_key")
            }
            (true, false) => {
                sealed.ciphertext = "A".repeat(MAX_SEALED_CHARS + 4);
                Some("invalid_incident")
            }
        };
        (Change::CreateIncident(sealed), refusal)
    }

    fn advance_time(&mut self) {
        // Mostly a moment; sometimes as far as a device's next timer.
        let wake = self
            .devices
            .iter()
            .filter_map(|d| d.wake_at)
            .filter(|&t| t > self.now)
            .min();
        match wake {
            Some(at) if self.rng.gen_bool(0.3) => self.now = at,
            _ => self.now += self.rng.gen_range(0..3_000),
        }
    }

    /// The tab is closed and opened again: the outbox stays, the machine and
    /// its connections go.
    fn restart_device(&mut self, d: usize) {
        if self.devices[d].machine.is_pushing() {
            self.stats.device_restarts_mid_push += 1;
        }
        let name = self.devices[d].name.clone();
        self.log(|| format!("{name} restarts"));
        self.devices[d].restart();
    }

    /// The server process dies: committed state stays, every open connection
    /// goes. A device may notice at once (connection reset) or only by its
    /// timeout.
    fn restart_server(&mut self) {
        self.stats.server_restarts += 1;
        let dropped = self.network.len();
        self.log(|| format!("server restarts, {dropped} messages dropped"));
        self.network.clear();
        self.down_until = self.now + self.rng.gen_range(0..30_000);
        for d in 0..self.devices.len() {
            let device = &self.devices[d];
            if let Some(ticket) = device.last_ticket {
                let (boot, ticket) = (device.boot, ticket);
                if self.rng.gen_bool(0.5) {
                    self.network.push(Message::ToDevice {
                        device: d,
                        boot,
                        ticket,
                        reply: Err(Refusal {
                            kind: FailureKind::Unreachable,
                            code: "unreachable",
                        }),
                    });
                }
            }
        }
    }

    // ----------------------------------------------------------- adversaries --

    /// A tablet image copied onto a second tablet (or a browser profile
    /// restored elsewhere): same id, secret and credential, the same outbox
    /// and counter, and from now on records of its own.
    fn clone_device(&mut self, d: usize) {
        if self.stats.clones > 0 || self.devices.len() >= 4 {
            return;
        }
        self.stats.clones += 1;
        self.devices[d].cloned = true;
        let mut copy = self.devices[d].clone();
        copy.name = format!("{}'", copy.name);
        // The copy keeps only what was stored: its records still waiting or
        // refused. What the original already had acknowledged it does not hold.
        copy.created.retain(|c| {
            copy.outbox
                .iter()
                .any(|e| key_of(&e.mutation.change) == c.key)
        });
        copy.boot = 0;
        copy.restart();
        let (from, to) = (self.devices[d].name.clone(), copy.name.clone());
        self.log(|| format!("{from} cloned as {to}"));
        self.devices.push(copy);
    }

    /// Someone with another session and their own secret pushes under a
    /// device's id once the server has bound it (or, for a kiosk, at any
    /// time: its id is bound by its enrolment).
    fn stranger(&mut self, d: usize) {
        let target = self.devices[d].id;
        // Bound by its enrolment: a kiosk's first id (not one it took later).
        let enrolled =
            matches!(self.devices[d].kind, Kind::Kiosk { first_id, .. } if first_id == target);
        let Some(last) = self.world.last_processed(target).or(enrolled.then_some(0)) else {
            return;
        };
        let first = if self.rng.gen_bool(0.5) { 1 } else { last + 1 };
        let record = self.adversary_agreement(target, STRANGER_STAFF);
        let request = PushRequest {
            device_id: target,
            device_secret: Some(secret(&mut self.rng)),
            mutations: vec![Mutation::new(first, Change::CreateAgreement(record))],
            backlog: 1,
        };
        let result = self
            .world
            .push(&request, self.now, &staff_caller(STRANGER_STAFF));
        self.log(|| format!("stranger under {target} from {first}: {}", brief(&result)));
        match result {
            Err(AppError::DeviceNotYours) => self.stats.strangers_refused += 1,
            other => self.violate(
                Property::StrangerAccepted,
                format!(
                    "a stranger's push under {target} was answered {}",
                    brief(&other)
                ),
            ),
        }
    }

    /// Someone holding a device's own credential and secret (a clone with a
    /// broken counter, a hostile member of staff) pushes a number ahead of
    /// the server's count: 2^63-1, or a few ahead.
    fn jump(&mut self, d: usize) {
        let device = &self.devices[d];
        let (target, caller, secret) = (device.id, device.caller(), device.secret());
        let last = self.world.last_processed(target).unwrap_or(0);
        let to = if self.rng.gen_bool(0.5) {
            i64::MAX as u64
        } else {
            last + self.rng.gen_range(2..50)
        };
        let record = self.adversary_agreement(target, self.devices[d].staff());
        let request = PushRequest {
            device_id: target,
            device_secret: secret,
            mutations: vec![Mutation::new(to, Change::CreateAgreement(record))],
            backlog: 1,
        };
        let result = self.world.push(&request, self.now, &caller);
        self.log(|| format!("jump under {target} to {to}: {}", brief(&result)));
        match result {
            Err(AppError::Conflict {
                code: "mutation_gap",
                ..
            }) => self.stats.jumps_refused += 1,
            other => self.violate(
                Property::JumpAccepted,
                format!("a jump from {last} to {to} was answered {}", brief(&other)),
            ),
        }
    }

    /// A push an honest device sent, captured on the way, sent again by
    /// someone else with their own session (and, with no device secret of
    /// their own to give, their own secret in place of the device's).
    fn replay_under_another_credential(&mut self) {
        if self.captured.is_empty() {
            return;
        }
        let i = self.rng.gen_range(0..self.captured.len());
        let mut request = self.captured[i].clone();
        let target = request.device_id;
        // Only a push that has reached the server: a device id nobody has
        // pushed under yet belongs to whoever pushes first.
        let enrolled = self
            .devices
            .iter()
            .any(|d| matches!(d.kind, Kind::Kiosk { first_id, .. } if first_id == target));
        if !enrolled && self.world.last_processed(target).is_none() {
            return;
        }
        request.device_secret = Some(secret(&mut self.rng));
        self.stats.replays_under_another_credential += 1;
        let result = self
            .world
            .push(&request, self.now, &staff_caller(REPLAYER_STAFF));
        self.log(|| {
            format!(
                "replay of a push under {target} by another: {}",
                brief(&result)
            )
        });
        if !matches!(result, Err(AppError::DeviceNotYours)) {
            self.violate(
                Property::StrangerAccepted,
                format!(
                    "a replay under another credential was answered {}",
                    brief(&result)
                ),
            );
        }
    }

    /// A record an adversary makes: never one of an honest device's.
    fn adversary_agreement(&mut self, device: Uuid, staff: usize) -> AgreementRecord {
        AgreementRecord {
            id: self.fresh_uuid(),
            policy_version_id: STAFF_AUA_VERSION_ID,
            policy_text_sha256: self.world.staff_aua.clone(),
            signer_name: "Forged".into(),
            agreed: true,
            signed_at: self.now,
            device_id: device,
            signer_account: Some(DEMO_STAFF[staff].0),
            ..Default::default()
        }
    }

    // --------------------------------------------------------------- network --

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
                device,
                boot,
                ticket,
                request,
            } => self.server_receives(device, boot, ticket, request),
            Message::ToDevice {
                device,
                boot,
                ticket,
                reply,
            } => self.device_receives(device, boot, ticket, reply),
        }
    }

    fn server_receives(&mut self, d: usize, boot: u32, ticket: Ticket, request: PushRequest) {
        let reply = |reply| Message::ToDevice {
            device: d,
            boot,
            ticket,
            reply,
        };
        let failure = |kind, code| Err(Refusal { kind, code });
        let name = self.devices[d].name.clone();
        if self.now < self.down_until {
            self.log(|| format!("{name} {ticket:?} refused: server down"));
            self.send(reply(failure(FailureKind::Unreachable, "unreachable")));
            return;
        }
        if self.chance(self.faults.error_before_commit) {
            self.log(|| format!("{name} {ticket:?} answered 500"));
            self.send(reply(failure(FailureKind::Temporary, "internal")));
            return;
        }
        let crash = self.chance(self.faults.crash_mid_batch);
        sim_faults::crash_next_push(crash);
        let result = self
            .world
            .push(&request, self.now, &self.devices[d].caller());
        sim_faults::crash_next_push(false);
        if crash && result.is_err() {
            self.stats.crashes_mid_batch += 1;
            self.log(|| format!("{name} {ticket:?} server crashed mid-batch"));
            self.restart_server();
            return;
        }
        match result {
            Ok(response) => {
                self.committed(&request, &response);
                self.log(|| {
                    format!(
                        "{name} {ticket:?} committed under {}: last {}, {:?}",
                        request.device_id,
                        response.last_mutation_id,
                        summarise(&response)
                    )
                });
                if self.chance(self.faults.error_after_commit) {
                    self.stats.errors_after_commit += 1;
                    self.log(|| format!("{name} {ticket:?} reply replaced by a 504"));
                    self.send(reply(failure(FailureKind::Temporary, "gateway")));
                } else {
                    self.send(reply(Ok(response)));
                }
            }
            Err(e) => {
                let code = match &e {
                    AppError::DeviceNotYours => "device_not_yours",
                    AppError::Conflict { code, .. } => code,
                    _ => "other",
                };
                let detail = e.to_string();
                self.log(|| format!("{name} {ticket:?} refused whole: {code}: {detail}"));
                if code == "device_conflict" {
                    self.stats.conflicts_detected += 1;
                }
                let expected = code == "device_conflict" && self.devices[d].cloned;
                if !expected {
                    self.violate(
                        Property::FalseConflict,
                        format!(
                            "{name}'s push under {} refused: {code}: {detail}",
                            request.device_id
                        ),
                    );
                }
                self.send(reply(failure(FailureKind::Refused, code)));
            }
        }
    }

    /// Checks a committed reply against the first answers and remembers it.
    fn committed(&mut self, request: &PushRequest, response: &PushResponse) {
        for (mutation, result) in request.mutations.iter().zip(&response.results) {
            let digest = change_digest(&mutation.change);
            let slot = (request.device_id, mutation.id);
            match self.first_answers.get(&slot).cloned() {
                Some((first_digest, first)) => {
                    let expected = match first {
                        Outcome::Applied | Outcome::Duplicate => Outcome::Duplicate,
                        rejected => rejected,
                    };
                    if first_digest != digest {
                        self.violate(
                            Property::ReplayAnsweredDifferently,
                            format!(
                                "a different change under processed number {} of {} was \
                                 answered {:?}",
                                mutation.id, request.device_id, result.outcome
                            ),
                        );
                    } else if result.outcome != expected {
                        self.violate(
                            Property::ReplayAnsweredDifferently,
                            format!(
                                "replay of {} of {} answered {:?}, first {:?}",
                                mutation.id, request.device_id, result.outcome, expected
                            ),
                        );
                    } else if matches!(expected, Outcome::Rejected { .. }) {
                        self.stats.replayed_rejections_answered += 1;
                    }
                }
                None => {
                    self.first_answers
                        .insert(slot, (digest, result.outcome.clone()));
                }
            }
            if result.outcome == Outcome::Applied {
                let key = key_of(&mutation.change);
                if !self.applied.insert(key) {
                    self.violate(Property::Duplicated, format!("{key:?} applied twice"));
                }
            }
        }
    }

    fn device_receives(
        &mut self,
        d: usize,
        boot: u32,
        ticket: Ticket,
        reply: Result<PushResponse, Refusal>,
    ) {
        let name = self.devices[d].name.clone();
        if boot != self.devices[d].boot {
            self.log(|| format!("{name} {ticket:?} reply to a closed tab (or an old id) dropped"));
            return;
        }
        match reply {
            Ok(response) => {
                self.stats.duplicates_answered += response
                    .results
                    .iter()
                    .filter(|r| r.outcome == Outcome::Duplicate)
                    .count() as u64;
                let settlement = self.devices[d]
                    .machine
                    .on_reply(self.now, ticket, &response);
                match settlement {
                    Some(_) if self.chance(self.faults.device_restart * 5.0) => {
                        // Read, but the tab closed before the settlement was stored.
                        self.stats.settlements_lost_to_restart += 1;
                        self.restart_device(d);
                    }
                    Some(settlement) => self.settle(d, settlement),
                    None => {
                        self.stats.stale_replies_ignored += 1;
                        self.log(|| format!("{name} {ticket:?} stale reply ignored"));
                    }
                }
            }
            Err(Refusal { kind, code }) => {
                self.log(|| format!("{name} {ticket:?} failed: {kind:?} {code}"));
                let current = self.devices[d].machine.is_pushing()
                    && self.devices[d].last_ticket == Some(ticket);
                let jitter = self.rng.gen();
                self.devices[d]
                    .machine
                    .on_failure(self.now, ticket, kind, jitter);
                let not_ours = matches!(
                    code,
                    "device_conflict" | "mutation_gap" | "device_not_yours"
                );
                if current && not_ours {
                    if self.devices[d].machine.may_take_new_id() {
                        self.take_new_id(d);
                    } else {
                        self.log(|| format!("{name} refused under its new id: stops and says so"));
                    }
                }
            }
        }
    }

    /// The shell's recovery when the server says this id is not (only) the
    /// device's, as `src/` does it: a new id, the pending entries renumbered
    /// 1..n in their order with every record and proof as it was, the
    /// rejected ones set aside, and [`DeviceSync::take_new_id`] (which
    /// forgets the push out under the old id, so its late reply is ignored).
    fn take_new_id(&mut self, d: usize) {
        let id = self.fresh_uuid();
        self.stats.new_ids_taken += 1;
        let device = &mut self.devices[d];
        let old = device.id;
        device.id = id;
        device.ids.push(id);
        let (mut pending, rejected): (Vec<_>, Vec<_>) = device
            .outbox
            .drain(..)
            .partition(|e| e.state == EntryState::Pending);
        device.archived.extend(rejected);
        pending.sort_by_key(|e| e.mutation.id);
        for (i, entry) in pending.iter_mut().enumerate() {
            entry.mutation.id = i as u64 + 1;
        }
        device.next_mutation_id = pending.len() as u64 + 1;
        device.outbox = pending;
        device.machine.take_new_id(id);
        let (name, n) = (device.name.clone(), device.outbox.len());
        self.log(|| format!("{name} takes new id {id} (was {old}), {n} entries renumbered"));
    }

    /// `Db::settle`, in one transaction: acknowledged entries leave the
    /// outbox, rejected ones stay with their reason.
    fn settle(&mut self, d: usize, s: Settlement) {
        let name = self.devices[d].name.clone();
        self.log(|| {
            format!(
                "{name} settles: ack {:?} rejected {:?} unprocessed {:?}",
                s.acknowledged,
                s.rejected.iter().map(|r| r.0).collect::<Vec<_>>(),
                s.unprocessed
            )
        });
        for id in s.acknowledged {
            let device = &mut self.devices[d];
            let Some(i) = device.outbox.iter().position(|e| e.mutation.id == id) else {
                continue; // already settled by another reply
            };
            let entry = device.outbox.remove(i);
            let key = key_of(&entry.mutation.change);
            if entry.state != EntryState::Pending {
                self.violate(
                    Property::InconsistentSettlement,
                    format!("{name}: mutation {id} acknowledged after being rejected"),
                );
            }
            if !self.world.stored(&key) {
                self.violate(
                    Property::Lost,
                    format!("{name}: mutation {id} ({key:?}) acknowledged but not on the server"),
                );
            }
        }
        for (id, code, reason) in s.rejected {
            self.stats.rejections_settled += 1;
            let device = &mut self.devices[d];
            let Some(entry) = device.outbox.iter_mut().find(|e| e.mutation.id == id) else {
                self.violate(
                    Property::InconsistentSettlement,
                    format!("{name}: mutation {id} rejected after being acknowledged"),
                );
                continue;
            };
            entry.state = EntryState::Rejected { code, reason };
        }
    }

    /// The shell's loop: poll the machine and do what it says.
    fn device_acts(&mut self, d: usize) {
        let jitter = self.rng.gen();
        let device = &mut self.devices[d];
        let was_pushing = device.machine.is_pushing();
        match device.machine.poll(self.now, &device.outbox, jitter) {
            Command::Push {
                ticket,
                mut request,
            } => {
                request.device_secret = device.secret();
                self.stats.pushes += 1;
                self.check_push(d, &request);
                let name = self.devices[d].name.clone();
                self.log(|| {
                    let ids: Vec<u64> = request.mutations.iter().map(|m| m.id).collect();
                    format!("{name} {ticket:?} push {ids:?} under {}", request.device_id)
                });
                let device = &mut self.devices[d];
                device.last_ticket = Some(ticket);
                device.wake_at = None;
                let boot = device.boot;
                if self.captured.len() < 8 {
                    self.captured.push(request.clone());
                } else {
                    let i = self.rng.gen_range(0..self.captured.len());
                    self.captured[i] = request.clone();
                }
                self.send(Message::ToServer {
                    device: d,
                    boot,
                    ticket,
                    request,
                });
            }
            Command::WaitUntil(at) => {
                if was_pushing && !device.machine.is_pushing() {
                    self.stats.timeouts += 1;
                }
                device.wake_at = Some(at);
            }
        }
    }

    /// A push is the oldest pending entries, in order, under the current id:
    /// as many as the machine's batch is now (the device's size, halved after
    /// a timeout or a slow reply; it never grows past the size it was given).
    fn check_push(&mut self, d: usize, request: &PushRequest) {
        let device = &self.devices[d];
        let size = device.machine.next_batch_size();
        if size > device.batch_size {
            let detail = format!(
                "{} pushes up to {size} at once, more than its {}",
                device.name, device.batch_size
            );
            self.violate(Property::PushNotOldestPending, detail);
        }
        let device = &self.devices[d];
        let expected: Vec<u64> = next_batch(&device.outbox, size)
            .iter()
            .map(|m| m.id)
            .collect();
        let sent: Vec<u64> = request.mutations.iter().map(|m| m.id).collect();
        if sent != expected || request.device_id != device.id {
            let detail = format!(
                "{} pushed {sent:?} under {}, oldest pending {expected:?} under {}",
                device.name, request.device_id, device.id
            );
            self.violate(Property::PushNotOldestPending, detail);
        }
    }

    /// No more faults or adversaries: deliver what is still in the network,
    /// in random order, and let the devices run until nothing is pending.
    fn heal(&mut self) {
        self.faults = self.faults.none();
        self.log(|| "heal".into());
        for _ in 0..HEAL_LIMIT {
            self.step += 1;
            if !self.network.is_empty() {
                self.deliver_one();
            }
            for d in 0..self.devices.len() {
                self.device_acts(d);
            }
            if !self.network.is_empty() {
                continue;
            }
            let busy = self.devices.iter().any(|d| {
                d.machine.is_pushing() || d.outbox.iter().any(|e| e.state == EntryState::Pending)
            });
            if !busy {
                return;
            }
            let wake = self
                .devices
                .iter()
                .filter_map(|d| d.wake_at)
                .filter(|&t| t > self.now)
                .min();
            self.now = wake.unwrap_or(self.now + 1_000);
        }
        self.violate(
            Property::NotConverged,
            format!("still pending after {HEAL_LIMIT} heal steps"),
        );
    }

    fn final_checks(&mut self) {
        let mut violations = Vec::new();
        for device in &self.devices {
            for c in &device.created {
                let stored = self.world.stored(&c.key);
                let state = device.entry(c.key).map(|e| e.state.clone());
                let name = &device.name;
                match (&c.refusal, stored, &state) {
                    (None, true, None) => {}
                    (None, true, Some(state)) => violations.push((
                        Property::HeldBack,
                        format!(
                            "{name}: {:?} is stored but still {state:?} on the device",
                            c.key
                        ),
                    )),
                    (None, false, Some(EntryState::Rejected { code, reason })) => {
                        violations.push((
                            Property::HeldBack,
                            format!("{name}: valid {:?} rejected: {code}: {reason}", c.key),
                        ))
                    }
                    (_, false, None) => violations.push((
                        Property::Lost,
                        format!(
                            "{name}: {:?} is neither on the server nor on the device",
                            c.key
                        ),
                    )),
                    (Some(want), false, Some(EntryState::Rejected { code, .. }))
                        if code == want => {}
                    (Some(want), _, state) => violations.push((
                        Property::HeldBack,
                        format!(
                            "{name}: {:?} should be refused as {want}: stored {stored}, {state:?}",
                            c.key
                        ),
                    )),
                    (None, false, Some(EntryState::Pending)) => violations.push((
                        Property::HeldBack,
                        format!("{name}: {:?} still pending", c.key),
                    )),
                }
            }
            let made = device.next_mutation_id - 1;
            let last = self.world.last_processed(device.id).unwrap_or(0);
            // A clone and its original may share an id to the end, one of
            // them numbering past the other.
            if last != made && !(device.cloned && last > made) {
                violations.push((
                    Property::LastProcessedWrong,
                    format!(
                        "{}: server processed {} up to {last}, the device numbered {made}",
                        device.name, device.id
                    ),
                ));
            }
        }
        for (property, detail) in violations {
            self.violate(property, detail);
        }
    }
}

/// What a device does with an incident before it leaves (as the PWA does
/// with WebCrypto): its JSON under a fresh AES-256-GCM key, the key wrapped
/// with RSA-OAEP (SHA-256) for the server's public key, all base64; the
/// randomness from the seed, so a run replays.
fn seal(record: &IncidentRecord, key: &IncidentKey, rng: &mut ChaCha8Rng) -> SealedIncident {
    use aes_gcm::aead::{Aead, KeyInit};
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use rsa::pkcs8::DecodePublicKey;
    let der = STANDARD.decode(&key.spki).expect("spki");
    let public = rsa::RsaPublicKey::from_public_key_der(&der).expect("public key");
    let mut aes_key = [0u8; 32];
    let mut iv = [0u8; 12];
    rng.fill_bytes(&mut aes_key);
    rng.fill_bytes(&mut iv);
    let ciphertext = aes_gcm::Aes256Gcm::new_from_slice(&aes_key)
        .expect("key")
        .encrypt(
            aes_gcm::Nonce::from_slice(&iv),
            serde_json::to_vec(record).expect("json").as_slice(),
        )
        .expect("seal");
    let wrapped = public
        .encrypt(rng, rsa::Oaep::new::<sha2::Sha256>(), &aes_key)
        .expect("wrap");
    SealedIncident {
        id: record.id,
        device_id: record.device_id,
        key_id: key.key_id.clone(),
        wrapped_key: STANDARD.encode(wrapped),
        iv: STANDARD.encode(iv),
        ciphertext: STANDARD.encode(ciphertext),
    }
}

fn summarise(response: &PushResponse) -> Vec<(u64, String)> {
    response
        .results
        .iter()
        .map(|r| {
            let s = match &r.outcome {
                Outcome::Applied => "applied".into(),
                Outcome::Duplicate => "duplicate".into(),
                Outcome::Rejected { code, .. } => code.clone(),
            };
            (r.id, s)
        })
        .collect()
}

fn brief(result: &Result<PushResponse, AppError>) -> String {
    match result {
        Ok(response) => format!("200 {:?}", summarise(response)),
        Err(AppError::Conflict { code, .. }) => format!("409 {code}"),
        Err(e) => format!("error: {e}"),
    }
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
         haven_server --test sync_simulation -- --nocapture)\n"
    );
    for v in &result.violations {
        let _ = writeln!(out, "  step {}: {:?}: {}", v.step, v.property, v.detail);
    }
    out
}

/// Runs `seed`, a panic inside it (in the machine, or the server) counting as
/// a violation.
fn run_caught(world: &World, seed: u64, fault: Option<Fault>) -> RunResult {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(world, seed, fault, false)
    }))
    .unwrap_or_else(|_| RunResult {
        violations: vec![Violation {
            step: 0,
            property: Property::Panicked,
            detail: "panicked".into(),
        }],
        stats: Stats::default(),
        trace: None,
    })
}

fn run_range(seeds: std::ops::Range<u64>) -> (Stats, Vec<String>) {
    let mut stats = Stats::default();
    let mut failures = Vec::new();
    let mut world: Option<World> = None;
    for seed in seeds {
        if world.is_none() || seed % SEEDS_PER_DATABASE == 0 {
            world = Some(World::new());
        }
        let result = run_caught(world.as_ref().expect("world"), seed, None);
        stats.add(&result.stats);
        if !result.violations.is_empty() {
            failures.push(report(seed, &result));
        }
    }
    (stats, failures)
}

// ------------------------------------------------------------------ tests --

#[test]
fn nothing_lost_nothing_twice_nothing_held_back_over_10_000_seeds_against_the_real_push() {
    if let Some(seed) = env_u64("HAVEN_SIM_SEED") {
        let world = World::new();
        let result = run(&world, seed, None, true);
        println!("{}", result.trace.as_deref().unwrap_or_default());
        println!("{:#?}", result.stats);
        assert!(result.violations.is_empty(), "{}", report(seed, &result));
        return;
    }
    // On PostgreSQL every statement is a round trip: fewer seeds, the same
    // properties (the simulator's own power is shown on SQLite below).
    let default_runs = if postgres_base().is_some() {
        RUNS_ON_POSTGRES
    } else {
        RUNS
    };
    let runs = env_u64("HAVEN_SIM_RUNS").unwrap_or(default_runs);
    #[allow(clippy::disallowed_methods)] // native test, not wasm: the clock is fine here
    let started = std::time::Instant::now();
    // Two halves on two threads, each with its own databases.
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
    let s = stats;
    println!(
        "sync simulation: {runs} seeds, {} devices, {} records ({} agreements, {} visits, {} \
         ends, {} incidents; {} never acceptable), {} pushes; lost {}, duplicated {}, held back \
         {}; conflicts detected {} ({} clones), new ids taken {}, strangers refused {}, jumps \
         refused {}, replays under another credential {}; {:.1} s",
        s.devices,
        s.records,
        s.agreements,
        s.visits,
        s.ends,
        s.incidents,
        s.never_acceptable,
        s.pushes,
        s.lost,
        s.duplicated,
        s.held_back,
        s.conflicts_detected,
        s.clones,
        s.new_ids_taken,
        s.strangers_refused,
        s.jumps_refused,
        s.replays_under_another_credential,
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed:\n{}",
        failures.len(),
        failures.iter().take(5).cloned().collect::<String>()
    );
    println!("{s:#?}");
    if runs == RUNS {
        // The runs are only worth something if the hard cases happen in them.
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
            ("rejections settled", s.rejections_settled),
            ("incidents", s.incidents),
            ("visit ends", s.ends),
            ("clones", s.clones),
            ("conflicts detected", s.conflicts_detected),
            ("new ids taken", s.new_ids_taken),
            ("strangers refused", s.strangers_refused),
            ("jumps refused", s.jumps_refused),
            (
                "replays under another credential",
                s.replays_under_another_credential,
            ),
        ] {
            assert!(count >= 100, "only {count} {what} in {runs} runs");
        }
    }
}

/// Runs seeds with `fault` in the real push until one breaks one of
/// `properties`; prints what it caught.
fn caught(fault: Fault, properties: &[Property]) -> bool {
    if postgres_base().is_some() {
        // What this shows is the simulator's power, not the database's: once is enough.
        println!("(shown on SQLite: skipped on PostgreSQL)");
        return true;
    }
    let world = World::new();
    for seed in 0..2_000 {
        let result = run_caught(&world, seed, Some(fault));
        if let Some(v) = result
            .violations
            .iter()
            .find(|v| properties.contains(&v.property))
        {
            println!(
                "{fault:?} caught by seed {seed}: {:?}: {}",
                v.property, v.detail
            );
            return true;
        }
    }
    false
}

#[test]
fn the_simulation_catches_a_push_that_answers_duplicate_to_a_replayed_rejection() {
    // A refused record whose reply was lost is sent again; `duplicate` makes
    // the device delete it as if stored.
    assert!(caught(
        Fault::DuplicateForReplayedRejection,
        &[Property::Lost]
    ));
}

#[test]
fn the_simulation_catches_a_push_that_does_not_compare_a_replays_digest() {
    // A clone's record under a number the other device used is answered as a
    // replay, and the clone deletes a record the server never stored.
    assert!(caught(Fault::IgnoreDigest, &[Property::Lost]));
}

#[test]
fn the_simulation_catches_a_push_that_lets_a_jump_through() {
    // The device's next real records fall under the jump and are answered
    // as replays of numbers nothing was stored under.
    assert!(caught(Fault::IgnoreGap, &[Property::Lost]));
}

#[test]
fn the_simulation_catches_a_push_that_lets_a_stranger_use_a_device_id() {
    // The stranger's push binds the id to itself; the device, sent away,
    // takes a new id, and its records made under the old one are refused.
    assert!(caught(
        Fault::IgnoreOwner,
        &[Property::Lost, Property::HeldBack]
    ));
}

#[test]
fn the_simulation_catches_a_push_that_does_not_move_last_mutation_id_on() {
    // Every later push looks like a jump: honest devices are told their id
    // is not theirs with no clone about.
    assert!(caught(
        Fault::SkipLastMutationId,
        &[Property::FalseConflict]
    ));
}

#[test]
fn a_seed_replays_the_same_run() {
    let a = run(&World::new(), 42, None, true);
    let b = run(&World::new(), 42, None, true);
    assert_eq!(a.trace, b.trace);
    assert!(a.stats.pushes > 0);
}
