//! A staff member's proof key (what makes a shared device's staff record
//! acceptable to the server) is sealed at rest under their data key, comes
//! back with a PIN unlock offline, and an outbox entry carries the proof.

use crate::support::holds;
use base64::Engine;
use haven::db::{Credential, CredentialKind, Db};
use haven::lock::{
    after_online_sign_in, proof_for, unlock_with_pin, LockError, SessionSecret, SignedInUser,
};
use haven_core::agreement::AgreementRecord;
use haven_core::hash::Sha256Hex;
use haven_core::sync::staff_proof;
use haven_core::sync::wire::Change;
use rexie::{Rexie, TransactionMode};
use uuid::Uuid;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

const PIN: &str = "284615";
const ACCOUNT: Uuid = Uuid::from_u128(0x5eed_0000_0000_0000_0000_0000_0000_0042);
const ONLINE_KEY: [u8; 32] = [0xA7; 32];

const STORES: [&str; 11] = [
    "policies",
    "agreements",
    "outbox",
    "meta",
    "academies",
    "reference",
    "local_users",
    "visits",
    "incidents",
    "attachments",
    "drafts",
];

async fn sign_in_online(db: &Db) -> haven::lock::Unlocked {
    after_online_sign_in(
        db,
        &SignedInUser {
            user_id: ACCOUNT.to_string(),
            name: "Tom Reilly".into(),
            email: "tom@riverside.example".into(),
        },
        &ONLINE_KEY,
        &SessionSecret {
            token: "hs_token".into(),
            expires_at: 1_900_000_000_000.0,
        },
        Some(PIN),
    )
    .await
    .unwrap()
}

fn staff_agreement(device_id: Uuid) -> AgreementRecord {
    AgreementRecord {
        id: haven::clock::new_id(),
        policy_version_id: Uuid::from_u128(0x11),
        policy_text_sha256: Sha256Hex::of(b"text"),
        signer_name: "Tom Reilly".into(),
        agreed: true,
        signed_at: haven::clock::now_ms(),
        device_id,
        signer_account: Some(ACCOUNT),
        ..Default::default()
    }
}

/// Every record of every store, as IndexedDB holds it.
async fn everything(name: &str) -> Vec<JsValue> {
    let raw = Rexie::builder(name).build().await.unwrap();
    let mut all = Vec::new();
    for store in STORES {
        let tx = raw
            .transaction(&[store], TransactionMode::ReadOnly)
            .unwrap();
        all.extend(tx.store(store).unwrap().get_all(None, None).await.unwrap());
        drop(tx);
    }
    raw.close();
    all
}

/// Whether `secret` is anywhere in storage: as bytes, or written as hex or base64.
fn stored_anywhere(records: &[JsValue], secret: &[u8]) -> bool {
    let encodings = [
        secret.to_vec(),
        secret
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
            .into_bytes(),
        base64::engine::general_purpose::STANDARD
            .encode(secret)
            .into_bytes(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(secret)
            .into_bytes(),
    ];
    records
        .iter()
        .any(|r| encodings.iter().any(|e| holds(r, e)))
}

/// Takes the sealed proof key out of a profile, as a profile saved before
/// staff proofs was.
async fn make_profile_old(name: &str) {
    let raw = Rexie::builder(name).build().await.unwrap();
    let tx = raw
        .transaction(&["local_users"], TransactionMode::ReadWrite)
        .unwrap();
    let store = tx.store("local_users").unwrap();
    let record = store
        .get(JsValue::from_str(&ACCOUNT.to_string()))
        .await
        .unwrap()
        .unwrap();
    js_sys::Reflect::delete_property(
        record.unchecked_ref::<js_sys::Object>(),
        &"proof_key".into(),
    )
    .unwrap();
    store.put(&record, None).await.unwrap();
    tx.done().await.unwrap();
    raw.close();
}

#[wasm_bindgen_test]
async fn the_proof_key_is_sealed_at_rest_and_a_pin_unlock_brings_it_back() {
    let name = format!("haven-test-proof-{}", haven::clock::new_id());
    let db = Db::open(&name).await.unwrap();
    let device = db.device().await.unwrap();
    let expected_key = staff_proof::proof_key(&ONLINE_KEY);

    let online = sign_in_online(&db).await;
    assert!(online.has_proof_key());
    let record = staff_agreement(device.device_id);
    let change = Change::CreateAgreement(record.clone());
    let proof = online.staff_proof(&change).unwrap();
    assert_eq!(proof.account, ACCOUNT);
    staff_proof::verify(&expected_key, &proof, &change).expect("the server would accept it");
    db.record_staff_signature(&record, Some(proof.clone()))
        .await
        .unwrap();
    let queued = db.outbox().await.unwrap();
    assert_eq!(
        queued[0].mutation.proof.as_ref(),
        Some(&proof),
        "the entry carries its proof"
    );

    // Nowhere on the device in the clear: not the proof key, not the online key.
    let stored = everything(&name).await;
    assert!(
        stored.iter().any(|r| holds(r, b"Tom Reilly")),
        "the search sees clear text"
    );
    assert!(
        !stored_anywhere(&stored, &expected_key),
        "the proof key is stored in the clear"
    );
    assert!(
        !stored_anywhere(&stored, &ONLINE_KEY),
        "the online key is stored"
    );

    // Locked (dropped), then unlocked offline by PIN: the same proofs.
    drop(online);
    let by_pin = unlock_with_pin(&db, &ACCOUNT.to_string(), PIN)
        .await
        .unwrap();
    assert!(by_pin.has_proof_key());
    let again = by_pin.staff_proof(&change).unwrap();
    assert_eq!(again, proof);
    // A staff record needs one, a visitor's does not.
    assert!(proof_for(&db, &by_pin, &change).await.unwrap().is_some());
    let visitor = Change::CreateAgreement(AgreementRecord {
        signer_account: None,
        ..record.clone()
    });
    assert_eq!(proof_for(&db, &by_pin, &visitor).await.unwrap(), None);
    db.close();
    Db::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_profile_from_before_proofs_must_sign_in_online_on_an_enrolled_device() {
    let name = format!("haven-test-proof-old-{}", haven::clock::new_id());
    let db = Db::open(&name).await.unwrap();
    let device = db.device().await.unwrap();
    drop(sign_in_online(&db).await);
    make_profile_old(&name).await;

    let old = unlock_with_pin(&db, &ACCOUNT.to_string(), PIN)
        .await
        .unwrap();
    assert!(!old.has_proof_key());
    let change = Change::CreateAgreement(staff_agreement(device.device_id));
    // On a staff member's own browser the push is their own session's: no proof needed.
    assert_eq!(proof_for(&db, &old, &change).await.unwrap(), None);
    // On an enrolled tablet the server would refuse it: say so, queue nothing.
    db.set_credential(Some(&Credential {
        kind: CredentialKind::Device,
        token: "hd_tablet".into(),
        expires_at: None,
        label: "Staff room tablet".into(),
        refused: false,
        owner: None,
    }))
    .await
    .unwrap();
    let refused = proof_for(&db, &old, &change).await.unwrap_err();
    assert_eq!(refused, LockError::NoProofKey);
    assert!(refused.to_string().contains("sign in online"), "{refused}");

    // One online sign-in seals a proof key, and PIN unlocks have it from then on.
    drop(sign_in_online(&db).await);
    let renewed = unlock_with_pin(&db, &ACCOUNT.to_string(), PIN)
        .await
        .unwrap();
    assert!(proof_for(&db, &renewed, &change).await.unwrap().is_some());
    db.close();
    Db::delete(&name).await.unwrap();
}
