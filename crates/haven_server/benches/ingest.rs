//! Server ingest under load, on SQLite and on PostgreSQL (one server, then two
//! on one database), beside the server's own push code called without HTTP as
//! the ceiling. Prints numbers; no thresholds. Run by `cargo xtask bench`
//! (which builds the release server first and starts a throwaway PostgreSQL
//! cluster for the PostgreSQL columns), or alone after
//! `cargo build --release -p haven_server`:
//!
//! ```sh
//! cargo bench -p haven_server --bench ingest                  # SQLite only
//! HAVEN_BENCH_POSTGRES=postgres://postgres@127.0.0.1:PORT/postgres \
//!   cargo bench -p haven_server --bench ingest                # and PostgreSQL
//! ```
//!
//! (`cargo xtask postgres` starts a cluster and prints such a URL.)
//!
//! The load: 50 simulated devices push 20 batches of 100 visitor agreements,
//! one batch after another (the next after the reply, as the PWA does), all
//! devices at once: the saturating **burst**. Every request is built (and for
//! HTTP serialised) before the clock starts; a push's latency runs from
//! sending it to the reply's last byte (or `apply_push`'s return), retries
//! counted as pushes of their own. A 5xx (or, in process, a database error) is
//! retried after the PWA's backoff. Then the same again at **half load**: each
//! device pushes 10 batches (half as many, so the run lasts about as long as
//! the burst), paced so that together they offer half the records/s the burst
//! achieved; each device's first push is staggered across one period. Its
//! latencies show the server below saturation; its achieved records/s is
//! printed beside the offered rate.
//!
//! Every run (burst or half load, in every column) gets a fresh database, and
//! after it the bench checks that every agreement was stored and that the
//! ledger holds one intact entry for each (`haven_server::store::ledger::verify`).
//!
//! The columns:
//!
//! 1. **SQLite**: the release `haven_server` binary as its own process on
//!    127.0.0.1 (port 0) with a fresh SQLite file (WAL, `synchronous = FULL`).
//!    Each device is a reception kiosk enrolled through the API with its own
//!    token and HTTP client.
//! 2. **PG, 1 server**: the same, the server on a fresh PostgreSQL database
//!    (`--database postgres://…`, `--key-dir`).
//! 3. **PG, 2 servers**: two release servers on one fresh database with the
//!    same `--key-dir`; the devices are enrolled through the first, and each
//!    device alternates its pushes between the two (device d sends batch b to
//!    server (d + b) mod 2), so every device's numbering continues on the
//!    other server each time.
//! 4. **ceiling SQLite** and 5. **ceiling PG**: no HTTP, no JSON, no token
//!    check: the same 50 devices call `haven_server::store::push::apply_push`, the
//!    push route's own code, in this process, on a pool opened by
//!    `haven_server::store::db::connect` (the server's pool, pragmas and write lock),
//!    as enrolled kiosks. So every column of every agreement, its ledger entry
//!    and the device bookkeeping are written exactly as the server writes
//!    them. (The bench links the library with the `sim-faults` feature, as
//!    every dev build of this crate does; no fault is turned on, so each check
//!    costs one atomic load.)
//!
//! Each server and this load generator share the machine (and, for the PG
//! columns, the PostgreSQL server too). The servers log at `warn`, without
//! sqlx's slow-statement warnings (one a push under load).
//!
//! Environment: `HAVEN_SERVER_BIN` (default `target/release/haven_server`),
//! `HAVEN_BENCH_POSTGRES` (a PostgreSQL superuser URL; each PostgreSQL run
//! creates its own database there and drops it after; unset, the PostgreSQL
//! columns are skipped), `BENCH_DEVICES` (50), `BENCH_BATCHES` (20),
//! `BENCH_HALF_BATCHES` (half of `BENCH_BATCHES`, rounded up), `BENCH_BATCH`
//! (100), `BENCH_TIMEOUT_S` (1200, for the whole run: a guard against a hang,
//! not a judgement) and `HAVEN_BENCH_OUT`: a file to which `label<TAB>value`
//! summary lines are appended for `cargo xtask bench`.

// A native benchmark: reading the clock is the point, and it cannot run on wasm32.
#![allow(clippy::disallowed_methods)]

use haven_core::agreement::AgreementRecord;
use haven_core::hash::Sha256Hex;
use haven_core::policy::text_hash;
use haven_core::sync::backoff::retry_delay_ms;
use haven_core::sync::wire::{Change, Mutation, Outcome, PushRequest, PushResponse};
use haven_server::crypto::incident_key::IncidentKeyStore;
use haven_server::crypto::keys::ServerKey;
use haven_server::http::auth::{Caller, DeviceCaller};
use haven_server::store::db::Database;
use haven_server::store::demo::{self, OAKFIELD_ID, VISITOR_AUA_VERSION_ID};
use haven_server::store::push::{apply_push, PushKeys};
use haven_server::AppError;
use sqlx::{AnyPool, Connection};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Longest a single push may take before the bench gives up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest the server may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(30);

struct Settings {
    server_bin: PathBuf,
    devices: usize,
    batches: usize,
    half_batches: usize,
    batch: usize,
    timeout_s: u64,
    out: Option<PathBuf>,
    /// A PostgreSQL superuser URL, where each PostgreSQL run makes its database.
    postgres: Option<String>,
}

impl Settings {
    fn from_env() -> Result<Settings, String> {
        let number = |name: &str, default: usize| -> Result<usize, String> {
            match std::env::var(name) {
                Ok(v) => v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{name}={v:?} is not a positive whole number")),
                Err(_) => Ok(default),
            }
        };
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let batches = number("BENCH_BATCHES", 20)?;
        let settings = Settings {
            server_bin: std::env::var_os("HAVEN_SERVER_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace.join("target/release/haven_server")),
            devices: number("BENCH_DEVICES", 50)?,
            batches,
            half_batches: number("BENCH_HALF_BATCHES", batches.div_ceil(2))?,
            batch: number("BENCH_BATCH", 100)?,
            timeout_s: number("BENCH_TIMEOUT_S", 1200)? as u64,
            out: std::env::var_os("HAVEN_BENCH_OUT").map(PathBuf::from),
            postgres: std::env::var("HAVEN_BENCH_POSTGRES")
                .ok()
                .filter(|url| !url.is_empty()),
        };
        if settings.batch > haven_core::sync::wire::MAX_BATCH {
            return Err(format!(
                "BENCH_BATCH={} is over the server's limit of {}",
                settings.batch,
                haven_core::sync::wire::MAX_BATCH
            ));
        }
        if !settings.server_bin.exists() {
            return Err(format!(
                "{} does not exist; run `cargo build --release -p haven_server` first",
                settings.server_bin.display()
            ));
        }
        Ok(settings)
    }
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; this harness has no options of its own.
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ingest bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // Dropping the run on time-out kills the servers and removes the temp folder.
    let limit = Duration::from_secs(settings.timeout_s);
    let outcome = runtime.block_on(async {
        tokio::time::timeout(limit, run(&settings))
            .await
            .unwrap_or_else(|_| Err(format!("gave up after {} s", settings.timeout_s)))
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ingest bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Store {
    Sqlite,
    Postgres,
}

#[derive(Clone, Copy)]
enum Via {
    /// Release servers as child processes, pushed to over HTTP.
    Http { servers: usize },
    /// `apply_push` called in this process: the ceiling.
    Library,
}

struct Scenario {
    /// The table's column heading.
    column: &'static str,
    /// The summary lines' name for it.
    label: &'static str,
    store: Store,
    via: Via,
}

const SCENARIOS: [Scenario; 5] = [
    Scenario {
        column: "SQLite",
        label: "SQLite, 1 server",
        store: Store::Sqlite,
        via: Via::Http { servers: 1 },
    },
    Scenario {
        column: "PG, 1 server",
        label: "PostgreSQL, 1 server",
        store: Store::Postgres,
        via: Via::Http { servers: 1 },
    },
    Scenario {
        column: "PG, 2 servers",
        label: "PostgreSQL, 2 servers (alternating)",
        store: Store::Postgres,
        via: Via::Http { servers: 2 },
    },
    Scenario {
        column: "ceiling SQLite",
        label: "ceiling (apply_push, no HTTP), SQLite",
        store: Store::Sqlite,
        via: Via::Library,
    },
    Scenario {
        column: "ceiling PG",
        label: "ceiling (apply_push, no HTTP), PostgreSQL",
        store: Store::Postgres,
        via: Via::Library,
    },
];

impl Scenario {
    /// The ceiling on the same database, for an HTTP column.
    fn ceiling(&self) -> Option<usize> {
        match self.via {
            Via::Http { .. } => SCENARIOS
                .iter()
                .position(|s| matches!(s.via, Via::Library) && s.store == self.store),
            Via::Library => None,
        }
    }
}

/// How the devices push.
#[derive(Clone, Copy)]
enum Load {
    /// As fast as each gets replies.
    Burst,
    /// All devices together offering this many records a second.
    Paced { records_per_s: f64 },
}

/// One column's two runs.
struct Measured {
    burst: RunResult,
    /// What the half-load run offered: half the burst's records/s.
    offered: f64,
    half: RunResult,
}

async fn run(settings: &Settings) -> Result<(), String> {
    let scratch = tempfile::Builder::new()
        .prefix("haven-bench-")
        .tempdir()
        .map_err(|e| format!("creating a temp folder: {e}"))?;
    let postgres_version = match &settings.postgres {
        Some(admin) => Some(server_version(admin).await?),
        None => None,
    };
    let mut results: Vec<Option<Measured>> = Vec::with_capacity(SCENARIOS.len());
    for (n, scenario) in SCENARIOS.iter().enumerate() {
        if scenario.store == Store::Postgres && settings.postgres.is_none() {
            results.push(None);
            continue;
        }
        eprintln!("ingest bench: {}, burst", scenario.label);
        let burst = measure(settings, scratch.path(), scenario, Load::Burst, 2 * n).await?;
        let offered = burst.records_per_s / 2.0;
        eprintln!(
            "ingest bench: {}, half load ({offered:.0} records/s offered)",
            scenario.label
        );
        let half = measure(
            settings,
            scratch.path(),
            scenario,
            Load::Paced {
                records_per_s: offered,
            },
            2 * n + 1,
        )
        .await?;
        results.push(Some(Measured {
            burst,
            offered,
            half,
        }));
    }
    print_table(settings, postgres_version.as_deref(), &results);
    if let Some(out) = &settings.out {
        write_summary(settings, out, &results)?;
    }
    Ok(())
}

/// The figures side by side: one column per scenario.
fn print_table(settings: &Settings, postgres_version: Option<&str>, results: &[Option<Measured>]) {
    let burst_records = settings.devices * settings.batches * settings.batch;
    let half_records = settings.devices * settings.half_batches * settings.batch;
    println!();
    println!(
        "Server ingest: {} devices at once, each pushing {}-record batches one after another.",
        settings.devices, settings.batch
    );
    println!(
        "  burst: {} batches a device ({burst_records} records), as fast as the replies come;",
        settings.batches
    );
    println!(
        "  half load: {} batches a device ({half_records} records; fewer, to keep the run short), \
         paced to half the burst's records/s.",
        settings.half_batches
    );
    println!(
        "  SQLite: release haven_server, WAL file in a temp folder. PG: PostgreSQL {}, release \
         haven_server(s);",
        postgres_version.unwrap_or("(skipped)")
    );
    println!(
        "  2 servers: one database, one --key-dir, each device alternating its pushes between them."
    );
    println!(
        "  ceiling: haven_server::store::push::apply_push in-process on the server's pool (every column, \
         the ledger, device bookkeeping; no HTTP, JSON or token check)."
    );
    println!("  A fresh database for every run; the load generator shares the machine.");
    let cell = |i: usize, f: &dyn Fn(&Measured) -> String| -> String {
        results[i].as_ref().map_or_else(|| "skipped".to_owned(), f)
    };
    let mut header = format!("  {:<24}", "");
    for scenario in &SCENARIOS {
        header.push_str(&format!(" {:>15}", scenario.column));
    }
    println!("{header}");
    let line = |label: &str, f: &dyn Fn(usize, &Measured) -> String| {
        let mut text = format!("  {label:<24}");
        for i in 0..SCENARIOS.len() {
            text.push_str(&format!(" {:>15}", cell(i, &|m| f(i, m))));
        }
        println!("{text}");
    };
    line("burst records/s", &|_, m| {
        format!("{:.0}", m.burst.records_per_s)
    });
    line("burst p50", &|_, m| ms(m.burst.p50));
    line("burst p99", &|_, m| ms(m.burst.p99));
    line("burst max", &|_, m| ms(m.burst.max));
    line("burst failed pushes", &|_, m| {
        format!("{} of {}", m.burst.failed, m.burst.requests)
    });
    line("burst wall time", &|_, m| {
        format!("{:.1} s", m.burst.wall.as_secs_f64())
    });
    line("half load offered rec/s", &|_, m| {
        format!("{:.0}", m.offered)
    });
    line("half load achieved rec/s", &|_, m| {
        format!("{:.0}", m.half.records_per_s)
    });
    line("half load p50", &|_, m| ms(m.half.p50));
    line("half load p99", &|_, m| ms(m.half.p99));
    line("half load failed pushes", &|_, m| {
        format!("{} of {}", m.half.failed, m.half.requests)
    });
    line(
        "burst / its ceiling",
        &|i, m| match ratio_to_ceiling(i, m, results) {
            Some(r) => format!("{:.0} %", r * 100.0),
            None => "-".to_owned(),
        },
    );
    for (scenario, result) in SCENARIOS.iter().zip(results) {
        let Some(m) = result else { continue };
        for (load, run) in [("burst", &m.burst), ("half load", &m.half)] {
            if let Some(first) = &run.first_failure {
                println!(
                    "  {}, {load}: failed pushes were retried after the PWA's backoff; the first: {first}",
                    scenario.column
                );
            }
        }
    }
    if settings.postgres.is_none() {
        println!(
            "  PostgreSQL skipped: HAVEN_BENCH_POSTGRES is not set (`cargo xtask bench` sets it)."
        );
    }
}

/// An HTTP column's burst records/s over its ceiling's, when both ran.
fn ratio_to_ceiling(i: usize, m: &Measured, results: &[Option<Measured>]) -> Option<f64> {
    let ceiling = results[SCENARIOS[i].ceiling()?].as_ref()?;
    Some(m.burst.records_per_s / ceiling.burst.records_per_s)
}

/// Appends the `label<TAB>value` lines `cargo xtask bench` summarises.
fn write_summary(
    settings: &Settings,
    out: &Path,
    results: &[Option<Measured>],
) -> Result<(), String> {
    let mut lines = Vec::new();
    for (i, (scenario, result)) in SCENARIOS.iter().zip(results).enumerate() {
        let Some(m) = result else {
            if i == 1 {
                lines.push((
                    "ingest, PostgreSQL".to_owned(),
                    "skipped (HAVEN_BENCH_POSTGRES not set)".to_owned(),
                ));
            }
            continue;
        };
        lines.push((
            format!(
                "ingest burst, {} devices x {}-record pushes, {}",
                settings.devices, settings.batch, scenario.label
            ),
            format!(
                "{:.0} records/s, p50 {}, p99 {}, {} of {} pushes failed (retried)",
                m.burst.records_per_s,
                ms(m.burst.p50),
                ms(m.burst.p99),
                m.burst.failed,
                m.burst.requests
            ),
        ));
        lines.push((
            format!("ingest half load, {}", scenario.label),
            format!(
                "{:.0} records/s offered, {:.0} achieved ({} pushes a device), p50 {}, p99 {}",
                m.offered,
                m.half.records_per_s,
                settings.half_batches,
                ms(m.half.p50),
                ms(m.half.p99)
            ),
        ));
    }
    for (i, (scenario, result)) in SCENARIOS.iter().zip(results).enumerate() {
        let Some(m) = result else { continue };
        if let Some(r) = ratio_to_ceiling(i, m, results) {
            lines.push((
                format!("ingest burst / its ceiling, {}", scenario.label),
                format!("{r:.2} ({:.0} %)", r * 100.0),
            ));
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .map_err(|e| format!("opening {}: {e}", out.display()))?;
    for (label, value) in lines {
        writeln!(file, "{label}\t{value}").map_err(|e| format!("writing results: {e}"))?;
    }
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The PostgreSQL server's version, for the table.
async fn server_version(admin: &str) -> Result<String, String> {
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .map_err(|e| format!("connecting to HAVEN_BENCH_POSTGRES: {e}"))?;
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| format!("asking PostgreSQL its version: {e}"))?;
    let _ = conn.close().await;
    Ok(version)
}

/// The database of one run: a SQLite file in the temp folder, or a new
/// database on the PostgreSQL server, dropped by [`FreshDatabase::remove`].
struct FreshDatabase {
    database: Database,
    /// The superuser URL and the database's name.
    postgres: Option<(String, String)>,
}

impl FreshDatabase {
    async fn new(settings: &Settings, dir: &Path, store: Store) -> Result<FreshDatabase, String> {
        match store {
            Store::Sqlite => Ok(FreshDatabase {
                database: Database::Sqlite(dir.join("haven.sqlite3")),
                postgres: None,
            }),
            Store::Postgres => {
                let admin = settings
                    .postgres
                    .as_deref()
                    .ok_or("no PostgreSQL to run on")?;
                let name = format!(
                    "haven_bench_{}_{}",
                    std::process::id(),
                    Uuid::new_v4().simple()
                );
                let mut conn = sqlx::PgConnection::connect(admin)
                    .await
                    .map_err(|e| format!("connecting to HAVEN_BENCH_POSTGRES: {e}"))?;
                sqlx::raw_sql(&format!(
                    "CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'"
                ))
                .execute(&mut conn)
                .await
                .map_err(|e| format!("creating database {name}: {e}"))?;
                let _ = conn.close().await;
                let mut url = url::Url::parse(admin)
                    .map_err(|e| format!("HAVEN_BENCH_POSTGRES is not a URL: {e}"))?;
                url.set_path(&name);
                Ok(FreshDatabase {
                    database: Database::Postgres(url.to_string()),
                    postgres: Some((admin.to_owned(), name)),
                })
            }
        }
    }

    /// Drops a PostgreSQL run's database (a SQLite file goes with its folder).
    async fn remove(self) {
        let Some((admin, name)) = self.postgres else {
            return;
        };
        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
            if let Err(e) =
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
            {
                eprintln!("ingest bench: could not drop database {name}: {e}");
            }
            let _ = conn.close().await;
        }
    }
}

/// One run on a fresh database, checked: every agreement stored, each with
/// its ledger entry, the chain intact.
async fn measure(
    settings: &Settings,
    scratch: &Path,
    scenario: &Scenario,
    load: Load,
    n: usize,
) -> Result<RunResult, String> {
    let dir = scratch.join(format!("run-{n}"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let batches = match load {
        Load::Burst => settings.batches,
        Load::Paced { .. } => settings.half_batches,
    };
    let fresh = FreshDatabase::new(settings, &dir, scenario.store).await?;
    let outcome = async {
        let result = match scenario.via {
            Via::Http { servers } => {
                over_http(settings, &dir, &fresh.database, servers, load, batches).await?
            }
            Via::Library => in_process(settings, &fresh.database, load, batches).await?,
        };
        check_stored(&fresh.database, result.records).await?;
        Ok::<_, String>(result)
    }
    .await;
    fresh.remove().await;
    // 100,000 agreements are a few hundred MB of SQLite: none is kept.
    let _ = std::fs::remove_dir_all(&dir);
    outcome.map_err(|e| format!("{}: {e}", scenario.label))
}

async fn check_stored(database: &Database, expected: usize) -> Result<(), String> {
    let pool = haven_server::store::db::connect(database)
        .await
        .map_err(|e| e.to_string())?;
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agreements")
        .fetch_one(&pool)
        .await
        .map_err(|e| e.to_string())?;
    let verified = haven_server::store::ledger::verify(&pool)
        .await
        .map_err(|e| e.to_string());
    pool.close().await;
    let (entries, breaks) = verified?;
    if usize::try_from(stored).ok() != Some(expected) {
        return Err(format!("{stored} agreements stored, expected {expected}"));
    }
    if entries != expected {
        return Err(format!("{entries} ledger entries, expected {expected}"));
    }
    if let Some(first) = breaks.first() {
        return Err(format!(
            "the ledger has {} breaks; the first: {first}",
            breaks.len()
        ));
    }
    Ok(())
}

struct RunResult {
    wall: Duration,
    records: usize,
    /// Every push sent, retries included.
    requests: usize,
    /// Pushes answered with a 5xx (in process: a database error); each was retried.
    failed: usize,
    first_failure: Option<String>,
    records_per_s: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

/// The demo visitor agreement: what every simulated signature is for.
struct Visitor {
    version_id: Uuid,
    text_sha256: Sha256Hex,
}

impl Visitor {
    fn demo() -> Visitor {
        let v = demo::policy_versions()
            .into_iter()
            .find(|v| v.id == VISITOR_AUA_VERSION_ID)
            .expect("the demo data has the visitor agreement");
        Visitor {
            version_id: v.id,
            text_sha256: text_hash(&v.title, &v.body_markdown),
        }
    }

    /// Signature number `n`, as the PWA builds one.
    fn record(&self, device_id: Uuid, n: usize) -> AgreementRecord {
        AgreementRecord {
            id: Uuid::now_v7(),
            policy_version_id: self.version_id,
            policy_text_sha256: self.text_sha256.clone(),
            signer_name: format!("Bench Visitor {n:07}"),
            agreed: true,
            // 2026-09-01 plus one second per signature: plausible and distinct.
            signed_at: 1_788_220_800_000 + i64::try_from(n).unwrap_or(0) * 1_000,
            device_id,
            ..Default::default()
        }
    }
}

/// Each device's id and its pushes, in order.
fn plan(settings: &Settings, batches: usize) -> Vec<(Uuid, Vec<PushRequest>)> {
    let visitor = Visitor::demo();
    (0..settings.devices)
        .map(|d| {
            let device_id = Uuid::now_v7();
            let requests = (0..batches)
                .map(|b| PushRequest {
                    device_secret: None,
                    device_id,
                    mutations: (0..settings.batch)
                        .map(|i| {
                            let n = b * settings.batch + i;
                            Mutation {
                                proof: None,
                                id: u64::try_from(n + 1).expect("fits"),
                                change: Change::CreateAgreement(
                                    visitor.record(device_id, d * batches * settings.batch + n),
                                ),
                            }
                        })
                        .collect(),
                    // What the PWA reports: waiting on the device, this batch included.
                    backlog: u64::try_from((batches - b) * settings.batch).expect("fits"),
                })
                .collect();
            (device_id, requests)
        })
        .collect()
}

/// The release server as a child process, killed when dropped.
struct ServerProcess {
    child: Child,
    base: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(bin: &Path, dir: &Path, database: &Database) -> Result<ServerProcess, String> {
    let static_dir = dir.join("static");
    std::fs::create_dir_all(&static_dir).map_err(|e| format!("creating {static_dir:?}: {e}"))?;
    let mut command = Command::new(bin);
    command.args(["--bind", "127.0.0.1:0", "--demo", "--database"]);
    match database {
        Database::Sqlite(path) => command.arg(path),
        // Every server on the database shares the keys, so each accepts what another made.
        Database::Postgres(url) => command.arg(url).arg("--key-dir").arg(dir.join("keys")),
    };
    let mut child = command
        .arg("--static-dir")
        .arg(&static_dir)
        // One log line per push would measure the terminal, not the server;
        // so would sqlx's warning for each statement slower than a second.
        .env("RUST_LOG", "warn,sqlx::query=error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let stdout = child.stdout.take().expect("piped stdout");
    // The server prints its address first; read it on a thread so a server that
    // never prints cannot hang the bench.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next();
        let _ = tx.send(first);
        // Keep draining so the server never blocks on a full pipe.
        for _ in lines {}
    });
    let mut server = ServerProcess {
        child,
        base: String::new(),
    };
    let line = match rx.recv_timeout(START_TIMEOUT) {
        Ok(Some(Ok(line))) => line,
        Ok(_) => return Err("haven_server exited before printing its address".into()),
        Err(_) => return Err("haven_server did not start in time".into()),
    };
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .ok_or_else(|| format!("unexpected first line from haven_server: {line:?}"))?;
    server.base = base.trim_end_matches('/').to_owned();
    Ok(server)
}

/// Most tries of one batch before the bench gives up.
const MAX_ATTEMPTS: u32 = 8;

/// What one simulated device saw.
#[derive(Default)]
struct DeviceLog {
    /// Every push, from sending it to the last byte of the reply, failures included.
    latencies: Vec<Duration>,
    failed: usize,
    first_failure: Option<String>,
}

/// A small deterministic random source for retry jitter (xorshift).
struct Jitter(u64);

impl Jitter {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What the in-process push needs besides the pool, as the server holds it.
struct Keys {
    server_key: ServerKey,
    incident_key: IncidentKeyStore,
}

/// How one device pushes.
enum Sender {
    /// Over HTTP with its own client and token; batch `b` of device `d`
    /// goes to `urls[(d + b) % urls.len()]`.
    Http {
        client: reqwest::Client,
        urls: Arc<Vec<String>>,
        bodies: Vec<Vec<u8>>,
    },
    /// Straight into `apply_push`, as the push route calls it.
    Library {
        pool: AnyPool,
        keys: Arc<Keys>,
        caller: Caller,
        requests: Vec<PushRequest>,
    },
}

/// One try of one push.
enum Attempt {
    Answered(PushResponse),
    /// A 5xx, or in process an error the route would answer with one.
    Retry(String),
    Fatal(String),
}

impl Sender {
    fn batches(&self) -> usize {
        match self {
            Sender::Http { bodies, .. } => bodies.len(),
            Sender::Library { requests, .. } => requests.len(),
        }
    }

    /// Sends batch `b` once: its latency and what came of it.
    async fn attempt(&self, d: usize, b: usize) -> (Duration, Attempt) {
        match self {
            Sender::Http {
                client,
                urls,
                bodies,
            } => {
                let url = &urls[(d + b) % urls.len()];
                let payload = bodies[b].clone();
                let sent = Instant::now();
                let response = match client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(payload)
                    .send()
                    .await
                {
                    Ok(r) => r,
                    Err(e) => return (sent.elapsed(), Attempt::Fatal(format!("push: {e}"))),
                };
                let status = response.status();
                let bytes = response.bytes().await;
                let latency = sent.elapsed();
                let bytes = match bytes {
                    Ok(b) => b,
                    Err(e) => return (latency, Attempt::Fatal(format!("push reply: {e}"))),
                };
                let text = || String::from_utf8_lossy(&bytes).into_owned();
                let outcome = if status.is_server_error() {
                    Attempt::Retry(format!("{status}: {}", text()))
                } else if !status.is_success() {
                    Attempt::Fatal(format!("push answered {status}: {}", text()))
                } else {
                    match serde_json::from_slice(&bytes) {
                        Ok(reply) => Attempt::Answered(reply),
                        Err(e) => Attempt::Fatal(format!("reading a push reply: {e}")),
                    }
                };
                (latency, outcome)
            }
            Sender::Library {
                pool,
                keys,
                caller,
                requests,
            } => {
                let push_keys = PushKeys {
                    server_key: &keys.server_key,
                    incident_key: &keys.incident_key,
                    opens: None,
                };
                let sent = Instant::now();
                let now = haven_server::clock::now_ms();
                let result = apply_push(pool, &requests[b], now, caller, push_keys).await;
                let latency = sent.elapsed();
                let outcome = match result {
                    Ok(reply) => Attempt::Answered(reply),
                    // What the route answers with a 5xx.
                    Err(
                        e @ (AppError::Database(_)
                        | AppError::Internal(_)
                        | AppError::Busy { .. }
                        | AppError::DatabaseUnavailable),
                    ) => Attempt::Retry(e.to_string()),
                    Err(e) => Attempt::Fatal(format!("apply_push: {e}")),
                };
                (latency, outcome)
            }
        }
    }
}

/// Pushes one batch until the server stores it, as the PWA does: a 5xx reply
/// is retried after the PWA's backoff (haven_core's `retry_delay_ms`); the
/// protocol makes a retry harmless. A 4xx, or a batch not wholly applied, is
/// an error.
async fn push_until_stored(
    sender: &Sender,
    d: usize,
    b: usize,
    batch: usize,
    log: &mut DeviceLog,
    jitter: &mut Jitter,
) -> Result<(), String> {
    for attempt in 0..MAX_ATTEMPTS {
        let (latency, outcome) = sender.attempt(d, b).await;
        log.latencies.push(latency);
        let reply = match outcome {
            Attempt::Answered(reply) => reply,
            Attempt::Fatal(e) => return Err(e),
            Attempt::Retry(e) => {
                log.failed += 1;
                log.first_failure.get_or_insert(e);
                let delay = retry_delay_ms(attempt, jitter.next());
                tokio::time::sleep(Duration::from_millis(delay)).await;
                continue;
            }
        };
        // A retried batch may have been stored by the try whose reply failed.
        let stored = reply
            .results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Applied | Outcome::Duplicate))
            .count();
        if stored != batch {
            return Err(format!(
                "only {stored} of {batch} mutations were stored: {:?}",
                reply
                    .results
                    .iter()
                    .find(|r| !matches!(r.outcome, Outcome::Applied | Outcome::Duplicate))
            ));
        }
        return Ok(());
    }
    Err(format!(
        "a batch failed {MAX_ATTEMPTS} times; first failure: {}",
        log.first_failure.as_deref().unwrap_or("?")
    ))
}

/// Every device at once, under `load`; the clock runs from the start signal
/// to the last device's last reply.
async fn drive(senders: Vec<Sender>, load: Load, batch: usize) -> Result<RunResult, String> {
    let devices = senders.len();
    let records: usize = senders.iter().map(|s| s.batches() * batch).sum();
    // Each device pushes once a period, so that all together offer the rate.
    let period = match load {
        Load::Burst => None,
        Load::Paced { records_per_s } => Some(Duration::from_secs_f64(
            (devices * batch) as f64 / records_per_s,
        )),
    };
    let start = Arc::new(tokio::sync::Barrier::new(devices + 1));
    let mut tasks = Vec::with_capacity(devices);
    for (d, sender) in senders.into_iter().enumerate() {
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let origin = tokio::time::Instant::now();
            let mut log = DeviceLog::default();
            // Each device's own jitter, reproducible run to run.
            let mut jitter = Jitter(0x9e37_79b9_7f4a_7c15 ^ u64::try_from(d).unwrap_or(0));
            for b in 0..sender.batches() {
                if let Some(period) = period {
                    // Staggered across the first period, then one push a period
                    // (at once if the last reply came late).
                    let due = origin
                        + period.mul_f64(d as f64 / devices as f64)
                        + period.mul_f64(b as f64);
                    tokio::time::sleep_until(due).await;
                }
                push_until_stored(&sender, d, b, batch, &mut log, &mut jitter).await?;
            }
            Ok::<_, String>(log)
        }));
    }
    start.wait().await;
    let began = Instant::now();
    let mut latencies = Vec::new();
    let mut failed = 0;
    let mut first_failure = None;
    for task in tasks {
        let log = task.await.map_err(|e| e.to_string())??;
        latencies.extend(log.latencies);
        failed += log.failed;
        first_failure = first_failure.or(log.first_failure);
    }
    let wall = began.elapsed();

    latencies.sort();
    let pick = |q: f64| {
        let rank = ((latencies.len() as f64) * q).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1]
    };
    Ok(RunResult {
        wall,
        records,
        requests: latencies.len(),
        failed,
        first_failure,
        records_per_s: records as f64 / wall.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
        max: *latencies.last().expect("at least one push"),
    })
}

/// The demo trust admin's session, to enrol the devices.
async fn sign_in(base: &str) -> Result<String, String> {
    let reply: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({
            "email": haven_server::store::demo::ADMIN_EMAIL,
            "password": haven_server::store::demo::ADMIN_PASSWORD,
        }))
        .send()
        .await
        .map_err(|e| format!("sign-in: {e}"))?
        .json()
        .await
        .map_err(|e| format!("sign-in reply: {e}"))?;
    reply["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("the demo admin could not sign in: {reply}"))
}

/// Enrols `device_id` as one of Oakfield's reception kiosks, as an admin
/// would with a code on the tablet, and returns its token: each device
/// pushes with its own credential, as real kiosks do (one credential may
/// start only so many device ids, and push only so often).
async fn enrol_kiosk(base: &str, admin: &str, device_id: Uuid, n: usize) -> Result<String, String> {
    let client = reqwest::Client::new();
    let code: serde_json::Value = client
        .post(format!("{base}/api/v1/devices/codes"))
        .bearer_auth(admin)
        .json(&serde_json::json!({
            "academy_id": haven_server::store::demo::OAKFIELD_ID,
            "kind": "reception_kiosk",
            "label": format!("Bench desk {n}"),
        }))
        .send()
        .await
        .map_err(|e| format!("enrolment code: {e}"))?
        .json()
        .await
        .map_err(|e| format!("enrolment code reply: {e}"))?;
    let enrolled: serde_json::Value = client
        .post(format!("{base}/api/v1/devices/enrol"))
        .json(&serde_json::json!({"code": code["code"], "sync_device_id": device_id}))
        .send()
        .await
        .map_err(|e| format!("enrolment: {e}"))?
        .json()
        .await
        .map_err(|e| format!("enrolment reply: {e}"))?;
    enrolled["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("device {n} could not enrol: {enrolled}"))
}

/// `servers` release servers on `database`, started one after another (the
/// first migrates it and loads the demo data), the devices enrolled through
/// the first, then pushing over HTTP.
async fn over_http(
    settings: &Settings,
    dir: &Path,
    database: &Database,
    servers: usize,
    load: Load,
    batches: usize,
) -> Result<RunResult, String> {
    let mut instances = Vec::with_capacity(servers);
    for _ in 0..servers {
        instances.push(start_server(&settings.server_bin, dir, database)?);
    }
    let first = instances[0].base.clone();
    let admin = sign_in(&first).await?;
    let urls: Arc<Vec<String>> = Arc::new(
        instances
            .iter()
            .map(|s| format!("{}/api/v1/sync/push", s.base))
            .collect(),
    );

    // Every body is made before the clock starts, so only the server is timed.
    let mut senders = Vec::with_capacity(settings.devices);
    for (d, (device_id, requests)) in plan(settings, batches).into_iter().enumerate() {
        let token = enrol_kiosk(&first, &admin, device_id, d).await?;
        let bodies = requests
            .iter()
            .map(serde_json::to_vec)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}")
                .parse()
                .map_err(|e| format!("{e}"))?,
        );
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .default_headers(headers)
            .build()
            .map_err(|e| e.to_string())?;
        senders.push(Sender::Http {
            client,
            urls: urls.clone(),
            bodies,
        });
    }

    // Warm up: every server answers before anyone is timed.
    for server in &instances {
        let health = reqwest::get(format!("{}/api/v1/health", server.base))
            .await
            .map_err(|e| format!("health check: {e}"))?;
        if !health.status().is_success() {
            return Err(format!("health check answered {}", health.status()));
        }
    }
    let result = drive(senders, load, settings.batch).await;
    drop(instances);
    result
}

/// The ceiling: the devices call `apply_push` in this process, on the pool
/// the server would open, as enrolled kiosks.
async fn in_process(
    settings: &Settings,
    database: &Database,
    load: Load,
    batches: usize,
) -> Result<RunResult, String> {
    let pool = haven_server::store::db::connect(database)
        .await
        .map_err(|e| e.to_string())?;
    // The policies the agreements point at, as `--demo` loads them.
    demo::load_if_empty(&pool)
        .await
        .map_err(|e| e.to_string())?;
    let keys = Arc::new(Keys {
        server_key: ServerKey::random(),
        incident_key: IncidentKeyStore::in_memory(),
    });
    let now = haven_server::clock::now_ms();
    let mut senders = Vec::with_capacity(settings.devices);
    for (d, (device_id, requests)) in plan(settings, batches).into_iter().enumerate() {
        // The row enrolment makes, so the device id is this kiosk's own.
        let enrolment = Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO enrolled_devices (id, sync_device_id, academy_id, kind, label, \
             token_sha256, enrolled_at, enrolled_by, last_contact_at) \
             VALUES ($1, $2, $3, 'reception_kiosk', $4, $5, $6, 'bench', $7)",
        )
        .bind(&enrolment)
        .bind(device_id.to_string())
        .bind(OAKFIELD_ID.to_string())
        .bind(format!("Bench desk {d}"))
        .bind(format!("bench-token-{enrolment}"))
        .bind(now)
        .bind(now)
        .execute(&pool)
        .await
        .map_err(|e| format!("enrolling bench kiosk {d}: {e}"))?;
        senders.push(Sender::Library {
            pool: pool.clone(),
            keys: keys.clone(),
            caller: Caller::Device(DeviceCaller {
                id: enrolment,
                sync_device_id: device_id,
                academy_id: OAKFIELD_ID,
                kind: "reception_kiosk".into(),
            }),
            requests,
        });
    }
    let result = drive(senders, load, settings.batch).await;
    pool.close().await;
    result
}
