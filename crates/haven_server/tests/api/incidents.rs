//! Incidents on the server: sealed on the device for the server's key,
//! opened and checked against the trust's tables when pushed (stored once,
//! refused with a reason a person can act on), then the DSL's log — who may
//! see which incident, the audit of every read, follow-ups, alerts, the
//! anonymised report, the search by person — and the key file itself.

use crate::authorization::open_db;
use crate::helpers::{
    expect_error, incident_key, incident_push, incident_record, online_key, prove, seal, spawn_app,
    spawn_app_with, test_config, TestApp, TEACHER_EMAIL, TEACHER_ID,
};
use crate::visits::{kiosk, parent, session};
use haven_core::api::incidents::{
    FollowUp, IncidentAlert, IncidentDetail, IncidentReport, IncidentSummary,
};
use haven_core::incident::{
    Attachment, IncidentKey, IncidentRecord, IncidentStatus, SealedIncident,
};
use haven_core::rules::Involved;
use haven_core::sync::wire::{Outcome, PushResponse};
use haven_server::store::demo::{HILLTOP_ID, OAKFIELD_ID};
use serde_json::{json, Value};
use uuid::Uuid;

const DSL_EMAIL: &str = "dsl@oakfield.example";
const HILLTOP_HEAD_EMAIL: &str = "head@hilltop.example";
/// A pupil incident type that is not illegal, and one that is (and so
/// must be reported immediately).
const ORDINARY: &str = "personal-device";
const ILLEGAL: &str = "illegal-material";

async fn push_as(
    app: &TestApp,
    token: &str,
    device: Uuid,
    incidents: Vec<(u64, SealedIncident)>,
) -> PushResponse {
    let response = app
        .client
        .post(app.url("/api/v1/sync/push"))
        .bearer_auth(token)
        .json(&incident_push(device, incidents))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Pushes sealed incidents from an enrolled device, each with the proof the
/// demo teacher makes while unlocked on it.
async fn push_proven(
    app: &TestApp,
    token: &str,
    device: Uuid,
    incidents: Vec<(u64, SealedIncident)>,
) -> PushResponse {
    let mut request = incident_push(device, incidents);
    prove(
        &mut request,
        TEACHER_ID,
        &online_key(app, TEACHER_EMAIL).await,
    );
    let response = app
        .client
        .post(app.url("/api/v1/sync/push"))
        .bearer_auth(token)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Logs an Oakfield pupil incident as the teacher, from their own device.
pub(crate) async fn log_as_teacher(
    app: &TestApp,
    key: &IncidentKey,
    incident_type: &str,
) -> IncidentRecord {
    let token = session(app, TEACHER_EMAIL).await;
    let device = Uuid::now_v7();
    let record = incident_record(
        OAKFIELD_ID,
        device,
        TEACHER_ID,
        Involved::PupilInLesson,
        incident_type,
    );
    let pushed = push_as(app, &token, device, vec![(1, seal(&record, key))]).await;
    assert_eq!(pushed.results[0].outcome, Outcome::Applied);
    record
}

/// A second plain member of staff at `academy`, with a session.
async fn another_staff_member(app: &TestApp, academy: Uuid, name: &str) -> (Uuid, String) {
    let pool = open_db(app).await;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO users (id, email, password_hash, role, name, active, created_at) \
         VALUES ($1, $2, '', 'staff', $3, 1, 0)",
    )
    .bind(id.to_string())
    .bind(format!("{id}@oakfield.example"))
    .bind(name)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO user_roles (user_id, role, academy_id) VALUES ($1, 'staff', $2)")
        .bind(id.to_string())
        .bind(academy.to_string())
        .execute(&pool)
        .await
        .unwrap();
    let token = format!("hs_{}", haven_server::crypto::tokens::new_token());
    sqlx::query(
        "INSERT INTO sessions (token_sha256, user_id, expires_at, created_at, limited) \
         VALUES ($1, $2, $3, 0, 0)",
    )
    .bind(haven_server::crypto::tokens::token_digest(&token))
    .bind(id.to_string())
    .bind(i64::MAX)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    (id, token)
}

async fn get_as(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn list(app: &TestApp, token: &str, query: &str) -> Vec<IncidentSummary> {
    let response = get_as(app, token, &format!("/api/v1/incidents{query}")).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn follow_up(app: &TestApp, token: &str, id: Uuid, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/incidents/{id}/follow-ups")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn count_stored(app: &TestApp) -> i64 {
    let pool = open_db(app).await;
    let n = sqlx::query_scalar("SELECT COUNT(*) FROM incidents")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

#[tokio::test]
async fn a_sealed_incident_pushed_twice_is_stored_once_and_never_changed() {
    let app = spawn_app().await;
    let key = incident_key(&app).await;
    let token = session(&app, TEACHER_EMAIL).await;
    let device = Uuid::now_v7();
    let record = incident_record(
        OAKFIELD_ID,
        device,
        TEACHER_ID,
        Involved::PupilInLesson,
        ORDINARY,
    );
    let sealed = seal(&record, &key);
    let first = push_as(&app, &token, device, vec![(1, sealed.clone())]).await;
    assert_eq!(first.results[0].outcome, Outcome::Applied);
    // The reply was lost: the same mutation again, then the same incident
    // sealed afresh under a new mutation number.
    let replay = push_as(&app, &token, device, vec![(1, sealed)]).await;
    assert_eq!(replay.results[0].outcome, Outcome::Duplicate);
    let again = push_as(&app, &token, device, vec![(2, seal(&record, &key))]).await;
    assert_eq!(again.results[0].outcome, Outcome::Duplicate);
    assert_eq!(count_stored(&app).await, 1);

    let pool = open_db(&app).await;
    for (statement, refusal) in [
        ("UPDATE incidents SET record_json = '{}'", "never changes"),
        (
            "UPDATE incidents SET incident_type = 'changed'",
            "never changes",
        ),
        ("DELETE FROM incidents", "never deleted"),
    ] {
        let error = sqlx::query(statement).execute(&pool).await.unwrap_err();
        assert!(error.to_string().contains(refusal), "{statement}: {error}");
    }
    let stored: String = sqlx::query_scalar("SELECT record_json FROM incidents")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<IncidentRecord>(&stored).unwrap(),
        record
    );
    pool.close().await;
}

#[tokio::test]
async fn incidents_that_cannot_be_accepted_are_refused_with_a_reason_and_the_queue_moves_on() {
    let app = spawn_app().await;
    let key = incident_key(&app).await;
    let token = session(&app, TEACHER_EMAIL).await;
    let device = Uuid::now_v7();
    let make = |incident_type: &str| {
        incident_record(
            OAKFIELD_ID,
            device,
            TEACHER_ID,
            Involved::PupilInLesson,
            incident_type,
        )
    };

    let unknown_key = SealedIncident {
        key_id: "0123456789abcdef".into(),
        ..seal(&make(ORDINARY), &key)
    };
    let mut tampered = seal(&make(ORDINARY), &key);
    {
        use base64::Engine;
        let engine = base64::engine::general_purpose::STANDARD;
        let mut bytes = engine.decode(&tampered.ciphertext).unwrap();
        bytes[5] ^= 0x40;
        tampered.ciphertext = engine.encode(bytes);
    }
    let mut not_the_tables = make(ILLEGAL);
    not_the_tables.recommended.illegal = false;
    not_the_tables.recommended.immediate = false;
    not_the_tables.told_dsl_in_person = None;
    let mut attached = make(ILLEGAL);
    attached.attachments = vec![Attachment {
        name: "screenshot.png".into(),
        content_type: "image/png".into(),
        size: 12,
        sha256: "ab".repeat(32),
        key: "A".repeat(43) + "=",
        iv: "B".repeat(16),
    }];
    let mismatch = SealedIncident {
        id: Uuid::now_v7(),
        ..seal(&make(ORDINARY), &key)
    };
    let mut nowhere = make(ORDINARY);
    nowhere.academy_id = Uuid::now_v7();
    let mut someone_else = make(ORDINARY);
    someone_else.reported_by = haven_server::store::demo::DEMO_STAFF[2].0;
    let mut other_academy = make(ORDINARY);
    other_academy.academy_id = HILLTOP_ID;
    let good = make(ORDINARY);

    let pushed = push_as(
        &app,
        &token,
        device,
        vec![
            (1, unknown_key),
            (2, tampered),
            (3, seal(&not_the_tables, &key)),
            (4, seal(&attached, &key)),
            (5, mismatch),
            (6, seal(&nowhere, &key)),
            (7, seal(&someone_else, &key)),
            (8, seal(&other_academy, &key)),
            (9, seal(&good, &key)),
        ],
    )
    .await;
    assert_eq!(pushed.last_mutation_id, 9, "the queue moves on");
    let expected = [
        ("unknown_key", "fetch the key again"),
        ("cannot_decrypt", "altered"),
        ("invalid_incident", "not what the trust's tables say"),
        ("invalid_incident", "nothing may be attached"),
        ("record_mismatch", "envelope"),
        ("unknown_academy", "no academy"),
        ("not_allowed", "another person's session"),
        ("not_allowed", "no role at academy"),
    ];
    for (result, (code, words)) in pushed.results.iter().zip(expected) {
        match &result.outcome {
            Outcome::Rejected { code: got, reason } => {
                assert_eq!(got, code, "mutation {}: {reason}", result.id);
                assert!(reason.contains(words), "mutation {}: {reason}", result.id);
            }
            other => panic!("mutation {}: {other:?}", result.id),
        }
    }
    assert_eq!(pushed.results[8].outcome, Outcome::Applied);
    assert_eq!(count_stored(&app).await, 1);
}

#[tokio::test]
async fn parents_and_devices_cannot_log_an_incident_for_someone_elsewhere() {
    let app = spawn_app().await;
    let key = incident_key(&app).await;
    let admin = app.admin_token().await;
    let desk = kiosk(&app, &admin, OAKFIELD_ID, "Staff room tablet").await;
    let make = |academy| {
        incident_record(
            academy,
            desk.id,
            TEACHER_ID,
            Involved::PupilInLesson,
            ORDINARY,
        )
    };
    let mut nobody = make(OAKFIELD_ID);
    nobody.reported_by = Uuid::now_v7();
    let pushed = push_proven(
        &app,
        &desk.token,
        desk.id,
        vec![
            (1, seal(&make(HILLTOP_ID), &key)),
            (2, seal(&nobody, &key)),
            (3, seal(&make(OAKFIELD_ID), &key)),
        ],
    )
    .await;
    let codes: Vec<_> = pushed.results.iter().map(|r| &r.outcome).collect();
    assert!(
        matches!(codes[0], Outcome::Rejected { code, .. } if code == "not_allowed"),
        "{codes:?}"
    );
    // The teacher's proof cannot log an incident in someone else's name.
    assert!(
        matches!(codes[1], Outcome::Rejected { code, .. } if code == "staff_proof_required"),
        "{codes:?}"
    );
    assert_eq!(*codes[2], Outcome::Applied, "a device at its own academy");

    let carer = parent(&app, &admin).await;
    let record = incident_record(
        OAKFIELD_ID,
        carer.id,
        TEACHER_ID,
        Involved::PupilInLesson,
        ORDINARY,
    );
    let pushed = push_as(&app, &carer.token, carer.id, vec![(1, seal(&record, &key))]).await;
    assert!(
        matches!(&pushed.results[0].outcome, Outcome::Rejected { code, .. } if code == "not_allowed")
    );
}

#[tokio::test]
async fn staff_see_only_the_incidents_they_reported() {
    let app = spawn_app().await;
    let key = incident_key(&app).await;
    let teacher = session(&app, TEACHER_EMAIL).await;
    let (b_id, b_token) = another_staff_member(&app, OAKFIELD_ID, "Bea Other").await;
    let device = Uuid::now_v7();
    let theirs = incident_record(OAKFIELD_ID, device, b_id, Involved::PupilInLesson, ORDINARY);
    let pushed = push_as(&app, &b_token, device, vec![(1, seal(&theirs, &key))]).await;
    assert_eq!(pushed.results[0].outcome, Outcome::Applied);

    assert!(list(&app, &teacher, "").await.is_empty());
    let response = get_as(&app, &teacher, &format!("/api/v1/incidents/{}", theirs.id)).await;
    let error = expect_error(response, 404, "not_found").await;
    assert!(!error.message.contains("Bea"));

    let mine = log_as_teacher(&app, &key, ORDINARY).await;
    let listed = list(&app, &teacher, "").await;
    assert_eq!(
        listed.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![mine.id]
    );
    assert_eq!(listed[0].reported_by_name, "Tom Reilly");
    let response = get_as(&app, &teacher, &format!("/api/v1/incidents/{}", mine.id)).await;
    assert_eq!(response.status(), 200);
    let detail: IncidentDetail = response.json().await.unwrap();
    assert_eq!(detail.record, mine);
    assert_eq!(detail.summary.status, IncidentStatus::New);

    let theirs_listed = list(&app, &b_token, "").await;
    assert_eq!(
        theirs_listed.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![theirs.id]
    );
    let response = get_as(&app, &b_token, &format!("/api/v1/incidents/{}", mine.id)).await;
    expect_error(response, 404, "not_found").await;
}

#[tokio::test]
async fn parents_and_kiosks_can_read_no_incident() {
    let app = spawn_app().await;
    let key = incident_key(&app).await;
    let record = log_as_teacher(&app, &key, ILLEGAL).await;
    let admin = app.admin_token().await;
    let desk = kiosk(&app, &admin, OAKFIELD_ID, "Main reception").await;
    let carer = parent(&app, &admin).await;
    for token in [&desk.token, &carer.token] {
        for path in [
            "/api/v1/incidents".to_owned(),
            format!("/api/v1/incidents/{}", record.id),
            "/api/v1/incidents/alerts".to_owned(),
            "/api/v1/incidents/report".to_owned(),
            "/api/v1/incidents/person?name=Sam%20Pupil".to_owned(),
        ] {
            let response = get_as(&app, token, &path).await;
            expect_error(response, 403, "forbidden").await;
        }
    }
    let response = app.get("/api/v1/incidents").await;
    expect_error(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn the_academys_dsl_sees_an_incident_and_another_academys_head_does_not() {
    let app = spawn_app().await;
    let key = incident_key(&app).await;
    let record = log_as_teacher(&app, &key, ORDINARY).await;
    let dsl = session(&app, DSL_EMAIL).await;
    let listed = list(&app, &dsl, "").await;
    assert_eq!(listed.len(), 1);
    let summary = &listed[0];
    assert_eq!(summary.id, record.id);
    assert_eq!(summary.academy_id, OAKFIELD_ID);
    assert!(!summary.illegal);
    assert!(!summary.overdue, "just received");
    let tables = haven_core::rules::RuleTables::trust_default();
    assert_eq!(
        summary.incident_label,
        tables.pupil_row(ORDINARY).unwrap().incident
    );
    let response = get_as(&app, &dsl, &format!("/api/v1/incidents/{}", record.id)).await;
    assert_eq!(response.status(), 200);

    // Filters.
    for (query, found) in [
        (format!("?academy_id={OAKFIELD_ID}"), 1),
        (format!("?academy_id={HILLTOP_ID}"), 0),
        (format!("?incident_type={ORDINARY}"), 1),
        (format!("?incident_type={ILLEGAL}"), 0),
        ("?status=new".to_owned(), 1),
        ("?status=closed".to_owned(), 0),
        ("?group=pupil".to_owned(), 1),
        ("?group=staff".to_owned(), 0),
        ("?from=1789999000000&to=1789999000001".to_owned(), 1),
        ("?from=1789999000001".to_owned(), 0),
        ("?overdue=false".to_owned(), 1),
        ("?overdue=true".to_owned(), 0),
    ] {
        assert_eq!(list(&app, &dsl, &query).await.len(), found, "{query}");
    }
    let response = get_as(&app, &dsl, "/api/v1/incidents?status=lost").await;
    expect_error(response, 400, "bad_request").await;
    let response = get_as(&app, &dsl, "/api/v1/incidents?from=2&to=1").await;
    expect_error(response, 400, "bad_request").await;

    let head = session(&app, HILLTOP_HEAD_EMAIL).await;
    assert!(list(&app, &head, "").await.is_empty());
    let response = get_as(&app, &head, &format!("/api/v1/incidents/{}", record.id)).await;
    expect_error(response, 404, "not_found").await;
    let admin = app.admin_token().await;
    assert_eq!(list(&app, &admin, "").await.len(), 1);
}

#[tokio::test]
async fn every_read_of_the_log_and_of_an_incident_is_audited() {
    let app = spawn_app().await;
    let key = incident_key(&app).await;
    let record = log_as_teacher(&app, &key, ORDINARY).await;
    let teacher = session(&app, TEACHER_EMAIL).await;
    let dsl = session(&app, DSL_EMAIL).await;
    list(&app, &teacher, "").await;
    list(&app, &dsl, "?group=pupil").await;
    list(&app, &dsl, "").await;
    for token in [&teacher, &dsl] {
        let response = get_as(&app, token, &format!("/api/v1/incidents/{}", record.id)).await;
        assert_eq!(response.status(), 200);
    }
    let response = get_as(&app, &dsl, "/api/v1/incidents/person?name=sam%20pupil").await;
    assert_eq!(response.status(), 200);

    let admin = app.admin_token().await;
    let entries: Vec<Value> = get_as(&app, &admin, "/api/v1/audit")
        .await
        .json()
        .await
        .unwrap();
    let of = |action: &str| -> Vec<&Value> {
        entries
            .iter()
            .filter(|e| e["action"] == action)
            .collect::<Vec<_>>()
    };
    let teacher_actor = format!("user:{TEACHER_ID}");
    let dsl_actor = format!("user:{}", haven_server::store::demo::DEMO_STAFF[2].0);
    let lists = of("read_incidents");
    assert_eq!(lists.len(), 3);
    assert_eq!(lists.iter().filter(|e| e["actor"] == dsl_actor).count(), 2);
    let reads = of("read_incident");
    assert_eq!(reads.len(), 2);
    for actor in [&teacher_actor, &dsl_actor] {
        assert!(
            reads
                .iter()
                .any(|e| e["actor"] == *actor && e["subject"] == record.id.to_string()),
            "{actor}"
        );
    }
    let searches = of("read_person_incidents");
    assert_eq!(searches.len(), 1);
    assert!(searches[0]["detail"]
        .as_str()
        .unwrap()
        .contains(&record.id.to_string()));
    assert!(
        !serde_json::to_string(&entries).unwrap().contains("Sam"),
        "the name searched for is not kept"
    );
}

#[tokio::test]
async fn follow_ups_move_the_status_forward_only_and_closing_needs_an_outcome() {
    let app = spawn_app().await;
    let key = incident_key(&app).await;
    let record = log_as_teacher(&app, &key, ORDINARY).await;
    let dsl = session(&app, DSL_EMAIL).await;
    let teacher = session(&app, TEACHER_EMAIL).await;
    let head = session(&app, HILLTOP_HEAD_EMAIL).await;
    let id = record.id;

    let response = follow_up(
        &app,
        &teacher,
        id,
        json!({"kind": "action_taken", "note": "I did something"}),
    )
    .await;
    expect_error(response, 403, "forbidden").await;
    let response = follow_up(
        &app,
        &head,
        id,
        json!({"kind": "action_taken", "note": "I did something"}),
    )
    .await;
    expect_error(response, 404, "not_found").await;

    let response = follow_up(
        &app,
        &dsl,
        id,
        json!({"kind": "status_changed", "status": "investigating"}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let added: FollowUp = response.json().await.unwrap();
    assert_eq!(added.by_name, "Grace Mensah");
    assert_eq!(added.incident_id, id);

    let response = follow_up(
        &app,
        &dsl,
        id,
        json!({"kind": "status_changed", "status": "acknowledged"}),
    )
    .await;
    let error = expect_error(response, 400, "invalid_follow_up").await;
    assert!(error.message.contains("status"), "{error:?}");
    let response = follow_up(
        &app,
        &dsl,
        id,
        json!({"kind": "status_changed", "status": "closed"}),
    )
    .await;
    let error = expect_error(response, 400, "invalid_follow_up").await;
    assert!(error.message.contains("outcome"), "{error:?}");
    let response = follow_up(
        &app,
        &dsl,
        id,
        json!({"kind": "parents_informed", "note": " "}),
    )
    .await;
    let error = expect_error(response, 400, "invalid_follow_up").await;
    assert!(error.message.contains("note"), "{error:?}");
    for body in [
        json!({"kind": "sneaky", "note": "x"}),
        json!({"kind": "action_taken", "note": "x", "sneaky": 1}),
        json!({"kind": "referral_made", "to": "LADO", "sneaky": 1}),
        json!({"kind": "action_taken", "note": 5}),
        json!(["action_taken"]),
    ] {
        let response = follow_up(&app, &dsl, id, body.clone()).await;
        expect_error(response, 400, "bad_request").await;
    }

    for body in [
        json!({"kind": "parents_informed", "note": "Phoned mum at 15:10"}),
        json!({"kind": "referral_made", "to": "Children's social care", "note": ""}),
        json!({"kind": "outcome", "outcome": "internal", "note": "Sanction given"}),
        json!({"kind": "status_changed", "status": "closed"}),
    ] {
        let response = follow_up(&app, &dsl, id, body.clone()).await;
        assert_eq!(response.status(), 201, "{body}");
    }
    let response = follow_up(
        &app,
        &dsl,
        id,
        json!({"kind": "action_taken", "note": "Later"}),
    )
    .await;
    let error = expect_error(response, 400, "invalid_follow_up").await;
    assert!(error.message.contains("closed"), "{error:?}");

    // The chronology, oldest first, for the teacher too.
    let detail: IncidentDetail = get_as(&app, &teacher, &format!("/api/v1/incidents/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail.summary.status, IncidentStatus::Closed);
    let kinds: Vec<Value> = detail
        .follow_ups
        .iter()
        .map(|f| serde_json::to_value(&f.kind).unwrap()["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            "status_changed",
            "parents_informed",
            "referral_made",
            "outcome",
            "status_changed"
        ]
    );
    assert_eq!(list(&app, &dsl, "?status=closed").await.len(), 1);

    let pool = open_db(&app).await;
    assert!(sqlx::query("UPDATE incident_follow_ups SET note = 'x'")
        .execute(&pool)
        .await
        .is_err());
    assert!(sqlx::query("DELETE FROM incident_follow_ups")
        .execute(&pool)
        .await
        .is_err());
    pool.close().await;
}

#[tokio::test]
async fn an_immediate_incident_alerts_its_leads_until_acknowledged() {
    let app = spawn_app().await;
    let key = incident_key(&app).await;
    let ordinary = log_as_teacher(&app, &key, ORDINARY).await;
    assert!(
        !ordinary.recommended.immediate,
        "the fixture is not immediate"
    );
    let urgent = log_as_teacher(&app, &key, ILLEGAL).await;
    assert!(urgent.recommended.immediate);
    let dsl = session(&app, DSL_EMAIL).await;
    let teacher = session(&app, TEACHER_EMAIL).await;
    let head = session(&app, HILLTOP_HEAD_EMAIL).await;

    let response = get_as(&app, &dsl, "/api/v1/incidents/alerts").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let alerts: Vec<IncidentAlert> = serde_json::from_str(&text).unwrap();
    assert_eq!(alerts.iter().map(|a| a.id).collect::<Vec<_>>(), [urgent.id]);
    assert_eq!(alerts[0].academy_id, OAKFIELD_ID);
    for private in ["Sam Pupil", "Tom Reilly", "proxy site", "Room 4"] {
        assert!(!text.contains(private), "an alert names no one: {private}");
    }
    for token in [&teacher, &head] {
        let response = get_as(&app, token, "/api/v1/incidents/alerts").await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Vec<IncidentAlert>>().await.unwrap(), []);
    }

    let response = follow_up(
        &app,
        &dsl,
        urgent.id,
        json!({"kind": "status_changed", "status": "acknowledged", "note": "On it"}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let alerts: Vec<IncidentAlert> = get_as(&app, &dsl, "/api/v1/incidents/alerts")
        .await
        .json()
        .await
        .unwrap();
    assert!(alerts.is_empty());
}

/// One email as the fake relay received it: the envelope's recipients and
/// the message as sent after DATA.
pub(crate) struct Received {
    pub(crate) recipients: Vec<String>,
    pub(crate) data: String,
}

/// A relay that accepts every email and hands each over on the channel
/// (the metrics tests count the alert emails it takes).
pub(crate) async fn fake_smtp_relay() -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<Received>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (sender, received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let sender = sender.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 ready\r\n").await?;
                let mut recipients = Vec::new();
                while let Some(line) = lines.next_line().await? {
                    let command = line.to_ascii_uppercase();
                    let reply: &[u8] = if command.starts_with("RCPT TO:") {
                        recipients.push(line["RCPT TO:".len()..].trim().to_owned());
                        b"250 ok\r\n"
                    } else if command == "DATA" {
                        write.write_all(b"354 go\r\n").await?;
                        let mut data = String::new();
                        while let Some(line) = lines.next_line().await? {
                            if line == "." {
                                break;
                            }
                            data.push_str(&line);
                            data.push('\n');
                        }
                        let _ = sender.send(Received {
                            recipients: std::mem::take(&mut recipients),
                            data,
                        });
                        b"250 queued\r\n"
                    } else if command == "QUIT" {
                        write.write_all(b"221 bye\r\n").await?;
                        break;
                    } else {
                        // EHLO, HELO, MAIL FROM, RSET, NOOP.
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await?;
                }
                Ok::<_, std::io::Error>(())
            });
        }
    });
    (addr, received)
}

#[tokio::test]
async fn an_immediate_incident_is_emailed_to_its_leads_naming_no_one() {
    use std::time::Duration;
    let (relay, mut mail) = fake_smtp_relay().await;
    let dir = tempfile::TempDir::new().unwrap();
    let mut config = test_config(&dir);
    config.smtp_url = Some(format!("smtp://{relay}"));
    config.alert_from = Some("haven@riverside.example.org".into());
    let app = spawn_app_with(dir, config).await;
    let key = incident_key(&app).await;

    let ordinary = log_as_teacher(&app, &key, ORDINARY).await;
    assert!(!ordinary.recommended.immediate);
    // The same immediate incident pushed twice is stored, and emailed, once.
    let token = session(&app, TEACHER_EMAIL).await;
    let device = Uuid::now_v7();
    let urgent = incident_record(
        OAKFIELD_ID,
        device,
        TEACHER_ID,
        Involved::PupilInLesson,
        ILLEGAL,
    );
    assert!(urgent.recommended.immediate);
    let first = push_as(&app, &token, device, vec![(1, seal(&urgent, &key))]).await;
    assert_eq!(first.results[0].outcome, Outcome::Applied);
    let again = push_as(&app, &token, device, vec![(2, seal(&urgent, &key))]).await;
    assert_eq!(again.results[0].outcome, Outcome::Duplicate);

    let email = tokio::time::timeout(Duration::from_secs(10), mail.recv())
        .await
        .expect("the alert email arrives")
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(1), mail.recv())
            .await
            .is_err(),
        "one email: none for the ordinary incident or the duplicate"
    );
    let mut recipients = email.recipients.clone();
    recipients.sort();
    assert_eq!(
        recipients,
        [
            "<dsl@oakfield.example.org>",
            "<t.ashworth@riverside.example.org>"
        ]
    );
    let data = &email.data;
    assert!(
        data.contains("Subject: Haven: an e-safety incident needs attention now"),
        "{data}"
    );
    assert!(data.contains("Oakfield Primary Academy"), "{data}");
    for private in [
        "Sam Pupil",
        urgent.description.as_str(),
        urgent.incident_type.as_str(),
        "Tom Reilly",
        "Sarah Bennett",
        "Tom Ashworth",
        "Room 4",
    ] {
        assert!(!data.contains(private), "the email names no one: {private}");
    }
}

#[tokio::test]
async fn the_report_counts_incidents_and_names_no_one() {
    let app = spawn_app().await;
    let key = incident_key(&app).await;
    log_as_teacher(&app, &key, ORDINARY).await;
    log_as_teacher(&app, &key, ORDINARY).await;
    log_as_teacher(&app, &key, ILLEGAL).await;
    // A staff member's conduct, logged by the teacher.
    let token = session(&app, TEACHER_EMAIL).await;
    let device = Uuid::now_v7();
    let mut about_staff = incident_record(
        OAKFIELD_ID,
        device,
        TEACHER_ID,
        Involved::StaffMember,
        "excessive-personal-use",
    );
    about_staff.people[0].name = "Zed Colleague".into();
    about_staff.occurred_at = 1_788_220_800_000; // 1 September 2026
    let pushed = push_as(&app, &token, device, vec![(1, seal(&about_staff, &key))]).await;
    assert_eq!(pushed.results[0].outcome, Outcome::Applied);

    let dsl = session(&app, DSL_EMAIL).await;
    let response = get_as(&app, &dsl, "/api/v1/incidents/report").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    for private in [
        "Sam Pupil",
        "Zed Colleague",
        "Tom Reilly",
        "proxy site",
        "Room 4",
        "iPad",
    ] {
        assert!(
            !text.contains(private),
            "the report names no one: {private}"
        );
    }
    let report: IncidentReport = serde_json::from_str(&text).unwrap();
    assert_eq!(report.total, 4);
    let counts = |list: &[haven_core::api::incidents::ReportCount]| {
        list.iter()
            .map(|c| (c.key.clone(), c.count))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        counts(&report.by_type),
        [
            ("excessive-personal-use".to_owned(), 1),
            (ILLEGAL.to_owned(), 1),
            (ORDINARY.to_owned(), 2)
        ]
    );
    assert_eq!(counts(&report.by_academy), [(OAKFIELD_ID.to_string(), 4)]);
    assert_eq!(report.by_academy[0].label, "Oakfield Primary Academy");
    assert_eq!(
        counts(&report.by_month),
        [("2026-09".to_owned(), 4)],
        "1 789 999 000 000 is in September 2026 too"
    );
    assert_eq!(
        counts(&report.by_group),
        [("pupil".to_owned(), 3), ("staff".to_owned(), 1)]
    );

    // Narrowed by time and academy.
    let narrowed: IncidentReport =
        get_as(&app, &dsl, "/api/v1/incidents/report?from=1789000000000")
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(narrowed.total, 3);

    let response = get_as(&app, &dsl, "/api/v1/incidents/report.csv").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = response.text().await.unwrap();
    assert!(csv.starts_with("Grouping,Key,Label,Count\r\n"), "{csv}");
    assert!(csv.contains("total,,All incidents,4\r\n"), "{csv}");
    assert!(csv.contains("group,pupil,Pupils,3\r\n"), "{csv}");
    assert!(!csv.contains("Sam Pupil"));

    let head = session(&app, HILLTOP_HEAD_EMAIL).await;
    let theirs: IncidentReport = get_as(&app, &head, "/api/v1/incidents/report")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs.total, 0);
    let response = get_as(
        &app,
        &head,
        &format!("/api/v1/incidents/report?academy_id={OAKFIELD_ID}"),
    )
    .await;
    expect_error(response, 403, "forbidden").await;
    let response = get_as(&app, &token, "/api/v1/incidents/report").await;
    expect_error(response, 403, "forbidden").await;
}

#[tokio::test]
async fn a_persons_incidents_are_found_by_name_for_the_leads_only() {
    let app = spawn_app().await;
    let key = incident_key(&app).await;
    let first = log_as_teacher(&app, &key, ORDINARY).await;
    let second = log_as_teacher(&app, &key, ILLEGAL).await;
    let dsl = session(&app, DSL_EMAIL).await;
    let found: Vec<IncidentDetail> = get_as(
        &app,
        &dsl,
        "/api/v1/incidents/person?name=%20%20sam%20%20PUPIL%20",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        found.iter().map(|d| d.record.id).collect::<Vec<_>>(),
        [second.id, first.id],
        "newest first"
    );
    let none: Vec<IncidentDetail> = get_as(&app, &dsl, "/api/v1/incidents/person?name=Sam")
        .await
        .json()
        .await
        .unwrap();
    assert!(none.is_empty(), "the whole name, not a part");
    let response = get_as(&app, &dsl, "/api/v1/incidents/person?name=%20").await;
    expect_error(response, 400, "bad_request").await;
    let response = get_as(&app, &dsl, "/api/v1/incidents/person").await;
    expect_error(response, 400, "bad_request").await;

    let teacher = session(&app, TEACHER_EMAIL).await;
    let response = get_as(&app, &teacher, "/api/v1/incidents/person?name=Sam%20Pupil").await;
    expect_error(response, 403, "forbidden").await;
    let head = session(&app, HILLTOP_HEAD_EMAIL).await;
    let theirs: Vec<IncidentDetail> =
        get_as(&app, &head, "/api/v1/incidents/person?name=Sam%20Pupil")
            .await
            .json()
            .await
            .unwrap();
    assert!(
        theirs.is_empty(),
        "another academy's incidents are not theirs"
    );
}

#[tokio::test]
async fn the_incident_key_file_is_private_and_kept_across_restarts() {
    let app = spawn_app().await;
    let path =
        haven_server::crypto::incident_key::incident_key_path_for(&app.config.key_base().unwrap());
    assert!(!path.exists(), "made only when first needed");
    let key = incident_key(&app).await;
    assert_eq!(key.key_id.len(), 16);
    assert!(path.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // An incident sealed before a restart opens after it.
    let device = Uuid::now_v7();
    let record = incident_record(
        OAKFIELD_ID,
        device,
        TEACHER_ID,
        Involved::PupilInLesson,
        ORDINARY,
    );
    let sealed = seal(&record, &key);
    let app = app.restart().await;
    assert_eq!(incident_key(&app).await, key);
    let token = session(&app, TEACHER_EMAIL).await;
    let pushed = push_as(&app, &token, device, vec![(1, sealed)]).await;
    assert_eq!(pushed.results[0].outcome, Outcome::Applied);
}

#[tokio::test]
async fn the_document_describes_the_incident_operations() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let schemas = &doc["components"]["schemas"];
    for name in [
        "SealedIncident",
        "IncidentKey",
        "IncidentSummary",
        "IncidentDetail",
        "IncidentRecord",
        "FollowUp",
        "FollowUpInput",
        "IncidentAlert",
        "IncidentReport",
    ] {
        assert!(schemas[name].is_object(), "{name} is in the document");
    }
    assert_eq!(schemas["SealedIncident"]["additionalProperties"], false);
    let paths = &doc["paths"];
    assert!(paths["/api/v1/incidents/{incident_id}/follow-ups"]["post"].is_object());
    assert_eq!(
        paths["/api/v1/incidents/report.csv"]["get"]["responses"]["200"]["content"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["text/csv"]
    );
    assert!(
        paths["/api/v1/incidents/key"]["get"]["security"].is_null(),
        "the public key is public"
    );
}
