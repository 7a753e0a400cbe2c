//! The device database keeps a signature and its outbox entry together.

use haven::db::{Db, SyncState};
use haven_core::agreement::AgreementRecord;
use haven_core::policy::{text_hash, Audience, PolicyKind, PolicyOwner, PolicyVersion};
use haven_core::pull::{Cursor, PullResponse};
use haven_core::rules::RulesVersion;
use haven_core::sync::outbox::{EntryState, Settlement};
use haven_core::sync::wire::Change;
use uuid::Uuid;
use wasm_bindgen_test::wasm_bindgen_test;

/// A database name no other test uses.
fn unique_name(test: &str) -> String {
    format!("haven-test-{test}-{}", haven::clock::new_id())
}

fn policy() -> PolicyVersion {
    let (title, body) = ("Visitor AUA", "# Wi-Fi\n\nUse the guest network.");
    PolicyVersion {
        id: Uuid::from_u128(0x11),
        policy_id: Uuid::from_u128(0x12),
        version: 1,
        title: title.into(),
        kind: PolicyKind::VisitorAua,
        audiences: vec![Audience::Visitor],
        owner: PolicyOwner::Trust,
        body_markdown: body.into(),
        approved_by: "Board of trustees".into(),
        effective_date: "2026-09-01".into(),
        last_reviewed: "2026-07-01".into(),
        next_review_due: "2027-09-01".into(),
        published_at: 1_780_000_000_000,
        text_sha256: text_hash(title, body),
        change_summary: None,
    }
}

fn signature(device_id: Uuid) -> AgreementRecord {
    let p = policy();
    AgreementRecord {
        id: haven::clock::new_id(),
        policy_version_id: p.id,
        policy_text_sha256: p.text_sha256,
        signer_name: "Grace Hopper".into(),
        agreed: true,
        signed_at: haven::clock::now_ms(),
        device_id,
        ..Default::default()
    }
}

#[wasm_bindgen_test]
async fn a_signature_and_its_outbox_entry_survive_closing_and_reopening_the_database() {
    let name = unique_name("reopen");
    let db = Db::open(&name).await.unwrap();
    let device = db.device().await.unwrap();
    let record = signature(device.device_id);
    let mutation_id = db.record_signature(&record).await.unwrap();
    assert_eq!(mutation_id, 1);
    db.close();

    let db = Db::open(&name).await.unwrap();
    let agreements = db.agreements().await.unwrap();
    assert_eq!(agreements.len(), 1);
    assert_eq!(agreements[0].record, record);
    assert_eq!(agreements[0].sync, SyncState::Pending);
    let outbox = db.outbox().await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].mutation.id, 1);
    assert_eq!(outbox[0].state, EntryState::Pending);
    let Change::CreateAgreement(queued) = &outbox[0].mutation.change else {
        panic!("an agreement was queued")
    };
    assert_eq!(queued, &record);
    // The device keeps its identity and numbering across reopening.
    let again = db.device().await.unwrap();
    assert_eq!(again.device_id, device.device_id);
    assert_eq!(again.next_mutation_id, 2);
    db.close();
    Db::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_failed_write_stores_neither_the_signature_nor_the_outbox_entry() {
    let name = unique_name("atomic");
    let db = Db::open(&name).await.unwrap();
    let device = db.device().await.unwrap();
    let record = signature(device.device_id);
    db.record_signature(&record).await.unwrap();
    // The same record id again: the agreement insert fails (signatures are
    // add-only), so the whole transaction, outbox entry included, must roll back.
    let err = db.record_signature(&record).await;
    assert!(
        err.is_err(),
        "a second write of the same signature must fail"
    );
    assert_eq!(db.agreements().await.unwrap().len(), 1);
    assert_eq!(db.outbox().await.unwrap().len(), 1);
    assert_eq!(
        db.device().await.unwrap().next_mutation_id,
        2,
        "numbering rolled back too"
    );
    db.close();
    Db::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn settling_removes_acknowledged_entries_and_keeps_rejected_ones_with_the_reason() {
    let name = unique_name("settle");
    let db = Db::open(&name).await.unwrap();
    let device = db.device().await.unwrap();
    let first = signature(device.device_id);
    let second = signature(device.device_id);
    db.record_signature(&first).await.unwrap();
    db.record_signature(&second).await.unwrap();
    assert_eq!(db.pending_count().await.unwrap(), 2);

    let settlement = Settlement {
        acknowledged: vec![1],
        rejected: vec![(2, "text_mismatch".into(), "the text changed".into())],
        unprocessed: vec![],
    };
    let sent = crate::support::outbox_mutations(&db).await;
    db.settle(&settlement, &sent).await.unwrap();

    assert_eq!(db.pending_count().await.unwrap(), 0);
    let outbox = db.outbox().await.unwrap();
    assert_eq!(outbox.len(), 1, "the rejected entry stays on the device");
    assert_eq!(
        outbox[0].state,
        EntryState::Rejected {
            code: "text_mismatch".into(),
            reason: "the text changed".into()
        }
    );
    let agreements = db.agreements().await.unwrap();
    assert_eq!(agreements[0].sync, SyncState::Synced);
    assert_eq!(
        agreements[1].sync,
        SyncState::Rejected {
            code: "text_mismatch".into(),
            reason: "the text changed".into()
        }
    );
    db.close();
    Db::delete(&name).await.unwrap();
}

/// Acknowledged entries leave in ranged deletes: an entry refused earlier
/// that sits between two acknowledged ones, one refused in this reply, and
/// one not sent must all stay.
#[wasm_bindgen_test]
async fn settling_deletes_only_the_acknowledged_entries_around_refused_and_unsent_ones() {
    let name = unique_name("settle-ranges");
    let db = Db::open(&name).await.unwrap();
    let device = db.device().await.unwrap();
    for _ in 0..6 {
        db.record_signature(&signature(device.device_id))
            .await
            .unwrap();
    }
    let all = crate::support::outbox_mutations(&db).await;
    // Number 2 was refused by an earlier push.
    db.settle(
        &Settlement {
            acknowledged: vec![],
            rejected: vec![(2, "text_mismatch".into(), "earlier".into())],
            unprocessed: vec![],
        },
        &all[1..2],
    )
    .await
    .unwrap();
    // This push carried 1, 3, 4 and 5 (not the refused 2, not yet 6).
    let sent: Vec<_> = all
        .iter()
        .filter(|m| [1, 3, 4, 5].contains(&m.id))
        .cloned()
        .collect();
    db.settle(
        &Settlement {
            acknowledged: vec![1, 3, 5],
            rejected: vec![(4, "text_mismatch".into(), "now".into())],
            unprocessed: vec![],
        },
        &sent,
    )
    .await
    .unwrap();
    let left: Vec<_> = db
        .outbox()
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.mutation.id, e.state))
        .collect();
    let refused = |reason: &str| EntryState::Rejected {
        code: "text_mismatch".into(),
        reason: reason.into(),
    };
    assert_eq!(
        left,
        vec![
            (2, refused("earlier")),
            (4, refused("now")),
            (6, EntryState::Pending)
        ]
    );
    let synced = db
        .agreements()
        .await
        .unwrap()
        .iter()
        .filter(|a| a.sync == SyncState::Synced)
        .count();
    assert_eq!(synced, 3);
    // What the badge shows, read from each entry's state alone.
    let counts = db.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.rejected), (1, 2));
    let sixth = db.outbox().await.unwrap().pop().unwrap();
    assert_eq!(counts.oldest_pending_at, Some(sixth.queued_at));
    db.close();
    Db::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn policies_are_kept_and_the_latest_version_of_each_is_listed() {
    let name = unique_name("policies");
    let db = Db::open(&name).await.unwrap();
    let v1 = policy();
    let mut v2 = policy();
    v2.id = Uuid::from_u128(0x13);
    v2.version = 2;
    v2.body_markdown = "# Wi-Fi\n\nUse the guest network only.".into();
    v2.text_sha256 = text_hash(&v2.title, &v2.body_markdown);
    db.put_policies(&[v1.clone(), v2.clone()]).await.unwrap();
    assert_eq!(db.policy(v1.id).await.unwrap(), Some(v1));
    assert_eq!(db.latest_policies().await.unwrap(), vec![v2]);
    assert_eq!(db.policy(Uuid::from_u128(0x99)).await.unwrap(), None);
    db.close();
    Db::delete(&name).await.unwrap();
}

fn pull_reply(cursor: u64, policies: Vec<PolicyVersion>, reset: bool) -> PullResponse {
    PullResponse {
        cursor: Cursor(cursor),
        more: false,
        reset,
        policies,
        rules: Some(RulesVersion {
            id: Uuid::from_u128(0x21),
            version: 1,
            published_at: 1_780_000_000_000,
            tables: haven_core::rules::defaults::tables(),
        }),
        academies: vec![],
        trust: None,
    }
}

#[wasm_bindgen_test]
async fn a_pull_is_stored_with_its_cursor_and_a_reset_replaces_what_was_there() {
    let name = unique_name("pull");
    let db = Db::open(&name).await.unwrap();
    assert_eq!(db.pull_cursor().await.unwrap(), Cursor::START);

    let first = policy();
    db.apply_pull(&pull_reply(7, vec![first.clone()], false))
        .await
        .unwrap();
    assert_eq!(db.pull_cursor().await.unwrap(), Cursor(7));
    assert_eq!(db.policy(first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(
        db.rules().await.unwrap().unwrap().tables,
        haven_core::rules::defaults::tables()
    );

    // The server was restored from a backup: the device replaces, not merges.
    let mut other = policy();
    other.id = Uuid::from_u128(0x31);
    other.policy_id = Uuid::from_u128(0x32);
    db.apply_pull(&pull_reply(2, vec![other.clone()], true))
        .await
        .unwrap();
    assert_eq!(db.pull_cursor().await.unwrap(), Cursor(2));
    assert_eq!(db.policy(first.id).await.unwrap(), None);
    assert_eq!(db.latest_policies().await.unwrap(), vec![other]);
    db.close();
    Db::delete(&name).await.unwrap();
}
