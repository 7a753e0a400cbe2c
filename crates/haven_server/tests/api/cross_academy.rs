//! Across academies, cell by cell (issue 17, part 1): every kind of caller at
//! one academy — its head, e-safety lead, DSL, a teacher and its reception
//! kiosk — against the other academy's person, device, parent link,
//! academy, reception, visit, incident and the incident's attachments, in
//! both directions (Oakfield → Hilltop, Hilltop → Oakfield).
//!
//! A cell checks what happened, not only the status: each refused call
//! leaves every row of the tables it could touch as it was, writes no audit
//! entry and answers no byte of an attachment; afterwards someone allowed
//! reads each target back through the API, unchanged, and the targets' own
//! academy then makes the same calls successfully (so the cells were refused
//! for where they reach, not for their bodies). Each list a caller may read
//! holds their academy's rows and none of the other's; a trust admin's holds
//! both.

use crate::attachments::{encrypt, jpeg, upload};
use crate::authorization::open_db;
use crate::helpers::{
    device_secret, incident_key, incident_record, seal, spawn_app, TestApp, ADMIN_PASSWORD,
    VISITOR_AUA_VERSION_ID,
};
use haven_core::api::accounts::{ClassListReport, Enrolled, EnrolmentCode, InvitedStaff};
use haven_core::api::LoginResponse;
use haven_core::incident::{Attachment, IncidentKey, ATTACHMENT_PIECE_BYTES};
use haven_core::rules::Involved;
use haven_core::sync::wire::{Change, Mutation, Outcome, PushRequest, PushResponse};
use haven_core::visit::{
    badge_code, DbsStatus, EscortRule, Host, ReceptionSettings, VisitEnd, VisitRecord,
    VisitorChecks, VisitorType,
};
use haven_server::store::demo::{HILLTOP_ID, OAKFIELD_ID};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use uuid::Uuid;

const PIECE: usize = ATTACHMENT_PIECE_BYTES;
/// An incident type that is not illegal (attachments allowed), and one that
/// must be reported immediately (it raises an alert).
const ORDINARY: &str = "personal-device";
const IMMEDIATE: &str = "illegal-material";
/// Everyone's incidents name the same pupil, so a search that reached
/// across academies would find the other's.
const PUPIL: &str = "Sam Pupil";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Head,
    EsafetyLead,
    Dsl,
    Teacher,
    Kiosk,
}

impl Kind {
    fn leads_incidents(self) -> bool {
        matches!(self, Kind::Head | Kind::EsafetyLead | Kind::Dsl)
    }
    /// Devices, parent links and the compliance list.
    fn manages_devices(self) -> bool {
        matches!(self, Kind::Head | Kind::EsafetyLead)
    }
}

/// A caller: a staff session (pushing from a browser of their own) or an
/// enrolled reception kiosk.
struct Person {
    kind: Kind,
    label: String,
    token: String,
    /// The staff account; `None` for the kiosk.
    user_id: Option<Uuid>,
    /// The id it pushes under, and the next mutation number.
    sync_id: Uuid,
    next: AtomicU64,
}

/// One academy: its callers and the targets the other academy reaches for.
struct Side {
    academy: Uuid,
    name: &'static str,
    people: Vec<Person>,
    /// A member of staff (role `staff` here only).
    staff_id: Uuid,
    /// An enrolled shared tablet (`DeviceView::id`).
    device_id: Uuid,
    invitation_id: Uuid,
    /// The teacher's ordinary incident, with two attachments: `photo`
    /// uploaded whole, `partial` with only its first piece.
    incident_id: Uuid,
    /// The teacher's immediate incident, unacknowledged.
    immediate_id: Uuid,
    photo: (Attachment, Vec<u8>, Vec<u8>),
    partial: (Attachment, Vec<u8>),
    /// A visitor signed in at its kiosk, still on site.
    visit: VisitRecord,
    /// The academy's key personnel, as `GET /academies` shows them.
    key_personnel: Value,
}

impl Side {
    fn person(&self, kind: Kind) -> &Person {
        self.people.iter().find(|p| p.kind == kind).unwrap()
    }
    fn teacher(&self) -> &Person {
        self.person(Kind::Teacher)
    }
}

async fn login(app: &TestApp, email: &str) -> LoginResponse {
    let response = app.login(email, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 200, "{email} signs in");
    response.json().await.unwrap()
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method.parse().unwrap(), app.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// A 2xx answer's JSON.
async fn read(app: &TestApp, path: &str, token: &str) -> Value {
    let response = send(app, "GET", path, token, None).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "GET {path}: {status} {text:.300}");
    serde_json::from_str(&text).unwrap()
}

/// A new member of staff with one role at `academy`, signed in (from their
/// invitation link).
async fn invite(
    app: &TestApp,
    admin: &str,
    academy: Uuid,
    role: &str,
    email: &str,
) -> LoginResponse {
    let response = send(
        app,
        "POST",
        "/api/v1/staff",
        admin,
        Some(json!({"name": format!("Cross {role}"), "email": email,
            "grants": [{"role": role, "academy_id": academy}]})),
    )
    .await;
    assert_eq!(response.status(), 201, "{email} invited");
    let invited: InvitedStaff = response.json().await.unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/auth/invitations/accept"))
        .json(
            &json!({"token": invited.link_path.trim_start_matches("/invite/"),
            "password": "kettle lantern orchard"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{email} accepts");
    response.json().await.unwrap()
}

async fn enrol(app: &TestApp, admin: &str, academy: Uuid, kind: &str, label: &str) -> Enrolled {
    let code: EnrolmentCode = send(
        app,
        "POST",
        "/api/v1/devices/codes",
        admin,
        Some(json!({"academy_id": academy, "kind": kind, "label": label})),
    )
    .await
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

/// Sends `changes` as `person`'s next mutations.
async fn push(app: &TestApp, person: &Person, changes: Vec<Change>) -> PushResponse {
    let first = person
        .next
        .fetch_add(changes.len() as u64, Ordering::SeqCst);
    let request = PushRequest {
        device_secret: Some(device_secret(person.sync_id)),
        device_id: person.sync_id,
        backlog: changes.len() as u64,
        mutations: changes
            .into_iter()
            .enumerate()
            .map(|(i, change)| Mutation::new(first + i as u64, change))
            .collect(),
    };
    let response = app
        .client
        .post(app.url("/api/v1/sync/push"))
        .bearer_auth(&person.token)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{} pushes", person.label);
    response.json().await.unwrap()
}

async fn put_piece(
    app: &TestApp,
    token: &str,
    sha256: &str,
    size: usize,
    index: usize,
    bytes: Vec<u8>,
) -> reqwest::Response {
    app.client
        .put(app.url(&format!(
            "/api/v1/attachments/{sha256}/pieces/{index}?size={size}&pieces={}",
            size.div_ceil(PIECE)
        )))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap()
}

fn visit(academy: Uuid, device: Uuid, name: &str) -> VisitRecord {
    let id = Uuid::now_v7();
    VisitRecord {
        id,
        academy_id: academy,
        device_id: device,
        visitor_name: name.to_owned(),
        organisation: "Analytical Engines Ltd".to_owned(),
        visitor_type: VisitorType::Contractor,
        host: Host {
            staff_id: None,
            name: "Front office".to_owned(),
        },
        car_registration: None,
        badge_code: badge_code(id),
        signed_in_at: haven_server::clock::now_ms() - 60_000,
        checks: VisitorChecks {
            id_seen: true,
            dbs: DbsStatus::NotChecked,
        },
        escort_required: true,
        agreement_id: Uuid::now_v7(),
        agreement_version_id: VISITOR_AUA_VERSION_ID,
    }
}

fn person(
    kind: Kind,
    label: String,
    token: String,
    user_id: Option<Uuid>,
    sync_id: Uuid,
) -> Person {
    Person {
        kind,
        label,
        token,
        user_id,
        sync_id,
        next: AtomicU64::new(1),
    }
}

async fn side(app: &TestApp, admin: &str, key: &IncidentKey, academy: Uuid) -> Side {
    let (short, name) = if academy == OAKFIELD_ID {
        ("Oakfield", "Oakfield Primary Academy")
    } else {
        ("Hilltop", "Hilltop Secondary Academy")
    };
    let mut people = Vec::new();
    for (kind, role, what) in [
        (Kind::Head, "headteacher", "head"),
        (Kind::EsafetyLead, "esafety_lead", "esafety"),
        (Kind::Dsl, "dsl", "dsl"),
        (Kind::Teacher, "staff", "teacher"),
    ] {
        let email = format!("{what}@{}.example", short.to_lowercase());
        // The demo trust has Oakfield's four and Hilltop's head; Hilltop's
        // others are invited.
        let session = if academy == OAKFIELD_ID || kind == Kind::Head {
            login(app, &email).await
        } else {
            invite(app, admin, academy, role, &email).await
        };
        people.push(person(
            kind,
            format!("{short} {what}"),
            session.token,
            Some(session.me.user_id),
            Uuid::now_v7(),
        ));
    }
    let kiosk = enrol(
        app,
        admin,
        academy,
        "reception_kiosk",
        &format!("{short} desk"),
    )
    .await;
    people.push(person(
        Kind::Kiosk,
        format!("{short} kiosk"),
        kiosk.token,
        None,
        kiosk.device.sync_device_id,
    ));

    let target: InvitedStaff = send(
        app,
        "POST",
        "/api/v1/staff",
        admin,
        Some(json!({"name": format!("{short} Target"), "email": format!("target@{}.example", short.to_lowercase()),
            "grants": [{"role": "staff", "academy_id": academy}]})),
    )
    .await
    .json()
    .await
    .unwrap();
    let tablet = enrol(
        app,
        admin,
        academy,
        "shared_tablet",
        &format!("{short} tablet"),
    )
    .await;
    let report: ClassListReport = send(
        app,
        "POST",
        "/api/v1/parent-invitations/import",
        admin,
        Some(json!({"csv": format!(
            "pupil name,class,academy,parent/carer name,email\n\
             Pat {short},Year 4,{name},Chris {short},parent@{}.example\n",
            short.to_lowercase()
        )})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(report.invitations.len(), 1, "{:?}", report.problems);

    // The teacher logs two incidents from their own browser: an ordinary one
    // with a photo sent whole and a file half sent, and an immediate one.
    let teacher = people.iter().find(|p| p.kind == Kind::Teacher).unwrap();
    let plain = jpeg(1000);
    let (photo, photo_ct) = encrypt("evidence.jpg", "image/jpeg", &plain);
    upload(app, &teacher.token, &photo.sha256, &photo_ct).await;
    let (partial, partial_ct) = encrypt("screen.jpg", "image/jpeg", &jpeg(PIECE + 100));
    let response = put_piece(
        app,
        &teacher.token,
        &partial.sha256,
        partial_ct.len(),
        0,
        partial_ct[..PIECE].to_vec(),
    )
    .await;
    assert_eq!(response.status(), 200);
    let teacher_id = teacher.user_id.unwrap();
    let mut ordinary = incident_record(
        academy,
        teacher.sync_id,
        teacher_id,
        Involved::PupilInLesson,
        ORDINARY,
    );
    ordinary.attachments = vec![photo.clone(), partial.clone()];
    let immediate = incident_record(
        academy,
        teacher.sync_id,
        teacher_id,
        Involved::PupilInLesson,
        IMMEDIATE,
    );
    assert!(immediate.recommended.immediate);
    let pushed = push(
        app,
        teacher,
        vec![
            Change::CreateIncident(seal(&ordinary, key)),
            Change::CreateIncident(seal(&immediate, key)),
        ],
    )
    .await;
    assert!(
        pushed.results.iter().all(|r| r.outcome == Outcome::Applied),
        "{pushed:?}"
    );

    let kiosk = people.last().unwrap();
    let on_site = visit(academy, kiosk.sync_id, &format!("{short} Visitor"));
    let pushed = push(app, kiosk, vec![Change::CreateVisit(on_site.clone())]).await;
    assert_eq!(pushed.results[0].outcome, Outcome::Applied, "{pushed:?}");

    let academies = read(app, "/api/v1/academies", admin).await;
    let key_personnel = academies
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == json!(academy))
        .unwrap()["key_personnel"]
        .clone();
    Side {
        academy,
        name,
        key_personnel,
        people,
        staff_id: target.staff.id,
        device_id: tablet.device.id,
        invitation_id: report.invitations[0].invitation.id,
        incident_id: ordinary.id,
        immediate_id: immediate.id,
        photo: (photo, plain, photo_ct),
        partial: (partial, partial_ct),
        visit: on_site,
    }
}

/// Every row of every table a call across academies could write, as text
/// (a device's last contact and reported backlog aside, which its own
/// pushes move), and the audit log apart.
async fn written(app: &TestApp) -> (String, String) {
    let pool = open_db(app).await;
    let mut all = String::new();
    for table in [
        "users",
        "user_roles",
        "account_links",
        "enrolled_devices",
        "enrolment_codes",
        "parent_invitations",
        "parent_sessions",
        "academies",
        "reception_settings",
        "visits",
        "visit_ends",
        "incidents",
        "incident_follow_ups",
        "attachment_uploads",
        "attachment_pieces",
        "incident_attachments",
    ] {
        let rows =
            crate::helpers::rows_as_text(&pool, table, &["last_contact_at", "reported_backlog"])
                .await;
        all.push_str(&format!("{table}: {}\n", rows.join("\n  ")));
    }
    let audit: Vec<String> = sqlx::query_scalar(
        "SELECT seq||' '||actor||' '||action||' '||subject||' '||academy_id||' '||detail \
         FROM audit_log ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    (all, audit.join("\n"))
}

enum Body {
    None,
    Json(Value),
    Bytes(Vec<u8>),
}

struct Cell {
    method: &'static str,
    path: String,
    body: Body,
    /// The statuses a refusal may answer.
    want: &'static [u16],
}

fn cell(method: &'static str, path: String, body: Body, want: &'static [u16]) -> Cell {
    Cell {
        method,
        path,
        body,
        want,
    }
}

/// What each caller of `mine` tries against `theirs`: every route naming
/// the other academy's person, device, parent link, academy, reception,
/// incident or attachment.
fn cells(me: &Person, mine: &Side, theirs: &Side) -> Vec<Cell> {
    // Incidents are hidden from staff (404, as if there were none) and
    // refused to devices, which never read incidents (403).
    let hidden: &'static [u16] = if me.kind == Kind::Kiosk {
        &[403]
    } else {
        &[404]
    };
    let (photo, _, photo_ct) = &theirs.photo;
    let (partial, partial_ct) = &theirs.partial;
    let mut forged_piece = partial_ct[PIECE..].to_vec();
    forged_piece[0] ^= 0xFF;
    let mut forged_first = partial_ct[..PIECE].to_vec();
    forged_first[0] ^= 0xFF;
    let mut settings = ReceptionSettings {
        escort_rule: EscortRule::Never,
        ..ReceptionSettings::default()
    };
    settings.server_retention_days = 1;
    vec![
        cell(
            "PUT",
            format!("/api/v1/staff/{}/roles", theirs.staff_id),
            Body::Json(json!({"grants": [{"role": "dsl", "academy_id": mine.academy}]})),
            &[403],
        ),
        cell(
            "PUT",
            format!("/api/v1/staff/{}/roles", theirs.staff_id),
            Body::Json(json!({"grants": []})),
            &[403],
        ),
        cell(
            "PUT",
            format!("/api/v1/staff/{}/active", theirs.staff_id),
            Body::Json(json!({"active": false})),
            &[403],
        ),
        cell(
            "POST",
            format!("/api/v1/devices/{}/revoke", theirs.device_id),
            Body::None,
            &[403],
        ),
        cell(
            "POST",
            format!("/api/v1/parent-invitations/{}/link", theirs.invitation_id),
            Body::None,
            &[403],
        ),
        cell(
            "PUT",
            format!("/api/v1/academies/{}", theirs.academy),
            Body::Json(json!({"name": theirs.name.replace("Academy", "Annexe"),
                "key_personnel": theirs.key_personnel})),
            &[403],
        ),
        cell(
            "PUT",
            format!("/api/v1/academies/{}/reception", theirs.academy),
            Body::Json(serde_json::to_value(settings).unwrap()),
            &[403],
        ),
        cell(
            "GET",
            format!("/api/v1/reception/{}", theirs.academy),
            Body::None,
            &[403],
        ),
        cell(
            "GET",
            format!("/api/v1/compliance?academy_id={}", theirs.academy),
            Body::None,
            &[403],
        ),
        cell(
            "GET",
            format!("/api/v1/incidents/{}", theirs.incident_id),
            Body::None,
            hidden,
        ),
        cell(
            "POST",
            format!("/api/v1/incidents/{}/follow-ups", theirs.incident_id),
            Body::Json(json!({"kind": "action_taken", "note": "Across"})),
            hidden,
        ),
        cell(
            "POST",
            format!("/api/v1/incidents/{}/follow-ups", theirs.immediate_id),
            Body::Json(json!({"kind": "status_changed", "status": "acknowledged"})),
            hidden,
        ),
        cell(
            "GET",
            format!("/api/v1/incidents/report?academy_id={}", theirs.academy),
            Body::None,
            &[403],
        ),
        cell(
            "GET",
            format!("/api/v1/incidents/report.csv?academy_id={}", theirs.academy),
            Body::None,
            &[403],
        ),
        // The incident's attachments, opened: not for another academy.
        cell(
            "GET",
            format!(
                "/api/v1/incidents/{}/attachments/{}",
                theirs.incident_id, photo.sha256
            ),
            Body::None,
            hidden,
        ),
        cell(
            "GET",
            format!(
                "/api/v1/incidents/{}/attachments/{}",
                theirs.incident_id, partial.sha256
            ),
            Body::None,
            hidden,
        ),
        // The uploads themselves, though their names are known: nothing
        // about them, and no piece taken.
        cell(
            "GET",
            format!("/api/v1/attachments/{}", photo.sha256),
            Body::None,
            &[403, 404],
        ),
        cell(
            "GET",
            format!("/api/v1/attachments/{}", partial.sha256),
            Body::None,
            &[403, 404],
        ),
        cell(
            "PUT",
            format!(
                "/api/v1/attachments/{}/pieces/0?size={}&pieces=1",
                photo.sha256,
                photo_ct.len()
            ),
            Body::Bytes(photo_ct.iter().map(|b| b ^ 1).collect()),
            &[403, 404],
        ),
        cell(
            "PUT",
            format!(
                "/api/v1/attachments/{}/pieces/1?size={}&pieces=2",
                partial.sha256,
                partial_ct.len()
            ),
            Body::Bytes(forged_piece),
            &[403, 404],
        ),
        cell(
            "PUT",
            format!(
                "/api/v1/attachments/{}/pieces/0?size={}&pieces=2",
                partial.sha256,
                partial_ct.len()
            ),
            Body::Bytes(forged_first),
            &[403, 404],
        ),
    ]
}

/// The targets as someone allowed reads them through the API.
async fn targets(app: &TestApp, admin: &str, side: &Side) -> Value {
    let find = |list: Value, id: Uuid| -> Value {
        list.as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == json!(id))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let staff = find(read(app, "/api/v1/staff", admin).await, side.staff_id);
    let device = find(read(app, "/api/v1/devices", admin).await, side.device_id);
    let invitation = find(
        read(app, "/api/v1/parent-invitations", admin).await,
        side.invitation_id,
    );
    let academy = find(read(app, "/api/v1/academies", admin).await, side.academy);
    let reception = read(app, &format!("/api/v1/reception/{}", side.academy), admin).await;
    let mut incidents = Vec::new();
    for id in [side.incident_id, side.immediate_id] {
        let detail = read(app, &format!("/api/v1/incidents/{id}"), admin).await;
        incidents.push(json!([
            detail["summary"]["status"],
            detail["follow_ups"],
            detail["arrived"]
        ]));
    }
    let teacher = &side.teacher().token;
    let uploads = json!([
        read(
            app,
            &format!("/api/v1/attachments/{}", side.photo.0.sha256),
            teacher
        )
        .await,
        read(
            app,
            &format!("/api/v1/attachments/{}", side.partial.0.sha256),
            teacher
        )
        .await,
    ]);
    // The DSL still opens the photo as it was taken.
    let dsl = &side.person(Kind::Dsl).token;
    let opened = send(
        app,
        "GET",
        &format!(
            "/api/v1/incidents/{}/attachments/{}",
            side.incident_id, side.photo.0.sha256
        ),
        dsl,
        None,
    )
    .await;
    assert_eq!(opened.status(), 200);
    assert_eq!(
        opened.bytes().await.unwrap().as_ref(),
        side.photo.1.as_slice()
    );
    json!({
        "staff": staff,
        "device": device,
        "invitation": invitation,
        "academy": academy,
        "reception": [reception["settings"], reception["on_site"], reception["ended_recently"]],
        "incidents": incidents,
        "uploads": uploads,
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn no_call_reaches_the_other_academys_people_devices_links_visits_or_incidents() {
    let app = spawn_app().await;
    let admin = login(&app, haven_server::store::demo::ADMIN_EMAIL)
        .await
        .token;
    let key = incident_key(&app).await;
    let oak = side(&app, &admin, &key, OAKFIELD_ID).await;
    let hill = side(&app, &admin, &key, HILLTOP_ID).await;
    let before = [
        targets(&app, &admin, &oak).await,
        targets(&app, &admin, &hill).await,
    ];

    let mut failures = Vec::new();
    let mut count = 0;
    for (mine, theirs) in [(&oak, &hill), (&hill, &oak)] {
        for me in &mine.people {
            for cell in cells(me, mine, theirs) {
                count += 1;
                let what = format!("{} {} as {}", cell.method, cell.path, me.label);
                let (rows, audit) = written(&app).await;
                let mut request = app
                    .client
                    .request(cell.method.parse().unwrap(), app.url(&cell.path))
                    .bearer_auth(&me.token);
                request = match cell.body {
                    Body::None => request,
                    Body::Json(body) => request.json(&body),
                    Body::Bytes(bytes) => request
                        .header("content-type", "application/octet-stream")
                        .body(bytes),
                };
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let bytes = response.bytes().await.unwrap();
                if !cell.want.contains(&status) {
                    failures.push(format!(
                        "{what}: expected {:?}, got {status} {:.200}",
                        cell.want,
                        String::from_utf8_lossy(&bytes)
                    ));
                }
                if contains(&bytes, &theirs.photo.1[..64])
                    || contains(&bytes, &theirs.photo.2[..64])
                    || contains(&bytes, &theirs.partial.1[..64])
                {
                    failures.push(format!("{what}: answered an attachment's bytes"));
                }
                let (rows_after, audit_after) = written(&app).await;
                if rows_after != rows {
                    failures.push(format!("{what}: a refused call wrote something"));
                }
                if audit_after != audit {
                    failures.push(format!(
                        "{what}: a refused call was audited as done: {}",
                        audit_after
                            .strip_prefix(&audit)
                            .unwrap_or(&audit_after)
                            .trim()
                    ));
                }
            }

            // Through the push: a visit at the other academy, the end of its
            // visitor's visit, and an incident there, each refused with a
            // reason and nothing stored.
            count += 1;
            let (rows, audit) = written(&app).await;
            let author = me.user_id.unwrap_or(mine.teacher().user_id.unwrap());
            let mut elsewhere = incident_record(
                theirs.academy,
                me.sync_id,
                author,
                Involved::PupilInLesson,
                ORDINARY,
            );
            elsewhere.people[0].name = PUPIL.into();
            let pushed = push(
                &app,
                me,
                vec![
                    Change::CreateVisit(visit(theirs.academy, me.sync_id, "Across Visitor")),
                    Change::EndVisit(VisitEnd {
                        id: Uuid::now_v7(),
                        visit_id: theirs.visit.id,
                        device_id: me.sync_id,
                        signed_out_at: haven_server::clock::now_ms(),
                        method: haven_core::visit::SignOutMethod::List,
                    }),
                    Change::CreateIncident(seal(&elsewhere, &key)),
                ],
            )
            .await;
            for (i, result) in pushed.results.iter().enumerate() {
                if !matches!(result.outcome, Outcome::Rejected { .. }) {
                    failures.push(format!(
                        "push #{i} at {} as {}: {:?}",
                        theirs.name, me.label, result.outcome
                    ));
                }
            }
            let (rows_after, audit_after) = written(&app).await;
            if rows_after != rows || audit_after != audit {
                failures.push(format!(
                    "push at {} as {}: a refused record was stored or audited",
                    theirs.name, me.label
                ));
            }
        }
    }
    assert!(count >= 2 * 5 * 20, "{count} cells");

    // Read back by the trust admin, each target is as it was.
    let after = [
        targets(&app, &admin, &oak).await,
        targets(&app, &admin, &hill).await,
    ];
    for (before, after) in before.iter().zip(&after) {
        if before != after {
            failures.push(format!("a target changed:\n{before:#}\n{after:#}"));
        }
    }

    // The same calls from the targets' own academy are allowed, so the
    // cells were refused for where they reach, not for their bodies.
    for side in [&oak, &hill] {
        let head = &side.person(Kind::Head).token;
        for (method, path, body, want) in [
            (
                "PUT",
                format!("/api/v1/staff/{}/roles", side.staff_id),
                Some(json!({"grants": [{"role": "dsl", "academy_id": side.academy}]})),
                200,
            ),
            (
                "PUT",
                format!("/api/v1/staff/{}/active", side.staff_id),
                Some(json!({"active": false})),
                200,
            ),
            (
                "POST",
                format!("/api/v1/devices/{}/revoke", side.device_id),
                None,
                200,
            ),
            (
                "POST",
                format!("/api/v1/parent-invitations/{}/link", side.invitation_id),
                None,
                200,
            ),
            (
                "PUT",
                format!("/api/v1/academies/{}", side.academy),
                Some(
                    json!({"name": side.name.replace("Academy", "Annexe"), "key_personnel": side.key_personnel}),
                ),
                200,
            ),
            (
                "PUT",
                format!("/api/v1/academies/{}/reception", side.academy),
                Some(
                    json!({"escort_rule": "never", "device_retention_days": 30, "server_retention_days": 1}),
                ),
                200,
            ),
            (
                "POST",
                format!("/api/v1/incidents/{}/follow-ups", side.incident_id),
                Some(json!({"kind": "action_taken", "note": "Own"})),
                201,
            ),
            (
                "POST",
                format!("/api/v1/incidents/{}/follow-ups", side.immediate_id),
                Some(json!({"kind": "status_changed", "status": "acknowledged"})),
                201,
            ),
        ] {
            let response = send(&app, method, &path, head, body).await;
            let status = response.status().as_u16();
            if status != want {
                let text = response.text().await.unwrap();
                failures.push(format!(
                    "{method} {path} as {}'s head: expected {want}, got {status} {text:.200}",
                    side.name
                ));
            }
        }
        // The upload's own sender finishes it, and the DSL opens it.
        let (partial, partial_ct) = &side.partial;
        let teacher = &side.teacher().token;
        let response = put_piece(
            &app,
            teacher,
            &partial.sha256,
            partial_ct.len(),
            1,
            partial_ct[PIECE..].to_vec(),
        )
        .await;
        if response.status() != 200 {
            failures.push(format!(
                "{}'s teacher cannot finish their upload: {} {:.200}",
                side.name,
                response.status(),
                response.text().await.unwrap()
            ));
        }
        let opened = send(
            &app,
            "GET",
            &format!(
                "/api/v1/incidents/{}/attachments/{}",
                side.incident_id, partial.sha256
            ),
            &side.person(Kind::Dsl).token,
            None,
        )
        .await;
        if opened.status() != 200 {
            failures.push(format!(
                "{}'s DSL cannot open the finished upload",
                side.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What of `side` a list could show: its ids, its academy's name, its
/// people's addresses and names.
fn marks(side: &Side) -> Vec<String> {
    let short = side.name.split(' ').next().unwrap();
    let mut marks: Vec<String> = [
        side.academy,
        side.staff_id,
        side.device_id,
        side.invitation_id,
        side.incident_id,
        side.immediate_id,
        side.visit.id,
    ]
    .iter()
    .map(Uuid::to_string)
    .collect();
    for p in &side.people {
        marks.push(p.sync_id.to_string());
        if let Some(id) = p.user_id {
            marks.push(id.to_string());
        }
    }
    marks.extend([
        side.name.to_owned(),
        format!("@{}.example", short.to_lowercase()),
        format!("{short} Target"),
        format!("{short} Visitor"),
        format!("Chris {short}"),
        side.photo.0.sha256.clone(),
    ]);
    marks
}

/// Every list and report a caller at `mine` might read, with whether `kind`
/// may, and what of `mine` it must then hold.
fn lists(kind: Kind, mine: &Side, other: Uuid) -> Vec<(String, bool, Vec<String>)> {
    let staff = kind != Kind::Kiosk;
    let leads = kind.leads_incidents();
    let both = vec![mine.incident_id.to_string(), mine.immediate_id.to_string()];
    let mut people: Vec<String> = mine
        .people
        .iter()
        .filter_map(|p| p.user_id.map(|id| id.to_string()))
        .collect();
    people.push(mine.staff_id.to_string());
    vec![
        ("/api/v1/incidents".into(), staff, both.clone()),
        (
            format!("/api/v1/incidents?academy_id={other}"),
            staff,
            vec![],
        ),
        (
            "/api/v1/incidents/alerts".into(),
            staff,
            if leads {
                vec![mine.immediate_id.to_string()]
            } else {
                vec![]
            },
        ),
        (
            "/api/v1/incidents/report".into(),
            leads,
            vec![mine.academy.to_string()],
        ),
        (
            "/api/v1/incidents/report.csv".into(),
            leads,
            vec![mine.name.to_owned()],
        ),
        (
            format!(
                "/api/v1/incidents/person?name={}",
                PUPIL.replace(' ', "%20")
            ),
            leads,
            both,
        ),
        ("/api/v1/compliance/mine".into(), staff, vec![]),
        (
            format!("/api/v1/compliance?academy_id={}", mine.academy),
            kind.manages_devices(),
            vec![mine.staff_id.to_string()],
        ),
        ("/api/v1/staff".into(), kind == Kind::Head, people),
        (
            "/api/v1/devices".into(),
            kind.manages_devices(),
            vec![mine.device_id.to_string()],
        ),
        (
            "/api/v1/parent-invitations".into(),
            kind.manages_devices(),
            vec![mine.invitation_id.to_string()],
        ),
        ("/api/v1/audit".into(), false, vec![]),
        (
            format!("/api/v1/reception/{}", mine.academy),
            true,
            vec![
                mine.visit.id.to_string(),
                mine.person(Kind::Kiosk).sync_id.to_string(),
            ],
        ),
    ]
}

/// The academy of each row of a list, where its rows name one.
fn academies_in(path: &str, body: &Value) -> Vec<String> {
    let s = |v: &Value| v.as_str().unwrap_or("?").to_owned();
    let rows = |v: &Value| v.as_array().cloned().unwrap_or_default();
    if path.starts_with("/api/v1/incidents/person") {
        rows(body)
            .iter()
            .map(|d| s(&d["summary"]["academy_id"]))
            .collect()
    } else if path.starts_with("/api/v1/incidents/report.csv") {
        vec![]
    } else if path.starts_with("/api/v1/incidents/report") {
        rows(&body["by_academy"])
            .iter()
            .map(|c| s(&c["key"]))
            .collect()
    } else if path.starts_with("/api/v1/staff") {
        rows(body)
            .iter()
            .flat_map(|m| rows(&m["grants"]))
            .map(|g| s(&g["academy_id"]))
            .collect()
    } else if path.starts_with("/api/v1/reception/") {
        let mut all = vec![s(&body["academy_id"])];
        all.extend(rows(&body["on_site"]).iter().map(|v| s(&v["academy_id"])));
        all
    } else {
        rows(body).iter().map(|r| s(&r["academy_id"])).collect()
    }
}

#[tokio::test]
async fn each_list_holds_the_callers_academys_rows_and_none_of_the_others() {
    let app = spawn_app().await;
    let admin = login(&app, haven_server::store::demo::ADMIN_EMAIL)
        .await
        .token;
    let key = incident_key(&app).await;
    let oak = side(&app, &admin, &key, OAKFIELD_ID).await;
    let hill = side(&app, &admin, &key, HILLTOP_ID).await;
    let mut failures = Vec::new();
    let mut count = 0;

    // A trust admin's lists hold both academies' rows (the audit log first,
    // before the reads below fill its page).
    let audit = read(&app, "/api/v1/audit", &admin).await;
    for side in [&oak, &hill] {
        let id = json!(side.academy);
        if !audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["academy_id"] == id)
        {
            failures.push(format!("the audit log shows nothing at {}", side.name));
        }
    }
    for (path, must) in [
        (
            "/api/v1/incidents",
            vec![
                oak.incident_id,
                oak.immediate_id,
                hill.incident_id,
                hill.immediate_id,
            ],
        ),
        (
            "/api/v1/incidents/alerts",
            vec![oak.immediate_id, hill.immediate_id],
        ),
        ("/api/v1/incidents/report", vec![OAKFIELD_ID, HILLTOP_ID]),
        (
            "/api/v1/incidents/person?name=Sam%20Pupil",
            vec![
                oak.incident_id,
                oak.immediate_id,
                hill.incident_id,
                hill.immediate_id,
            ],
        ),
        ("/api/v1/staff", vec![oak.staff_id, hill.staff_id]),
        ("/api/v1/devices", vec![oak.device_id, hill.device_id]),
        (
            "/api/v1/parent-invitations",
            vec![oak.invitation_id, hill.invitation_id],
        ),
    ] {
        count += 1;
        let text = read(&app, path, &admin).await.to_string();
        for id in must {
            if !text.contains(&id.to_string()) {
                failures.push(format!("GET {path} as the trust admin lacks {id}"));
            }
        }
    }
    let csv = send(&app, "GET", "/api/v1/incidents/report.csv", &admin, None)
        .await
        .text()
        .await
        .unwrap();
    count += 1;
    for side in [&oak, &hill] {
        if !csv.contains(side.name) {
            failures.push(format!("the trust admin's report.csv lacks {}", side.name));
        }
    }
    // Per academy, even for a trust admin, only that academy.
    for (mine, theirs) in [(&oak, &hill), (&hill, &oak)] {
        for (path, must) in [
            (
                format!("/api/v1/compliance?academy_id={}", mine.academy),
                mine.staff_id,
            ),
            (format!("/api/v1/reception/{}", mine.academy), mine.visit.id),
            (
                format!("/api/v1/incidents?academy_id={}", mine.academy),
                mine.incident_id,
            ),
            (
                format!("/api/v1/incidents/report?academy_id={}", mine.academy),
                mine.academy,
            ),
        ] {
            count += 1;
            let text = read(&app, &path, &admin).await.to_string();
            if !text.contains(&must.to_string()) {
                failures.push(format!("GET {path} as the trust admin lacks {must}"));
            }
            for mark in marks(theirs) {
                if text.contains(&mark) {
                    failures.push(format!("GET {path} as the trust admin shows {mark}"));
                }
            }
        }
    }

    // Everyone at one academy: what they may list holds their academy's
    // rows, and nothing of the other's anywhere in the answer.
    for (mine, theirs) in [(&oak, &hill), (&hill, &oak)] {
        let foreign = marks(theirs);
        let own = mine.academy.to_string();
        for me in &mine.people {
            for (path, allowed, must) in lists(me.kind, mine, theirs.academy) {
                count += 1;
                let what = format!("GET {path} as {}", me.label);
                let response = send(&app, "GET", &path, &me.token, None).await;
                let status = response.status().as_u16();
                let text = response.text().await.unwrap();
                if !allowed {
                    if status != 403 {
                        failures.push(format!("{what}: expected 403, got {status} {text:.200}"));
                    }
                    continue;
                }
                if status != 200 {
                    failures.push(format!("{what}: expected 200, got {status} {text:.200}"));
                    continue;
                }
                for mark in &foreign {
                    if text.contains(mark.as_str()) {
                        failures.push(format!("{what}: shows {mark} of {}", theirs.name));
                    }
                }
                for mark in &must {
                    if !text.contains(mark.as_str()) {
                        failures.push(format!("{what}: lacks {mark} of {}", mine.name));
                    }
                }
                if path.ends_with(".csv") {
                    continue;
                }
                let body: Value = serde_json::from_str(&text).unwrap();
                let academies = academies_in(&path, &body);
                if let Some(other) = academies.iter().find(|a| **a != own) {
                    failures.push(format!("{what}: a row at {other}"));
                }
                // The other academy's incidents, asked for by name: none.
                if path.starts_with("/api/v1/incidents?") && body != json!([]) {
                    failures.push(format!("{what}: {body:.200}"));
                }
                if path == "/api/v1/incidents/alerts"
                    && !me.kind.leads_incidents()
                    && body != json!([])
                {
                    failures.push(format!("{what}: alerts for someone who leads nothing"));
                }
                if path == "/api/v1/incidents/report" && body["total"] != json!(2) {
                    failures.push(format!("{what}: counts {} incidents, not 2", body["total"]));
                }
                if path == "/api/v1/compliance/mine" {
                    let rows = body.as_array().unwrap();
                    let me_id = json!(me.user_id.unwrap());
                    if rows.is_empty() || rows.iter().any(|r| r["user_id"] != me_id) {
                        failures.push(format!(
                            "{what}: not only the caller's own rows: {body:.300}"
                        ));
                    }
                }
            }
        }
    }
    assert!(count >= 2 * 5 * 13, "{count} lists read");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn an_incident_naming_another_academys_upload_does_not_lock_its_uploader_out() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let key = incident_key(&app).await;
    let oak = side(&app, &admin, &key, OAKFIELD_ID).await;
    let hill = side(&app, &admin, &key, HILLTOP_ID).await;
    // Hilltop's teacher learnt the name of Oakfield's half-sent file and logs
    // an incident at Hilltop naming it.
    let forger = hill.teacher();
    let mut forged = incident_record(
        HILLTOP_ID,
        forger.sync_id,
        forger.user_id.unwrap(),
        Involved::PupilInLesson,
        ORDINARY,
    );
    forged.attachments = vec![oak.partial.0.clone()];
    push(
        &app,
        forger,
        vec![Change::CreateIncident(seal(&forged, &key))],
    )
    .await;
    // The forger still cannot see or touch it.
    let (partial, ciphertext) = &oak.partial;
    let response = app
        .client
        .get(app.url(&format!("/api/v1/attachments/{}", partial.sha256)))
        .bearer_auth(&forger.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // Oakfield's teacher, who started it, finishes it, and Oakfield's DSL opens it.
    let teacher = oak.teacher();
    let response = put_piece(
        &app,
        &teacher.token,
        &partial.sha256,
        ciphertext.len(),
        1,
        ciphertext[PIECE..].to_vec(),
    )
    .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let dsl = oak.person(Kind::Dsl);
    let response = app
        .client
        .get(app.url(&format!(
            "/api/v1/incidents/{}/attachments/{}",
            oak.incident_id, partial.sha256
        )))
        .bearer_auth(&dsl.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
