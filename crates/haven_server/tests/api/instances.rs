//! Several server instances on one database behave as one server: guesses
//! are counted across them, each hourly job runs on one of them, and a
//! device whose pushes land on alternate instances, one killed in the middle
//! of a push, has every record stored exactly once. On SQLite the instances
//! share the file; on PostgreSQL (`HAVEN_TEST_POSTGRES`) the database.

use crate::helpers::{
    create_postgres_database, expect_error, spawn_app, test_config, Device, DropDatabase, TestApp,
    ADMIN_EMAIL, ADMIN_PASSWORD, STAFF_AUA_VERSION_ID, TEACHER_EMAIL,
};
use crate::metrics::{sample, scrape, spawn_with_metrics};
use haven_core::agreement::AgreementRecord;
use haven_core::api::LoginResponse;
use haven_core::policy::PolicyVersion;
use haven_core::sync::wire::{Outcome, PushRequest, PushResponse};
use haven_server::store::db::Database;
use haven_server::store::limiter::PER_ACCOUNT;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;
use tempfile::TempDir;
use uuid::Uuid;

#[tokio::test]
async fn wrong_passwords_count_across_instances_and_survive_a_restart() {
    let a = spawn_app().await;
    let b = a.second_instance().await;
    // The limit's worth of wrong passwords, alternating between instances.
    for n in 0..PER_ACCOUNT.failures {
        let instance = if n % 2 == 0 { &a } else { &b };
        expect_error(
            instance.login(ADMIN_EMAIL, "not the password").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    // Now neither instance lets even the right password through...
    for instance in [&a, &b] {
        expect_error(
            instance.login(ADMIN_EMAIL, ADMIN_PASSWORD).await,
            429,
            "too_many_attempts",
        )
        .await;
    }
    // ...nor does a restart forget.
    b.stop().await;
    let a = a.restart().await;
    expect_error(
        a.login(ADMIN_EMAIL, ADMIN_PASSWORD).await,
        429,
        "too_many_attempts",
    )
    .await;
    // Another account is untouched.
    assert_eq!(a.login(TEACHER_EMAIL, ADMIN_PASSWORD).await.status(), 200);
}

/// How many runs of `job` an instance's metrics count as done.
fn runs(text: &str, job: &str) -> f64 {
    sample(
        text,
        &format!("haven_job_runs_total{{job=\"{job}\",result=\"ok\"}}"),
    )
    .unwrap_or(0.0)
}

#[tokio::test]
async fn each_hourly_job_runs_on_one_instance_per_hour() {
    let a = spawn_with_metrics().await;
    let b = a.second_instance().await;
    let jobs = ["visit_retention_purge", "abandoned_upload_purge"];
    let total = |texts: &[String], job: &str| texts.iter().map(|t| runs(t, job)).sum::<f64>();
    let before = [scrape(&a).await, scrape(&b).await];
    for job in jobs {
        // Each instance purged once as it started.
        assert_eq!(total(&before, job), 2.0, "{job}");
    }

    // Both instances' hourly tasks fire in the same hour, at once.
    let hour = 3_600_000;
    let now = haven_server::clock::now_ms();
    let start_of_hour = now - now.rem_euclid(hour);
    tokio::join!(tick(&a, start_of_hour + 10), tick(&b, start_of_hour + 20));
    let once = [scrape(&a).await, scrape(&b).await];
    for job in jobs {
        assert_eq!(total(&once, job), 3.0, "{job} ran once between them");
    }
    // Later in the same hour: neither runs it again.
    tokio::join!(
        tick(&a, start_of_hour + 1_800_000),
        tick(&b, start_of_hour + 3_599_999)
    );
    let same_hour = [scrape(&a).await, scrape(&b).await];
    for job in jobs {
        assert_eq!(total(&same_hour, job), 3.0, "{job} not again this hour");
    }
    // The next hour, whichever instance comes first runs it.
    tick(&b, start_of_hour + hour + 5).await;
    tick(&a, start_of_hour + hour + 6).await;
    let next_hour = [scrape(&a).await, scrape(&b).await];
    for job in jobs {
        assert_eq!(
            runs(&next_hour[1], job) - runs(&same_hour[1], job),
            1.0,
            "{job}"
        );
        assert_eq!(runs(&next_hour[0], job), runs(&same_hour[0], job), "{job}");
    }
}

/// One instance's hourly task firing as if its clock said `at`.
async fn tick(app: &TestApp, at: i64) {
    haven_server::jobs::hourly_at(&app.state.pool, &app.state.metrics, None, at).await;
}

/// A `haven_server` process: the real binary, which a test can kill.
struct Instance {
    child: Child,
    base: String,
}

impl Instance {
    fn start(database: &Database, key_dir: &Path, static_dir: &Path) -> Instance {
        let database = crate::helpers::database_arg(database);
        let mut child = Command::new(env!("CARGO_BIN_EXE_haven_server"))
            .args(["--bind", "127.0.0.1:0", "--demo", "--database", &database])
            .arg("--key-dir")
            .arg(key_dir)
            .arg("--static-dir")
            .arg(static_dir)
            .env_remove("HAVEN_NO_DEMO")
            .env_remove("HAVEN_DATABASE")
            .env_remove("HAVEN_KEY_DIR")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("the server says where it runs")
                .unwrap();
            if let Some(rest) = line.strip_prefix("Haven is running at ") {
                break rest.trim_end_matches('/').to_owned();
            }
        };
        // Keep reading, so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Instance { child, base }
    }

    /// SIGKILL: no graceful stop, no chance to finish what it was doing.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn push(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    request: &PushRequest,
) -> Result<PushResponse, reqwest::Error> {
    client
        .post(format!("{base}/api/v1/sync/push"))
        .bearer_auth(token)
        .json(request)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
}

fn batch(device: &Device, version: &PolicyVersion, n: usize) -> Vec<AgreementRecord> {
    (0..n)
        .map(|i| device.sign(version, &format!("Signer {i} of {}", Uuid::new_v4())))
        .collect()
}

#[tokio::test]
async fn a_device_pushing_to_alternate_instances_one_killed_mid_push_has_each_record_once() {
    let dir = TempDir::new().unwrap();
    let config = test_config(&dir);
    let _drop = DropDatabase::new(&config.database);
    if let Database::Postgres(url) = &config.database {
        create_postgres_database(url).await;
    }
    let keys = dir.path().join("keys");
    let start = || Instance::start(&config.database, &keys, &config.static_dir);
    let mut instances = [start(), start()];

    let client = reqwest::Client::new();
    let signed_in: LoginResponse = client
        .post(format!("{}/api/v1/auth/login", instances[0].base))
        .json(&serde_json::json!({"email": TEACHER_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signed_in.token;
    let version: PolicyVersion = client
        .get(format!(
            "{}/api/v1/policies/{STAFF_AUA_VERSION_ID}",
            instances[1].base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let device = Device::fresh();
    let mut all: Vec<Uuid> = Vec::new();
    let mut applied: HashMap<Uuid, usize> = HashMap::new();
    let mut note = |response: &PushResponse, records: &[AgreementRecord]| {
        for (result, record) in response.results.iter().zip(records) {
            assert!(
                matches!(result.outcome, Outcome::Applied | Outcome::Duplicate),
                "{result:?}"
            );
            if result.outcome == Outcome::Applied {
                *applied.entry(record.id).or_default() += 1;
            }
        }
    };
    let mut next = 1u64;
    let send = |records: &[AgreementRecord], next: &mut u64| {
        let numbered: Vec<(u64, &AgreementRecord)> = (*next..).zip(records.iter()).collect();
        *next += records.len() as u64;
        device.push(&numbered)
    };

    // Alternating instances, one push each.
    for round in 0..6 {
        let records = batch(&device, &version, 20);
        let request = send(&records, &mut next);
        let response = push(&client, &instances[round % 2].base, &token, &request)
            .await
            .unwrap();
        note(&response, &records);
        all.extend(records.iter().map(|r| r.id));
    }

    // A full batch, timed, to know how long one takes here.
    let records = batch(&device, &version, 500);
    let request = send(&records, &mut next);
    #[allow(clippy::disallowed_methods)] // native test, not wasm: the clock is fine here
    let started = Instant::now();
    let response = push(&client, &instances[0].base, &token, &request)
        .await
        .unwrap();
    let takes = started.elapsed();
    note(&response, &records);
    all.extend(records.iter().map(|r| r.id));

    // Another, and instance 1 is killed half-way through it. The device
    // never hears back, so it sends the same push to instance 0.
    let records = batch(&device, &version, 500);
    let request = send(&records, &mut next);
    let in_flight = {
        let (client, base, token, request) = (
            client.clone(),
            instances[1].base.clone(),
            token.clone(),
            request.clone(),
        );
        tokio::spawn(async move { push(&client, &base, &token, &request).await })
    };
    tokio::time::sleep(takes / 2).await;
    instances[1].kill();
    // Killed before it answered, as intended; on a machine slow enough to
    // have finished first, its answer is noted and the retry is a replay.
    let killed_mid_push = match in_flight.await.unwrap() {
        Err(_) => true,
        Ok(response) => {
            note(&response, &records);
            false
        }
    };
    let retried = push(&client, &instances[0].base, &token, &request)
        .await
        .unwrap();
    note(&retried, &records);
    all.extend(records.iter().map(|r| r.id));
    let applied_on_retry = retried
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Applied)
        .count();
    println!(
        "a 500-record push took {takes:?}; killed at half that (before it answered: \
         {killed_mid_push}), {applied_on_retry} of 500 were applied on the retry \
         (500: the kill undid the push; 0: it had committed)"
    );
    // All or nothing: a push is one transaction.
    assert!(matches!(applied_on_retry, 0 | 500), "{applied_on_retry}");

    // The killed instance comes back; the device goes on alternating.
    instances[1] = start();
    for round in 0..4 {
        let records = batch(&device, &version, 20);
        let request = send(&records, &mut next);
        let response = push(&client, &instances[round % 2].base, &token, &request)
            .await
            .unwrap();
        note(&response, &records);
        all.extend(records.iter().map(|r| r.id));
    }

    // Every record stored once, in the ledger once, and answered `applied`
    // at most once (the killed push's answer may never have been heard).
    let pool = haven_server::store::db::connect(&config.database)
        .await
        .unwrap();
    let stored: Vec<(String, i64)> = sqlx::query_as(
        "SELECT a.id, (SELECT COUNT(*) FROM ledger l WHERE l.agreement_id = a.id) \
         FROM agreements a WHERE a.device_id = $1",
    )
    .bind(device.id.to_string())
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    let mut stored_ids: Vec<Uuid> = stored.iter().map(|(id, _)| id.parse().unwrap()).collect();
    stored_ids.sort();
    all.sort();
    assert_eq!(stored_ids, all, "every record stored, and only once");
    assert!(
        stored.iter().all(|(_, n)| *n == 1),
        "each once in the ledger"
    );
    assert!(
        applied.values().all(|n| *n == 1),
        "applied twice: {applied:?}"
    );
    drop(instances);

    let verified = Command::new(env!("CARGO_BIN_EXE_haven_server"))
        .args(["verify-ledger", "--database"])
        .arg(crate::helpers::database_arg(&config.database))
        .env_remove("HAVEN_DATABASE")
        .output()
        .unwrap();
    assert!(verified.status.success(), "{verified:?}");
}
