//! Compliance: each person at an academy × each staff agreement — signed the
//! current version, only an older one, declined, or not signed — counted by
//! the staff account a record names, and a person's own "to sign" list.

use crate::helpers::{
    expect_error, spawn_app, Device, TestApp, ADMIN_PASSWORD, STAFF_AUA_VERSION_ID,
};
use crate::library_client::next_version_of;
use haven_core::api::accounts::ComplianceRow;
use haven_core::api::LoginResponse;
use haven_core::compliance::SignStatus;
use haven_core::sync::wire::{Outcome, PushResponse};
use haven_server::store::demo::OAKFIELD_ID;

async fn session(app: &TestApp, email: &str) -> LoginResponse {
    let response = app.login(email, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `who` signs (or declines) the staff agreement on their own phone.
async fn sign_as(
    app: &TestApp,
    who: &LoginResponse,
    agreed: bool,
    mutation: u64,
    device: &Device,
) -> PushResponse {
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let mut record = device.sign(&version, &who.me.name);
    record.agreed = agreed;
    record.signer_account = Some(who.me.user_id);
    app.client
        .post(app.url("/api/v1/sync/push"))
        .bearer_auth(&who.token)
        .json(&device.push(&[(mutation, &record)]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn compliance(app: &TestApp, token: &str, query: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/compliance?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn status_of<'a>(rows: &'a [ComplianceRow], email: &str) -> &'a ComplianceRow {
    rows.iter()
        .find(|r| r.email == email && r.policy_title.contains("Staff"))
        .unwrap_or_else(|| panic!("no row for {email}"))
}

#[tokio::test]
async fn each_person_is_shown_signed_due_to_re_sign_declined_or_not_signed() {
    let app = spawn_app().await;
    let head = session(&app, "head@oakfield.example").await;
    let teacher = session(&app, "teacher@oakfield.example").await;
    let dsl = session(&app, "dsl@oakfield.example").await;
    let lead = session(&app, "esafety@oakfield.example").await;

    // The head signs version 1, which is then replaced by version 2.
    sign_as(&app, &head, true, 1, &Device::fresh()).await;
    let admin = app.admin_token().await;
    let v1 = app.policy(STAFF_AUA_VERSION_ID).await;
    let v2 = app
        .post_policy(Some(&admin), &next_version_of(&v1, "Updated rules."))
        .await;
    assert_eq!(v2.status(), 201);
    let v2: haven_core::policy::PolicyVersion = v2.json().await.unwrap();
    // The teacher signs version 2; the DSL declines it.
    for (who, agreed) in [(&teacher, true), (&dsl, false)] {
        let device = Device::fresh();
        let mut record = device.sign(&v2, &who.me.name);
        record.agreed = agreed;
        record.signer_account = Some(who.me.user_id);
        let reply: PushResponse = app
            .client
            .post(app.url("/api/v1/sync/push"))
            .bearer_auth(&who.token)
            .json(&device.push(&[(1, &record)]))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(reply.results[0].outcome, Outcome::Applied);
    }

    let response = compliance(
        &app,
        &lead.token,
        &format!("academy_id={OAKFIELD_ID}&due_days=1"),
    )
    .await;
    assert_eq!(response.status(), 200);
    let rows: Vec<ComplianceRow> = response.json().await.unwrap();
    assert_eq!(
        status_of(&rows, "teacher@oakfield.example").status,
        SignStatus::SignedCurrent
    );
    assert_eq!(
        status_of(&rows, "head@oakfield.example").status,
        SignStatus::SignedOlder
    );
    assert_eq!(
        status_of(&rows, "head@oakfield.example").signed_version,
        Some(1)
    );
    assert_eq!(
        status_of(&rows, "dsl@oakfield.example").status,
        SignStatus::Declined
    );
    let lead_row = status_of(&rows, "esafety@oakfield.example");
    assert_eq!(lead_row.status, SignStatus::NotSigned);
    assert_eq!(lead_row.current_version, 2);
    // The demo staff joined months ago: one day to sign has long passed.
    assert!(lead_row.overdue);
    assert!(!status_of(&rows, "teacher@oakfield.example").overdue);
    assert!(rows.iter().all(|r| r.academy_id == OAKFIELD_ID));
    assert!(
        !rows.iter().any(|r| r.email == "head@hilltop.example"),
        "only Oakfield's staff"
    );

    // A person's own list.
    let mine: Vec<ComplianceRow> = app
        .client
        .get(app.url("/api/v1/compliance/mine"))
        .bearer_auth(&head.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(mine.iter().all(|r| r.email == "head@oakfield.example"));
    assert!(mine.iter().any(|r| r.status == SignStatus::SignedOlder));

    // Another academy's head may not look; a bad range is a clear 400.
    let hilltop = session(&app, "head@hilltop.example").await;
    expect_error(
        compliance(&app, &hilltop.token, &format!("academy_id={OAKFIELD_ID}")).await,
        403,
        "forbidden",
    )
    .await;
    expect_error(
        compliance(
            &app,
            &lead.token,
            &format!("academy_id={OAKFIELD_ID}&due_days=0"),
        )
        .await,
        400,
        "bad_request",
    )
    .await;
    expect_error(compliance(&app, &lead.token, "").await, 400, "bad_request").await;
}

#[tokio::test]
async fn a_record_may_name_only_the_account_of_the_session_that_sends_it() {
    let app = spawn_app().await;
    let teacher = session(&app, "teacher@oakfield.example").await;
    let dsl = session(&app, "dsl@oakfield.example").await;
    let device = Device::fresh();
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let mut record = device.sign(&version, "Grace Mensah");
    record.signer_account = Some(dsl.me.user_id);
    let reply: PushResponse = app
        .client
        .post(app.url("/api/v1/sync/push"))
        .bearer_auth(&teacher.token)
        .json(&device.push(&[(1, &record)]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        matches!(&reply.results[0].outcome, Outcome::Rejected { code, .. } if code == "account_mismatch"),
        "{:?}",
        reply.results[0]
    );
    assert_eq!(
        sign_as(&app, &teacher, true, 2, &device).await.results[0].outcome,
        Outcome::Applied
    );
}

#[tokio::test]
async fn governors_and_community_users_are_invited_like_staff_and_asked_for_their_own_agreements() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for (name, email, role) in [
        ("Gail Governor", "gail@governors.example", "governor"),
        ("Cal Community", "cal@club.example", "community_user"),
    ] {
        let response = app
            .client
            .post(app.url("/api/v1/staff"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"name": name, "email": email,
                "grants": [{"role": role, "academy_id": OAKFIELD_ID}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{role}");
    }
    let rows: Vec<ComplianceRow> = compliance(&app, &admin, &format!("academy_id={OAKFIELD_ID}"))
        .await
        .json()
        .await
        .unwrap();
    let titles = |email: &str| -> Vec<String> {
        rows.iter()
            .filter(|r| r.email == email)
            .map(|r| r.policy_title.clone())
            .collect()
    };
    assert_eq!(
        titles("gail@governors.example"),
        ["Staff Acceptable Use Agreement"]
    );
    assert_eq!(
        titles("cal@club.example"),
        ["Community User Acceptable Use Agreement"]
    );
    assert_eq!(
        titles("teacher@oakfield.example"),
        ["Staff Acceptable Use Agreement"]
    );
    // They manage nothing.
    let staff: Vec<haven_core::api::accounts::StaffMember> = app
        .client
        .get(app.url("/api/v1/staff"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gail = staff
        .iter()
        .find(|s| s.email == "gail@governors.example")
        .unwrap();
    assert!(!gail.grants.allows(
        Some(OAKFIELD_ID),
        &[haven_core::accounts::roles::Role::Headteacher]
    ));
}

#[tokio::test]
async fn a_malformed_query_string_is_a_json_bad_request_naming_the_parameter() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    for (query, names) in [
        ("academy_id=not-a-uuid", "academy_id"),
        ("due_days=1", "academy_id"),
        (
            &format!("academy_id={OAKFIELD_ID}&due_days=lots") as &str,
            "due_days",
        ),
    ] {
        let error = expect_error(compliance(&app, &token, query).await, 400, "bad_request").await;
        assert!(error.message.contains(names), "{query}: {}", error.message);
    }
}
