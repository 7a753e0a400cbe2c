//! A device that takes a new id (its old one is used by a copy of it, or the
//! server's count is not its own) keeps every record: one strict
//! transaction renumbers what waits, and refused entries keep their reason.

use haven::db::{Db, SyncState, REFUSED_KEYS_FROM};
use haven_core::agreement::AgreementRecord;
use haven_core::hash::Sha256Hex;
use haven_core::sync::outbox::{EntryState, Settlement};
use haven_core::sync::wire::Change;
use uuid::Uuid;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen(module = "/tests/web/browser.js")]
extern "C" {
    fn spy_on_new_id_transactions() -> js_sys::Function;
    fn new_id_transactions() -> String;
    fn fail_the_third_put() -> js_sys::Function;
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

fn name_of(change: &Change) -> String {
    match change {
        Change::CreateAgreement(r) => r.signer_name.clone(),
        other => panic!("not an agreement: {other:?}"),
    }
}

/// Six signatures: 1 acknowledged, 3 refused, 2, 4, 5, 6 waiting.
async fn device_with_history(db: &Db) -> Vec<AgreementRecord> {
    let device = db.device().await.unwrap();
    let mut records = Vec::new();
    for i in 1..=6 {
        let record = signature(device.device_id, &format!("Signer {i}"));
        db.record_signature(&record).await.unwrap();
        records.push(record);
    }
    let sent = crate::support::outbox_mutations(db).await;
    let settlement = Settlement {
        acknowledged: vec![1],
        rejected: vec![(3, "unknown_policy_version".into(), "withdrawn".into())],
        unprocessed: vec![2, 4, 5, 6],
    };
    db.settle(&settlement, &sent).await.unwrap();
    records
}

#[wasm_bindgen_test]
async fn a_new_id_renumbers_what_waits_from_one_and_keeps_every_record() {
    let name = format!("haven-test-new-id-{}", haven::clock::new_id());
    let db = Db::open(&name).await.unwrap();
    let records = device_with_history(&db).await;
    let before = db.device().await.unwrap();
    let refused_before: Vec<_> = db
        .outbox()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.state != EntryState::Pending)
        .collect();

    let taken = db.take_new_device_id().await.unwrap();

    let after = db.device().await.unwrap();
    assert_eq!(taken.previous, before.device_id);
    assert_ne!(after.device_id, before.device_id);
    assert_eq!(taken.device_id, after.device_id);
    assert_eq!(
        after.secret, before.secret,
        "the secret stays: it is this browser's"
    );
    assert_eq!(after.previous_ids, vec![before.device_id]);
    assert!(after.is_own(before.device_id) && after.is_own(after.device_id));
    assert_eq!(taken.renumbered, 4);
    assert_eq!(after.next_mutation_id, 5);

    let outbox = db.outbox().await.unwrap();
    let pending: Vec<_> = outbox
        .iter()
        .filter(|e| e.state == EntryState::Pending)
        .collect();
    assert_eq!(
        pending.iter().map(|e| e.mutation.id).collect::<Vec<_>>(),
        vec![1, 2, 3, 4],
        "numbered from 1 without a gap, as the server needs"
    );
    assert_eq!(
        pending
            .iter()
            .map(|e| name_of(&e.mutation.change))
            .collect::<Vec<_>>(),
        vec!["Signer 2", "Signer 4", "Signer 5", "Signer 6"],
        "in the order they were made, each record unchanged"
    );
    // The record's own device id is not rewritten: the server accepts an
    // earlier id of the same device, and a staff proof covers it.
    assert!(pending
        .iter()
        .all(|e| e.mutation.change.made_on() == before.device_id));

    let refused: Vec<_> = outbox
        .iter()
        .filter(|e| e.state != EntryState::Pending)
        .collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(
        refused[0].state, refused_before[0].state,
        "state and reason kept"
    );
    assert_eq!(
        refused[0].mutation.change,
        refused_before[0].mutation.change
    );
    assert!(refused[0].mutation.id >= REFUSED_KEYS_FROM);

    let agreements = db.agreements().await.unwrap();
    assert_eq!(agreements.len(), 6, "no record deleted");
    for record in &records {
        assert!(agreements.iter().any(|a| &a.record == record));
    }
    let state_of = |i: usize| {
        agreements
            .iter()
            .find(|a| a.record.id == records[i].id)
            .unwrap()
    };
    assert_eq!(state_of(0).sync, SyncState::Synced);
    assert!(matches!(state_of(2).sync, SyncState::Rejected { .. }));
    assert_eq!((state_of(1).mutation_id, state_of(5).mutation_id), (1, 4));

    // The next record follows on, and never lands on a refused entry.
    let next = signature(after.device_id, "Signer 7");
    assert_eq!(db.record_signature(&next).await.unwrap(), 5);
    assert!(db.identity_notice().await.unwrap().is_some());

    // A second new id moves a newly refused entry past the first one.
    let sent: Vec<_> = db.outbox_head(Some(5)).await.unwrap();
    let sent: Vec<_> = sent.into_iter().map(|e| e.mutation).collect();
    let settlement = Settlement {
        acknowledged: vec![],
        rejected: vec![(2, "device_mismatch".into(), "another device".into())],
        unprocessed: vec![1, 3, 4, 5],
    };
    db.settle(&settlement, &sent).await.unwrap();
    db.take_new_device_id().await.unwrap();
    let outbox = db.outbox().await.unwrap();
    let ids: Vec<u64> = outbox.iter().map(|e| e.mutation.id).collect();
    assert_eq!(
        ids,
        vec![1, 2, 3, 4, REFUSED_KEYS_FROM, REFUSED_KEYS_FROM + 1]
    );
    assert_eq!(
        db.device().await.unwrap().previous_ids,
        vec![before.device_id, after.device_id]
    );
    db.dismiss_identity_notice().await.unwrap();
    assert_eq!(db.identity_notice().await.unwrap(), None);
    db.close();
    Db::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_new_id_is_taken_in_one_strict_transaction_or_not_at_all() {
    let name = format!("haven-test-new-id-tx-{}", haven::clock::new_id());
    let db = Db::open(&name).await.unwrap();
    device_with_history(&db).await;
    let before = db.device().await.unwrap();
    let outbox_before = db.outbox().await.unwrap();

    // A write failing half way (after the outbox was cleared and one entry
    // put back) leaves everything as it was.
    let restore = fail_the_third_put();
    let result = db.take_new_device_id().await;
    restore.call0(&JsValue::NULL).unwrap();
    assert!(result.is_err());
    assert_eq!(db.device().await.unwrap(), before);
    assert_eq!(db.outbox().await.unwrap(), outbox_before);
    assert_eq!(db.identity_notice().await.unwrap(), None);

    let restore = spy_on_new_id_transactions();
    db.take_new_device_id().await.unwrap();
    restore.call0(&JsValue::NULL).unwrap();
    let recorded = new_id_transactions();
    assert_eq!(
        recorded,
        r#"[{"stores":["outbox","meta","agreements"],"mode":"readwrite","durability":"strict"}]"#,
        "one transaction, flushed to disk before the device pushes under the new id"
    );
    db.close();
    Db::delete(&name).await.unwrap();
}
