//! `haven_server backup` and `haven_server restore`, run as the binary
//! against a real server's SQLite file: a snapshot taken while devices push,
//! restored and served again; and every backup a restore must refuse.

use crate::helpers::{
    incident_key, online_key, spawn_app, spawn_app_with, test_config, Device, TestApp,
    STAFF_AUA_VERSION_ID, TEACHER_EMAIL,
};
use haven_core::agreement::AgreementRecord;
use haven_core::sync::wire::Outcome;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tempfile::TempDir;
use uuid::Uuid;

/// Runs `haven_server ARGS` and returns (success, stdout, stderr).
fn haven(args: &[&std::ffi::OsStr]) -> (bool, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_haven_server"))
        .args(args)
        .env_remove("HAVEN_DATABASE")
        .output()
        .expect("the binary runs");
    (
        status.success(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn backup(database: &Path, to: &Path) -> (bool, String, String) {
    haven(&[
        "backup".as_ref(),
        "--database".as_ref(),
        database.as_os_str(),
        "--to".as_ref(),
        to.as_os_str(),
    ])
}

fn restore(from: &Path, database: &Path, force: bool) -> (bool, String, String) {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "restore".as_ref(),
        "--from".as_ref(),
        from.as_os_str(),
        "--database".as_ref(),
        database.as_os_str(),
    ];
    if force {
        args.push("--force".as_ref());
    }
    haven(&args)
}

fn verify_ledger(database: &Path) -> (bool, String, String) {
    haven(&[
        "verify-ledger".as_ref(),
        "--database".as_ref(),
        database.as_os_str(),
    ])
}

fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

/// Names in `dir`, sorted (empty if it does not exist).
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `n` new signatures of `version` on `device`.
fn records(
    device: &Device,
    version: &haven_core::policy::PolicyVersion,
    n: usize,
) -> Vec<AgreementRecord> {
    (0..n)
        .map(|i| device.sign(version, &format!("Signer {i} of {}", device.id)))
        .collect()
}

/// A server with three signed agreements and its incident key made, and a
/// backup of it taken by the binary.
struct BackedUp {
    app: TestApp,
    /// Holds the backup folder and restore targets.
    scratch: TempDir,
    backup: PathBuf,
    signed: Vec<AgreementRecord>,
}

async fn backed_up() -> BackedUp {
    let app = spawn_app().await;
    incident_key(&app).await;
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let device = Device::fresh();
    let signed = records(&device, &version, 3);
    let pushed = app
        .push(&device.push(&[(1, &signed[0]), (2, &signed[1]), (3, &signed[2])]))
        .await;
    assert!(pushed.results.iter().all(|r| r.outcome == Outcome::Applied));
    let scratch = TempDir::new().unwrap();
    let backup_dir = scratch.path().join("backup");
    let (ok, out, err) = backup(&app.database_path(), &backup_dir);
    assert!(ok, "{out}{err}");
    BackedUp {
        app,
        scratch,
        backup: backup_dir,
        signed,
    }
}

impl BackedUp {
    fn target(&self) -> PathBuf {
        self.scratch.path().join("restored").join("haven.sqlite3")
    }

    /// Sets the manifest's size and SHA-256 of `name` to the file as it is now.
    fn rehash(&self, name: &str) {
        let path = self.backup.join(name);
        let mut manifest = manifest(&self.backup);
        let entry = manifest["files"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|f| f["name"] == name)
            .unwrap();
        entry["sha256"] = sha256_of(&path).into();
        entry["bytes"] = std::fs::metadata(&path).unwrap().len().into();
        std::fs::write(
            self.backup.join("manifest.json"),
            serde_json::to_vec_pretty(&manifest).unwrap(),
        )
        .unwrap();
    }

    /// Restores, expecting a refusal that says `expected`; nothing may be
    /// left where the database would have gone.
    fn refused(&self, expected: &str) -> String {
        let (ok, out, err) = restore(&self.backup, &self.target(), false);
        assert!(!ok, "restored: {out}");
        assert!(err.contains(expected), "{err}");
        assert_eq!(
            names_in(self.target().parent().unwrap()),
            Vec::<String>::new(),
            "nothing restored, no temporary file left"
        );
        err
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_while_ten_devices_push_restores_every_record_acknowledged_before_it() {
    // Backups copy the SQLite file; a PostgreSQL trust uses pg_dump (docs/running.md).
    crate::sqlite_only!();
    let app = Arc::new(spawn_app().await);
    // The keys a restored server must have: its incident key (made on first
    // need) and the server key, seen through a person's online key.
    let incident_key_before = incident_key(&app).await;
    let online_key_before = online_key(&app, TEACHER_EMAIL).await;
    let version = Arc::new(app.policy(STAFF_AUA_VERSION_ID).await);
    app.push_token().await;

    // Ten devices push batches of three until told to stop. Each batch is
    // noted before it is sent and its records once acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(HashSet::<Uuid>::new()));
    let sent = Arc::new(Mutex::new(HashMap::<Uuid, Vec<Vec<Uuid>>>::new()));
    let devices: Vec<_> = (0..10)
        .map(|_| {
            let (app, version, stop) = (Arc::clone(&app), Arc::clone(&version), Arc::clone(&stop));
            let (acknowledged, sent) = (Arc::clone(&acknowledged), Arc::clone(&sent));
            tokio::spawn(async move {
                let device = Device::fresh();
                let mut next = 1;
                while !stop.load(Ordering::SeqCst) {
                    let batch = records(&device, &version, 3);
                    let numbered: Vec<(u64, &AgreementRecord)> =
                        (next..).zip(batch.iter()).collect();
                    let ids: Vec<Uuid> = batch.iter().map(|r| r.id).collect();
                    sent.lock()
                        .unwrap()
                        .entry(device.id)
                        .or_default()
                        .push(ids.clone());
                    let response = app.push(&device.push(&numbered)).await;
                    assert!(
                        response
                            .results
                            .iter()
                            .all(|r| r.outcome == Outcome::Applied),
                        "{response:?}"
                    );
                    acknowledged.lock().unwrap().extend(ids);
                    next += 3;
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 10 * 10 * 3 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

    // What was acknowledged before the backup began must be in it.
    let before: HashSet<Uuid> = acknowledged.lock().unwrap().clone();
    let scratch = TempDir::new().unwrap();
    let backup_dir = scratch.path().join("backup");
    let (database, to) = (app.database_path(), backup_dir.clone());
    let (ok, out, err) = tokio::task::spawn_blocking(move || backup(&database, &to))
        .await
        .unwrap();
    let after_backup = acknowledged.lock().unwrap().len();
    assert!(ok, "{out}{err}");
    assert!(out.contains("The snapshot's ledger is intact"), "{out}");
    stop.store(true, Ordering::SeqCst);
    for device in devices {
        device.await.unwrap();
    }
    assert!(
        after_backup > before.len(),
        "the server kept acknowledging pushes while the backup ran"
    );

    // Restored elsewhere, with a new server on it.
    let moved = TempDir::new().unwrap();
    let mut config = test_config(&moved);
    let elsewhere = moved.path().join("elsewhere").join("haven.sqlite3");
    config.database = elsewhere.clone().into();
    let (ok, out, err) = restore(&backup_dir, &elsewhere, false);
    assert!(ok, "{out}{err}");
    assert!(out.contains("The restored ledger is intact"), "{out}");
    let restored = spawn_app_with(moved, config).await;
    assert_eq!(restored.get("/api/v1/ready").await.status(), 200);
    let (intact, out, err) = verify_ledger(&restored.database_path());
    assert!(intact, "{out}{err}");

    let held: HashSet<Uuid> = restored
        .agreements()
        .await
        .iter()
        .map(|a| a.record.id)
        .collect();
    let missing: Vec<_> = before.difference(&held).collect();
    assert!(
        missing.is_empty(),
        "{} records acknowledged before the backup are missing",
        missing.len()
    );
    // Never half a push: each device's records are a whole number of its
    // batches, the first ones it sent.
    for (device, batches) in sent.lock().unwrap().iter() {
        let kept: Vec<usize> = batches
            .iter()
            .map(|batch| batch.iter().filter(|id| held.contains(id)).count())
            .collect();
        let whole = kept.iter().take_while(|n| **n == 3).count();
        assert!(
            kept[whole..].iter().all(|n| *n == 0),
            "device {device} kept {kept:?} of its batches"
        );
    }
    assert_eq!(
        manifest(&backup_dir)["ledger"]["entries"].as_u64().unwrap() as usize,
        held.len()
    );

    // The keys came back to where the server looks for them.
    assert_eq!(incident_key(&restored).await, incident_key_before);
    assert_eq!(
        online_key(&restored, TEACHER_EMAIL).await,
        online_key_before
    );
    // And it takes new records.
    let device = Device::fresh();
    let record = device.sign(&version, "After the move");
    let response = restored.push(&device.push(&[(1, &record)])).await;
    assert_eq!(response.results[0].outcome, Outcome::Applied);
}

#[tokio::test]
async fn a_backup_holds_the_database_both_keys_and_a_manifest_all_private() {
    // Backups copy the SQLite file; a PostgreSQL trust uses pg_dump (docs/running.md).
    crate::sqlite_only!();
    let b = backed_up().await;
    assert_eq!(
        names_in(&b.backup),
        [
            "haven.sqlite3",
            "haven.sqlite3.incident-key.pem",
            "haven.sqlite3.key",
            "manifest.json"
        ]
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(&b.backup), 0o700);
        for name in names_in(&b.backup) {
            assert_eq!(mode(&b.backup.join(&name)), 0o600, "{name}");
        }
    }
    // Nothing but the backup beside it: no temporary folder left.
    assert_eq!(names_in(b.scratch.path()), ["backup"]);

    let manifest = manifest(&b.backup);
    assert_eq!(manifest["haven_version"], env!("CARGO_PKG_VERSION"));
    let latest = haven_server::store::db::SQLITE_MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap();
    assert_eq!(manifest["schema_version"], latest);
    assert_eq!(manifest["ledger"]["entries"], 3);
    assert_eq!(manifest["ledger"]["head_seq"], 3);
    for file in manifest["files"].as_array().unwrap() {
        let name = file["name"].as_str().unwrap();
        assert_eq!(file["sha256"], sha256_of(&b.backup.join(name)), "{name}");
    }
    let database = b.app.database_path();
    for (name, original) in [
        (
            "haven.sqlite3.key",
            haven_server::crypto::keys::key_path_for(&database),
        ),
        (
            "haven.sqlite3.incident-key.pem",
            haven_server::crypto::incident_key::incident_key_path_for(&database),
        ),
    ] {
        assert_eq!(
            sha256_of(&b.backup.join(name)),
            sha256_of(&original),
            "{name}"
        );
    }

    // Restored, it holds the three records.
    let (ok, out, err) = restore(&b.backup, &b.target(), false);
    assert!(ok, "{out}{err}");
    #[cfg(unix)]
    for path in [
        b.target(),
        haven_server::crypto::keys::key_path_for(&b.target()),
        haven_server::crypto::incident_key::incident_key_path_for(&b.target()),
    ] {
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    let (intact, out, _) = verify_ledger(&b.target());
    assert!(intact && out.contains("3 entries"), "{out}");
}

#[tokio::test]
async fn a_backup_is_not_written_into_a_folder_that_holds_something() {
    // Backups copy the SQLite file; a PostgreSQL trust uses pg_dump (docs/running.md).
    crate::sqlite_only!();
    let app = spawn_app().await;
    let scratch = TempDir::new().unwrap();
    let to = scratch.path().join("backups");
    std::fs::create_dir(&to).unwrap();
    std::fs::write(to.join("last-week.tar"), b"an older backup").unwrap();

    let (ok, out, err) = backup(&app.database_path(), &to);
    assert!(!ok, "{out}");
    assert!(err.contains("is not empty"), "{err}");
    assert_eq!(names_in(&to), ["last-week.tar"], "nothing added");
    assert_eq!(
        std::fs::read(to.join("last-week.tar")).unwrap(),
        b"an older backup"
    );
    assert_eq!(
        names_in(scratch.path()),
        ["backups"],
        "no temporary folder left"
    );

    // An empty folder is fine, and becomes the backup.
    let empty = scratch.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (ok, out, err) = backup(&app.database_path(), &empty);
    assert!(ok, "{out}{err}");
    assert!(empty.join("manifest.json").is_file());
    #[cfg(unix)]
    assert_eq!(mode(&empty), 0o700);
}

#[tokio::test]
async fn restore_refuses_a_snapshot_whose_ledger_does_not_verify() {
    // Backups copy the SQLite file; a PostgreSQL trust uses pg_dump (docs/running.md).
    crate::sqlite_only!();
    let b = backed_up().await;
    // Someone with the backup changes who signed, and makes the manifest
    // agree with the changed file: only the ledger can tell.
    let snapshot = b.backup.join("haven.sqlite3");
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", snapshot.display()))
        .await
        .unwrap();
    sqlx::query("DROP TRIGGER agreement_never_changes")
        .execute(&pool)
        .await
        .unwrap();
    let changed = sqlx::query("UPDATE agreements SET signer_name = 'Someone Else' WHERE id = $1")
        .bind(b.signed[1].id.to_string())
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 1);
    pool.close().await;
    b.rehash("haven.sqlite3");

    let err = b.refused("its ledger is NOT intact");
    assert!(err.contains("the agreement was changed"), "{err}");
    assert!(err.contains(&b.signed[1].id.to_string()), "{err}");
    assert!(err.contains("restore an earlier backup"), "{err}");
}

#[tokio::test]
async fn restore_refuses_a_file_changed_after_the_backup() {
    // Backups copy the SQLite file; a PostgreSQL trust uses pg_dump (docs/running.md).
    crate::sqlite_only!();
    let b = backed_up().await;
    let key = b.backup.join("haven.sqlite3.key");
    let mut bytes = std::fs::read(&key).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&key, &bytes).unwrap();
    let err = b.refused("does not match the SHA-256");
    assert!(err.contains("server key"), "{err}");
    bytes[0] ^= 1;
    std::fs::write(&key, &bytes).unwrap();

    // One byte of the snapshot, in a page SQLite would still read.
    let snapshot = b.backup.join("haven.sqlite3");
    let mut bytes = std::fs::read(&snapshot).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&snapshot, &bytes).unwrap();
    let err = b.refused("does not match the SHA-256");
    assert!(err.contains("database"), "{err}");
    bytes[middle] ^= 0x20;
    std::fs::write(&snapshot, &bytes).unwrap();

    // Put back, it restores.
    let (ok, out, err) = restore(&b.backup, &b.target(), false);
    assert!(ok, "{out}{err}");
}

#[tokio::test]
async fn restore_refuses_a_backup_missing_a_key_file() {
    // Backups copy the SQLite file; a PostgreSQL trust uses pg_dump (docs/running.md).
    crate::sqlite_only!();
    let b = backed_up().await;
    let server_key = b.backup.join("haven.sqlite3.key");
    let kept = std::fs::read(&server_key).unwrap();
    std::fs::remove_file(&server_key).unwrap();
    let err = b.refused("has no server key file");
    assert!(err.contains("copy the whole backup folder again"), "{err}");
    std::fs::write(&server_key, kept).unwrap();

    std::fs::remove_file(b.backup.join("haven.sqlite3.incident-key.pem")).unwrap();
    b.refused("has no incident key file");
}

#[tokio::test]
async fn restore_replaces_an_existing_database_only_with_force_and_keeps_the_old_one() {
    // Backups copy the SQLite file; a PostgreSQL trust uses pg_dump (docs/running.md).
    crate::sqlite_only!();
    let b = backed_up().await;
    let target = b.target();
    let (ok, out, err) = restore(&b.backup, &target, false);
    assert!(ok, "{out}{err}");
    // The restored server writes to it, so it is no longer the backup.
    let mut config = test_config(&b.scratch);
    config.database = target.clone().into();
    let dir = TempDir::new().unwrap();
    let server = spawn_app_with(dir, config).await;
    let version = server.policy(STAFF_AUA_VERSION_ID).await;
    let device = Device::fresh();
    let later = device.sign(&version, "Signed after the restore");
    server.push(&device.push(&[(1, &later)])).await;

    // While a server has it open, even --force is refused.
    let (ok, out, err) = restore(&b.backup, &target, true);
    assert!(!ok, "{out}");
    assert!(err.contains("is open in another process"), "{err}");
    server.stop().await;

    let folder = target.parent().unwrap();
    let before = names_in(folder);
    let (ok, out, err) = restore(&b.backup, &target, false);
    assert!(!ok, "{out}");
    assert!(err.contains("already exist"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(names_in(folder), before, "nothing touched");

    let (ok, out, err) = restore(&b.backup, &target, true);
    assert!(ok, "{out}{err}");
    let moved = format!("Moved aside {} to ", target.display());
    let aside = out
        .lines()
        .find_map(|line| line.strip_prefix(&moved))
        .unwrap_or_else(|| panic!("{out}"));
    let aside = PathBuf::from(aside);
    assert!(aside
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("haven.sqlite3.before-restore-"));
    // The old database is kept whole, with the record signed after the
    // first restore, and its key beside it.
    assert!(haven_server::crypto::keys::key_path_for(&aside).is_file());
    let (intact, out, _) = verify_ledger(&aside);
    assert!(intact && out.contains("4 entries"), "{out}");
    let (intact, out, _) = verify_ledger(&target);
    assert!(intact && out.contains("3 entries"), "{out}");
}

#[test]
fn backup_and_restore_send_a_postgresql_trust_to_its_own_tools() {
    let scratch = TempDir::new().unwrap();
    let url = Path::new("postgres://haven@db.internal/haven");
    let (ok, _, err) = backup(url, &scratch.path().join("backup"));
    assert!(!ok);
    assert!(err.contains("pg_dump"), "{err}");
    let (ok, _, err) = restore(scratch.path(), url, false);
    assert!(!ok);
    assert!(err.contains("pg_restore"), "{err}");
    // Nothing was made.
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
}
