//! `haven_server migrate-data`: a trust moves from its SQLite file to
//! PostgreSQL with every row, its keys and a ledger that verifies, and the
//! server goes on from there. Runs with the PostgreSQL suite only (it needs
//! both databases); on SQLite alone it is skipped.

use crate::helpers::{
    create_postgres_database, incident_key, on_postgres, postgres_base, spawn_app_with,
    test_config, Device, DropDatabase, ADMIN_EMAIL, ADMIN_PASSWORD, STAFF_AUA_VERSION_ID,
};
use haven_core::agreement::AgreementRecord;
use haven_core::sync::wire::Outcome;
use haven_server::store::db::Database;
use std::path::Path;
use std::process::Output;
use tempfile::TempDir;
use uuid::Uuid;

use crate::import_cli::haven_server;

fn migrate(from: &Path, to: &str, key_dir: &Path) -> Output {
    haven_server(&[
        "migrate-data",
        "--from",
        from.to_str().unwrap(),
        "--to",
        to,
        "--key-dir",
        key_dir.to_str().unwrap(),
    ])
}

/// A new, empty database on the test's PostgreSQL server.
async fn empty_postgres() -> (String, DropDatabase) {
    let mut url = url::Url::parse(&postgres_base().unwrap()).unwrap();
    url.set_path(&format!("haven_moved_{}", Uuid::new_v4().simple()));
    let url = url.to_string();
    create_postgres_database(&url).await;
    let guard = DropDatabase::new(&Database::Postgres(url.clone()));
    (url, guard)
}

/// Every table's row count.
async fn counts(database: &Database) -> Vec<(String, i64)> {
    let pool = haven_server::store::db::connect(database).await.unwrap();
    let tables = [
        "academies",
        "agreements",
        "audit_log",
        "changes",
        "devices",
        "ledger",
        "policy_versions",
        "processed_mutations",
        "rules_versions",
        "user_roles",
        "users",
    ];
    let mut out = Vec::new();
    for table in tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        out.push((table.to_owned(), n));
    }
    let top: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM changes")
        .fetch_one(&pool)
        .await
        .unwrap();
    out.push(("changes.seq".to_owned(), top));
    pool.close().await;
    out
}

#[tokio::test]
async fn a_trust_with_ten_thousand_agreements_moves_to_postgresql_whole() {
    if !on_postgres() {
        eprintln!("(needs PostgreSQL: run with HAVEN_TEST_POSTGRES)");
        return;
    }
    // The trust on SQLite, with 10,000 agreements and both keys made.
    let dir = TempDir::new().unwrap();
    let mut config = test_config(&dir);
    let file = dir.path().join("data").join("haven.sqlite3");
    config.database = Database::Sqlite(file.clone());
    config.key_dir = None;
    let app = spawn_app_with(dir, config).await;
    let key_before = incident_key(&app).await;
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let device = Device::fresh();
    let mut records: Vec<AgreementRecord> = Vec::new();
    for batch in 0..20u64 {
        let signed: Vec<AgreementRecord> = (0..500)
            .map(|i| device.sign(&version, &format!("Signer {batch}-{i}")))
            .collect();
        let numbered: Vec<(u64, &AgreementRecord)> =
            (batch * 500 + 1..).zip(signed.iter()).collect();
        let response = app.push(&device.push(&numbered)).await;
        assert!(response
            .results
            .iter()
            .all(|r| r.outcome == Outcome::Applied));
        records.extend(signed);
    }
    let before = counts(&app.config.database).await;
    let kept = app.stop().await;
    let dir = kept.path().to_owned();

    // Moved.
    let (url, _drop) = empty_postgres().await;
    let keys = dir.join("keys");
    let moved = migrate(&file, &url, &keys);
    let stdout = String::from_utf8_lossy(&moved.stdout);
    assert!(moved.status.success(), "{moved:?}");
    assert!(
        stdout.contains("The copy's ledger is intact: 10000 entries"),
        "{stdout}"
    );
    let postgres = Database::Postgres(url.clone());
    assert_eq!(counts(&postgres).await, before, "every row, and the cursor");
    let verified = haven_server(&["verify-ledger", "--database", &url]);
    assert!(verified.status.success(), "{verified:?}");

    // The server on PostgreSQL carries on: same keys, receipts, sign-in, and
    // new pushes that extend the copied ledger.
    let dir2 = TempDir::new().unwrap();
    let mut config = test_config(&dir2);
    config.database = postgres.clone();
    config.key_dir = Some(keys.clone());
    config.demo = false;
    let app = spawn_app_with(dir2, config).await;
    assert_eq!(incident_key(&app).await.key_id, key_before.key_id);
    let receipt = app
        .get(&format!("/api/v1/verify/{}", records[4321].receipt_code()))
        .await;
    assert_eq!(receipt.status(), 200);
    assert_eq!(app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(), 200);
    let newcomer = Device::fresh();
    let more: Vec<AgreementRecord> = (0..3)
        .map(|i| newcomer.sign(&version, &format!("After the move {i}")))
        .collect();
    let numbered: Vec<(u64, &AgreementRecord)> = (1..).zip(more.iter()).collect();
    let response = app.push(&newcomer.push(&numbered)).await;
    assert!(response
        .results
        .iter()
        .all(|r| r.outcome == Outcome::Applied));
    // The device that moved with the trust goes on from its next number.
    let next = device.sign(&version, "Still here");
    let response = app.push(&device.push(&[(10_001, &next)])).await;
    assert_eq!(response.results[0].outcome, Outcome::Applied);
    let verified = haven_server(&["verify-ledger", "--database", &url]);
    let out = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "{out}");
    assert!(out.contains("10004 entries"), "{out}");

    // Not twice into the same database.
    let again = migrate(&file, &url, &keys);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("already holds data"), "{err}");
}

#[tokio::test]
async fn a_trust_whose_ledger_does_not_verify_is_not_moved() {
    if !on_postgres() {
        eprintln!("(needs PostgreSQL: run with HAVEN_TEST_POSTGRES)");
        return;
    }
    let dir = TempDir::new().unwrap();
    let mut config = test_config(&dir);
    let file = dir.path().join("data").join("haven.sqlite3");
    config.database = Database::Sqlite(file.clone());
    config.key_dir = None;
    let app = spawn_app_with(dir, config).await;
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let device = Device::fresh();
    let signed = device.sign(&version, "Ada Lovelace");
    app.push(&device.push(&[(1, &signed)])).await;
    // Someone with the file changes who signed.
    let pool = app.db().await;
    // (SQLite's own words: this file is SQLite even in the PostgreSQL run.)
    sqlx::query("DROP TRIGGER agreement_never_changes")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE agreements SET signer_name = 'Someone Else'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let kept = app.stop().await;
    let dir = kept.path().to_owned();

    let (url, _drop) = empty_postgres().await;
    let refused = migrate(&file, &url, &dir.join("keys"));
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("does not verify"), "{err}");
    // Nothing was written: the target is as empty as it was made.
    let postgres = Database::Postgres(url);
    let rows = counts(&postgres).await;
    for (table, n) in rows {
        assert_eq!(n, 0, "{table}");
    }
    assert!(!dir.join("keys").join("haven.key").exists());
}
