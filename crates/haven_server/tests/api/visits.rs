//! The reception desk on the server: visits and their ends pushed by
//! reception kiosks (stored once, refused with a reason a person can act
//! on), the roll call several desks share, the academy's reception rules,
//! and the retention purge (at start-up, as a function, and on the command
//! line).

use crate::authorization::open_db;
use crate::helpers::{
    expect_error, spawn_app, TestApp, ADMIN_PASSWORD, TEACHER_EMAIL, VISITOR_AUA_VERSION_ID,
};
use haven_core::api::accounts::{ClassListReport, Enrolled, EnrolmentCode};
use haven_core::api::LoginResponse;
use haven_core::sync::wire::{Change, Mutation, Outcome, PushRequest, PushResponse};
use haven_core::visit::{
    badge_code, DbsStatus, EscortRule, Host, ReceptionSettings, ReceptionSnapshot, SignOutMethod,
    VisitEnd, VisitRecord, VisitorChecks, VisitorType, DAY_MS, DEFAULT_SERVER_RETENTION_DAYS,
};
use haven_server::clock::now_ms;
use haven_server::store::demo::{HILLTOP_ID, OAKFIELD_ID};
use serde_json::{json, Value};
use std::process::Command;
use uuid::Uuid;

/// A device that records visits: its sync id and the token it pushes with
/// (an enrolled kiosk's, or a person's session on their own device).
pub(crate) struct Desk {
    pub id: Uuid,
    pub token: String,
}

pub(crate) async fn session(app: &TestApp, email: &str) -> String {
    let response = app.login(email, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 200, "{email} signs in");
    response.json::<LoginResponse>().await.unwrap().token
}

async fn enrol(app: &TestApp, admin: &str, academy: Uuid, kind: &str, label: &str) -> Enrolled {
    let code: EnrolmentCode = app
        .client
        .post(app.url("/api/v1/devices/codes"))
        .bearer_auth(admin)
        .json(&json!({"academy_id": academy, "kind": kind, "label": label}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/devices/enrol"))
        .json(&json!({"code": code.code, "sync_device_id": Uuid::now_v7()}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

pub(crate) async fn kiosk(app: &TestApp, admin: &str, academy: Uuid, label: &str) -> Desk {
    let enrolled = enrol(app, admin, academy, "reception_kiosk", label).await;
    Desk {
        id: enrolled.device.sync_device_id,
        token: enrolled.token,
    }
}

/// A person's own device, pushing with their session.
async fn own_device(app: &TestApp, email: &str) -> Desk {
    Desk {
        id: Uuid::now_v7(),
        token: session(app, email).await,
    }
}

/// A parent's session, from a class list the admin imports.
pub(crate) async fn parent(app: &TestApp, admin: &str) -> Desk {
    let csv = "pupil name,class,academy,parent/carer name,email\n\
               Amira Khan,Year 3,Oakfield Primary Academy,Sara Khan,sara@example.org\n";
    let report: ClassListReport = app
        .client
        .post(app.url("/api/v1/parent-invitations/import"))
        .bearer_auth(admin)
        .json(&json!({ "csv": csv }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = &report.invitations[0].link_path;
    let redeemed: Value = app
        .client
        .post(app.url("/api/v1/parent-invitations/redeem"))
        .json(&json!({"token": link.trim_start_matches("/join/")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Desk {
        id: Uuid::now_v7(),
        token: redeemed["token"].as_str().unwrap().to_owned(),
    }
}

impl Desk {
    /// A complete sign-in at `academy`, `signed_in_at` as the desk's clock says.
    fn visit(&self, academy: Uuid, name: &str, signed_in_at: i64) -> VisitRecord {
        let id = Uuid::now_v7();
        VisitRecord {
            id,
            academy_id: academy,
            device_id: self.id,
            visitor_name: name.to_owned(),
            organisation: "Analytical Engines Ltd".to_owned(),
            visitor_type: VisitorType::Contractor,
            host: Host {
                staff_id: None,
                name: "Tom Reilly".to_owned(),
            },
            car_registration: Some("AB12 CDE".to_owned()),
            badge_code: badge_code(id),
            signed_in_at,
            checks: VisitorChecks {
                id_seen: true,
                dbs: DbsStatus::NotChecked,
            },
            escort_required: true,
            agreement_id: Uuid::now_v7(),
            agreement_version_id: VISITOR_AUA_VERSION_ID,
        }
    }

    fn end(&self, visit: &VisitRecord, signed_out_at: i64) -> VisitEnd {
        VisitEnd {
            id: Uuid::now_v7(),
            visit_id: visit.id,
            device_id: self.id,
            signed_out_at,
            method: SignOutMethod::List,
        }
    }

    async fn post(&self, app: &TestApp, mutations: Vec<(u64, Change)>) -> reqwest::Response {
        let request = PushRequest {
            device_secret: Some(crate::helpers::device_secret(self.id)),
            device_id: self.id,
            backlog: mutations.len() as u64,
            mutations: mutations
                .into_iter()
                .map(|(id, change)| Mutation::new(id, change))
                .collect(),
        };
        app.client
            .post(app.url("/api/v1/sync/push"))
            .bearer_auth(&self.token)
            .json(&request)
            .send()
            .await
            .unwrap()
    }

    async fn push(&self, app: &TestApp, mutations: Vec<(u64, Change)>) -> PushResponse {
        let response = self.post(app, mutations).await;
        assert_eq!(response.status(), 200, "push failed");
        response.json().await.unwrap()
    }

    async fn roll_call(&self, app: &TestApp, academy: Uuid) -> reqwest::Response {
        app.client
            .get(app.url(&format!("/api/v1/reception/{academy}")))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    async fn snapshot(&self, app: &TestApp, academy: Uuid) -> ReceptionSnapshot {
        let response = self.roll_call(app, academy).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

/// Each result as "applied", "duplicate" or "rejected:CODE".
fn outcomes(response: &PushResponse) -> Vec<String> {
    response
        .results
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Applied => "applied".to_owned(),
            Outcome::Duplicate => "duplicate".to_owned(),
            Outcome::Rejected { code, .. } => format!("rejected:{code}"),
        })
        .collect()
}

fn reason(response: &PushResponse, i: usize) -> &str {
    match &response.results[i].outcome {
        Outcome::Rejected { reason, .. } => reason,
        other => panic!("not rejected: {other:?}"),
    }
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let pool = open_db(app).await;
    let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
    pool.close().await;
    n
}

fn create(visit: &VisitRecord) -> Change {
    Change::CreateVisit(visit.clone())
}

fn finish(end: &VisitEnd) -> Change {
    Change::EndVisit(end.clone())
}

#[tokio::test]
async fn a_visit_and_its_end_are_stored_once_however_often_they_are_pushed() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let desk = kiosk(&app, &admin, OAKFIELD_ID, "Main reception").await;
    let now = now_ms();
    let visit = desk.visit(OAKFIELD_ID, "Ada Lovelace", now - 3_600_000);
    let end = desk.end(&visit, now - 60_000);
    let batch = || vec![(1, create(&visit)), (2, finish(&end))];

    let first = desk.push(&app, batch()).await;
    assert_eq!(outcomes(&first), ["applied", "applied"]);
    // The reply was lost: the same batch again.
    let again = desk.push(&app, batch()).await;
    assert_eq!(outcomes(&again), ["duplicate", "duplicate"]);
    assert_eq!(again.last_mutation_id, 2);
    // The device lost its counter and sends the records as new mutations.
    let renumbered = desk
        .push(&app, vec![(3, create(&visit)), (4, finish(&end))])
        .await;
    assert_eq!(outcomes(&renumbered), ["duplicate", "duplicate"]);
    assert_eq!(renumbered.last_mutation_id, 4);

    assert_eq!(count(&app, "SELECT COUNT(*) FROM visits").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM visit_ends").await, 1);
    let pool = open_db(&app).await;
    let (json, identified_by, mutation_id, visitor_type): (String, String, i64, String) =
        sqlx::query_as(
            "SELECT record_json, identified_by, mutation_id, visitor_type FROM visits WHERE id = $1",
        )
        .bind(visit.id.to_string())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<VisitRecord>(&json).unwrap(),
        visit,
        "kept whole"
    );
    assert!(
        identified_by.starts_with("device:reception_kiosk:"),
        "{identified_by}"
    );
    assert_eq!(mutation_id, 1);
    assert_eq!(visitor_type, "contractor");
    let (method, end_by): (String, String) =
        sqlx::query_as("SELECT method, identified_by FROM visit_ends WHERE id = $1")
            .bind(end.id.to_string())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(method, "list");
    assert_eq!(end_by, identified_by);

    // Append-only: the database refuses a change, but the purge may delete.
    for sql in [
        "UPDATE visits SET visitor_name = 'Someone Else'",
        "UPDATE visit_ends SET signed_out_at = 0",
    ] {
        let refused = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(refused.to_string().contains("never changes"), "{refused}");
    }
    pool.close().await;
}

#[tokio::test]
async fn every_visitor_type_and_sign_out_method_is_stored() {
    let app = spawn_app().await;
    let desk = own_device(&app, TEACHER_EMAIL).await;
    let now = now_ms();
    let methods = [
        SignOutMethod::List,
        SignOutMethod::BadgeScan,
        SignOutMethod::BadgeCode,
        SignOutMethod::EndOfDay,
    ];
    let mut mutations = Vec::new();
    for (i, visitor_type) in VisitorType::ALL.into_iter().enumerate() {
        let mut visit = desk.visit(OAKFIELD_ID, "Ada Lovelace", now - 60_000);
        visit.visitor_type = visitor_type;
        let mut end = desk.end(&visit, now);
        end.method = methods[i % methods.len()];
        mutations.push((2 * i as u64 + 1, create(&visit)));
        mutations.push((2 * i as u64 + 2, finish(&end)));
    }
    let response = desk.push(&app, mutations).await;
    assert!(
        outcomes(&response).iter().all(|o| o == "applied"),
        "{:?}",
        response.results
    );
    assert_eq!(
        count(&app, "SELECT COUNT(DISTINCT visitor_type) FROM visits").await,
        VisitorType::ALL.len() as i64
    );
    assert_eq!(
        count(&app, "SELECT COUNT(DISTINCT method) FROM visit_ends").await,
        4
    );
}

#[tokio::test]
async fn visits_the_caller_may_not_record_are_rejected_and_the_queue_moves_on() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let desk = kiosk(&app, &admin, OAKFIELD_ID, "Main reception").await;
    let now = now_ms();

    let elsewhere = desk.visit(HILLTOP_ID, "Ada Lovelace", now);
    let mut wrong_badge = desk.visit(OAKFIELD_ID, "Ada Lovelace", now);
    wrong_badge.badge_code = "AAA-AAA".to_owned();
    let no_name = desk.visit(OAKFIELD_ID, " ", now);
    let mut unknown_version = desk.visit(OAKFIELD_ID, "Ada Lovelace", now);
    unknown_version.agreement_version_id = Uuid::now_v7();
    let unknown_academy = desk.visit(Uuid::now_v7(), "Ada Lovelace", now);
    let other_desk = Desk {
        id: Uuid::now_v7(),
        token: String::new(),
    };
    let made_elsewhere = other_desk.visit(OAKFIELD_ID, "Ada Lovelace", now);
    let good = desk.visit(OAKFIELD_ID, "Grace Hopper", now);
    let response = desk
        .push(
            &app,
            vec![
                (1, create(&elsewhere)),
                (2, create(&wrong_badge)),
                (3, create(&no_name)),
                (4, create(&unknown_version)),
                (5, create(&unknown_academy)),
                (6, create(&made_elsewhere)),
                (7, create(&good)),
            ],
        )
        .await;
    assert_eq!(
        outcomes(&response),
        [
            "rejected:not_allowed",
            "rejected:invalid_visit",
            "rejected:invalid_visit",
            "rejected:unknown_policy_version",
            "rejected:unknown_academy",
            "rejected:device_mismatch",
            "applied",
        ]
    );
    assert_eq!(response.last_mutation_id, 7, "the queue moved on");
    assert!(reason(&response, 0).contains("another academy"));
    // The refusal says which code was sent and which it should have been.
    assert!(reason(&response, 1).contains("AAA-AAA"));
    assert!(reason(&response, 1).contains(&badge_code(wrong_badge.id)));
    assert!(reason(&response, 2).contains("visitor_name"));
    // A replay of a refusal is the same refusal.
    let replay = desk.push(&app, vec![(1, create(&elsewhere))]).await;
    assert_eq!(outcomes(&replay), ["rejected:not_allowed"]);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM visits").await, 1);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM processed_mutations WHERE code IS NOT NULL"
        )
        .await,
        6
    );

    // A parent's invitation never records visits; staff only where they work.
    let parent = parent(&app, &admin).await;
    let response = parent
        .push(
            &app,
            vec![(1, create(&parent.visit(OAKFIELD_ID, "Sara Khan", now)))],
        )
        .await;
    assert_eq!(outcomes(&response), ["rejected:not_allowed"]);
    assert!(reason(&response, 0).contains("parent"));
    let hilltop_head = own_device(&app, "head@hilltop.example").await;
    let response = hilltop_head
        .push(
            &app,
            vec![
                (
                    1,
                    create(&hilltop_head.visit(OAKFIELD_ID, "Ada Lovelace", now)),
                ),
                (
                    2,
                    create(&hilltop_head.visit(HILLTOP_ID, "Ada Lovelace", now)),
                ),
            ],
        )
        .await;
    assert_eq!(outcomes(&response), ["rejected:not_allowed", "applied"]);
    let admin_device = Desk {
        id: Uuid::now_v7(),
        token: admin,
    };
    let response = admin_device
        .push(
            &app,
            vec![(
                1,
                create(&admin_device.visit(HILLTOP_ID, "Ada Lovelace", now)),
            )],
        )
        .await;
    assert_eq!(
        outcomes(&response),
        ["applied"],
        "a trust admin works everywhere"
    );
}

#[tokio::test]
async fn an_end_the_server_cannot_match_or_from_another_academy_is_rejected() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let desk = kiosk(&app, &admin, OAKFIELD_ID, "Main reception").await;
    let hilltop = kiosk(&app, &admin, HILLTOP_ID, "Hilltop reception").await;
    let now = now_ms();
    let never_pushed = desk.visit(OAKFIELD_ID, "Ada Lovelace", now - 60_000);
    let visit = desk.visit(OAKFIELD_ID, "Grace Hopper", now - 60_000);
    let response = desk
        .push(
            &app,
            vec![
                (1, finish(&desk.end(&never_pushed, now))),
                (2, create(&visit)),
            ],
        )
        .await;
    assert_eq!(outcomes(&response), ["rejected:unknown_visit", "applied"]);
    assert!(
        reason(&response, 0).contains("may not have reached the server yet"),
        "{}",
        reason(&response, 0)
    );
    // Another academy's desk cannot sign Oakfield's visitors out.
    let response = hilltop
        .push(&app, vec![(1, finish(&hilltop.end(&visit, now)))])
        .await;
    assert_eq!(outcomes(&response), ["rejected:not_allowed"]);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM visit_ends").await, 0);
}

#[tokio::test]
async fn a_sign_out_earlier_than_its_sign_in_is_applied_and_marked() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let front = kiosk(&app, &admin, OAKFIELD_ID, "Main reception").await;
    let back = kiosk(&app, &admin, OAKFIELD_ID, "Back gate").await;
    let now = now_ms();
    let grace = front.visit(OAKFIELD_ID, "Grace Hopper", now - 60_000);
    let ada = front.visit(OAKFIELD_ID, "Ada Lovelace", now - 3_600_000);
    let response = front
        .push(
            &app,
            vec![
                (1, create(&grace)),
                (2, create(&ada)),
                (3, finish(&front.end(&ada, now - 30_000))),
            ],
        )
        .await;
    assert_eq!(outcomes(&response), ["applied", "applied", "applied"]);

    // The back gate's clock runs two hours behind: Grace leaves "before" she
    // arrived. Refusing would keep her on the roll call for ever.
    let early = back.end(&grace, now - 2 * 3_600_000);
    let response = back.push(&app, vec![(1, finish(&early))]).await;
    assert_eq!(outcomes(&response), ["applied"]);

    let pool = open_db(&app).await;
    let marks: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT visit_id, signed_out_at, clock_skew FROM visit_ends ORDER BY signed_out_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(
        marks,
        [
            (grace.id.to_string(), early.signed_out_at, 1),
            (ada.id.to_string(), now - 30_000, 0),
        ],
        "kept as the desk sent it, marked"
    );
    // The roll call drops her and says her times are approximate; Ada's
    // sign-out was in order and is not marked.
    let snapshot = front.snapshot(&app, OAKFIELD_ID).await;
    assert!(snapshot.on_site.is_empty());
    let mut ended = snapshot.ended_recently.clone();
    ended.sort();
    let mut both = vec![grace.id, ada.id];
    both.sort();
    assert_eq!(ended, both);
    assert_eq!(snapshot.clock_wrong, [grace.id]);
}

#[tokio::test]
async fn a_desk_whose_clock_is_wrong_still_signs_visitors_in_and_their_times_are_marked() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let desk = kiosk(&app, &admin, OAKFIELD_ID, "Main reception").await;
    let now = now_ms();
    // A flat clock battery: 1970. A clock a day fast. A desk that was
    // offline for three days: a right clock, late delivery, not marked.
    let reset = desk.visit(OAKFIELD_ID, "Ada Lovelace", 60_000);
    let fast = desk.visit(OAKFIELD_ID, "Grace Hopper", now + DAY_MS);
    let offline = desk.visit(OAKFIELD_ID, "Alan Turing", now - 3 * DAY_MS);
    // Not a date at all: refused, to keep nonsense out of the database.
    let before_1970 = desk.visit(OAKFIELD_ID, "Katherine Johnson", -1);
    let year_2300 = desk.visit(OAKFIELD_ID, "Dorothy Vaughan", 10_413_792_000_000);
    let response = desk
        .push(
            &app,
            vec![
                (1, create(&reset)),
                (2, create(&fast)),
                (3, create(&offline)),
                (4, create(&before_1970)),
                (5, create(&year_2300)),
            ],
        )
        .await;
    assert_eq!(
        outcomes(&response),
        [
            "applied",
            "applied",
            "applied",
            "rejected:invalid_visit",
            "rejected:invalid_visit"
        ]
    );
    assert!(
        reason(&response, 3).contains("1970"),
        "{}",
        reason(&response, 3)
    );

    let snapshot = desk.snapshot(&app, OAKFIELD_ID).await;
    assert_eq!(snapshot.on_site, [reset.clone(), offline, fast.clone()]);
    assert_eq!(snapshot.clock_wrong, [reset.id, fast.id]);
}

#[tokio::test]
async fn a_kiosk_whose_clock_says_2001_keeps_its_visits_for_the_academys_retention() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let desk = kiosk(&app, &admin, OAKFIELD_ID, "Main reception").await;
    // 2001-09-03 09:00 UTC by the kiosk's clock; the visit ends at 10:30.
    let morning = 999_507_600_000;
    let visit = desk.visit(OAKFIELD_ID, "Ada Lovelace", morning);
    let on_site = desk.visit(OAKFIELD_ID, "Grace Hopper", morning + 3_600_000);
    let before = now_ms();
    let response = desk
        .push(
            &app,
            vec![
                (1, create(&visit)),
                (2, finish(&desk.end(&visit, morning + 90 * 60_000))),
                (3, create(&on_site)),
            ],
        )
        .await;
    let arrived = now_ms();
    assert_eq!(outcomes(&response), ["applied", "applied", "applied"]);
    let both = sorted(&[visit.clone(), on_site.clone()]);

    // The server's own purge at start-up, then the hourly one: both kept
    // (counted from 2001, six years were up long ago).
    let app = app.restart().await;
    assert_eq!(stored(&app).await, (both.clone(), 1));
    let pool = open_db(&app).await;
    let purge = |now| haven_server::store::visits::purge(&pool, now);
    assert_eq!(purge(now_ms()).await.unwrap(), 0);

    // Six years from when the server received the end: kept to the last
    // moment, then gone. The visit that never ended stays.
    let six_years = i64::from(DEFAULT_SERVER_RETENTION_DAYS) * DAY_MS;
    assert_eq!(purge(before + six_years - 1).await.unwrap(), 0);
    assert_eq!(stored(&app).await, (both, 1));
    assert_eq!(purge(arrived + six_years).await.unwrap(), 1);
    assert_eq!(stored(&app).await, (vec![on_site.id], 0));
    pool.close().await;
}

#[tokio::test]
async fn a_second_end_for_the_same_visit_is_a_duplicate_and_the_first_end_is_kept() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let front = kiosk(&app, &admin, OAKFIELD_ID, "Main reception").await;
    let back = kiosk(&app, &admin, OAKFIELD_ID, "Back gate").await;
    let now = now_ms();
    let visit = front.visit(OAKFIELD_ID, "Ada Lovelace", now - 3_600_000);
    front.push(&app, vec![(1, create(&visit))]).await;

    // The back gate scans the badge first; the front desk, not yet synced,
    // signs the same person out from its list.
    let mut scanned = back.end(&visit, now - 120_000);
    scanned.method = SignOutMethod::BadgeScan;
    let first = back.push(&app, vec![(1, finish(&scanned))]).await;
    assert_eq!(outcomes(&first), ["applied"]);
    let second = front
        .push(&app, vec![(2, finish(&front.end(&visit, now - 60_000)))])
        .await;
    assert_eq!(outcomes(&second), ["duplicate"]);
    assert_eq!(second.last_mutation_id, 2);

    let pool = open_db(&app).await;
    let kept: (String, String, i64) =
        sqlx::query_as("SELECT id, method, signed_out_at FROM visit_ends")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(
        kept,
        (
            scanned.id.to_string(),
            "badge_scan".to_owned(),
            scanned.signed_out_at
        )
    );
}

#[tokio::test]
async fn the_roll_call_merges_an_academys_desks_and_leaves_out_ended_and_other_visits() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let front = kiosk(&app, &admin, OAKFIELD_ID, "Main reception").await;
    let back = kiosk(&app, &admin, OAKFIELD_ID, "Back gate").await;
    let quiet = kiosk(&app, &admin, OAKFIELD_ID, "Sports hall").await;
    let revoked = enrol(&app, &admin, OAKFIELD_ID, "reception_kiosk", "Old desk").await;
    let tablet = enrol(&app, &admin, OAKFIELD_ID, "shared_tablet", "Year 3").await;
    let hilltop = kiosk(&app, &admin, HILLTOP_ID, "Hilltop reception").await;
    let response = app
        .client
        .post(app.url(&format!("/api/v1/devices/{}/revoke", revoked.device.id)))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let now = now_ms();
    let ada = front.visit(OAKFIELD_ID, "Ada Lovelace", now - 3_000_000);
    let grace = back.visit(OAKFIELD_ID, "Grace Hopper", now - 2_000_000);
    let left = front.visit(OAKFIELD_ID, "Alan Turing", now - 1_000_000);
    let at_hilltop = hilltop.visit(HILLTOP_ID, "Katherine Johnson", now - 500_000);
    let before = now_ms();
    front
        .push(
            &app,
            vec![
                (1, create(&ada)),
                (2, create(&left)),
                (3, finish(&front.end(&left, now - 10_000))),
            ],
        )
        .await;
    back.push(&app, vec![(1, create(&grace))]).await;
    hilltop.push(&app, vec![(1, create(&at_hilltop))]).await;

    let snapshot = back.snapshot(&app, OAKFIELD_ID).await;
    assert_eq!(snapshot.academy_id, OAKFIELD_ID);
    assert_eq!(snapshot.settings, ReceptionSettings::default());
    assert_eq!(
        snapshot.on_site,
        [ada.clone(), grace.clone()],
        "oldest first"
    );
    assert_eq!(snapshot.ended_recently, [left.id]);
    assert!((before..=now_ms()).contains(&snapshot.generated_at));

    // Oakfield's active staff, by name, each once (whatever their roles).
    let names: Vec<&str> = snapshot.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        names,
        ["Grace Mensah", "Helen Okafor", "Sam Patel", "Tom Reilly"]
    );
    assert!(snapshot.hosts.iter().all(|h| h.staff_id.is_some()));

    // Its kiosks, by label, with when each last pushed; no tablet, no
    // revoked desk, nothing from Hilltop.
    let devices: Vec<(&str, Uuid, bool)> = snapshot
        .devices
        .iter()
        .map(|d| (d.label.as_str(), d.device_id, d.last_seen_at.is_some()))
        .collect();
    assert_eq!(
        devices,
        [
            ("Back gate", back.id, true),
            ("Main reception", front.id, true),
            ("Sports hall", quiet.id, false),
        ]
    );
    let seen = snapshot.devices[1].last_seen_at.unwrap();
    assert!((before..=snapshot.generated_at).contains(&seen));
    assert!(!snapshot
        .devices
        .iter()
        .any(|d| d.device_id == tablet.device.sync_device_id));

    // A shared tablet at Oakfield and Oakfield's staff read it too; the
    // kiosks' polling is not audited, a person's reading is.
    let tablet = Desk {
        id: tablet.device.sync_device_id,
        token: tablet.token,
    };
    assert_eq!(tablet.snapshot(&app, OAKFIELD_ID).await.on_site.len(), 2);
    let teacher = own_device(&app, TEACHER_EMAIL).await;
    assert_eq!(teacher.snapshot(&app, OAKFIELD_ID).await.on_site.len(), 2);
    let pool = open_db(&app).await;
    let reads: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, academy_id FROM audit_log WHERE action = 'read_reception'")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert!(reads[0].0.starts_with("user:"));
    assert_eq!(reads[0].1, OAKFIELD_ID.to_string());

    let hilltop_snapshot = hilltop.snapshot(&app, HILLTOP_ID).await;
    assert_eq!(hilltop_snapshot.on_site, [at_hilltop]);
    assert!(hilltop_snapshot.ended_recently.is_empty());
}

#[tokio::test]
async fn the_roll_call_is_for_the_academys_own_people_and_desks() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let hilltop = kiosk(&app, &admin, HILLTOP_ID, "Hilltop reception").await;
    let parent = parent(&app, &admin).await;
    let hilltop_head = own_device(&app, "head@hilltop.example").await;
    let nobody = Desk {
        id: Uuid::now_v7(),
        token: "hs_unknown".to_owned(),
    };
    let admin = Desk {
        id: Uuid::now_v7(),
        token: admin,
    };
    expect_error(
        nobody.roll_call(&app, OAKFIELD_ID).await,
        401,
        "unauthorized",
    )
    .await;
    for refused in [&hilltop, &parent, &hilltop_head] {
        expect_error(refused.roll_call(&app, OAKFIELD_ID).await, 403, "forbidden").await;
    }
    expect_error(
        admin.roll_call(&app, Uuid::now_v7()).await,
        404,
        "not_found",
    )
    .await;
    let response = app
        .client
        .get(app.url("/api/v1/reception/not-an-id"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    expect_error(response, 400, "bad_request").await;
}

async fn put_settings(
    app: &TestApp,
    token: &str,
    academy: Uuid,
    body: &Value,
) -> reqwest::Response {
    app.client
        .put(app.url(&format!("/api/v1/academies/{academy}/reception")))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn reception_settings_are_checked_kept_and_shown_in_the_roll_call() {
    let app = spawn_app().await;
    let head = session(&app, "head@oakfield.example").await;
    let settings = ReceptionSettings {
        escort_rule: EscortRule::Always,
        device_retention_days: 7,
        server_retention_days: 365,
    };
    let body = serde_json::to_value(settings).unwrap();

    for email in [
        "head@hilltop.example",
        "esafety@oakfield.example",
        TEACHER_EMAIL,
    ] {
        let token = session(&app, email).await;
        expect_error(
            put_settings(&app, &token, OAKFIELD_ID, &body).await,
            403,
            "forbidden",
        )
        .await;
    }
    let response = put_settings(&app, &head, OAKFIELD_ID, &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<ReceptionSettings>().await.unwrap(),
        settings
    );
    // Again, the same: still 200.
    assert_eq!(
        put_settings(&app, &head, OAKFIELD_ID, &body).await.status(),
        200
    );

    let zero =
        json!({"escort_rule": "always", "device_retention_days": 7, "server_retention_days": 0});
    let error = expect_error(
        put_settings(&app, &head, OAKFIELD_ID, &zero).await,
        400,
        "invalid_settings",
    )
    .await;
    assert!(
        error.message.contains("server_retention_days"),
        "{}",
        error.message
    );
    let too_long = json!({"escort_rule": "never", "device_retention_days": 10_000, "server_retention_days": 30});
    let error = expect_error(
        put_settings(&app, &head, OAKFIELD_ID, &too_long).await,
        400,
        "invalid_settings",
    )
    .await;
    assert!(error.message.contains("device_retention_days"));
    let unknown = json!({"escort_rule": "sometimes", "device_retention_days": 7, "server_retention_days": 30});
    let error = expect_error(
        put_settings(&app, &head, OAKFIELD_ID, &unknown).await,
        400,
        "bad_request",
    )
    .await;
    assert!(error.message.contains("escort_rule"), "{}", error.message);
    let admin = app.admin_token().await;
    expect_error(
        put_settings(&app, &admin, Uuid::now_v7(), &body).await,
        404,
        "not_found",
    )
    .await;

    let teacher = own_device(&app, TEACHER_EMAIL).await;
    assert_eq!(teacher.snapshot(&app, OAKFIELD_ID).await.settings, settings);
    let hilltop = Desk {
        id: Uuid::now_v7(),
        token: session(&app, "head@hilltop.example").await,
    };
    assert_eq!(
        hilltop.snapshot(&app, HILLTOP_ID).await.settings,
        ReceptionSettings::default(),
        "one academy's rules are its own"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'reception_settings_changed'"
        )
        .await,
        2
    );
}

/// What the purge tests start from, with the server's clock at `now`:
/// Oakfield keeps ended visits 30 days, Hilltop the default six years. Each
/// visit arrived at the server when its desk made it ([`received_days_ago`]).
struct Due {
    /// Its end arrived 40 days ago at Oakfield: due.
    oakfield_old: VisitRecord,
    /// Its end arrived 7 years ago at Hilltop: due.
    hilltop_ancient: VisitRecord,
    /// Everything else is kept: ended yesterday at Oakfield, never ended
    /// (arrived 100 days ago) at Oakfield, ended 40 days ago at Hilltop.
    kept: Vec<VisitRecord>,
}

async fn visits_of_every_age(app: &TestApp) -> Due {
    let admin = app.admin_token().await;
    let head = session(app, "head@oakfield.example").await;
    let short = json!({"escort_rule": "unless_id_and_dbs_checked", "device_retention_days": 1, "server_retention_days": 30});
    assert_eq!(
        put_settings(app, &head, OAKFIELD_ID, &short).await.status(),
        200
    );
    let oakfield = kiosk(app, &admin, OAKFIELD_ID, "Main reception").await;
    let hilltop = kiosk(app, &admin, HILLTOP_ID, "Hilltop reception").await;
    let now = now_ms();
    let days_ago = |days: i64| now - days * DAY_MS;

    let oakfield_old = oakfield.visit(OAKFIELD_ID, "Ada Lovelace", days_ago(40) - 3_600_000);
    let recent = oakfield.visit(OAKFIELD_ID, "Grace Hopper", days_ago(1) - 3_600_000);
    let never_ended = oakfield.visit(OAKFIELD_ID, "Alan Turing", days_ago(100));
    let response = oakfield
        .push(
            app,
            vec![
                (1, create(&oakfield_old)),
                (2, finish(&oakfield.end(&oakfield_old, days_ago(40)))),
                (3, create(&recent)),
                (4, finish(&oakfield.end(&recent, days_ago(1)))),
                (5, create(&never_ended)),
            ],
        )
        .await;
    assert!(outcomes(&response).iter().all(|o| o == "applied"));

    let hilltop_old = hilltop.visit(HILLTOP_ID, "Katherine Johnson", days_ago(40) - 3_600_000);
    let seven_years = i64::from(DEFAULT_SERVER_RETENTION_DAYS) + 365;
    let hilltop_ancient = hilltop.visit(
        HILLTOP_ID,
        "Dorothy Vaughan",
        days_ago(seven_years) - 3_600_000,
    );
    let response = hilltop
        .push(
            app,
            vec![
                (1, create(&hilltop_old)),
                (2, finish(&hilltop.end(&hilltop_old, days_ago(40)))),
                (3, create(&hilltop_ancient)),
                (
                    4,
                    finish(&hilltop.end(&hilltop_ancient, days_ago(seven_years))),
                ),
            ],
        )
        .await;
    assert!(outcomes(&response).iter().all(|o| o == "applied"));
    received_days_ago(
        app,
        &[
            (&oakfield_old, 40),
            (&recent, 1),
            (&never_ended, 100),
            (&hilltop_old, 40),
            (&hilltop_ancient, seven_years),
        ],
    )
    .await;
    Due {
        oakfield_old,
        hilltop_ancient,
        kept: vec![recent, never_ended, hilltop_old],
    }
}

/// Sets when the server received each visit and its end to `days` before
/// now, as if each had arrived then: retention counts from the server's
/// receipt, which a test cannot otherwise move. Stored visits never change,
/// so the triggers that guard them are set aside for this and put back.
async fn received_days_ago(app: &TestApp, visits: &[(&VisitRecord, i64)]) {
    let pool = open_db(app).await;
    let mut tx = pool.begin().await.unwrap();
    let postgres = crate::helpers::on_postgres();
    let guards: Vec<(String, String)> = if postgres {
        let tables = ["visits", "visit_ends"];
        for table in tables {
            sqlx::query(&format!("ALTER TABLE {table} DISABLE TRIGGER USER"))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tables
            .iter()
            .map(|t| {
                (
                    String::new(),
                    format!("ALTER TABLE {t} ENABLE TRIGGER USER"),
                )
            })
            .collect()
    } else {
        sqlx::query_as(
            "SELECT name, sql FROM sqlite_master \
             WHERE type = 'trigger' AND tbl_name IN ('visits', 'visit_ends')",
        )
        .fetch_all(&mut *tx)
        .await
        .unwrap()
    };
    for (name, _) in guards.iter().filter(|_| !postgres) {
        sqlx::query(&format!("DROP TRIGGER {name}"))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let now = now_ms();
    for (visit, days) in visits {
        for sql in [
            "UPDATE visits SET received_at = $1 WHERE id = $2",
            "UPDATE visit_ends SET received_at = $1 WHERE visit_id = $2",
        ] {
            sqlx::query(sql)
                .bind(now - days * DAY_MS)
                .bind(visit.id.to_string())
                .execute(&mut *tx)
                .await
                .unwrap();
        }
    }
    for (_, sql) in &guards {
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    pool.close().await;
}

/// The ids of the stored visits, and how many ends are stored.
async fn stored(app: &TestApp) -> (Vec<Uuid>, i64) {
    let pool = open_db(app).await;
    let ids: Vec<(String,)> = sqlx::query_as("SELECT id FROM visits ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    let ends = sqlx::query_scalar("SELECT COUNT(*) FROM visit_ends")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    (
        ids.iter()
            .map(|(id,)| Uuid::parse_str(id).unwrap())
            .collect(),
        ends,
    )
}

fn sorted(visits: &[VisitRecord]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = visits.iter().map(|v| v.id).collect();
    ids.sort_by_key(|id| id.to_string());
    ids
}

#[tokio::test]
async fn the_retention_purge_removes_only_what_is_due() {
    let app = spawn_app().await;
    let due = visits_of_every_age(&app).await;
    let pool = open_db(&app).await;

    let removed = haven_server::store::visits::purge(&pool, now_ms())
        .await
        .unwrap();
    assert_eq!(removed, 2);
    let (ids, ends) = stored(&app).await;
    assert_eq!(ids, sorted(&due.kept));
    assert_eq!(ends, 2, "the ends of the removed visits went with them");
    assert!(!ids.contains(&due.oakfield_old.id) && !ids.contains(&due.hilltop_ancient.id));

    // One entry per academy, by the system.
    let entries: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT actor, academy_id, detail FROM audit_log WHERE action = 'visits_purged' \
         ORDER BY academy_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut academies = vec![OAKFIELD_ID.to_string(), HILLTOP_ID.to_string()];
    academies.sort();
    assert_eq!(
        entries.iter().map(|e| e.1.clone()).collect::<Vec<_>>(),
        academies
    );
    assert!(entries.iter().all(|e| e.0 == "system"), "{entries:?}");
    assert!(
        entries.iter().any(|e| e.2.contains("30 days")),
        "{entries:?}"
    );

    // Nothing more is due now; a month on, yesterday's Oakfield visit is.
    assert_eq!(
        haven_server::store::visits::purge(&pool, now_ms())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'visits_purged'"
        )
        .await,
        2,
        "a purge that removes nothing is not audited"
    );
    assert_eq!(
        haven_server::store::visits::purge(&pool, now_ms() + 30 * DAY_MS)
            .await
            .unwrap(),
        1
    );
    pool.close().await;
    // The one that never ended stays however late it gets (until it ends).
    let far = now_ms() + 30 * i64::from(DEFAULT_SERVER_RETENTION_DAYS) * DAY_MS;
    let pool = open_db(&app).await;
    haven_server::store::visits::purge(&pool, far)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(stored(&app).await.0, [due.kept[1].id]);
}

#[tokio::test]
async fn purge_visits_on_the_command_line_removes_only_what_is_due() {
    let app = spawn_app().await;
    let due = visits_of_every_age(&app).await;
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_haven_server"))
            .args(["purge-visits", "--database"])
            .arg(app.database_arg())
            .args(extra)
            .env_remove("HAVEN_DATABASE")
            .output()
            .expect("the binary runs")
    };
    let output = run(&[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        stdout.trim(),
        "Removed 2 visits past their academy's retention."
    );
    assert_eq!(stored(&app).await.0, sorted(&due.kept));

    // As of a month from now, yesterday's Oakfield visit is due too.
    let later = (now_ms() + 30 * DAY_MS).to_string();
    let output = run(&["--now", &later]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "Removed 1 visit past its academy's retention."
    );
    assert_eq!(stored(&app).await.0.len(), 2);

    let missing = Command::new(env!("CARGO_BIN_EXE_haven_server"))
        .args(["purge-visits", "--database"])
        .arg(app.dir.path().join("nowhere.sqlite3"))
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("there is no database"));
}

#[tokio::test]
async fn visits_past_their_retention_are_removed_when_the_server_starts() {
    let app = spawn_app().await;
    let due = visits_of_every_age(&app).await;
    let app = app.restart().await;
    assert_eq!(stored(&app).await.0, sorted(&due.kept));
    // And the server still serves the roll call.
    let teacher = own_device(&app, TEACHER_EMAIL).await;
    let on_site = teacher.snapshot(&app, OAKFIELD_ID).await.on_site;
    assert_eq!(on_site.len(), 1, "the visit that never ended");
}

#[tokio::test]
async fn the_document_describes_the_reception_operations() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let schemas = &doc["components"]["schemas"];
    for name in [
        "ReceptionSnapshot",
        "ReceptionSettings",
        "VisitRecord",
        "VisitEnd",
    ] {
        assert!(schemas[name].is_object(), "{name} is in the document");
    }
    assert_eq!(schemas["VisitRecord"]["additionalProperties"], false);
    let variants: Vec<&str> = schemas["Change"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["properties"]["type"]["enum"][0].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        variants,
        [
            "create_agreement",
            "create_visit",
            "end_visit",
            "create_incident"
        ]
    );
    assert!(doc["paths"]["/api/v1/reception/{academy_id}"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/academies/{academy_id}/reception"]["put"].is_object());
}
