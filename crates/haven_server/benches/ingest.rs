//! Server ingest under load, and raw SQLite as its ceiling. Prints numbers; no
//! thresholds. Run by `cargo xtask bench` (which builds the release server
//! first), or alone after `cargo build --release -p haven_server`:
//!
//! ```sh
//! cargo bench -p haven_server --bench ingest
//! ```
//!
//! 1. Ingest: the release `haven_server` binary is started as its own process
//!    on 127.0.0.1 (port 0) with a fresh SQLite file. 50 simulated devices,
//!    each with its own HTTP client, push 20 batches of 100 visitor agreements
//!    one after another (the next batch after the reply, as the PWA does), all
//!    devices at once. Every request body is serialised before the clock
//!    starts; each push's latency runs from sending it to the reply's last byte.
//! 2. Ceiling: the same number of rows inserted with sqlx straight into a fresh
//!    database opened by `haven_server::db::connect` (same schema, same
//!    pragmas), in transactions of 100 rows with the server's INSERT: no
//!    HTTP, no JSON, no validation, no device bookkeeping. The best of three
//!    runs, each on a fresh file, is the ceiling.
//!
//! Environment: `HAVEN_SERVER_BIN` (default `target/release/haven_server`),
//! `BENCH_DEVICES` (50), `BENCH_BATCHES` (20), `BENCH_BATCH` (100),
//! `BENCH_TIMEOUT_S` (600, for the whole run) and `HAVEN_BENCH_OUT`: a file to
//! which `label<TAB>value` summary lines are appended for `cargo xtask bench`.

// A native benchmark: reading the clock is the point, and it cannot run on wasm32.
#![allow(clippy::disallowed_methods)]

use haven_core::agreement::AgreementRecord;
use haven_core::hash::Sha256Hex;
use haven_core::policy::text_hash;
use haven_core::sync::backoff::retry_delay_ms;
use haven_core::sync::wire::{Change, Mutation, Outcome, PushRequest, PushResponse};
use haven_server::demo::{self, VISITOR_AUA_VERSION_ID};
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
    batch: usize,
    timeout_s: u64,
    out: Option<PathBuf>,
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
        let settings = Settings {
            server_bin: std::env::var_os("HAVEN_SERVER_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace.join("target/release/haven_server")),
            devices: number("BENCH_DEVICES", 50)?,
            batches: number("BENCH_BATCHES", 20)?,
            batch: number("BENCH_BATCH", 100)?,
            timeout_s: number("BENCH_TIMEOUT_S", 600)? as u64,
            out: std::env::var_os("HAVEN_BENCH_OUT").map(PathBuf::from),
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

    fn records(&self) -> usize {
        self.devices * self.batches * self.batch
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
    // Dropping the run on time-out kills the server and removes the temp folder.
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

async fn run(settings: &Settings) -> Result<(), String> {
    let scratch = tempfile::Builder::new()
        .prefix("haven-bench-")
        .tempdir()
        .map_err(|e| format!("creating a temp folder: {e}"))?;
    let ingest = ingest(settings, scratch.path()).await?;
    let (ceiling, ceiling_runs) = ceiling(settings, scratch.path()).await?;

    let records = settings.records();
    let ratio = ingest.records_per_s / ceiling.rows_per_s;
    println!();
    println!(
        "Server ingest: {} devices x {} pushes x {} records = {records} records",
        settings.devices, settings.batches, settings.batch
    );
    println!("  (release haven_server on 127.0.0.1, SQLite WAL in a temp folder; the load generator shares the machine)");
    row("wall time", format!("{:.2} s", ingest.wall.as_secs_f64()));
    row(
        "throughput",
        format!("{:.0} records/s", ingest.records_per_s),
    );
    row("pushes", format!("{:.0} requests/s", ingest.pushes_per_s));
    row(
        "failed pushes",
        format!("{} of {}", ingest.failed, ingest.requests),
    );
    if let Some(first) = &ingest.first_failure {
        println!("  (each retried after the PWA's backoff; the first: {first})");
    }
    row("push latency p50", ms(ingest.p50));
    row("push latency p99", ms(ingest.p99));
    row("push latency max", ms(ingest.max));
    println!(
        "Raw SQLite ceiling: {records} rows, sqlx, {} rows per transaction, same schema and pragmas, no HTTP",
        settings.batch
    );
    let runs: Vec<String> = ceiling_runs
        .iter()
        .map(|d| format!("{:.2}", d.as_secs_f64()))
        .collect();
    row(
        "wall time",
        format!(
            "{:.2} s (best of {} s)",
            ceiling.wall.as_secs_f64(),
            runs.join(", ")
        ),
    );
    row("throughput", format!("{:.0} rows/s", ceiling.rows_per_s));
    row(
        "server / ceiling",
        format!("{:.2} ({:.0} %)", ratio, ratio * 100.0),
    );

    if let Some(out) = &settings.out {
        let label = format!(
            "server ingest, {} devices x {}-record pushes",
            settings.devices, settings.batch
        );
        let lines = [
            (
                label,
                format!(
                    "{:.0} records/s, p50 {}, p99 {}, {} of {} pushes failed (5xx, retried)",
                    ingest.records_per_s,
                    ms(ingest.p50),
                    ms(ingest.p99),
                    ingest.failed,
                    ingest.requests
                ),
            ),
            (
                format!("raw SQLite inserts, {}-row transactions", settings.batch),
                format!("{:.0} rows/s", ceiling.rows_per_s),
            ),
            (
                "server ingest / raw SQLite".to_owned(),
                format!("{:.2} ({:.0} %)", ratio, ratio * 100.0),
            ),
        ];
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out)
            .map_err(|e| format!("opening {}: {e}", out.display()))?;
        for (label, value) in lines {
            writeln!(file, "{label}\t{value}").map_err(|e| format!("writing results: {e}"))?;
        }
    }
    Ok(())
}

fn row(label: &str, value: String) {
    println!("  {label:<20} {value}");
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

struct IngestResult {
    wall: Duration,
    /// Every push sent, retries included.
    requests: usize,
    /// Pushes the server answered with a 5xx (each was retried).
    failed: usize,
    first_failure: Option<String>,
    records_per_s: f64,
    pushes_per_s: f64,
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

fn start_server(bin: &Path, dir: &Path) -> Result<ServerProcess, String> {
    let static_dir = dir.join("static");
    std::fs::create_dir_all(&static_dir).map_err(|e| format!("creating {static_dir:?}: {e}"))?;
    let mut child = Command::new(bin)
        .args(["--bind", "127.0.0.1:0", "--demo", "--database"])
        .arg(dir.join("ingest.sqlite3"))
        .arg("--static-dir")
        .arg(&static_dir)
        // One log line per push would measure the terminal, not the server.
        .env("RUST_LOG", "warn")
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

/// Pushes one batch until the server stores it, as the PWA does: a 5xx reply
/// is retried after the PWA's backoff (haven_core's `retry_delay_ms`); the
/// protocol makes a retry harmless. A 4xx, or a batch not wholly applied, is
/// an error.
async fn push_until_stored(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    batch: usize,
    log: &mut DeviceLog,
    jitter: &mut Jitter,
) -> Result<(), String> {
    for attempt in 0..MAX_ATTEMPTS {
        let payload = body.clone();
        let sent = Instant::now();
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .body(payload)
            .send()
            .await
            .map_err(|e| format!("push: {e}"))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("push reply: {e}"))?;
        log.latencies.push(sent.elapsed());
        if status.is_server_error() {
            log.failed += 1;
            log.first_failure
                .get_or_insert_with(|| format!("{status}: {}", String::from_utf8_lossy(&bytes)));
            let delay = retry_delay_ms(attempt, jitter.next());
            tokio::time::sleep(Duration::from_millis(delay)).await;
            continue;
        }
        if !status.is_success() {
            return Err(format!(
                "push answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
        let reply: PushResponse =
            serde_json::from_slice(&bytes).map_err(|e| format!("reading a push reply: {e}"))?;
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

/// The demo trust admin's session, to enrol the devices.
async fn sign_in(base: &str) -> Result<String, String> {
    let reply: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({
            "email": haven_server::demo::ADMIN_EMAIL,
            "password": haven_server::demo::ADMIN_PASSWORD,
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
            "academy_id": haven_server::demo::OAKFIELD_ID,
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

async fn ingest(settings: &Settings, dir: &Path) -> Result<IngestResult, String> {
    let server = start_server(&settings.server_bin, dir)?;
    let push_url = format!("{}/api/v1/sync/push", server.base);
    // Each device is an enrolled reception kiosk with its own token.
    let admin = sign_in(&server.base).await?;

    // Every body is made before the clock starts, so only the server is timed.
    let visitor = Visitor::demo();
    let mut devices = Vec::with_capacity(settings.devices);
    for d in 0..settings.devices {
        let device_id = Uuid::now_v7();
        let token = enrol_kiosk(&server.base, &admin, device_id, d).await?;
        let mut bodies = Vec::with_capacity(settings.batches);
        for b in 0..settings.batches {
            let mutations = (0..settings.batch)
                .map(|i| {
                    let n = b * settings.batch + i;
                    Mutation {
                        proof: None,
                        id: u64::try_from(n + 1).expect("fits"),
                        change: Change::CreateAgreement(
                            visitor.record(device_id, d * settings.batches * settings.batch + n),
                        ),
                    }
                })
                .collect();
            let body = serde_json::to_vec(&PushRequest {
                device_secret: None,
                device_id,
                mutations,
                // What the PWA reports: waiting on the device, this batch included.
                backlog: u64::try_from((settings.batches - b) * settings.batch).expect("fits"),
            })
            .map_err(|e| e.to_string())?;
            bodies.push(body);
        }
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
        devices.push((client, bodies));
    }

    // Warm up: the server answers before anyone is timed.
    let health = reqwest::get(format!("{}/api/v1/health", server.base))
        .await
        .map_err(|e| format!("health check: {e}"))?;
    if !health.status().is_success() {
        return Err(format!("health check answered {}", health.status()));
    }

    let start = Arc::new(tokio::sync::Barrier::new(settings.devices + 1));
    let batch = settings.batch;
    let mut tasks = Vec::with_capacity(settings.devices);
    for (d, (client, bodies)) in devices.into_iter().enumerate() {
        let url = push_url.clone();
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let mut log = DeviceLog::default();
            // Each device's own jitter, reproducible run to run.
            let mut jitter = Jitter(0x9e37_79b9_7f4a_7c15 ^ u64::try_from(d).unwrap_or(0));
            for body in bodies {
                push_until_stored(&client, &url, body, batch, &mut log, &mut jitter).await?;
            }
            Ok::<_, String>(log)
        }));
    }
    start.wait().await;
    let began = Instant::now();
    let mut latencies = Vec::with_capacity(settings.devices * settings.batches);
    let mut failed = 0;
    let mut first_failure = None;
    for task in tasks {
        let log = task.await.map_err(|e| e.to_string())??;
        latencies.extend(log.latencies);
        failed += log.failed;
        first_failure = first_failure.or(log.first_failure);
    }
    let wall = began.elapsed();

    // Count what the server stored, through SQLite itself.
    let pool = haven_server::db::connect(&dir.join("ingest.sqlite3").into())
        .await
        .map_err(|e| e.to_string())?;
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agreements")
        .fetch_one(&pool)
        .await
        .map_err(|e| e.to_string())?;
    pool.close().await;
    drop(server);
    if usize::try_from(stored).ok() != Some(settings.records()) {
        return Err(format!(
            "the server stored {stored} agreements, expected {}",
            settings.records()
        ));
    }

    latencies.sort();
    let pick = |q: f64| {
        let rank = ((latencies.len() as f64) * q).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1]
    };
    let secs = wall.as_secs_f64();
    Ok(IngestResult {
        wall,
        requests: latencies.len(),
        failed,
        first_failure,
        records_per_s: settings.records() as f64 / secs,
        pushes_per_s: latencies.len() as f64 / secs,
        p50: pick(0.50),
        p99: pick(0.99),
        max: *latencies.last().expect("at least one push"),
    })
}

struct CeilingResult {
    wall: Duration,
    rows_per_s: f64,
}

/// How many times the ceiling is measured; the best run is the ceiling.
const CEILING_RUNS: usize = 3;

/// The best of `CEILING_RUNS` runs, each on a fresh database, and every run's time.
async fn ceiling(
    settings: &Settings,
    dir: &Path,
) -> Result<(CeilingResult, Vec<Duration>), String> {
    let mut runs = Vec::with_capacity(CEILING_RUNS);
    for run in 0..CEILING_RUNS {
        runs.push(ceiling_once(settings, &dir.join(format!("ceiling-{run}.sqlite3"))).await?);
    }
    let walls = runs.iter().map(|r| r.wall).collect();
    let best = runs
        .into_iter()
        .min_by_key(|r| r.wall)
        .expect("at least one run");
    Ok((best, walls))
}

async fn ceiling_once(settings: &Settings, file: &Path) -> Result<CeilingResult, String> {
    let pool = haven_server::db::connect(&file.to_path_buf().into())
        .await
        .map_err(|e| e.to_string())?;
    // The same policy rows the server has, for the foreign key.
    demo::load_if_empty(&pool)
        .await
        .map_err(|e| e.to_string())?;
    let visitor = Visitor::demo();
    let device_id = Uuid::now_v7();
    let records: Vec<AgreementRecord> = (0..settings.records())
        .map(|n| visitor.record(device_id, n))
        .collect();
    let received_at = haven_server::clock::now_ms();

    let began = Instant::now();
    for (b, chunk) in records.chunks(settings.batch).enumerate() {
        let mut tx = haven_server::db::begin_write(&pool)
            .await
            .map_err(|e| e.to_string())?;
        for (i, record) in chunk.iter().enumerate() {
            // The server's statement, bound the same way.
            sqlx::query(
                "INSERT INTO agreements (id, policy_version_id, policy_text_sha256, signer_name, \
                 agreed, signed_at, device_id, mutation_id, received_at) \
                 VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
            )
            .bind(record.id.to_string())
            .bind(record.policy_version_id.to_string())
            .bind(record.policy_text_sha256.as_str())
            .bind(&record.signer_name)
            .bind(record.signed_at)
            .bind(record.device_id.to_string())
            .bind(i64::try_from(b * settings.batch + i + 1).expect("fits"))
            .bind(received_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        }
        tx.commit().await.map_err(|e| e.to_string())?;
    }
    let wall = began.elapsed();

    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agreements")
        .fetch_one(&pool)
        .await
        .map_err(|e| e.to_string())?;
    pool.close().await;
    if usize::try_from(stored).ok() != Some(settings.records()) {
        return Err(format!(
            "the ceiling run stored {stored} rows, expected {}",
            settings.records()
        ));
    }
    Ok(CeilingResult {
        wall,
        rows_per_s: settings.records() as f64 / wall.as_secs_f64(),
    })
}
