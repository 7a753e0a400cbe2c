//! Staff accounts, sessions, the second factor, invitation and set-up links,
//! device enrolment, parent links and the audit log, over real HTTP.

use crate::authorization::open_db;
use crate::helpers::{
    expect_error, spawn_app, spawn_app_with, test_config, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD,
    TEACHER_EMAIL,
};
use haven_core::api::accounts::{
    AuditEntry, ClassListReport, Enrolled, EnrolmentCode, InvitedStaff, ParentSession,
    StaffImportReport, TotpSetup,
};
use haven_core::api::LoginResponse;
use haven_server::store::demo::{HILLTOP_ID, OAKFIELD_ID};
use serde_json::{json, Value};
use tempfile::TempDir;
use uuid::Uuid;

impl TestApp {
    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn get_with(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn signed_in(&self, email: &str) -> LoginResponse {
        let response = self.login(email, ADMIN_PASSWORD).await;
        assert_eq!(response.status(), 200, "{email}");
        response.json().await.unwrap()
    }
}

fn empty_push(device: Uuid) -> Value {
    json!({"device_id": device, "mutations": [], "backlog": 0})
}

#[tokio::test]
async fn sign_in_is_refused_after_five_wrong_passwords_even_with_the_right_one() {
    let app = spawn_app().await;
    for _ in 0..5 {
        expect_error(
            app.login(TEACHER_EMAIL, "not the password").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    let response = app.login(TEACHER_EMAIL, ADMIN_PASSWORD).await;
    let retry_after: i64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let error = expect_error(response, 429, "too_many_attempts").await;
    assert!(
        error.message.contains("for this account"),
        "{}",
        error.message
    );
    assert!(error.message.contains("minutes"), "{}", error.message);
    // Another account from the same address is not locked out.
    assert_eq!(app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(), 200);
    // The limit is per account whatever the case of the email.
    let response = app
        .login(&TEACHER_EMAIL.to_uppercase(), ADMIN_PASSWORD)
        .await;
    expect_error(response, 429, "too_many_attempts").await;
}

#[tokio::test]
async fn many_failures_from_one_address_lock_that_address_out() {
    let app = spawn_app().await;
    for n in 0..30 {
        let response = app
            .login(&format!("nobody{n}@x.example"), "wrong password")
            .await;
        assert_eq!(response.status(), 401);
    }
    let error = expect_error(
        app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await,
        429,
        "too_many_attempts",
    )
    .await;
    assert!(
        error.message.contains("from this network"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn signing_out_ends_one_session_and_everywhere_ends_them_all() {
    let app = spawn_app().await;
    let first = app.signed_in(TEACHER_EMAIL).await.token;
    let second = app.signed_in(TEACHER_EMAIL).await.token;
    let third = app.signed_in(TEACHER_EMAIL).await.token;
    assert_eq!(
        app.post_json("/api/v1/auth/logout", Some(&first), json!({}))
            .await
            .status(),
        204
    );
    expect_error(
        app.get_with("/api/v1/auth/me", &first).await,
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(app.get_with("/api/v1/auth/me", &second).await.status(), 200);
    let response = app
        .post_json("/api/v1/auth/logout-everywhere", Some(&second), json!({}))
        .await;
    assert_eq!(response.status(), 204);
    for token in [&second, &third] {
        expect_error(
            app.get_with("/api/v1/auth/me", token).await,
            401,
            "unauthorized",
        )
        .await;
    }
}

/// Reads the secret out of a TOTP set-up, as an authenticator app would.
fn secret_of(setup: &TotpSetup) -> Vec<u8> {
    data_encoding::BASE32_NOPAD
        .decode(setup.secret.as_bytes())
        .unwrap()
}

fn now_ms() -> i64 {
    haven_server::clock::now_ms()
}

#[tokio::test]
async fn a_second_factor_is_enrolled_then_needed_and_each_code_works_once() {
    let app = spawn_app().await;
    let token = app.signed_in(TEACHER_EMAIL).await.token;
    let setup: TotpSetup = app
        .post_json("/api/v1/auth/totp/setup", Some(&token), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert!(setup.otpauth_uri.starts_with("otpauth://totp/"));
    assert!(setup.otpauth_uri.contains(&setup.secret));
    let secret = secret_of(&setup);
    let wrong = app
        .post_json(
            "/api/v1/auth/totp/confirm",
            Some(&token),
            json!({"code": "000000"}),
        )
        .await;
    if haven_server::crypto::totp::current_code(&secret, now_ms()) != "000000" {
        expect_error(wrong, 401, "second_factor_wrong").await;
    }
    let code = haven_server::crypto::totp::current_code(&secret, now_ms());
    let response = app
        .post_json(
            "/api/v1/auth/totp/confirm",
            Some(&token),
            json!({"code": code}),
        )
        .await;
    assert_eq!(response.status(), 204);

    // Now a password alone is not enough.
    expect_error(
        app.login(TEACHER_EMAIL, ADMIN_PASSWORD).await,
        401,
        "second_factor_required",
    )
    .await;
    // The code used to confirm cannot be used again; the next step's can.
    let login = |code: String| {
        let app = &app;
        async move {
            app.post_json(
                "/api/v1/auth/login",
                None,
                json!({"email": TEACHER_EMAIL, "password": ADMIN_PASSWORD, "totp_code": code}),
            )
            .await
        }
    };
    expect_error(login(code.clone()).await, 401, "second_factor_wrong").await;
    let next = haven_server::crypto::totp::current_code(&secret, now_ms() + 30_000);
    let response = login(next.clone()).await;
    assert_eq!(response.status(), 200);
    let session: LoginResponse = response.json().await.unwrap();
    assert_eq!(
        session.second_factor,
        haven_core::api::accounts::SecondFactorState::Done
    );
    assert!(session.me.second_factor_enrolled);
    expect_error(login(next).await, 401, "second_factor_wrong").await;
}

#[tokio::test]
async fn a_role_the_trust_requires_a_second_factor_for_is_limited_until_it_has_one() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let response = app
        .client
        .put(app.url("/api/v1/settings/accounts"))
        .bearer_auth(&admin)
        .json(&json!({"second_factor_required": ["esafety_lead", "dsl"], "idle_lock_minutes": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let session = app.signed_in("esafety@oakfield.example").await;
    assert_eq!(
        session.second_factor,
        haven_core::api::accounts::SecondFactorState::EnrolRequired
    );
    expect_error(
        app.get_with("/api/v1/devices", &session.token).await,
        403,
        "second_factor_enrolment_required",
    )
    .await;
    assert_eq!(
        app.get_with("/api/v1/auth/me", &session.token)
            .await
            .status(),
        200
    );
    let setup: TotpSetup = app
        .post_json("/api/v1/auth/totp/setup", Some(&session.token), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let code = haven_server::crypto::totp::current_code(&secret_of(&setup), now_ms());
    let response = app
        .post_json(
            "/api/v1/auth/totp/confirm",
            Some(&session.token),
            json!({"code": code}),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        app.get_with("/api/v1/devices", &session.token)
            .await
            .status(),
        200
    );
    // A teacher is not affected.
    let teacher = app.signed_in(TEACHER_EMAIL).await;
    assert_eq!(
        teacher.second_factor,
        haven_core::api::accounts::SecondFactorState::NotNeeded
    );
}

#[tokio::test]
async fn an_invited_teacher_chooses_a_strong_password_once() {
    let app = spawn_app().await;
    let head = app.signed_in("head@oakfield.example").await.token;
    let response = app
        .post_json(
            "/api/v1/staff",
            Some(&head),
            json!({"name": "Nia Adeyemi", "email": "Nia@Oakfield.example",
                   "grants": [{"role": "staff", "academy_id": OAKFIELD_ID}]}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let invited: InvitedStaff = response.json().await.unwrap();
    assert_eq!(invited.staff.email, "nia@oakfield.example");
    assert!(invited.staff.invitation_pending);
    let token = invited.link_path.trim_start_matches("/invite/").to_owned();
    // Not signed in before a password is chosen.
    expect_error(
        app.login("nia@oakfield.example", "").await,
        401,
        "invalid_credentials",
    )
    .await;

    for (password, words) in [
        ("short", "at least 10"),
        ("password123", "common"),
        ("nia-adeyemi-2026", ""),
    ] {
        let response = app
            .post_json(
                "/api/v1/auth/invitations/accept",
                None,
                json!({"token": token, "password": password}),
            )
            .await;
        let error = expect_error(response, 400, "weak_password").await;
        assert!(
            error.message.contains(words),
            "{password}: {}",
            error.message
        );
    }
    let response = app
        .post_json(
            "/api/v1/auth/invitations/accept",
            None,
            json!({"token": token, "password": "kettle lantern orchard"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let session: LoginResponse = response.json().await.unwrap();
    assert_eq!(session.me.name, "Nia Adeyemi");
    assert_eq!(
        app.login("nia@oakfield.example", "kettle lantern orchard")
            .await
            .status(),
        200
    );
    let again = app
        .post_json(
            "/api/v1/auth/invitations/accept",
            None,
            json!({"token": token, "password": "another fine passphrase"}),
        )
        .await;
    expect_error(again, 410, "link_used").await;
}

#[tokio::test]
async fn a_staff_csv_imports_good_rows_and_reports_each_bad_one() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let csv = "Name,Email,Academy,Role\n\
               Ada Lovelace,ada@oakfield.example,Oakfield Primary Academy,Staff\n\
               Ada Lovelace,ada@oakfield.example,Hilltop Secondary Academy,DSL\n\
               Bad Email,not-an-email,Oakfield Primary Academy,Staff\n\
               Nobody,nobody@x.example,Atlantis Academy,Staff\n\
               Tom Reilly,teacher@oakfield.example,Hilltop Secondary Academy,Staff\n";
    let response = app
        .post_json("/api/v1/staff/import", Some(&admin), json!({"csv": csv}))
        .await;
    assert_eq!(response.status(), 200);
    let report: StaffImportReport = response.json().await.unwrap();
    assert_eq!(report.invited.len(), 1);
    assert_eq!(report.invited[0].staff.grants.0.len(), 2);
    assert_eq!(report.updated.len(), 1, "the existing teacher gets a role");
    assert!(report.updated[0]
        .grants
        .0
        .iter()
        .any(|g| g.academy_id == Some(HILLTOP_ID)));
    let lines: Vec<usize> = report.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [4, 5], "{:?}", report.problems);
    assert!(report.problems[1]
        .message
        .contains("Oakfield Primary Academy"));

    let missing = app
        .post_json(
            "/api/v1/staff/import",
            Some(&admin),
            json!({"csv": "name,email\nA,a@b.example\n"}),
        )
        .await;
    let error = expect_error(missing, 400, "invalid_csv").await;
    assert!(error.message.contains("academy"), "{}", error.message);
}

#[tokio::test]
async fn a_deactivated_person_is_signed_out_and_cannot_sign_in() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let teacher = app.signed_in(TEACHER_EMAIL).await;
    let response = app
        .client
        .put(app.url(&format!("/api/v1/staff/{}/active", teacher.me.user_id)))
        .bearer_auth(&admin)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    expect_error(
        app.get_with("/api/v1/auth/me", &teacher.token).await,
        401,
        "unauthorized",
    )
    .await;
    expect_error(
        app.login(TEACHER_EMAIL, ADMIN_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
}

async fn enrolment_code(app: &TestApp, token: &str, academy: Uuid) -> EnrolmentCode {
    let response = app
        .post_json(
            "/api/v1/devices/codes",
            Some(token),
            json!({"academy_id": academy, "kind": "reception_kiosk", "label": "Main reception"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_device_enrols_once_with_its_code_and_is_refused_after_revocation() {
    let app = spawn_app().await;
    let lead = app.signed_in("esafety@oakfield.example").await.token;
    let code = enrolment_code(&app, &lead, OAKFIELD_ID).await;
    assert_eq!(code.code.len(), 9);
    let sync_id = Uuid::now_v7();
    // Typed in lower case without the dash, as people do.
    let typed = code.code.replace('-', "").to_lowercase();
    let response = app
        .post_json(
            "/api/v1/devices/enrol",
            None,
            json!({"code": typed, "sync_device_id": sync_id}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let enrolled: Enrolled = response.json().await.unwrap();
    assert!(enrolled.token.starts_with("hd_"));
    assert_eq!(enrolled.idle_lock_minutes, 5);
    let again = app
        .post_json(
            "/api/v1/devices/enrol",
            None,
            json!({"code": code.code, "sync_device_id": Uuid::now_v7()}),
        )
        .await;
    expect_error(again, 410, "link_used").await;

    // The device pushes under its own id only.
    let ok = app
        .post_json(
            "/api/v1/sync/push",
            Some(&enrolled.token),
            json!({"device_id": sync_id, "mutations": [], "backlog": 7}),
        )
        .await;
    assert_eq!(ok.status(), 200);
    // Not under another device's id: a browser's (bound to its secret) here.
    let phone = Uuid::now_v7();
    let mut phone_push = empty_push(phone);
    phone_push["device_secret"] = json!(crate::helpers::device_secret(phone));
    let lead_push = app
        .post_json("/api/v1/sync/push", Some(&lead), phone_push)
        .await;
    assert_eq!(lead_push.status(), 200);
    let other = app
        .post_json(
            "/api/v1/sync/push",
            Some(&enrolled.token),
            empty_push(phone),
        )
        .await;
    expect_error(other, 403, "device_not_yours").await;

    // Admins see it with its last contact and backlog.
    let devices: Vec<haven_core::api::accounts::DeviceView> = app
        .get_with("/api/v1/devices", &lead)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].reported_backlog, 7);
    assert!(devices[0].last_contact_at >= enrolled.device.enrolled_at);

    let response = app
        .post_json(
            &format!("/api/v1/devices/{}/revoke", enrolled.device.id),
            Some(&lead),
            json!({}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let refused = app
        .post_json(
            "/api/v1/sync/push",
            Some(&enrolled.token),
            empty_push(sync_id),
        )
        .await;
    let error = expect_error(refused, 401, "device_revoked").await;
    assert!(
        error.message.contains("enrolment code"),
        "{}",
        error.message
    );

    // Enrolled again with a new code, it works under a new token.
    let code = enrolment_code(&app, &lead, OAKFIELD_ID).await;
    let response = app
        .post_json(
            "/api/v1/devices/enrol",
            None,
            json!({"code": code.code, "sync_device_id": sync_id}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let again: Enrolled = response.json().await.unwrap();
    assert_eq!(again.device.id, enrolled.device.id);
    assert_eq!(
        app.post_json("/api/v1/sync/push", Some(&again.token), empty_push(sync_id))
            .await
            .status(),
        200
    );
    expect_error(
        app.post_json(
            "/api/v1/sync/push",
            Some(&enrolled.token),
            empty_push(sync_id),
        )
        .await,
        401,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn an_expired_enrolment_code_is_refused() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let code = enrolment_code(&app, &admin, OAKFIELD_ID).await;
    let pool = open_db(&app).await;
    sqlx::query("UPDATE enrolment_codes SET expires_at = 1")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let response = app
        .post_json(
            "/api/v1/devices/enrol",
            None,
            json!({"code": code.code, "sync_device_id": Uuid::now_v7()}),
        )
        .await;
    expect_error(response, 410, "link_expired").await;
}

async fn import_class_list(app: &TestApp, token: &str) -> ClassListReport {
    let csv = "Pupil name,Class,Academy,Parent/carer name,Email\n\
               Amira Khan,Year 3,Oakfield Primary Academy,Sara Khan,sara@example.org\n\
               Yusuf Khan,Year 5,Oakfield Primary Academy,Sara Khan,SARA@example.org\n\
               Leo Brown,Year 1,Oakfield Primary Academy,Jo Brown,\n\
               Zed,Year 1,Oakfield Primary Academy,,\n";
    let response = app
        .post_json(
            "/api/v1/parent-invitations/import",
            Some(token),
            json!({"csv": csv}),
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_parent_link_covers_siblings_and_works_once() {
    let app = spawn_app().await;
    let lead = app.signed_in("esafety@oakfield.example").await.token;
    let report = import_class_list(&app, &lead).await;
    assert_eq!(report.invitations.len(), 2);
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].line, 5);
    let khan = &report.invitations[0];
    assert_eq!(khan.invitation.children.len(), 2, "siblings share one link");
    let token = khan.link_path.trim_start_matches("/join/");
    assert!(token.starts_with("hl_"));

    let response = app
        .post_json(
            "/api/v1/parent-invitations/redeem",
            None,
            json!({"token": token}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let session: ParentSession = response.json().await.unwrap();
    assert!(session.token.starts_with("hp_"));
    let mine: Value = app
        .get_with("/api/v1/parent-invitations/mine", &session.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["children"][1]["pupil_name"], "Yusuf Khan");
    // It does only what it was made for.
    expect_error(
        app.get_with("/api/v1/staff", &session.token).await,
        403,
        "forbidden",
    )
    .await;
    expect_error(
        app.get_with("/api/v1/auth/me", &session.token).await,
        403,
        "forbidden",
    )
    .await;

    let again = app
        .post_json(
            "/api/v1/parent-invitations/redeem",
            None,
            json!({"token": token}),
        )
        .await;
    expect_error(again, 410, "link_used").await;

    // A new link replaces it: the old session stops, the new link works once.
    let response = app
        .post_json(
            &format!("/api/v1/parent-invitations/{}/link", khan.invitation.id),
            Some(&lead),
            json!({}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let reissued: haven_core::api::accounts::IssuedParentInvitation =
        response.json().await.unwrap();
    assert_ne!(reissued.link_path, khan.link_path);
    expect_error(
        app.get_with("/api/v1/parent-invitations/mine", &session.token)
            .await,
        401,
        "unauthorized",
    )
    .await;
    let new_token = reissued.link_path.trim_start_matches("/join/");
    assert_eq!(
        app.post_json(
            "/api/v1/parent-invitations/redeem",
            None,
            json!({"token": new_token})
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn an_expired_parent_link_is_refused() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let report = import_class_list(&app, &admin).await;
    let pool = open_db(&app).await;
    sqlx::query("UPDATE parent_invitations SET expires_at = 1")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let token = report.invitations[1].link_path.trim_start_matches("/join/");
    let response = app
        .post_json(
            "/api/v1/parent-invitations/redeem",
            None,
            json!({"token": token}),
        )
        .await;
    expect_error(response, 410, "link_expired").await;
}

#[tokio::test]
async fn a_first_start_without_demo_data_gives_a_one_time_admin_set_up_link() {
    let dir = TempDir::new().unwrap();
    let mut config = test_config(&dir);
    config.demo = false;
    let app = spawn_app_with(dir, config).await;
    let pool = open_db(&app).await;
    let token = haven_server::store::accounts::setup_link_if_needed(&pool)
        .await
        .unwrap()
        .expect("no admin yet, so a link");
    let body = json!({"token": token, "name": "Joanna Whitfield",
                      "email": "joanna@riverside.example", "password": "river stones gather moss"});
    let response = app
        .post_json("/api/v1/auth/setup", None, body.clone())
        .await;
    assert_eq!(response.status(), 200);
    let session: LoginResponse = response.json().await.unwrap();
    assert!(session.me.grants.is_trust_admin());
    expect_error(
        app.post_json("/api/v1/auth/setup", None, body).await,
        410,
        "link_used",
    )
    .await;
    assert_eq!(
        haven_server::store::accounts::setup_link_if_needed(&pool)
            .await
            .unwrap(),
        None,
        "no link once a trust admin exists"
    );
    pool.close().await;
}

#[tokio::test]
async fn sign_ins_failures_and_reads_are_in_the_audit_log() {
    let app = spawn_app().await;
    expect_error(
        app.login(TEACHER_EMAIL, "wrong password").await,
        401,
        "invalid_credentials",
    )
    .await;
    let admin = app.admin_token().await;
    assert_eq!(app.get_agreements(Some(&admin)).await.status(), 200);
    let entries: Vec<AuditEntry> = app
        .get_with("/api/v1/audit", &admin)
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions[..4],
        [
            "read_audit_log",
            "read_agreements",
            "sign_in",
            "sign_in_failed"
        ]
    );
    let failed = &entries[3];
    assert_eq!(failed.subject, TEACHER_EMAIL);
    assert_eq!(failed.client, "127.0.0.1");
    let teacher = app.signed_in(TEACHER_EMAIL).await.token;
    expect_error(
        app.get_with("/api/v1/audit", &teacher).await,
        403,
        "forbidden",
    )
    .await;

    // The log cannot be edited, even from inside the database.
    let pool = open_db(&app).await;
    let err = sqlx::query("DELETE FROM audit_log")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    pool.close().await;
}

#[tokio::test]
async fn no_password_token_code_or_second_factor_secret_is_stored_in_plaintext() {
    let app = spawn_app().await;
    let mut secrets: Vec<String> = vec![ADMIN_PASSWORD.to_owned()];
    let admin = app.signed_in(ADMIN_EMAIL).await.token;
    secrets.push(admin.clone());
    let teacher = app.signed_in(TEACHER_EMAIL).await.token;
    secrets.push(teacher.clone());
    let setup: TotpSetup = app
        .post_json("/api/v1/auth/totp/setup", Some(&teacher), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let code = haven_server::crypto::totp::current_code(&secret_of(&setup), now_ms());
    app.post_json(
        "/api/v1/auth/totp/confirm",
        Some(&teacher),
        json!({"code": code}),
    )
    .await;
    secrets.push(setup.secret.clone());
    let invited: InvitedStaff = app
        .post_json(
            "/api/v1/staff",
            Some(&admin),
            json!({"name": "Nia Adeyemi", "email": "nia@oakfield.example",
                   "grants": [{"role": "staff", "academy_id": OAKFIELD_ID}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let invite_token = invited.link_path.trim_start_matches("/invite/").to_owned();
    secrets.push(invite_token.clone());
    let nia_password = "kettle lantern orchard";
    let accepted: LoginResponse = app
        .post_json(
            "/api/v1/auth/invitations/accept",
            None,
            json!({"token": invite_token, "password": nia_password}),
        )
        .await
        .json()
        .await
        .unwrap();
    secrets.push(nia_password.to_owned());
    secrets.push(accepted.token);
    secrets.push(accepted.online_key);
    let code = enrolment_code(&app, &admin, OAKFIELD_ID).await;
    secrets.push(code.code.replace('-', ""));
    let enrolled: Enrolled = app
        .post_json(
            "/api/v1/devices/enrol",
            None,
            json!({"code": code.code, "sync_device_id": Uuid::now_v7()}),
        )
        .await
        .json()
        .await
        .unwrap();
    secrets.push(enrolled.token);
    let report = import_class_list(&app, &admin).await;
    let link = report.invitations[0]
        .link_path
        .trim_start_matches("/join/")
        .to_owned();
    let parent: ParentSession = app
        .post_json(
            "/api/v1/parent-invitations/redeem",
            None,
            json!({"token": link}),
        )
        .await
        .json()
        .await
        .unwrap();
    secrets.push(link);
    secrets.push(
        report.invitations[1]
            .link_path
            .trim_start_matches("/join/")
            .to_owned(),
    );
    secrets.push(parent.token);

    let stored = everything_stored(&app).await;
    assert!(stored.len() > 10_000, "the database was read");
    let haystack = String::from_utf8_lossy(&stored).to_lowercase();
    assert!(
        haystack.contains(&TEACHER_EMAIL.to_lowercase()),
        "the scan can find stored text"
    );
    for secret in &secrets {
        // Secrets are compared without their kind prefix, so a stored
        // token body would be found whatever is around it.
        let body = secret.split_once('_').map_or(secret.as_str(), |(_, b)| b);
        assert!(
            !haystack.contains(&body.to_lowercase()),
            "a secret is stored in plaintext: {secret}"
        );
    }
}

#[tokio::test]
async fn a_parent_link_signs_only_for_its_own_children_and_agreements() {
    use haven_core::agreement::Capacity;
    use haven_core::sync::wire::{Outcome, PushResponse};
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let report = import_class_list(&app, &admin).await;
    let token = report.invitations[0].link_path.trim_start_matches("/join/");
    let session: ParentSession = app
        .post_json(
            "/api/v1/parent-invitations/redeem",
            None,
            json!({"token": token}),
        )
        .await
        .json()
        .await
        .unwrap();
    let policies: Vec<haven_core::policy::PolicySummary> =
        app.get("/api/v1/policies").await.json().await.unwrap();
    let version_of =
        |kind: haven_core::policy::PolicyKind| policies.iter().find(|p| p.kind == kind).unwrap().id;
    let device = crate::helpers::Device::fresh();
    let sign = |id: uuid::Uuid, capacity: Capacity| {
        let app = &app;
        let device = &device;
        async move {
            let version = app.policy(id).await;
            let mut record = device.sign(&version, "Sara Khan");
            record.capacity = capacity;
            record
        }
    };
    let child = |name: &str| Capacity::OnBehalfOf {
        child_name: name.into(),
        relationship: "Mother".into(),
    };
    use haven_core::policy::PolicyKind::*;
    let records = [
        sign(version_of(PupilAua), child("amira  khan")).await,
        sign(version_of(PupilAua), child("Someone Else")).await,
        sign(version_of(StaffAua), Capacity::Myself).await,
        sign(version_of(ParentAua), Capacity::Myself).await,
        sign(version_of(PupilAua), Capacity::Myself).await,
    ];
    let reply: PushResponse = app
        .client
        .post(app.url("/api/v1/sync/push"))
        .bearer_auth(&session.token)
        .json(&device.push(&[
            (1, &records[0]),
            (2, &records[1]),
            (3, &records[2]),
            (4, &records[3]),
            (5, &records[4]),
        ]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let outcomes: Vec<&Outcome> = reply.results.iter().map(|r| &r.outcome).collect();
    assert_eq!(outcomes[0], &Outcome::Applied, "their child, by name");
    assert_eq!(
        outcomes[3],
        &Outcome::Applied,
        "the parent agreement, for themselves"
    );
    for i in [1, 2, 4] {
        assert!(
            matches!(outcomes[i], Outcome::Rejected { code, .. } if code == "not_for_this_invitation"),
            "{i}: {:?}",
            outcomes[i]
        );
    }
}

/// A session left open on someone's device cannot move their second factor
/// to another phone: replacing an authenticator app needs a code from the
/// one in use.
#[tokio::test]
async fn replacing_a_second_factor_needs_a_code_from_the_current_one() {
    let app = spawn_app().await;
    let token = app.signed_in(TEACHER_EMAIL).await.token;
    let enrol = |token: String| {
        let app = &app;
        async move {
            let setup: TotpSetup = app
                .post_json("/api/v1/auth/totp/setup", Some(&token), json!({}))
                .await
                .json()
                .await
                .unwrap();
            secret_of(&setup)
        }
    };
    let first = enrol(token.clone()).await;
    let code = haven_server::crypto::totp::current_code(&first, now_ms());
    let response = app
        .post_json(
            "/api/v1/auth/totp/confirm",
            Some(&token),
            json!({"code": code}),
        )
        .await;
    assert_eq!(response.status(), 204);

    // The same session (say, a laptop left signed in) starts a new app.
    let second = enrol(token.clone()).await;
    let new_code = || haven_server::crypto::totp::current_code(&second, now_ms());
    let response = app
        .post_json(
            "/api/v1/auth/totp/confirm",
            Some(&token),
            json!({"code": new_code()}),
        )
        .await;
    let error = expect_error(response, 400, "current_code_required").await;
    assert!(error.message.contains("trust admin"), "{}", error.message);
    let wrong = if haven_server::crypto::totp::current_code(&first, now_ms()) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let response = app
        .post_json(
            "/api/v1/auth/totp/confirm",
            Some(&token),
            json!({"code": new_code(), "current_code": wrong}),
        )
        .await;
    expect_error(response, 401, "second_factor_wrong").await;
    // With a code from the app in use (the next 30-second step's: the step
    // used to confirm it cannot be used again), the replacement takes.
    let third = enrol(token.clone()).await;
    let response = app
        .post_json(
            "/api/v1/auth/totp/confirm",
            Some(&token),
            json!({
                "code": haven_server::crypto::totp::current_code(&third, now_ms()),
                "current_code": haven_server::crypto::totp::current_code(&first, now_ms() + 30_000),
            }),
        )
        .await;
    assert_eq!(response.status(), 204);
    // Only the third app signs in now.
    let login = |code: String| {
        let app = &app;
        async move {
            app.post_json(
                "/api/v1/auth/login",
                None,
                json!({"email": TEACHER_EMAIL, "password": ADMIN_PASSWORD, "totp_code": code}),
            )
            .await
            .status()
        }
    };
    let next = |secret: &[u8]| haven_server::crypto::totp::current_code(secret, now_ms() + 30_000);
    assert_eq!(login(next(&second)).await, 401);
    assert_eq!(login(next(&third)).await, 200);
}

/// Every byte the database holds. SQLite: the file, its write-ahead log and
/// shared memory. PostgreSQL: every row of every table, as text.
async fn everything_stored(app: &TestApp) -> Vec<u8> {
    let mut stored = Vec::new();
    if crate::helpers::on_postgres() {
        let pool = app.db().await;
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_schema = 'public'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        for table in tables {
            let rows: Vec<String> =
                sqlx::query_scalar(&format!("SELECT CAST(t AS TEXT) FROM \"{table}\" t"))
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            stored.extend(rows.join("\n").into_bytes());
        }
        pool.close().await;
        return stored;
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut path = app.database_path().into_os_string();
        path.push(suffix);
        if let Ok(bytes) = std::fs::read(&path) {
            stored.extend(bytes);
        }
    }
    stored
}
