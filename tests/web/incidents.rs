//! Incidents at rest on a shared tablet: nothing of the incident's text is
//! in IndexedDB (the outbox holds it sealed for the server, the record its
//! author's sealed copy), another person's key or a wrong PIN cannot open
//! it, and once the server has it only the stub is left.

use crate::lock::PIN;
use crate::support::holds;
use haven::db::{Db, StoredIncident, SyncState};
use haven::lock::{seal_incident, unlock_with_pin};
use haven_core::incident::{IncidentKey, IncidentRecord, PersonInvolved, PersonKind, Recommended};
use haven_core::rules::{Involved, RuleTables};
use haven_core::slug::Slug;
use haven_core::sync::outbox::Settlement;
use haven_core::sync::wire::Change;
use rexie::{Rexie, TransactionMode};
use uuid::Uuid;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen(module = "/tests/web/browser.js")]
extern "C" {
    async fn server_key() -> JsValue;
    async fn open_as_server(wrapped: &str, iv: &str, ciphertext: &str) -> JsValue;
}

const DESCRIPTION: &str = "Zebrafinch disclosed a message from an adult stranger";
const PUPIL: &str = "Quillon Marchbanks";
const URL: &str = "https://unicorn-trap.example/chat";

fn unique_name(test: &str) -> String {
    format!("haven-test-incident-{test}-{}", haven::clock::new_id())
}

async fn sign_in(db: &Db, id: &str, name: &str) -> haven::lock::Unlocked {
    crate::lock::sign_in(db, id, name, Some(PIN)).await
}

fn record(device_id: Uuid, author: Uuid) -> IncidentRecord {
    let tables = RuleTables::trust_default();
    let g = tables
        .guidance(Involved::PupilOutsideLesson, "illegal-material")
        .unwrap();
    let recommended = Recommended::from_guidance(&g);
    IncidentRecord {
        id: haven::clock::new_id(),
        academy_id: Uuid::from_u128(0x302),
        device_id,
        reported_by: author,
        reported_at: 1_790_000_000_000,
        occurred_at: 1_790_000_000_000,
        location: "Library".into(),
        involved: Involved::PupilOutsideLesson,
        people: vec![PersonInvolved {
            kind: PersonKind::Pupil,
            name: PUPIL.into(),
            class: Some("5C".into()),
        }],
        incident_type: Slug::parse("illegal-material").unwrap(),
        description: DESCRIPTION.into(),
        urls: vec![URL.into()],
        device_involved: "Library PC 3".into(),
        immediate_action: "Switched the screen off".into(),
        actions_taken: recommended.referrals.clone(),
        told_dsl_in_person: Some(true),
        recommended,
        difference_reason: None,
        second_senior_staff: None,
        outcome: None,
        attachments: vec![],
    }
}

/// Every value in every store of the database, as IndexedDB holds it.
async fn everything(name: &str) -> Vec<JsValue> {
    let raw = Rexie::builder(name).build().await.unwrap();
    let stores = raw.store_names();
    let mut all = Vec::new();
    for store in stores {
        let tx = raw
            .transaction(&[&store], TransactionMode::ReadOnly)
            .unwrap();
        all.extend(tx.store(&store).unwrap().get_all(None, None).await.unwrap());
    }
    raw.close();
    all
}

#[wasm_bindgen_test]
async fn an_unsynced_incident_is_unreadable_on_the_device_and_only_a_stub_is_left_after_sync() {
    let name = unique_name("at-rest");
    let db = Db::open(&name).await.unwrap();
    let device = db.device().await.unwrap().device_id;
    let alice_id = "0198aaaa-0000-7000-8000-000000000001";
    let alice = sign_in(&db, alice_id, "Alice").await;
    let key = IncidentKey {
        key_id: "test".into(),
        spki: server_key().await.as_string().unwrap(),
    };
    let incident = record(device, Uuid::parse_str(alice_id).unwrap());
    let json = serde_json::to_vec(&incident).unwrap();
    let sealed = seal_incident(&key, &incident).await.unwrap();
    let stored = StoredIncident {
        id: incident.id,
        author: alice_id.into(),
        academy_id: incident.academy_id,
        incident_type: incident.incident_type.clone(),
        submitted_at: incident.reported_at,
        immediate: true,
        sync: SyncState::Pending,
        author_copy: Some(alice.seal(&json).await.unwrap()),
    };
    db.record_incident(&stored, sealed.clone(), None)
        .await
        .unwrap();

    // Nothing of its text anywhere in IndexedDB.
    let values = everything(&name).await;
    assert!(!values.is_empty());
    for needle in [
        DESCRIPTION,
        PUPIL,
        URL,
        "Library PC 3",
        "Switched the screen off",
    ] {
        assert!(
            !values.iter().any(|v| holds(v, needle.as_bytes())),
            "{needle:?} is stored readable"
        );
    }
    // The server's key opens what the outbox holds: the whole record.
    let outbox = db.outbox().await.unwrap();
    let Change::CreateIncident(queued) = &outbox[0].mutation.change else {
        panic!("the incident is queued")
    };
    let opened = open_as_server(&queued.wrapped_key, &queued.iv, &queued.ciphertext)
        .await
        .as_string()
        .unwrap();
    let back: IncidentRecord = serde_json::from_str(&opened).unwrap();
    assert_eq!(back, incident);

    // Its author can read their copy; another person cannot, nor a wrong PIN.
    let copy = db.incidents().await.unwrap()[0]
        .author_copy
        .clone()
        .unwrap();
    assert_eq!(alice.open(&copy).await.unwrap(), json);
    let bob = sign_in(&db, "0198bbbb-0000-7000-8000-000000000002", "Bob").await;
    assert!(
        bob.open(&copy).await.is_err(),
        "another person's key cannot open it"
    );
    assert!(
        unlock_with_pin(&db, alice_id, "000000").await.is_err(),
        "a wrong PIN unlocks nothing"
    );

    // The server acknowledges it: only the stub stays.
    let sent: Vec<_> = outbox.into_iter().map(|e| e.mutation).collect();
    db.settle(
        &Settlement {
            acknowledged: sent.iter().map(|m| m.id).collect(),
            rejected: vec![],
            unprocessed: vec![],
        },
        &sent,
    )
    .await
    .unwrap();
    assert!(db.outbox().await.unwrap().is_empty());
    let left = db.incidents().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, incident.id);
    assert_eq!(left[0].sync, SyncState::Synced);
    assert_eq!(
        left[0].author_copy, None,
        "the readable copy went with the sync"
    );
    assert_eq!(left[0].incident_type, incident.incident_type);
    db.close();
    Db::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_refused_incident_can_be_sealed_again_and_queued_from_its_authors_copy() {
    let name = unique_name("resend");
    let db = Db::open(&name).await.unwrap();
    let device = db.device().await.unwrap().device_id;
    let alice_id = "0198aaaa-0000-7000-8000-000000000003";
    let alice = sign_in(&db, alice_id, "Alice").await;
    let old_key = IncidentKey {
        key_id: "old".into(),
        spki: server_key().await.as_string().unwrap(),
    };
    let incident = record(device, Uuid::parse_str(alice_id).unwrap());
    let json = serde_json::to_vec(&incident).unwrap();
    let stored = StoredIncident {
        id: incident.id,
        author: alice_id.into(),
        academy_id: incident.academy_id,
        incident_type: incident.incident_type.clone(),
        submitted_at: incident.reported_at,
        immediate: true,
        sync: SyncState::Pending,
        author_copy: Some(alice.seal(&json).await.unwrap()),
    };
    db.record_incident(
        &stored,
        seal_incident(&old_key, &incident).await.unwrap(),
        None,
    )
    .await
    .unwrap();
    // The server no longer has that key.
    let sent = crate::support::outbox_mutations(&db).await;
    db.settle(
        &Settlement {
            acknowledged: vec![],
            rejected: vec![(
                sent[0].id,
                "unknown_key".into(),
                "fetch the key again".into(),
            )],
            unprocessed: vec![],
        },
        &sent,
    )
    .await
    .unwrap();
    let refused = db.incidents().await.unwrap().remove(0);
    assert!(matches!(refused.sync, SyncState::Rejected { .. }));

    // Its author opens their copy and seals it for the server's new key.
    let new_key = IncidentKey {
        key_id: "new".into(),
        spki: server_key().await.as_string().unwrap(),
    };
    let copy = alice
        .open(refused.author_copy.as_ref().unwrap())
        .await
        .unwrap();
    let again: IncidentRecord = serde_json::from_slice(&copy).unwrap();
    db.resend_incident(
        &refused,
        seal_incident(&new_key, &again).await.unwrap(),
        None,
    )
    .await
    .unwrap();
    let outbox = db.outbox().await.unwrap();
    assert_eq!(
        outbox.len(),
        1,
        "the refused entry made way for the new one"
    );
    let Change::CreateIncident(queued) = &outbox[0].mutation.change else {
        panic!("the incident is queued again")
    };
    assert_eq!(queued.key_id, "new");
    assert!(outbox[0].mutation.id > sent[0].id, "a new mutation number");
    assert_eq!(db.incidents().await.unwrap()[0].sync, SyncState::Pending);
    db.close();
    Db::delete(&name).await.unwrap();
}
