//! Visits at reception on the device: signing in writes the agreement, the
//! visit and both outbox entries together; settling marks them, and in the
//! same transaction forgets what the server now has and the device no
//! longer needs: an ended visit goes, and on an enrolled device an agreement
//! becomes a stub with no name, answers or signature. Who is still on site
//! stays, for the roll call; a returning visitor is known by a digest.

use crate::support::holds;
use haven::db::{Db, KeptSnapshot, StoredVisit, SyncState};
use haven_core::agreement::AgreementRecord;
use haven_core::api::accounts::{DeviceKind, DeviceView};
use haven_core::hash::Sha256Hex;
use haven_core::signature::{Point, SignatureMark, Stroke};
use haven_core::sync::outbox::Settlement;
use haven_core::sync::wire::Change;
use haven_core::visit::{
    badge_code, earlier_agreement, returning_digest, Host, ReceptionSettings, ReceptionSnapshot,
    SignOutMethod, VisitEnd, VisitRecord, VisitorChecks, VisitorType, DAY_MS,
};
use rexie::{Rexie, TransactionMode};
use uuid::Uuid;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen(module = "/tests/web/browser.js")]
extern "C" {
    /// Makes every `method` request (`put`, `delete`) on `store` fail as it
    /// is made; call the returned function to undo it.
    fn fail_requests(store: &str, method: &str) -> js_sys::Function;
}

fn unique_name(test: &str) -> String {
    format!("haven-test-{test}-{}", haven::clock::new_id())
}

const ACADEMY: Uuid = Uuid::from_u128(0x302);

/// A visitor's agreement as the kiosk makes it: name, organisation and host
/// in the answers, a drawn signature.
fn agreement(device_id: Uuid, name: &str) -> AgreementRecord {
    AgreementRecord {
        id: haven::clock::new_id(),
        policy_version_id: Uuid::from_u128(0x11),
        policy_text_sha256: Sha256Hex::of(b"text"),
        signer_name: name.into(),
        agreed: true,
        signed_at: 1_790_000_000_000,
        device_id,
        answers: [
            ("organisation".to_owned(), "Acme".to_owned()),
            ("visiting".to_owned(), "Helen Okafor".to_owned()),
        ]
        .into(),
        mark: Some(SignatureMark::Drawn {
            strokes: vec![Stroke {
                points: vec![
                    Point { x: 10, y: 20, t: 0 },
                    Point {
                        x: 30,
                        y: 40,
                        t: 16,
                    },
                ],
            }],
        }),
        ..Default::default()
    }
}

fn visit(device_id: Uuid, agreement_id: Uuid, name: &str, at: i64) -> VisitRecord {
    let id = haven::clock::new_id();
    VisitRecord {
        id,
        academy_id: ACADEMY,
        device_id,
        visitor_name: name.into(),
        organisation: "Acme".into(),
        visitor_type: VisitorType::Contractor,
        host: Host {
            staff_id: None,
            name: "Helen Okafor".into(),
        },
        car_registration: None,
        badge_code: badge_code(id),
        signed_in_at: at,
        checks: VisitorChecks::default(),
        escort_required: true,
        agreement_id,
        agreement_version_id: Uuid::from_u128(0x11),
    }
}

fn end(v: &StoredVisit, at: i64) -> VisitEnd {
    VisitEnd {
        id: haven::clock::new_id(),
        visit_id: v.record.id,
        device_id: v.record.device_id,
        signed_out_at: at,
        method: SignOutMethod::BadgeCode,
    }
}

async fn enrol(db: &Db, kind: DeviceKind) {
    db.set_enrolment(&DeviceView {
        id: Uuid::from_u128(0xe1),
        sync_device_id: db.device().await.unwrap().device_id,
        academy_id: ACADEMY,
        kind,
        label: "Front desk".into(),
        enrolled_at: 1_790_000_000_000,
        last_contact_at: 1_790_000_000_000,
        reported_backlog: 0,
        revoked_at: None,
    })
    .await
    .unwrap();
}

async fn acknowledge_all(db: &Db) -> Result<(), haven::db::DbError> {
    let sent = crate::support::outbox_mutations(db).await;
    let settlement = Settlement {
        acknowledged: sent.iter().map(|m| m.id).collect(),
        rejected: vec![],
        unprocessed: vec![],
    };
    db.settle(&settlement, &sent).await
}

async fn visit_named(db: &Db, name: &str) -> StoredVisit {
    db.visits()
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.record.visitor_name == name)
        .unwrap()
}

/// Every value in `store`, as IndexedDB holds it.
async fn raw_store(name: &str, store: &str) -> Vec<JsValue> {
    let raw = Rexie::builder(name).build().await.unwrap();
    let tx = raw
        .transaction(&[store], TransactionMode::ReadOnly)
        .unwrap();
    let all = tx.store(store).unwrap().get_all(None, None).await.unwrap();
    drop(tx);
    raw.close();
    all
}

/// Every value in every store of the database.
async fn everything(name: &str) -> Vec<JsValue> {
    let raw = Rexie::builder(name).build().await.unwrap();
    let mut all = Vec::new();
    for store in raw.store_names() {
        let tx = raw
            .transaction(&[&store], TransactionMode::ReadOnly)
            .unwrap();
        all.extend(tx.store(&store).unwrap().get_all(None, None).await.unwrap());
    }
    raw.close();
    all
}

fn anywhere(values: &[JsValue], needle: &str) -> bool {
    values.iter().any(|v| holds(v, needle.as_bytes()))
}

#[wasm_bindgen_test]
async fn signing_in_stores_the_agreement_the_visit_and_both_outbox_entries_in_order() {
    let name = unique_name("visit-sign-in");
    let db = Db::open(&name).await.unwrap();
    let device = db.device().await.unwrap().device_id;
    let a = agreement(device, "Ada Lovelace");
    let v = visit(device, a.id, "Ada Lovelace", 1_790_000_000_000);
    db.sign_in_visitor(Some(&a), &v).await.unwrap();

    let outbox = db.outbox().await.unwrap();
    assert_eq!(outbox.len(), 2);
    assert!(matches!(&outbox[0].mutation.change, Change::CreateAgreement(r) if r.id == a.id));
    assert!(matches!(&outbox[1].mutation.change, Change::CreateVisit(r) if *r == v));
    let visits = db.visits().await.unwrap();
    assert_eq!(visits.len(), 1);
    assert!(visits[0].is_on_site());
    assert_eq!(db.agreements().await.unwrap().len(), 1);

    // The same visit again is refused and leaves nothing half-written.
    assert!(db.sign_in_visitor(None, &v).await.is_err());
    assert_eq!(db.outbox().await.unwrap().len(), 2);

    // Signing out queues the end and shows the visit as ended at once.
    let e = end(&visits[0], 1_790_000_100_000);
    db.sign_out_visitor(&visits[0], &e).await.unwrap();
    let visits = db.visits().await.unwrap();
    assert_eq!(visits[0].end.as_ref(), Some(&e));
    assert_eq!(visits[0].end_sync, Some(SyncState::Pending));
    assert!(!visits[0].fully_synced());

    // The server has the sign-in and the sign-out: the visit is gone from
    // the device. This browser is not enrolled (a person's own device), so
    // the agreement stays whole, to show its signer what they signed.
    acknowledge_all(&db).await.unwrap();
    assert!(db.visits().await.unwrap().is_empty());
    assert!(db.outbox().await.unwrap().is_empty());
    let kept = db.agreements().await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].sync, SyncState::Synced);
    assert_eq!(kept[0].record, a);
    assert!(db.agreement_stubs().await.unwrap().is_empty());
    db.close();
    Db::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn on_an_enrolled_kiosk_the_acknowledgement_leaves_a_stub_in_the_same_transaction() {
    let name = unique_name("visit-stub");
    let db = Db::open(&name).await.unwrap();
    enrol(&db, DeviceKind::ReceptionKiosk).await;
    let device = db.device().await.unwrap().device_id;
    let a = agreement(device, "Ada Lovelace");
    let v = visit(device, a.id, "Ada Lovelace", 1_790_000_000_000);
    db.sign_in_visitor(Some(&a), &v).await.unwrap();

    // Neither half of the settlement lands without the other: the outbox
    // entries cannot be deleted, so the stub is not kept either…
    let restore = fail_requests("outbox", "delete");
    assert!(acknowledge_all(&db).await.is_err());
    restore.call0(&JsValue::NULL).unwrap();
    let whole = db.agreements().await.unwrap();
    assert_eq!(whole.len(), 1, "still whole");
    assert_eq!(whole[0].sync, SyncState::Pending);
    assert_eq!(db.outbox().await.unwrap().len(), 2);
    assert!(db.agreement_stubs().await.unwrap().is_empty());
    // …and the stub cannot be written, so the entries stay.
    let restore = fail_requests("agreements", "put");
    assert!(acknowledge_all(&db).await.is_err());
    restore.call0(&JsValue::NULL).unwrap();
    assert_eq!(db.agreements().await.unwrap()[0].sync, SyncState::Pending);
    assert_eq!(db.outbox().await.unwrap().len(), 2);
    assert_eq!(db.visits().await.unwrap()[0].sync, SyncState::Pending);

    // The server acknowledges both: the agreement is a stub, at once.
    acknowledge_all(&db).await.unwrap();
    assert!(db.outbox().await.unwrap().is_empty());
    assert!(
        db.agreements().await.unwrap().is_empty(),
        "nothing kept whole"
    );
    let stubs = db.agreement_stubs().await.unwrap();
    assert_eq!(stubs.len(), 1);
    let stub = &stubs[0];
    assert_eq!(stub.record.id, a.id);
    assert_eq!(stub.record.policy_version_id, a.policy_version_id);
    assert_eq!(stub.record.signed_at, a.signed_at);
    assert_eq!(stub.sync, SyncState::Synced);
    assert_eq!(stub.record_sha256, a.record_sha256());
    assert_eq!(stub.receipt_code, a.receipt_code());
    // No name, organisation, host, answers or signature in the store.
    let stored = raw_store(&name, "agreements").await;
    assert_eq!(stored.len(), 1);
    for gone in [
        "Ada",
        "Lovelace",
        "Acme",
        "Helen",
        "strokes",
        "answers",
        "signer_name",
    ] {
        assert!(
            !anywhere(&stored, gone),
            "{gone:?} is still in the agreements store"
        );
    }

    // The visitor is still on site: the roll call has their name.
    let visits = db.visits().await.unwrap();
    assert_eq!(visits.len(), 1);
    assert_eq!(visits[0].record.visitor_name, "Ada Lovelace");
    assert_eq!(visits[0].sync, SyncState::Synced);
    assert!(visits[0].is_on_site());

    // Coming back, typed a little differently, they are known by the digest.
    let (key, known) = db.returning_visitors().await.unwrap();
    let typed = returning_digest(&key, " ada  LOVELACE ", "acme");
    let found = earlier_agreement(&known, &typed, a.policy_version_id).unwrap();
    assert_eq!(found.agreement_id, a.id);
    let other = returning_digest(&key, "Ada Lovelace", "Other Firm");
    assert!(earlier_agreement(&known, &other, a.policy_version_id).is_none());

    // They leave; once the server has the end, nothing of them is left but
    // the stub (no name anywhere on the device).
    let here = visit_named(&db, "Ada Lovelace").await;
    db.sign_out_visitor(&here, &end(&here, 1_790_000_100_000))
        .await
        .unwrap();
    assert!(
        anywhere(&everything(&name).await, "Lovelace"),
        "until the server has it"
    );
    acknowledge_all(&db).await.unwrap();
    assert!(db.visits().await.unwrap().is_empty());
    assert!(!anywhere(&everything(&name).await, "Lovelace"));
    let stubs = db.agreement_stubs().await.unwrap();
    assert_eq!(stubs[0].last_visit_ended_at, Some(1_790_000_100_000));
    db.close();
    Db::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_shared_tablet_keeps_a_stub_and_a_refused_agreement_stays_whole() {
    let name = unique_name("tablet-stub");
    let db = Db::open(&name).await.unwrap();
    enrol(&db, DeviceKind::SharedTablet).await;
    let device = db.device().await.unwrap().device_id;
    let kept = agreement(device, "Tom Reilly");
    let refused = agreement(device, "Priya Typed");
    db.record_signature(&kept).await.unwrap();
    db.record_signature(&refused).await.unwrap();
    let sent = crate::support::outbox_mutations(&db).await;
    let settlement = Settlement {
        acknowledged: vec![sent[0].id],
        rejected: vec![(sent[1].id, "text_mismatch".into(), "not the text".into())],
        unprocessed: vec![],
    };
    db.settle(&settlement, &sent).await.unwrap();
    let stubs = db.agreement_stubs().await.unwrap();
    assert_eq!(stubs.len(), 1);
    assert_eq!(stubs[0].record.id, kept.id);
    // The refused one is kept whole, to be put right.
    let whole = db.agreements().await.unwrap();
    assert_eq!(whole.len(), 1);
    assert_eq!(whole[0].record.signer_name, "Priya Typed");
    assert!(matches!(whole[0].sync, SyncState::Rejected { .. }));
    assert!(!anywhere(&raw_store(&name, "agreements").await, "Reilly"));
    db.close();
    Db::delete(&name).await.unwrap();
}

fn snapshot(on_site: Vec<VisitRecord>, ended_recently: Vec<Uuid>) -> KeptSnapshot {
    KeptSnapshot {
        snapshot: ReceptionSnapshot {
            academy_id: ACADEMY,
            settings: ReceptionSettings::default(),
            hosts: vec![],
            on_site,
            ended_recently,
            clock_wrong: vec![],
            devices: vec![],
            generated_at: 0,
        },
        fetched_at: 0,
    }
}

#[wasm_bindgen_test]
async fn a_kiosk_keeps_who_is_on_site_and_recognises_past_visitors_only_for_the_academys_days() {
    let name = unique_name("visit-minimise");
    let db = Db::open(&name).await.unwrap();
    let device = db.device().await.unwrap().device_id;
    let day0 = 1_790_000_000_000;
    // Signed and sent before this device was enrolled (or before stubs
    // existed): kept whole, until the sweep.
    let earlier = agreement(device, "Early Bird");
    db.record_signature(&earlier).await.unwrap();
    acknowledge_all(&db).await.unwrap();
    enrol(&db, DeviceKind::ReceptionKiosk).await;

    // left_long_ago: out on day 0. left_lately: out on day 25. on_site:
    // still here. end_unsent: out on day 0, the server does not have it yet.
    let mut signed = Vec::new();
    for who in ["left_long_ago", "left_lately", "on_site", "end_unsent"] {
        let a = agreement(device, who);
        let v = visit(device, a.id, who, day0);
        db.sign_in_visitor(Some(&a), &v).await.unwrap();
        signed.push((who, a.id, v));
    }
    // A snapshot fetched now lists all four on site.
    let all: Vec<_> = signed.iter().map(|(_, _, v)| v.clone()).collect();
    db.put_reception_snapshot(&snapshot(all, vec![]))
        .await
        .unwrap();
    for (who, day) in [("left_long_ago", 0), ("left_lately", 25)] {
        let v = visit_named(&db, who).await;
        db.sign_out_visitor(&v, &end(&v, day0 + day * DAY_MS))
            .await
            .unwrap();
    }
    acknowledge_all(&db).await.unwrap();
    let v = visit_named(&db, "end_unsent").await;
    db.sign_out_visitor(&v, &end(&v, day0)).await.unwrap();

    // The two whose ends the server has are gone from the visits and from
    // the kept snapshot, in the acknowledgement's transaction.
    let names = |visits: Vec<StoredVisit>| -> Vec<String> {
        visits.into_iter().map(|v| v.record.visitor_name).collect()
    };
    assert_eq!(
        names(db.visits().await.unwrap()),
        vec!["on_site", "end_unsent"]
    );
    let kept = db.reception_snapshot().await.unwrap().unwrap();
    let listed: Vec<_> = kept
        .snapshot
        .on_site
        .iter()
        .map(|v| v.visitor_name.as_str())
        .collect();
    assert_eq!(listed, vec!["on_site", "end_unsent"]);
    assert_eq!(db.agreement_stubs().await.unwrap().len(), 4);

    // Thirty days after day 0: the sweep stubs the early agreement; the stub
    // of the visitor who left on day 0 goes (nothing relies on it, and the
    // academy recognises for 30 days), and so does the early one, signed on
    // day 0 and never a visit here.
    let now = day0 + 30 * DAY_MS;
    assert_eq!(db.minimise(now, Some(30)).await.unwrap(), 0);
    assert!(
        db.agreements().await.unwrap().is_empty(),
        "nothing kept whole"
    );
    let ids: Vec<Uuid> = db
        .agreement_stubs()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.record.id)
        .collect();
    let id_of = |who: &str| signed.iter().find(|(w, _, _)| *w == who).unwrap().1;
    assert_eq!(
        ids,
        vec![id_of("left_lately"), id_of("on_site"), id_of("end_unsent")]
    );
    for gone in [
        "left_long_ago",
        "left_lately",
        "Early Bird",
        "Acme",
        "strokes",
    ] {
        assert!(
            !anywhere(&raw_store(&name, "agreements").await, gone),
            "{gone}"
        );
    }

    // The server's next snapshot says end_unsent left (another desk's
    // sign-out reached it first): the device keeps only who is on site.
    let listed_twice = snapshot(
        signed.iter().map(|(_, _, v)| v.clone()).collect(),
        vec![signed[0].2.id, signed[1].2.id, signed[3].2.id],
    );
    db.put_reception_snapshot(&listed_twice).await.unwrap();
    let kept = db.reception_snapshot().await.unwrap().unwrap();
    let listed: Vec<_> = kept
        .snapshot
        .on_site
        .iter()
        .map(|v| v.visitor_name.as_str())
        .collect();
    assert_eq!(listed, vec!["on_site"]);

    // With 0 days, a stub goes as soon as no visit here relies on it; the
    // visitor on site keeps theirs (and their name, for the roll call).
    acknowledge_all(&db).await.unwrap();
    db.minimise(now, Some(0)).await.unwrap();
    let ids: Vec<Uuid> = db
        .agreement_stubs()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.record.id)
        .collect();
    assert_eq!(ids, vec![id_of("on_site")]);
    assert_eq!(names(db.visits().await.unwrap()), vec!["on_site"]);
    let everything = everything(&name).await;
    assert!(anywhere(&everything, "on_site"));
    for gone in ["left_long_ago", "left_lately", "end_unsent", "Early Bird"] {
        assert!(
            !anywhere(&everything, gone),
            "{gone} is still on the device"
        );
    }
    db.close();
    Db::delete(&name).await.unwrap();
}
