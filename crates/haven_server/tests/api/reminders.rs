//! Reminders to sign: one email per person due, through a relay on loopback,
//! never twice within the trust's interval, and only from those who may see
//! the academy's compliance.

use crate::helpers::{
    expect_error, spawn_app_with, test_config, Device, TestApp, ADMIN_PASSWORD,
    STAFF_AUA_VERSION_ID, TEACHER_EMAIL, TEACHER_ID,
};
use crate::incidents::{fake_smtp_relay, Received};
use haven_core::api::accounts::ClassListReport;
use haven_core::api::LoginResponse;
use haven_core::reminders::{ChaseKind, ChaseRow, ReminderReport, ReminderSettings};
use haven_core::sync::wire::{Outcome, PushResponse};
use haven_server::store::demo::{HILLTOP_ID, OAKFIELD_ID};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

const PUBLIC_URL: &str = "https://haven.riverside.example";
const HEAD: &str = "head@oakfield.example";

/// A server that sends reminders through a relay on loopback.
async fn app_with_relay() -> (TestApp, UnboundedReceiver<Received>) {
    let (relay, mail) = fake_smtp_relay().await;
    let dir = tempfile::TempDir::new().unwrap();
    let mut config = test_config(&dir);
    config.smtp_url = Some(format!("smtp://{relay}"));
    config.alert_from = Some("haven@riverside.example".into());
    config.public_url = Some(format!("{PUBLIC_URL}/"));
    (spawn_app_with(dir, config).await, mail)
}

async fn token(app: &TestApp, email: &str) -> String {
    let response = app.login(email, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 200, "{email} signs in");
    response.json::<LoginResponse>().await.unwrap().token
}

async fn chase(app: &TestApp, token: &str) -> Vec<ChaseRow> {
    let response = app
        .client
        .get(app.url(&format!(
            "/api/v1/compliance/chase?academy_id={OAKFIELD_ID}"
        )))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn remind(app: &TestApp, token: &str) -> ReminderReport {
    let response = app
        .post_json(
            "/api/v1/compliance/reminders",
            Some(token),
            json!({"academy_id": OAKFIELD_ID}),
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The teacher signs the staff agreement on their phone.
async fn teacher_signs(app: &TestApp) {
    let teacher = token(app, TEACHER_EMAIL).await;
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let device = Device::fresh();
    let mut record = device.sign(&version, "Tom Reilly");
    record.signer_account = Some(TEACHER_ID);
    let reply: PushResponse = app
        .post_json(
            "/api/v1/sync/push",
            Some(&teacher),
            serde_json::to_value(device.push(&[(1, &record)])).unwrap(),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reply.results[0].outcome, Outcome::Applied);
}

/// Two families: one with an email address, one without.
async fn invite_parents(app: &TestApp, token: &str) -> ClassListReport {
    let csv = "Pupil name,Class,Academy,Parent/carer name,Email\n\
               Amira Khan,Year 3,Oakfield Primary Academy,Sara Khan,sara@example.org\n\
               Leo Brown,Year 1,Oakfield Primary Academy,Jo Brown,\n";
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

/// Every email the relay has taken within a moment of asking.
async fn drain(mail: &mut UnboundedReceiver<Received>, expected: usize) -> Vec<Received> {
    let mut got = Vec::new();
    while got.len() < expected {
        match tokio::time::timeout(Duration::from_secs(10), mail.recv()).await {
            Ok(Some(email)) => got.push(email),
            _ => break,
        }
    }
    // Anything more would be a second email to someone.
    while let Ok(Some(extra)) = tokio::time::timeout(Duration::from_millis(300), mail.recv()).await
    {
        got.push(extra);
    }
    got
}

/// The message as a mail client shows it: lettre sends long lines as
/// quoted-printable, soft-wrapped at 76 characters.
fn text(email: &Received) -> String {
    email.data.replace("=\n", "").replace("=3D", "=")
}

fn recipient(email: &Received) -> String {
    assert_eq!(email.recipients.len(), 1, "one person per email");
    email.recipients[0]
        .trim_matches(['<', '>'])
        .to_ascii_lowercase()
}

#[tokio::test]
async fn everyone_due_gets_one_reminder_and_nobody_gets_two_within_the_interval() {
    let (app, mut mail) = app_with_relay().await;
    let head = token(&app, HEAD).await;
    teacher_signs(&app).await;
    let invited = invite_parents(&app, &head).await;
    let old_link = invited.invitations[0]
        .link_path
        .trim_start_matches("/join/")
        .to_owned();

    let before = chase(&app, &head).await;
    assert!(
        !before.iter().any(|r| r.name == "Tom Reilly"),
        "who signed is not chased"
    );
    let staff: Vec<&ChaseRow> = before
        .iter()
        .filter(|r| r.kind == ChaseKind::Staff)
        .collect();
    assert!(
        staff.len() >= 3,
        "the head, lead and DSL have agreements to sign: {before:?}"
    );
    let parents: Vec<&ChaseRow> = before
        .iter()
        .filter(|r| r.kind == ChaseKind::Parent)
        .collect();
    assert_eq!(parents.len(), 2);
    assert!(before.iter().all(|r| r.last_reminded_at.is_none()));
    let with_email = before.iter().filter(|r| r.has_email).count();
    assert_eq!(with_email, staff.len() + 1, "Jo Brown has no address");

    let report = remind(&app, &head).await;
    assert_eq!(
        report,
        ReminderReport {
            sent: with_email as u32,
            reminded_recently: 0,
            without_email: 1,
            failed: 0
        }
    );
    let emails = drain(&mut mail, with_email).await;
    assert_eq!(emails.len(), with_email, "one email per person due");
    let to: BTreeSet<String> = emails.iter().map(recipient).collect();
    assert_eq!(to.len(), with_email, "nobody twice: {to:?}");
    assert!(to.contains("sara@example.org"));
    assert!(to.contains(HEAD));
    assert!(!to.contains(TEACHER_EMAIL), "who signed is not reminded");
    for email in &emails {
        let text = text(email);
        assert!(!text.contains("Amira"), "no child is named");
        assert!(!text.contains("Sara Khan") && !text.contains("Helen Okafor"));
        if recipient(email) == HEAD {
            assert!(text.contains(&format!("{PUBLIC_URL}/sign/{STAFF_AUA_VERSION_ID}")));
        }
    }
    // The parent's email carries a new link that works; the old one does not.
    let parent = emails
        .iter()
        .find(|e| recipient(e) == "sara@example.org")
        .unwrap();
    let new_link = text(parent)
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{PUBLIC_URL}/join/")))
        .expect("a join link")
        .to_owned();
    assert_ne!(new_link, old_link);
    let redeem = |token: String| {
        let app = &app;
        async move {
            app.post_json(
                "/api/v1/parent-invitations/redeem",
                None,
                json!({"token": token}),
            )
            .await
        }
    };
    expect_error(redeem(old_link).await, 404, "not_found").await;
    assert_eq!(redeem(new_link).await.status(), 200);

    // Pressed again straight away: nobody is emailed twice (and Sara, who
    // has opened her link now, is no longer due).
    let again = remind(&app, &head).await;
    assert_eq!(again.sent, 0);
    let still_due = with_email - 1;
    assert_eq!(again.reminded_recently, still_due as u32);
    assert!(drain(&mut mail, 0).await.is_empty());
    let after = chase(&app, &head).await;
    let head_row = after.iter().find(|r| r.name == "Helen Okafor").unwrap();
    let at = head_row.last_reminded_at.expect("when she was reminded");
    assert_eq!(
        head_row.next_reminder_from,
        Some(at + 7 * 24 * 60 * 60 * 1000)
    );

    // Both rounds are in the audit log, with what they did.
    let pool = app.db().await;
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'reminders_sent' ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        details,
        vec![
            format!("sent {with_email}, reminded recently 0, no email 1, failed 0"),
            format!("sent 0, reminded recently {still_due}, no email 1, failed 0"),
        ]
    );
}

#[tokio::test]
async fn only_those_who_see_an_academys_compliance_may_chase_it() {
    let (app, mut mail) = app_with_relay().await;
    let body = json!({"academy_id": OAKFIELD_ID});
    let teacher = token(&app, TEACHER_EMAIL).await;
    let other_head = token(&app, "head@hilltop.example").await;
    for who in [&teacher, &other_head] {
        expect_error(
            app.post_json("/api/v1/compliance/reminders", Some(who), body.clone())
                .await,
            403,
            "forbidden",
        )
        .await;
        let listed = app
            .client
            .get(app.url(&format!(
                "/api/v1/compliance/chase?academy_id={OAKFIELD_ID}"
            )))
            .bearer_auth(who)
            .send()
            .await
            .unwrap();
        expect_error(listed, 403, "forbidden").await;
    }
    expect_error(
        app.post_json("/api/v1/compliance/reminders", None, body.clone())
            .await,
        401,
        "unauthorized",
    )
    .await;
    // A head chases their own academy only.
    let own = app
        .post_json(
            "/api/v1/compliance/reminders",
            Some(&other_head),
            json!({"academy_id": HILLTOP_ID}),
        )
        .await;
    assert_eq!(own.status(), 200);
    let sent: ReminderReport = own.json().await.unwrap();
    let emails = drain(&mut mail, sent.sent as usize).await;
    assert!(emails
        .iter()
        .all(|e| recipient(e).ends_with("@hilltop.example")));
}

#[tokio::test]
async fn a_server_without_a_relay_or_public_address_says_what_to_set() {
    let (relay, _mail) = fake_smtp_relay().await;
    for (smtp, public) in [(false, true), (true, false)] {
        let dir = tempfile::TempDir::new().unwrap();
        let mut config = test_config(&dir);
        if smtp {
            config.smtp_url = Some(format!("smtp://{relay}"));
            config.alert_from = Some("haven@riverside.example".into());
        }
        if public {
            config.public_url = Some(PUBLIC_URL.into());
        }
        let app = spawn_app_with(dir, config).await;
        let head = token(&app, HEAD).await;
        let refused = expect_error(
            app.post_json(
                "/api/v1/compliance/reminders",
                Some(&head),
                json!({"academy_id": OAKFIELD_ID}),
            )
            .await,
            409,
            "reminders_not_configured",
        )
        .await;
        assert!(refused.message.contains("HAVEN_PUBLIC_URL"));
    }
}

#[tokio::test]
async fn the_weekly_run_reminds_once_a_week_when_the_trust_asks() {
    let (app, mut mail) = app_with_relay().await;
    let admin = app.admin_token().await;
    let head = token(&app, HEAD).await;
    let put = |settings: serde_json::Value, who: String| {
        let app = &app;
        async move {
            app.client
                .put(app.url("/api/v1/settings/reminders"))
                .bearer_auth(who)
                .json(&settings)
                .send()
                .await
                .unwrap()
        }
    };
    // Only a trust admin sets the rules, and only within 1 to 90 days.
    expect_error(
        put(json!({"interval_days": 7, "weekly": true}), head.clone()).await,
        403,
        "forbidden",
    )
    .await;
    expect_error(
        put(json!({"interval_days": 0, "weekly": true}), admin.clone()).await,
        400,
        "invalid_settings",
    )
    .await;
    let now = haven_server::clock::now_ms();
    let sender = app.state.reminders.as_deref();
    // Off (the default): the hourly run sends nothing.
    haven_server::jobs::hourly_at(&app.state.pool, &app.state.metrics, sender, now).await;
    assert!(drain(&mut mail, 0).await.is_empty());

    let saved: ReminderSettings = put(json!({"interval_days": 3, "weekly": true}), admin.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        saved,
        ReminderSettings {
            interval_days: 3,
            weekly: true
        }
    );
    haven_server::jobs::hourly_at(&app.state.pool, &app.state.metrics, sender, now).await;
    let first = drain(&mut mail, 1).await;
    assert!(!first.is_empty(), "the weekly run reminds whoever is due");
    let at_both: BTreeSet<String> = first.iter().map(recipient).collect();
    assert!(at_both.contains(HEAD) && at_both.contains("head@hilltop.example"));
    // The next hour, and a second instance in the same week, send nothing.
    haven_server::jobs::hourly_at(&app.state.pool, &app.state.metrics, sender, now + 3_600_000)
        .await;
    let second = app.second_instance().await;
    haven_server::jobs::hourly_at(&second.state.pool, &second.state.metrics, sender, now).await;
    assert!(drain(&mut mail, 0).await.is_empty());
}

#[tokio::test]
async fn two_rounds_at_once_remind_each_person_once() {
    let (app, mut mail) = app_with_relay().await;
    let head = token(&app, HEAD).await;
    let lead = token(&app, "esafety@oakfield.example").await;
    let due = chase(&app, &head)
        .await
        .iter()
        .filter(|r| r.has_email)
        .count();
    let (a, b) = tokio::join!(remind(&app, &head), remind(&app, &lead));
    assert_eq!((a.sent + b.sent) as usize, due, "{a:?} {b:?}");
    assert_eq!((a.reminded_recently + b.reminded_recently) as usize, due);
    let emails = drain(&mut mail, due).await;
    let to: BTreeSet<String> = emails.iter().map(recipient).collect();
    assert_eq!((emails.len(), to.len()), (due, due), "one each");
}

#[tokio::test]
async fn a_relay_that_is_down_loses_no_one_from_the_chase() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::TempDir::new().unwrap();
    let mut config = test_config(&dir);
    config.smtp_url = Some(format!("smtp://{closed}"));
    config.alert_from = Some("haven@riverside.example".into());
    config.public_url = Some(PUBLIC_URL.into());
    let app = spawn_app_with(dir, config).await;
    let head = token(&app, HEAD).await;
    let due = chase(&app, &head)
        .await
        .iter()
        .filter(|r| r.has_email)
        .count();
    let report = remind(&app, &head).await;
    assert_eq!((report.sent, report.failed as usize), (0, due));
    // Not counted as reminded: the next round tries them again.
    assert!(chase(&app, &head)
        .await
        .iter()
        .all(|r| r.last_reminded_at.is_none()));
    let again = remind(&app, &head).await;
    assert_eq!((again.reminded_recently, again.failed as usize), (0, due));
}
