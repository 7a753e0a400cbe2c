//! Changing or removing a second factor (issue 17, part 2): a manager's
//! reset of someone who lost their authenticator app (clears it, ends every
//! session of theirs, audited; within the academies the manager manages,
//! never one's own), and removing one's own app with a code from it, where
//! the trust does not require one.

use crate::authorization::open_db;
use crate::helpers::{
    expect_error, spawn_app, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD, TEACHER_EMAIL, TEACHER_ID,
};
use haven_core::api::accounts::{SecondFactorState, TotpSetup};
use haven_core::api::LoginResponse;
use haven_server::store::demo::{DEMO_STAFF, HILLTOP_ID, OAKFIELD_ID};
use serde_json::{json, Value};
use uuid::Uuid;

const OAK_HEAD_EMAIL: &str = "head@oakfield.example";
const HILL_HEAD_EMAIL: &str = "head@hilltop.example";
const DSL_EMAIL: &str = "dsl@oakfield.example";

fn now_ms() -> i64 {
    haven_server::clock::now_ms()
}

/// The code an authenticator app with `secret` shows `ahead` steps from now.
fn code(secret: &[u8], ahead: i64) -> String {
    haven_server::crypto::totp::current_code(secret, now_ms() + ahead * 30_000)
}

/// A code `secret` shows at no step near now.
fn wrong_code(secret: &[u8]) -> String {
    let near: Vec<String> = (-2..=2).map(|step| code(secret, step)).collect();
    (0..)
        .map(|n| format!("{:06}", n * 111_111 % 1_000_000))
        .find(|c| !near.contains(c))
        .unwrap()
}

async fn post(app: &TestApp, path: &str, token: &str, body: Option<Value>) -> reqwest::Response {
    let mut request = app.client.post(app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn sign_in(app: &TestApp, email: &str, totp_code: Option<&str>) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": ADMIN_PASSWORD, "totp_code": totp_code}))
        .send()
        .await
        .unwrap()
}

async fn session(app: &TestApp, email: &str) -> LoginResponse {
    let response = sign_in(app, email, None).await;
    assert_eq!(response.status(), 200, "{email} signs in");
    response.json().await.unwrap()
}

async fn me_status(app: &TestApp, token: &str) -> u16 {
    app.client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Sets up and confirms an authenticator app from `token`'s session; the
/// app's secret, as the app would read it.
async fn enrol(app: &TestApp, token: &str) -> Vec<u8> {
    let setup: TotpSetup = post(app, "/api/v1/auth/totp/setup", token, Some(json!({})))
        .await
        .json()
        .await
        .unwrap();
    let secret = data_encoding::BASE32_NOPAD
        .decode(setup.secret.as_bytes())
        .unwrap();
    let response = post(
        app,
        "/api/v1/auth/totp/confirm",
        token,
        Some(json!({"code": code(&secret, 0)})),
    )
    .await;
    assert_eq!(response.status(), 204);
    secret
}

async fn reset(app: &TestApp, token: &str, user: impl std::fmt::Display) -> reqwest::Response {
    post(
        app,
        &format!("/api/v1/staff/{user}/second-factor/reset"),
        token,
        None,
    )
    .await
}

/// A person's stored second factor: the sealed secret and one in set-up.
async fn stored(app: &TestApp, user: Uuid) -> (Option<String>, Option<String>) {
    let pool = open_db(app).await;
    let row = sqlx::query_as("SELECT totp_sealed, totp_pending_sealed FROM users WHERE id = $1")
        .bind(user.to_string())
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    row
}

/// The audit log's (actor, subject, detail) rows of `action`.
async fn audited(app: &TestApp, action: &str) -> Vec<(String, String, String)> {
    let pool = open_db(app).await;
    let rows = sqlx::query_as(
        "SELECT actor, subject, detail FROM audit_log WHERE action = $1 ORDER BY seq",
    )
    .bind(action)
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows
}

#[tokio::test]
async fn a_trust_admin_resets_a_lost_second_factor_and_every_session_of_theirs_ends() {
    let app = spawn_app().await;
    let teacher = session(&app, TEACHER_EMAIL).await.token;
    let secret = enrol(&app, &teacher).await;
    // A second session, and an app set-up started from it (say, by whoever
    // has the lost phone): both go with the reset.
    let with_code = sign_in(&app, TEACHER_EMAIL, Some(&code(&secret, 1))).await;
    assert_eq!(with_code.status(), 200);
    let other: LoginResponse = with_code.json().await.unwrap();
    let response = post(
        &app,
        "/api/v1/auth/totp/setup",
        &other.token,
        Some(json!({})),
    )
    .await;
    assert_eq!(response.status(), 200);
    let (sealed, pending) = stored(&app, TEACHER_ID).await;
    assert!(sealed.is_some() && pending.is_some());

    let admin = session(&app, ADMIN_EMAIL).await;
    assert_eq!(reset(&app, &admin.token, TEACHER_ID).await.status(), 204);

    assert_eq!(stored(&app, TEACHER_ID).await, (None, None));
    for token in [&teacher, &other.token] {
        expect_error(
            app.client
                .get(app.url("/api/v1/auth/me"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap(),
            401,
            "unauthorized",
        )
        .await;
    }
    // The admin's own session is untouched.
    assert_eq!(me_status(&app, &admin.token).await, 200);
    let rows = audited(&app, "second_factor_reset").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (actor, subject, detail) = &rows[0];
    assert_eq!(actor, &format!("user:{}", admin.me.user_id));
    assert_eq!(subject, &format!("user:{TEACHER_ID}"));
    assert!(
        detail.contains("cleared") && detail.contains("2 sessions ended"),
        "{detail}"
    );

    // They sign in with their password alone, then set up a new app, which
    // sign-in needs from then on.
    let fresh = session(&app, TEACHER_EMAIL).await;
    assert_eq!(fresh.second_factor, SecondFactorState::NotNeeded);
    assert!(!fresh.me.second_factor_enrolled);
    let new_secret = enrol(&app, &fresh.token).await;
    expect_error(
        sign_in(&app, TEACHER_EMAIL, None).await,
        401,
        "second_factor_required",
    )
    .await;
    expect_error(
        sign_in(&app, TEACHER_EMAIL, Some(&code(&secret, 1))).await,
        401,
        "second_factor_wrong",
    )
    .await;
    let response = sign_in(&app, TEACHER_EMAIL, Some(&code(&new_secret, 1))).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn where_the_trust_requires_one_a_reset_person_sets_up_a_new_app_at_once() {
    let app = spawn_app().await;
    let admin = session(&app, ADMIN_EMAIL).await.token;
    require_for(&app, &admin, &["dsl"]).await;
    let dsl = session(&app, DSL_EMAIL).await;
    assert_eq!(dsl.second_factor, SecondFactorState::EnrolRequired);
    let secret = enrol(&app, &dsl.token).await;
    let dsl_id = dsl.me.user_id;
    assert_eq!(reset(&app, &admin, dsl_id).await.status(), 204);
    assert_eq!(me_status(&app, &dsl.token).await, 401);
    let again = session(&app, DSL_EMAIL).await;
    assert_eq!(again.second_factor, SecondFactorState::EnrolRequired);
    // A limited session does nothing but enrol.
    expect_error(
        app.client
            .get(app.url("/api/v1/incidents"))
            .bearer_auth(&again.token)
            .send()
            .await
            .unwrap(),
        403,
        "second_factor_enrolment_required",
    )
    .await;
    let new_secret = enrol(&app, &again.token).await;
    assert_ne!(new_secret, secret);
    assert_eq!(
        sign_in(&app, DSL_EMAIL, Some(&code(&new_secret, 1)))
            .await
            .status(),
        200
    );
}

async fn require_for(app: &TestApp, admin: &str, roles: &[&str]) {
    let response = app
        .client
        .put(app.url("/api/v1/settings/accounts"))
        .bearer_auth(admin)
        .json(&json!({"second_factor_required": roles, "idle_lock_minutes": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn put_roles(app: &TestApp, token: &str, user: Uuid, grants: Value) {
    let response = app
        .client
        .put(app.url(&format!("/api/v1/staff/{user}/roles")))
        .bearer_auth(token)
        .json(&json!({ "grants": grants }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_headteacher_resets_only_people_wholly_within_their_academies() {
    let app = spawn_app().await;
    let admin = session(&app, ADMIN_EMAIL).await;
    // The Oakfield teacher also volunteers at Hilltop.
    put_roles(
        &app,
        &admin.token,
        TEACHER_ID,
        json!([{"role": "staff", "academy_id": OAKFIELD_ID},
               {"role": "volunteer", "academy_id": HILLTOP_ID}]),
    )
    .await;
    let teacher = session(&app, TEACHER_EMAIL).await.token;
    enrol(&app, &teacher).await;
    let before = stored(&app, TEACHER_ID).await;
    let oak = session(&app, OAK_HEAD_EMAIL).await.token;
    let hill = session(&app, HILL_HEAD_EMAIL).await.token;
    for head in [&oak, &hill] {
        expect_error(reset(&app, head, TEACHER_ID).await, 403, "forbidden").await;
        // Nor a trust admin, from an academy.
        expect_error(reset(&app, head, admin.me.user_id).await, 403, "forbidden").await;
    }
    // Nothing changed: the app is still theirs and still needed, their
    // session still works, and nothing was audited as a reset.
    assert_eq!(stored(&app, TEACHER_ID).await, before);
    assert_eq!(me_status(&app, &teacher).await, 200);
    expect_error(
        sign_in(&app, TEACHER_EMAIL, None).await,
        401,
        "second_factor_required",
    )
    .await;
    assert!(audited(&app, "second_factor_reset").await.is_empty());
    // Other roles with no staff to manage are refused outright.
    let esafety = session(&app, "esafety@oakfield.example").await.token;
    expect_error(reset(&app, &esafety, TEACHER_ID).await, 403, "forbidden").await;
    assert_eq!(stored(&app, TEACHER_ID).await, before);

    // Once they work at Oakfield only, Oakfield's head may (and Hilltop's
    // still may not).
    put_roles(
        &app,
        &admin.token,
        TEACHER_ID,
        json!([{"role": "staff", "academy_id": OAKFIELD_ID}]),
    )
    .await;
    expect_error(reset(&app, &hill, TEACHER_ID).await, 403, "forbidden").await;
    assert_eq!(reset(&app, &oak, TEACHER_ID).await.status(), 204);
    assert_eq!(stored(&app, TEACHER_ID).await, (None, None));
    let rows = audited(&app, "second_factor_reset").await;
    assert_eq!(
        rows.iter()
            .map(|(a, s, _)| (a.clone(), s.clone()))
            .collect::<Vec<_>>(),
        [(
            format!("user:{}", DEMO_STAFF[0].0),
            format!("user:{TEACHER_ID}")
        )]
    );
}

#[tokio::test]
async fn nobody_resets_their_own_second_factor() {
    let app = spawn_app().await;
    let admin = session(&app, ADMIN_EMAIL).await;
    let secret = enrol(&app, &admin.token).await;
    let error = expect_error(
        reset(&app, &admin.token, admin.me.user_id).await,
        400,
        "cannot_reset_own_second_factor",
    )
    .await;
    assert!(error.message.contains("code"), "{}", error.message);
    let head = session(&app, OAK_HEAD_EMAIL).await;
    expect_error(
        reset(&app, &head.token, head.me.user_id).await,
        400,
        "cannot_reset_own_second_factor",
    )
    .await;
    // Someone who manages no staff is refused before that.
    let teacher = session(&app, TEACHER_EMAIL).await.token;
    expect_error(reset(&app, &teacher, TEACHER_ID).await, 403, "forbidden").await;
    // The admin's app is still in use and their session still works.
    assert!(stored(&app, admin.me.user_id).await.0.is_some());
    assert_eq!(me_status(&app, &admin.token).await, 200);
    assert_eq!(
        sign_in(&app, ADMIN_EMAIL, Some(&code(&secret, 1)))
            .await
            .status(),
        200
    );
    assert!(audited(&app, "second_factor_reset").await.is_empty());
}

#[tokio::test]
async fn resetting_an_unknown_person_is_404() {
    let app = spawn_app().await;
    let admin = session(&app, ADMIN_EMAIL).await.token;
    expect_error(reset(&app, &admin, Uuid::now_v7()).await, 404, "not_found").await;
    let head = session(&app, OAK_HEAD_EMAIL).await.token;
    expect_error(reset(&app, &head, Uuid::now_v7()).await, 404, "not_found").await;
    expect_error(reset(&app, &admin, "not-an-id").await, 400, "bad_request").await;
    assert!(audited(&app, "second_factor_reset").await.is_empty());
}

async fn remove(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    post(app, "/api/v1/auth/totp/remove", token, Some(body)).await
}

#[tokio::test]
async fn removing_ones_own_app_needs_a_code_from_it() {
    let app = spawn_app().await;
    let teacher = session(&app, TEACHER_EMAIL).await.token;
    expect_error(
        remove(&app, &teacher, json!({"current_code": "123456"})).await,
        400,
        "no_second_factor",
    )
    .await;
    let secret = enrol(&app, &teacher).await;
    let before = stored(&app, TEACHER_ID).await;
    expect_error(remove(&app, &teacher, json!({})).await, 400, "bad_request").await;
    for wrong in [wrong_code(&secret), String::new(), "not a code".into()] {
        expect_error(
            remove(&app, &teacher, json!({"current_code": wrong})).await,
            401,
            "second_factor_wrong",
        )
        .await;
    }
    // Nothing changed: the app is still needed to sign in.
    assert_eq!(stored(&app, TEACHER_ID).await, before);
    expect_error(
        sign_in(&app, TEACHER_EMAIL, None).await,
        401,
        "second_factor_required",
    )
    .await;
    assert_eq!(audited(&app, "second_factor_failed").await.len(), 3);
    assert!(audited(&app, "second_factor_removed").await.is_empty());
    let response = remove(&app, &teacher, json!({"current_code": code(&secret, 1)})).await;
    assert_eq!(response.status(), 204);
    assert_eq!(stored(&app, TEACHER_ID).await, (None, None));
    assert_eq!(
        audited(&app, "second_factor_removed").await,
        [(format!("user:{TEACHER_ID}"), String::new(), String::new())]
    );
    let fresh = session(&app, TEACHER_EMAIL).await;
    assert_eq!(fresh.second_factor, SecondFactorState::NotNeeded);
    // The session that removed it still works.
    assert_eq!(me_status(&app, &teacher).await, 200);
}

#[tokio::test]
async fn guessing_the_code_to_remove_an_app_is_cut_off() {
    let app = spawn_app().await;
    let teacher = session(&app, TEACHER_EMAIL).await.token;
    let secret = enrol(&app, &teacher).await;
    let wrong = wrong_code(&secret);
    let limit = haven_server::store::limiter::LOOKUPS_PER_ADDRESS.failures;
    for _ in 0..limit {
        expect_error(
            remove(&app, &teacher, json!({"current_code": wrong})).await,
            401,
            "second_factor_wrong",
        )
        .await;
    }
    // Even the right code is not tried now.
    expect_error(
        remove(&app, &teacher, json!({"current_code": code(&secret, 1)})).await,
        429,
        "too_many_attempts",
    )
    .await;
    assert!(stored(&app, TEACHER_ID).await.0.is_some());
    // Nor can the app be replaced by guessing its code.
    let setup: TotpSetup = post(&app, "/api/v1/auth/totp/setup", &teacher, Some(json!({})))
        .await
        .json()
        .await
        .unwrap();
    let new_secret = data_encoding::BASE32_NOPAD
        .decode(setup.secret.as_bytes())
        .unwrap();
    expect_error(
        post(
            &app,
            "/api/v1/auth/totp/confirm",
            &teacher,
            Some(json!({"code": code(&new_secret, 0), "current_code": code(&secret, 1)})),
        )
        .await,
        429,
        "too_many_attempts",
    )
    .await;
}

#[tokio::test]
async fn removing_is_refused_where_the_trust_requires_one() {
    let app = spawn_app().await;
    let admin = session(&app, ADMIN_EMAIL).await.token;
    require_for(&app, &admin, &["dsl"]).await;
    let dsl = session(&app, DSL_EMAIL).await;
    let secret = enrol(&app, &dsl.token).await;
    let before = stored(&app, dsl.me.user_id).await;
    // Even with the right code.
    let error = expect_error(
        remove(&app, &dsl.token, json!({"current_code": code(&secret, 1)})).await,
        400,
        "second_factor_required",
    )
    .await;
    assert!(
        error.message.contains("Designated safeguarding lead"),
        "{}",
        error.message
    );
    assert_eq!(stored(&app, dsl.me.user_id).await, before);
    assert!(audited(&app, "second_factor_removed").await.is_empty());
    // Once the trust no longer requires it, the same code removes it.
    require_for(&app, &admin, &[]).await;
    assert_eq!(
        remove(&app, &dsl.token, json!({"current_code": code(&secret, 1)}))
            .await
            .status(),
        204
    );
}
