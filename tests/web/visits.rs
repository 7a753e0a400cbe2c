//! Visits at reception on the device: signing in writes the agreement, the
//! visit and both outbox entries together; settling marks them; the
//! retention purge forgets only visits that ended, reached the server and
//! waited out the academy's days.

use haven::db::{Db, StoredVisit, SyncState};
use haven_core::agreement::AgreementRecord;
use haven_core::hash::Sha256Hex;
use haven_core::sync::outbox::Settlement;
use haven_core::sync::wire::Change;
use haven_core::visit::{
    badge_code, Host, SignOutMethod, VisitEnd, VisitRecord, VisitorChecks, VisitorType, DAY_MS,
};
use uuid::Uuid;
use wasm_bindgen_test::wasm_bindgen_test;

fn unique_name(test: &str) -> String {
    format!("haven-test-{test}-{}", haven::clock::new_id())
}

fn agreement(device_id: Uuid, name: &str) -> AgreementRecord {
    AgreementRecord {
        id: haven::clock::new_id(),
        policy_version_id: Uuid::from_u128(0x11),
        policy_text_sha256: Sha256Hex::of(b"text"),
        signer_name: name.into(),
        agreed: true,
        signed_at: 1_790_000_000_000,
        device_id,
        ..Default::default()
    }
}

fn visit(device_id: Uuid, agreement_id: Uuid, name: &str, at: i64) -> VisitRecord {
    let id = haven::clock::new_id();
    VisitRecord {
        id,
        academy_id: Uuid::from_u128(0x302),
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

async fn acknowledge_all(db: &Db) {
    let sent: Vec<_> = db
        .outbox()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.mutation)
        .collect();
    let settlement = Settlement {
        acknowledged: sent.iter().map(|m| m.id).collect(),
        rejected: vec![],
        unprocessed: vec![],
    };
    db.settle(&settlement, &sent).await.unwrap();
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

    acknowledge_all(&db).await;
    let visits = db.visits().await.unwrap();
    assert_eq!(visits[0].sync, SyncState::Synced);
    assert_eq!(visits[0].end_sync, Some(SyncState::Synced));
    assert!(db.outbox().await.unwrap().is_empty());
    db.close();
    Db::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn the_retention_purge_forgets_only_what_is_due() {
    let name = unique_name("visit-purge");
    let db = Db::open(&name).await.unwrap();
    let device = db.device().await.unwrap().device_id;
    let day0 = 1_790_000_000_000;
    let mut ids = Vec::new();
    // old_done: ended on day 0 and synced → due after 30 days.
    // recent_done: ended on day 25 and synced → kept.
    // on_site: never ended → kept.
    // old_unsynced: ended on day 0, its end not yet at the server → kept.
    for (who, ends_on) in [
        ("old_done", Some(0)),
        ("recent_done", Some(25)),
        ("on_site", None),
        ("old_unsynced", Some(0)),
    ] {
        let a = agreement(device, who);
        let v = visit(device, a.id, who, day0);
        db.sign_in_visitor(Some(&a), &v).await.unwrap();
        ids.push((who, v.id, a.id, ends_on));
    }
    for (who, id, _, ends_on) in &ids {
        let Some(day) = ends_on else { continue };
        if *who == "old_unsynced" {
            continue;
        }
        let stored = db
            .visits()
            .await
            .unwrap()
            .into_iter()
            .find(|v| v.record.id == *id)
            .unwrap();
        db.sign_out_visitor(&stored, &end(&stored, day0 + day * DAY_MS))
            .await
            .unwrap();
    }
    acknowledge_all(&db).await;
    // The last one signs out after everything else was acknowledged.
    let (_, late_id, _, _) = ids[3];
    let stored = db
        .visits()
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.record.id == late_id)
        .unwrap();
    db.sign_out_visitor(&stored, &end(&stored, day0))
        .await
        .unwrap();

    let now = day0 + 30 * DAY_MS;
    assert_eq!(db.forget_old_visits(now, 30).await.unwrap(), 1);
    let left: Vec<_> = db
        .visits()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.record.visitor_name)
        .collect();
    assert_eq!(left, vec!["recent_done", "on_site", "old_unsynced"]);
    // The agreement signed at the forgotten visit goes with it; the others stay.
    let agreements: Vec<_> = db
        .agreements()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.record.signer_name)
        .collect();
    assert_eq!(agreements, vec!["recent_done", "on_site", "old_unsynced"]);
    // A day before it was due, nothing would have gone.
    assert_eq!(db.forget_old_visits(now, 31).await.unwrap(), 0);
    db.close();
    Db::delete(&name).await.unwrap();
}
