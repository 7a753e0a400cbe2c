//! A browser that is not an enrolled device keeps a sync credential, not the
//! person's session: it pushes for that one browser and does nothing else,
//! and it ends with the session it came from.

use crate::helpers::{device_secret, expect_error, spawn_app, Device, TestApp, TEACHER_EMAIL};
use crate::visits::session;
use haven_core::sync::wire::{Outcome, PushResponse, SyncCredential};
use haven_server::store::demo::{OAKFIELD_ID, STAFF_AUA_VERSION_ID};
use serde_json::json;
use uuid::Uuid;

async fn sync_credential(app: &TestApp, session: &str, secret: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/sync-credential"))
        .bearer_auth(session)
        .json(&json!({ "device_secret": secret }))
        .send()
        .await
        .unwrap()
}

async fn made(app: &TestApp, session: &str, device: &Device) -> SyncCredential {
    let response = sync_credential(app, session, &device_secret(device.id)).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

async fn push(app: &TestApp, token: &str, body: &impl serde::Serialize) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/sync/push"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Signs a session out through `path` (one session, or all of the person's).
async fn sign_out(app: &TestApp, path: &str, session: &str) {
    let out = app
        .client
        .post(app.url(path))
        .bearer_auth(session)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204, "{path}");
}

async fn agreements(app: &TestApp) -> i64 {
    let pool = crate::authorization::open_db(app).await;
    sqlx::query_scalar("SELECT COUNT(*) FROM agreements")
        .fetch_one(&pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_sync_credential_pushes_for_its_browser_as_the_person() {
    let app = spawn_app().await;
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let teacher = session(&app, TEACHER_EMAIL).await;
    let laptop = Device::fresh();
    let credential = made(&app, &teacher, &laptop).await;
    assert!(credential.token.starts_with("hk_"), "says what it is");
    assert_ne!(credential.token, teacher);

    let record = laptop.sign(&version, "Visiting speaker");
    let response = push(&app, &credential.token, &laptop.push(&[(1, &record)])).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let reply: PushResponse = response.json().await.unwrap();
    assert_eq!(reply.results[0].outcome, Outcome::Applied);
    // Kept as pushed by the person, as with their session.
    let pool = crate::authorization::open_db(&app).await;
    let (by,): (String,) = sqlx::query_as("SELECT identified_by FROM agreements WHERE id = $1")
        .bind(record.id.to_string())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(by.starts_with("staff:"), "{by}");
}

#[tokio::test]
async fn a_sync_credential_does_nothing_but_push() {
    let app = spawn_app().await;
    let admin_session = app.admin_token().await;
    let laptop = Device::fresh();
    // A trust admin's, the widest there is: still only a push.
    let credential = made(&app, &admin_session, &laptop).await;
    let token = credential.token.as_str();
    for (method, path) in [
        ("GET", "/api/v1/auth/me".to_owned()),
        ("GET", "/api/v1/staff".to_owned()),
        ("GET", "/api/v1/devices".to_owned()),
        ("GET", "/api/v1/incidents".to_owned()),
        ("GET", "/api/v1/audit".to_owned()),
        ("GET", "/api/v1/compliance/mine".to_owned()),
        ("GET", "/api/v1/parent-invitations".to_owned()),
        ("GET", format!("/api/v1/reception/{OAKFIELD_ID}")),
        ("GET", "/api/v1/settings/accounts".to_owned()),
        ("POST", "/api/v1/auth/logout".to_owned()),
        ("POST", "/api/v1/auth/logout-everywhere".to_owned()),
    ] {
        let request = match method {
            "GET" => app.client.get(app.url(&path)),
            _ => app.client.post(app.url(&path)),
        };
        let response = request.bearer_auth(token).send().await.unwrap();
        expect_error(response, 403, "sync_credential_only").await;
    }
    // Nor can it make more of itself, or for another browser.
    let response = sync_credential(&app, token, &device_secret(Uuid::now_v7())).await;
    expect_error(response, 403, "sync_credential_only").await;
    // The session it came from still works: the refusals ended nothing.
    let me = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(&admin_session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn a_sync_credential_copied_to_another_browser_pushes_nothing_there() {
    let app = spawn_app().await;
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let teacher = session(&app, TEACHER_EMAIL).await;
    let laptop = Device::fresh();
    let credential = made(&app, &teacher, &laptop).await;
    // Someone copies the token (not the laptop's secret) to their own browser.
    let other = Device::fresh();
    let response = push(
        &app,
        &credential.token,
        &other.push(&[(1, &other.sign(&version, "Forged"))]),
    )
    .await;
    expect_error(response, 403, "device_not_yours").await;
    // Or uses the laptop's device id with their own secret.
    let mut under_laptops_id = other.push(&[(1, &laptop.sign(&version, "Forged"))]);
    under_laptops_id.device_id = laptop.id;
    let response = push(&app, &credential.token, &under_laptops_id).await;
    expect_error(response, 403, "device_not_yours").await;
    assert_eq!(agreements(&app).await, 0);
}

#[tokio::test]
async fn a_sync_credential_ends_with_its_session() {
    let app = spawn_app().await;
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let laptop = Device::fresh();
    let record = laptop.sign(&version, "Visitor");
    let body = laptop.push(&[(1, &record)]);

    // Signing out.
    let teacher = session(&app, TEACHER_EMAIL).await;
    let credential = made(&app, &teacher, &laptop).await;
    sign_out(&app, "/api/v1/auth/logout", &teacher).await;
    expect_error(
        push(&app, &credential.token, &body).await,
        401,
        "unauthorized",
    )
    .await;

    // Signing out everywhere, from another device.
    let here = session(&app, TEACHER_EMAIL).await;
    let elsewhere = session(&app, TEACHER_EMAIL).await;
    let credential = made(&app, &here, &laptop).await;
    sign_out(&app, "/api/v1/auth/logout-everywhere", &elsewhere).await;
    expect_error(
        push(&app, &credential.token, &body).await,
        401,
        "unauthorized",
    )
    .await;

    // Asking again from the same session and browser replaces it.
    let teacher = session(&app, TEACHER_EMAIL).await;
    let first = made(&app, &teacher, &laptop).await;
    let second = made(&app, &teacher, &laptop).await;
    expect_error(push(&app, &first.token, &body).await, 401, "unauthorized").await;
    assert_eq!(push(&app, &second.token, &body).await.status(), 200);
    assert_eq!(agreements(&app).await, 1);
    // A made-up secret is refused as such.
    let response = sync_credential(&app, &teacher, "not-a-secret").await;
    expect_error(response, 400, "bad_request").await;
}
