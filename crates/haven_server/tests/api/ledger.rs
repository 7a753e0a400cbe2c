//! Signed records as the ledger keeps them: the whole record, how the signer
//! was identified, a receipt code anyone can check at `/verify`, and a hash
//! chain that `haven_server verify-ledger` walks to find any change.

use crate::authorization::open_db;
use crate::helpers::{expect_error, spawn_app, Device, TestApp, STAFF_AUA_VERSION_ID};
use haven_core::agreement::{AgreementRecord, Capacity};
use haven_core::api::VerifiedReceipt;
use haven_core::policy::Audience;
use haven_core::signature::{Point, SignatureMark, Stroke};
use std::process::Command;

fn drawn() -> SignatureMark {
    SignatureMark::Drawn {
        strokes: vec![Stroke {
            points: (0..20)
                .map(|i| Point {
                    x: 100 + i * 30,
                    y: 200 + (i % 5) * 10,
                    t: u32::from(i) * 16,
                })
                .collect(),
        }],
    }
}

async fn signed(app: &TestApp, device: &Device, name: &str, agreed: bool) -> AgreementRecord {
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let mut record = device.sign(&version, name);
    record.agreed = agreed;
    record.role = Some(Audience::Staff);
    record.job_title = Some("Class teacher".into());
    record.mark = agreed.then(drawn);
    record
}

async fn verify(app: &TestApp, code: &str) -> reqwest::Response {
    app.get(&format!("/api/v1/verify/{code}")).await
}

fn verify_ledger(app: &TestApp) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_haven_server"))
        .args(["verify-ledger", "--database"])
        .arg(app.database_arg())
        .env_remove("HAVEN_DATABASE")
        .output()
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn a_signed_record_is_kept_whole_with_how_the_signer_was_identified_and_can_be_verified() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let record = signed(&app, &device, "Ada Lovelace", true).await;
    let declined = signed(&app, &device, "Grace Hopper", false).await;
    app.push(&device.push(&[(1, &record), (2, &declined)]))
        .await;

    let stored = app.agreements().await;
    let ada = stored.iter().find(|v| v.record.id == record.id).unwrap();
    assert_eq!(ada.record, record, "the whole record, strokes included");
    assert_eq!(ada.receipt_code, record.receipt_code());
    assert!(
        ada.identified_by.starts_with("staff:"),
        "{}",
        ada.identified_by
    );
    let grace = stored.iter().find(|v| v.record.id == declined.id).unwrap();
    assert!(!grace.record.agreed, "a decline is recorded");

    let response = verify(&app, &record.receipt_code().to_lowercase()).await;
    assert_eq!(response.status(), 200);
    let receipts: Vec<VerifiedReceipt> = response.json().await.unwrap();
    assert_eq!(receipts.len(), 1);
    assert!(receipts[0].unaltered);
    assert!(receipts[0].agreed);
    assert_eq!(receipts[0].signer_initials, "A. L.");
    assert_eq!(receipts[0].policy_version, 1);
    assert!(!serde_json::to_string(&receipts)
        .unwrap()
        .contains("Lovelace"));

    expect_error(verify(&app, "ZZZZ-ZZZZ").await, 404, "not_found").await;
    expect_error(verify(&app, "not-a-receipt").await, 400, "bad_request").await;
    let (intact, out) = verify_ledger(&app);
    assert!(intact, "{out}");
    assert!(out.contains("2 entries"), "{out}");
}

#[tokio::test]
async fn a_record_for_a_child_keeps_the_child_and_the_relationship() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let mut record = signed(&app, &device, "Sara Khan", true).await;
    record.capacity = Capacity::OnBehalfOf {
        child_name: "Amira Khan".into(),
        relationship: "Mother".into(),
    };
    record.role = Some(Audience::ParentCarer);
    record.answers.insert("school_website".into(), "yes".into());
    app.push(&device.push(&[(1, &record)])).await;
    let stored = app.agreements().await;
    assert_eq!(stored[0].record, record);
}

#[tokio::test]
async fn a_changed_agreement_is_found_by_the_receipt_check_and_by_verify_ledger() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let first = signed(&app, &device, "Ada Lovelace", true).await;
    let second = signed(&app, &device, "Alan Turing", true).await;
    app.push(&device.push(&[(1, &first), (2, &second)])).await;
    assert!(verify_ledger(&app).0);

    // The database refuses the change...
    let pool = open_db(&app).await;
    let refused = sqlx::query("UPDATE agreements SET signer_name = 'Someone Else'")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("never changes"), "{refused}");
    // ...so someone with the file drops the guard first.
    crate::helpers::drop_trigger(&pool, "agreement_never_changes", "agreements").await;
    sqlx::query("UPDATE agreements SET signer_name = 'Someone Else' WHERE id = $1")
        .bind(first.id.to_string())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let receipts: Vec<VerifiedReceipt> = verify(&app, &first.receipt_code())
        .await
        .json()
        .await
        .unwrap();
    assert!(!receipts[0].unaltered, "the receipt check sees the change");
    let untouched: Vec<VerifiedReceipt> = verify(&app, &second.receipt_code())
        .await
        .json()
        .await
        .unwrap();
    assert!(untouched[0].unaltered);
    let (intact, out) = verify_ledger(&app);
    assert!(!intact, "{out}");
    assert!(out.contains("the agreement was changed"), "{out}");
    assert!(out.contains(&first.id.to_string()), "{out}");
}

#[tokio::test]
async fn a_removed_ledger_entry_breaks_the_chain() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let records = [
        signed(&app, &device, "Ada Lovelace", true).await,
        signed(&app, &device, "Alan Turing", true).await,
        signed(&app, &device, "Grace Hopper", true).await,
    ];
    app.push(&device.push(&[(1, &records[0]), (2, &records[1]), (3, &records[2])]))
        .await;
    let pool = open_db(&app).await;
    crate::helpers::drop_trigger(&pool, "ledger_never_deleted", "ledger").await;
    sqlx::query("DELETE FROM ledger WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (intact, out) = verify_ledger(&app);
    assert!(!intact, "{out}");
    assert!(out.contains("does not follow entry 1"), "{out}");
    assert!(out.contains("has no ledger entry"), "{out}");
}

#[tokio::test]
async fn agreements_stored_before_the_ledger_join_it_at_the_next_start() {
    let app = spawn_app().await;
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let pool = open_db(&app).await;
    // A row as the server stored it before records were kept whole.
    sqlx::query(
        "INSERT INTO agreements (id, policy_version_id, policy_text_sha256, signer_name, agreed, \
         signed_at, device_id, mutation_id, received_at) VALUES ($1, $2, $3, 'Old Signer', 1, $4, $5, 1, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(version.id.to_string())
    .bind(version.text_sha256.as_str())
    .bind(1_790_000_000_000_i64)
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(1_790_000_001_000_i64)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert!(!verify_ledger(&app).0, "not yet in the ledger");

    let app = app.restart().await;
    let (intact, out) = verify_ledger(&app);
    assert!(intact, "{out}");
    let stored = app.agreements().await;
    assert_eq!(stored[0].identified_by, "before accounts");
    let receipts: Vec<VerifiedReceipt> = verify(&app, &stored[0].receipt_code)
        .await
        .json()
        .await
        .unwrap();
    assert!(receipts[0].unaltered);
}
