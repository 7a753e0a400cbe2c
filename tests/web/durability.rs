//! A signature is saved with strict durability, and a full disk is reported
//! as such without losing what was saved before.

use haven::db::{Db, DbError};
use haven_core::agreement::AgreementRecord;
use haven_core::hash::Sha256Hex;
use uuid::Uuid;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen(module = "/tests/web/browser.js")]
extern "C" {
    fn spy_on_transactions() -> js_sys::Function;
    fn recorded_transactions() -> String;
    fn fill_the_disk() -> js_sys::Function;
}

fn signature(device_id: Uuid, name: &str) -> AgreementRecord {
    AgreementRecord {
        id: haven::clock::new_id(),
        policy_version_id: Uuid::from_u128(0x11),
        policy_text_sha256: Sha256Hex::of(b"text"),
        signer_name: name.into(),
        agreed: true,
        signed_at: haven::clock::now_ms(),
        device_id,
        ..Default::default()
    }
}

#[wasm_bindgen_test]
async fn a_signature_is_written_in_a_strict_durability_transaction() {
    let name = format!("haven-test-strict-{}", haven::clock::new_id());
    let db = Db::open(&name).await.unwrap();
    let device = db.device().await.unwrap();
    let restore = spy_on_transactions();
    db.record_signature(&signature(device.device_id, "Ada"))
        .await
        .unwrap();
    restore.call0(&JsValue::NULL).unwrap();

    let recorded = recorded_transactions();
    assert!(
        recorded.contains(
            r#""stores":["agreements","outbox","meta"],"mode":"readwrite","durability":"strict""#
        ),
        "{recorded}"
    );
    db.close();
    Db::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_full_disk_is_reported_clearly_and_earlier_signatures_are_kept() {
    let name = format!("haven-test-quota-{}", haven::clock::new_id());
    let db = Db::open(&name).await.unwrap();
    let device = db.device().await.unwrap();
    let first = signature(device.device_id, "Saved before");
    db.record_signature(&first).await.unwrap();

    let restore = fill_the_disk();
    let result = db
        .record_signature(&signature(device.device_id, "Too late"))
        .await;
    restore.call0(&JsValue::NULL).unwrap();

    assert_eq!(result, Err(DbError::QuotaExceeded));
    assert!(DbError::QuotaExceeded
        .to_string()
        .contains("out of storage space"));
    let kept = db.agreements().await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].record, first);
    assert_eq!(db.outbox().await.unwrap().len(), 1);
    assert_eq!(
        db.device().await.unwrap().next_mutation_id,
        2,
        "the numbering did not move"
    );
    db.close();
    Db::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_wrong_pin_try_is_counted_in_a_strict_durability_transaction() {
    use haven::lock::{after_online_sign_in, unlock_with_pin, SessionSecret, SignedInUser};
    let name = format!("haven-test-strict-pin-{}", haven::clock::new_id());
    let db = Db::open(&name).await.unwrap();
    let user = SignedInUser {
        user_id: "u-strict".into(),
        name: "Strict".into(),
        email: "strict@riverside.example".into(),
    };
    let session = SessionSecret {
        token: "t".into(),
        expires_at: 1_900_000_000_000.0,
    };
    after_online_sign_in(&db, &user, &[9u8; 32], &session, Some("284615"))
        .await
        .unwrap();
    let restore = spy_on_transactions();
    assert!(unlock_with_pin(&db, "u-strict", "558203").await.is_err());
    restore.call0(&JsValue::NULL).unwrap();

    // A power cut right after a wrong try must not give the try back.
    let recorded = recorded_transactions();
    assert!(
        recorded.contains(r#""stores":["local_users"],"mode":"readwrite","durability":"strict""#),
        "{recorded}"
    );
    db.close();
    Db::delete(&name).await.unwrap();
}
