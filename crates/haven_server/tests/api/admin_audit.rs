//! Every change an admin makes is in the audit log (issue 17, part 6): one
//! test per kind of change, each making the change over HTTP and finding
//! exactly the entry it should have written (who, what, which record, from
//! where), and none for a request that changed nothing.

use crate::helpers::{spawn_app, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD, STAFF_AUA_VERSION_ID};
use crate::library_client::next_version_of;
use haven_core::api::accounts::{
    AuditEntry, ClassListReport, Enrolled, EnrolmentCode, IssuedParentInvitation,
};
use haven_core::api::LoginResponse;
use haven_core::rules::{PupilAction, RuleTables, RulesVersion};
use haven_core::visit::{EscortRule, ReceptionSettings};
use haven_server::store::demo::{self, OAKFIELD_ID};
use serde_json::{json, Value};
use uuid::Uuid;

/// A person's session and their actor string in the log.
async fn sign_in(app: &TestApp, email: &str) -> (String, String) {
    let response = app.login(email, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 200, "{email}");
    let login: LoginResponse = response.json().await.unwrap();
    (login.token, format!("user:{}", login.me.user_id))
}

/// The entries with `action`, newest first, as a trust admin reads them.
async fn entries(app: &TestApp, action: &str) -> Vec<AuditEntry> {
    let admin = app.admin_token().await;
    let response = app.get_with("/api/v1/audit", &admin).await;
    assert_eq!(response.status(), 200);
    let all: Vec<AuditEntry> = response.json().await.unwrap();
    all.into_iter().filter(|e| e.action == action).collect()
}

/// The one entry with `action`; fails if there are none or several.
async fn only_entry(app: &TestApp, action: &str) -> AuditEntry {
    let mut found = entries(app, action).await;
    assert_eq!(found.len(), 1, "exactly one {action}: {found:?}");
    found.remove(0)
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: &impl serde::Serialize,
) -> reqwest::Response {
    app.send_json(method, path, Some(token), body).await
}

#[tokio::test]
async fn turning_off_a_required_second_factor_is_audited_with_what_changed() {
    let app = spawn_app().await;
    let (admin, actor) = sign_in(&app, ADMIN_EMAIL).await;
    let put = |roles: Value, idle: u32| {
        let body = json!({"second_factor_required": roles, "idle_lock_minutes": idle});
        let admin = admin.clone();
        let app = &app;
        async move {
            let response = send(
                app,
                reqwest::Method::PUT,
                "/api/v1/settings/accounts",
                &admin,
                &body,
            )
            .await;
            assert_eq!(response.status(), 200);
        }
    };
    // (Not trust_admin: the admin reading the log would need a second factor.)
    put(json!(["dsl", "esafety_lead"]), 5).await;
    put(json!(["esafety_lead"]), 10).await;
    // The same again changes nothing and is not an entry.
    put(json!(["esafety_lead"]), 10).await;

    let found = entries(&app, "account_settings_changed").await;
    assert_eq!(found.len(), 2, "{found:?}");
    let off = &found[0];
    assert_eq!(off.actor, actor);
    assert_eq!(off.client, "127.0.0.1");
    assert_eq!(
        off.detail,
        "second factor no longer required for dsl; idle lock 5 -> 10 minutes"
    );
    assert_eq!(
        found[1].detail,
        "second factor now required for esafety_lead, dsl"
    );
}

#[tokio::test]
async fn publishing_a_policy_is_audited_with_the_version_id() {
    let app = spawn_app().await;
    let (admin, actor) = sign_in(&app, ADMIN_EMAIL).await;
    let v1 = app.policy(STAFF_AUA_VERSION_ID).await;
    let request = next_version_of(&v1, "## 1. New rules\n\nLock your screen.\n");
    let response = app.post_policy(Some(&admin), &request).await;
    assert_eq!(response.status(), 201);
    let v2: haven_core::policy::PolicyVersion = response.json().await.unwrap();
    // A retry publishes nothing and writes nothing.
    assert_eq!(app.post_policy(Some(&admin), &request).await.status(), 200);

    let entry = only_entry(&app, "policy_published").await;
    assert_eq!(entry.actor, actor);
    assert_eq!(entry.subject, v2.id.to_string());
    assert_eq!(entry.client, "127.0.0.1");
    assert_eq!(
        entry.detail,
        format!(
            "Staff acceptable use agreement version 2 of policy {}, effective 2027-01-01",
            v1.policy_id
        )
    );
}

#[tokio::test]
async fn publishing_rule_tables_is_audited_with_the_version_id() {
    let app = spawn_app().await;
    let (admin, actor) = sign_in(&app, ADMIN_EMAIL).await;
    let mut tables = RuleTables::trust_default();
    tables
        .pupil_sanctions
        .iter_mut()
        .find(|r| r.id == "sharing-login")
        .unwrap()
        .actions
        .insert(PupilAction::InformParents);
    let response = app.put_rules(Some(&admin), &tables).await;
    assert_eq!(response.status(), 201);
    let v2: RulesVersion = response.json().await.unwrap();
    assert_eq!(app.put_rules(Some(&admin), &tables).await.status(), 200);

    let entry = only_entry(&app, "rules_published").await;
    assert_eq!(entry.actor, actor);
    assert_eq!(entry.subject, v2.id.to_string());
    assert_eq!(entry.client, "127.0.0.1");
    assert_eq!(entry.detail, "rule tables version 2");
}

#[tokio::test]
async fn editing_the_trust_is_audited_naming_the_fields_not_the_people() {
    let app = spawn_app().await;
    let (admin, actor) = sign_in(&app, ADMIN_EMAIL).await;
    let mut input = demo::trust();
    input.chair_of_trustees.name = "Ms Lena Fischer".into();
    input.data_protection_officer.email = "dpo@elsewhere.example".into();
    for _ in 0..2 {
        let response = send(&app, reqwest::Method::PUT, "/api/v1/trust", &admin, &input).await;
        assert_eq!(response.status(), 200);
    }

    let entry = only_entry(&app, "trust_changed").await;
    assert_eq!(entry.actor, actor);
    assert_eq!(entry.subject, demo::TRUST_ID.to_string());
    assert_eq!(entry.client, "127.0.0.1");
    assert_eq!(
        entry.detail,
        "changed chair_of_trustees, data_protection_officer"
    );
    assert!(!entry.detail.contains("Fischer"));
}

#[tokio::test]
async fn adding_and_editing_an_academy_are_audited() {
    let app = spawn_app().await;
    let (admin, actor) = sign_in(&app, ADMIN_EMAIL).await;
    let (_, mut input) = demo::academies().into_iter().next().unwrap();
    input.name = "Meadow Infant Academy".into();
    let meadow = Uuid::now_v7();
    assert_eq!(
        app.put_academy(Some(&admin), meadow, &input).await.status(),
        201
    );
    let added = only_entry(&app, "academy_changed").await;
    assert_eq!(added.actor, actor);
    assert_eq!(added.subject, meadow.to_string());
    assert_eq!(added.academy_id, Some(meadow));
    assert_eq!(added.client, "127.0.0.1");
    assert_eq!(added.detail, "added");

    // Oakfield's headteacher keeps their own academy's key personnel right.
    let (head, head_actor) = sign_in(&app, "head@oakfield.example").await;
    let (_, mut oakfield) = demo::academies()
        .into_iter()
        .find(|(id, _)| *id == OAKFIELD_ID)
        .unwrap();
    oakfield.key_personnel.dsl.name = "Mr Ade Bello".into();
    for _ in 0..2 {
        let response = app.put_academy(Some(&head), OAKFIELD_ID, &oakfield).await;
        assert_eq!(response.status(), 200);
    }
    let found = entries(&app, "academy_changed").await;
    assert_eq!(found.len(), 2, "the repeat wrote nothing: {found:?}");
    let edited = &found[0];
    assert_eq!(edited.actor, head_actor);
    assert_eq!(edited.subject, OAKFIELD_ID.to_string());
    assert_eq!(edited.academy_id, Some(OAKFIELD_ID));
    assert_eq!(edited.detail, "changed key_personnel.dsl");
}

#[tokio::test]
async fn changing_reception_settings_is_audited() {
    let app = spawn_app().await;
    let (head, actor) = sign_in(&app, "head@oakfield.example").await;
    let settings = ReceptionSettings {
        escort_rule: EscortRule::Always,
        device_retention_days: 7,
        server_retention_days: 365,
    };
    let response = send(
        &app,
        reqwest::Method::PUT,
        &format!("/api/v1/academies/{OAKFIELD_ID}/reception"),
        &head,
        &settings,
    )
    .await;
    assert_eq!(response.status(), 200);

    let entry = only_entry(&app, "reception_settings_changed").await;
    assert_eq!(entry.actor, actor);
    assert_eq!(entry.academy_id, Some(OAKFIELD_ID));
    assert_eq!(entry.client, "127.0.0.1");
    assert_eq!(
        entry.detail,
        format!(
            "{}; ended visits kept 7 days on devices, 365 days on the server",
            EscortRule::Always.label()
        )
    );
}

#[tokio::test]
async fn making_an_enrolment_code_enrolling_and_revoking_a_device_are_audited() {
    let app = spawn_app().await;
    let (lead, actor) = sign_in(&app, "esafety@oakfield.example").await;
    let response = app
        .post_json(
            "/api/v1/devices/codes",
            Some(&lead),
            json!({"academy_id": OAKFIELD_ID, "kind": "reception_kiosk", "label": "Main reception"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let code: EnrolmentCode = response.json().await.unwrap();
    let created = only_entry(&app, "device_code_created").await;
    assert_eq!(created.actor, actor);
    assert_eq!(created.academy_id, Some(OAKFIELD_ID));
    assert_eq!(created.client, "127.0.0.1");
    assert_eq!(created.detail, "reception_kiosk \"Main reception\"");
    assert!(
        !created.detail.contains(&code.code),
        "the code itself is a secret"
    );

    let response = app
        .post_json(
            "/api/v1/devices/enrol",
            None,
            json!({"code": code.code, "sync_device_id": Uuid::now_v7()}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let enrolled: Enrolled = response.json().await.unwrap();
    let enrolment = only_entry(&app, "device_enrolled").await;
    assert_eq!(enrolment.actor, format!("device:{}", enrolled.device.id));

    let response = app
        .post_json(
            &format!("/api/v1/devices/{}/revoke", enrolled.device.id),
            Some(&lead),
            json!({}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let revoked = only_entry(&app, "device_revoked").await;
    assert_eq!(revoked.actor, actor);
    assert_eq!(revoked.subject, format!("device:{}", enrolled.device.id));
    assert_eq!(revoked.academy_id, Some(OAKFIELD_ID));
    assert_eq!(revoked.client, "127.0.0.1");
}

#[tokio::test]
async fn making_and_reissuing_parent_links_are_audited() {
    let app = spawn_app().await;
    let (lead, actor) = sign_in(&app, "esafety@oakfield.example").await;
    let csv = "Pupil name,Class,Academy,Parent/carer name,Email\n\
               Amira Khan,Year 3,Oakfield Primary Academy,Sara Khan,sara@example.org\n\
               Zed,Year 1,Oakfield Primary Academy,,\n";
    let response = app
        .post_json(
            "/api/v1/parent-invitations/import",
            Some(&lead),
            json!({"csv": csv}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let report: ClassListReport = response.json().await.unwrap();
    let created = only_entry(&app, "parent_invitations_created").await;
    assert_eq!(created.actor, actor);
    assert_eq!(created.client, "127.0.0.1");
    assert_eq!(created.detail, "1 invitations, 1 rows refused");

    let invitation = report.invitations[0].invitation.id;
    let response = app
        .post_json(
            &format!("/api/v1/parent-invitations/{invitation}/link"),
            Some(&lead),
            json!({}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let reissued: IssuedParentInvitation = response.json().await.unwrap();
    let entry = only_entry(&app, "parent_link_reissued").await;
    assert_eq!(entry.actor, actor);
    assert_eq!(entry.subject, format!("parent:{invitation}"));
    assert_eq!(entry.academy_id, Some(OAKFIELD_ID));
    assert_eq!(entry.client, "127.0.0.1");
    let token = reissued.link_path.trim_start_matches("/join/");
    assert!(!entry.detail.contains(token), "the link itself is a secret");
}
