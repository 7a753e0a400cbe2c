//! `GET /metrics`: off unless the operator sets a token, refused without it,
//! and with it, Prometheus text counting pushes, refusals by code, push
//! latency, the devices' backlog and the server's jobs, naming no one.

use crate::helpers::{
    expect_error, incident_key, spawn_app, spawn_app_with, test_config, Device, TestApp,
    STAFF_AUA_VERSION_ID, TEACHER_EMAIL, TEACHER_ID,
};
use haven_server::metrics::MetricsToken;
use haven_server::store::demo::OAKFIELD_ID;
use std::time::Duration;
use tempfile::TempDir;

pub(crate) const TOKEN: &str = "metrics-token-for-the-tests-0123456789";

pub(crate) async fn spawn_with_metrics() -> TestApp {
    let dir = TempDir::new().unwrap();
    let mut config = test_config(&dir);
    config.metrics_token = Some(MetricsToken::new(TOKEN).unwrap());
    spawn_app_with(dir, config).await
}

/// The metrics as a scraper with the token reads them.
pub(crate) async fn scrape(app: &TestApp) -> String {
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.text().await.unwrap()
}

/// The value of one series (name and labels exactly as written), if present.
pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')
            .map(|value| value.trim().parse().unwrap())
    })
}

fn value(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

#[tokio::test]
async fn metrics_are_served_to_no_one_unless_the_operator_sets_a_token() {
    let app = spawn_app().await;
    expect_error(app.get("/metrics").await, 404, "not_found").await;
    // Not even to someone who guesses a token, or signs in as the admin.
    let admin = app.admin_token().await;
    for token in [TOKEN, admin.as_str()] {
        let response = app
            .client
            .get(app.url("/metrics"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let error = expect_error(response, 404, "not_found").await;
        assert!(error.message.contains("--metrics-token"), "{error:?}");
    }
}

#[tokio::test]
async fn metrics_are_refused_without_the_right_token() {
    let app = spawn_with_metrics().await;
    let admin = app.admin_token().await;
    let wrong = format!("{TOKEN}x");
    let attempts = [
        app.client.get(app.url("/metrics")),
        app.client.get(app.url("/metrics")).bearer_auth(&wrong),
        app.client.get(app.url("/metrics")).bearer_auth(&TOKEN[1..]),
        // A staff session is not the metrics token, not even the admin's.
        app.client.get(app.url("/metrics")).bearer_auth(&admin),
        app.client
            .get(app.url("/metrics"))
            .header("authorization", format!("Basic {TOKEN}")),
        app.client.get(app.url(&format!("/metrics?token={TOKEN}"))),
    ];
    for attempt in attempts {
        let response = attempt.send().await.unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let error = expect_error(response, 401, "metrics_token_wrong").await;
        assert!(!error.message.contains("haven_"), "{error:?}");
    }
    let text = scrape(&app).await;
    assert_eq!(
        value(&text, "haven_refusals_total{code=\"metrics_token_wrong\"}"),
        6.0
    );
}

#[test]
fn a_weak_metrics_token_is_refused_on_the_command_line() {
    use clap::Parser;
    let parse = |token: &str| {
        haven_server::Config::try_parse_from(["haven_server", "--metrics-token", token])
    };
    for weak in ["short", "a-token-of-24-characters with a space"] {
        let error = parse(weak).unwrap_err().to_string();
        assert!(error.contains("openssl rand -hex 32"), "{error}");
    }
    let config = parse(TOKEN).unwrap();
    assert!(config.metrics_token.is_some());
    // The configuration can be printed without showing the token.
    assert!(!format!("{config:?}").contains(TOKEN));
}

#[tokio::test]
async fn metrics_count_pushes_refusals_latency_backlog_and_jobs_and_name_no_one() {
    let app = spawn_with_metrics().await;
    let before = scrape(&app).await;
    // The start-up purges ran once each, before anything was served.
    for job in ["visit_retention_purge", "abandoned_upload_purge"] {
        assert_eq!(
            value(
                &before,
                &format!("haven_job_runs_total{{job=\"{job}\",result=\"ok\"}}")
            ),
            1.0,
            "{job}"
        );
    }
    assert_eq!(value(&before, "haven_push_requests_accepted_total"), 0.0);
    assert_eq!(value(&before, "haven_push_duration_seconds_count"), 0.0);

    // One push of two records, with five more waiting on the device.
    let device = Device::fresh();
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let (ada, grace) = (
        device.sign(&version, "Ada Lovelace"),
        device.sign(&version, "Grace Hopper"),
    );
    let mut request = device.push(&[(1, &ada), (2, &grace)]);
    request.backlog = 7;
    app.push(&request).await;
    // A push that skips numbers is refused (409 mutation_gap) and applies nothing.
    let skipped = device.sign(&version, "Katherine Johnson");
    let response = app.post_push(&device.push(&[(9, &skipped)])).await;
    expect_error(response, 409, "mutation_gap").await;
    // An unknown endpoint, twice.
    for _ in 0..2 {
        expect_error(app.get("/api/v1/no-such-thing").await, 404, "not_found").await;
    }

    let text = scrape(&app).await;
    assert_eq!(value(&text, "haven_push_requests_accepted_total"), 1.0);
    assert_eq!(
        value(&text, "haven_push_records_total{outcome=\"applied\"}"),
        2.0
    );
    assert_eq!(
        sample(&text, "haven_push_records_total{outcome=\"rejected\"}"),
        None
    );
    assert_eq!(
        value(&text, "haven_refusals_total{code=\"mutation_gap\"}"),
        1.0
    );
    assert_eq!(
        value(&text, "haven_refusals_total{code=\"not_found\"}"),
        2.0
    );
    // Both pushes the endpoint answered were timed, the refused one too.
    assert_eq!(value(&text, "haven_push_duration_seconds_count"), 2.0);
    assert_eq!(
        value(&text, "haven_push_duration_seconds_bucket{le=\"+Inf\"}"),
        2.0
    );
    assert!(value(&text, "haven_push_duration_seconds_sum") > 0.0);
    assert_eq!(
        value(&text, "haven_push_reported_backlog_records_count"),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "haven_push_reported_backlog_records_bucket{le=\"1\"}"
        ),
        0.0
    );
    assert_eq!(
        value(
            &text,
            "haven_push_reported_backlog_records_bucket{le=\"10\"}"
        ),
        1.0
    );
    // Left on the device after its push: 7 waiting, 2 sent.
    assert_eq!(value(&text, "haven_devices_backlog_records"), 5.0);
    assert_eq!(value(&text, "haven_devices_behind"), 1.0);

    // The hourly purge, run as the server's hourly task runs it.
    haven_server::jobs::hourly(&app.state.pool, &app.state.metrics, None).await;
    let after = scrape(&app).await;
    for job in ["visit_retention_purge", "abandoned_upload_purge"] {
        assert_eq!(
            value(
                &after,
                &format!("haven_job_runs_total{{job=\"{job}\",result=\"ok\"}}")
            ),
            2.0,
            "{job}"
        );
        let last = value(
            &after,
            &format!("haven_job_last_success_timestamp_seconds{{job=\"{job}\"}}"),
        );
        let now = (haven_server::clock::now_ms() / 1000) as f64;
        assert!((now - 60.0..=now).contains(&last), "{job}: {last} vs {now}");
    }

    // Nothing that names or identifies anyone.
    for personal in [
        "Ada Lovelace",
        "Grace Hopper",
        TEACHER_EMAIL,
        &device.id.to_string(),
        &TEACHER_ID.to_string(),
        &OAKFIELD_ID.to_string(),
    ] {
        assert!(!after.contains(personal), "{personal} in:\n{after}");
    }
}

#[tokio::test]
async fn a_failing_purge_is_counted_as_a_failed_run() {
    let app = spawn_with_metrics().await;
    // A purge that cannot reach its database fails; the next hour tries again.
    let pool = app.db().await;
    pool.close().await;
    haven_server::jobs::hourly(&pool, &app.state.metrics, None).await;
    let text = scrape(&app).await;
    for job in ["visit_retention_purge", "abandoned_upload_purge"] {
        assert_eq!(
            value(
                &text,
                &format!("haven_job_runs_total{{job=\"{job}\",result=\"failed\"}}")
            ),
            1.0,
            "{job}"
        );
    }
}

/// Pushes one incident whose route says "immediately", as the teacher.
async fn push_immediate_incident(app: &TestApp) {
    let key = incident_key(app).await;
    let record = crate::incidents::log_as_teacher(app, &key, "illegal-material").await;
    assert!(record.recommended.immediate);
}

/// Scrapes until `series` reads `want` (the alert email goes in a task of
/// its own, after the push's answer).
async fn wait_for(app: &TestApp, series: &str, want: f64) -> String {
    for _ in 0..100 {
        let text = scrape(app).await;
        if sample(&text, series) == Some(want) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{series} never reached {want}:\n{}", scrape(app).await);
}

#[tokio::test]
async fn alert_emails_sent_and_failed_are_counted() {
    // A relay that takes the email.
    let (relay, mut mail) = crate::incidents::fake_smtp_relay().await;
    let dir = TempDir::new().unwrap();
    let mut config = test_config(&dir);
    config.metrics_token = Some(MetricsToken::new(TOKEN).unwrap());
    config.smtp_url = Some(format!("smtp://{relay}"));
    config.alert_from = Some("haven@riverside.example.org".into());
    let app = spawn_app_with(dir, config).await;
    push_immediate_incident(&app).await;
    tokio::time::timeout(Duration::from_secs(10), mail.recv())
        .await
        .expect("the alert email arrives");
    let text = wait_for(
        &app,
        "haven_job_runs_total{job=\"alert_mail\",result=\"ok\"}",
        1.0,
    )
    .await;
    assert_eq!(
        sample(
            &text,
            "haven_job_runs_total{job=\"alert_mail\",result=\"failed\"}"
        ),
        None
    );

    // A relay that is not there: nothing listens on its port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = closed.local_addr().unwrap();
    drop(closed);
    let dir = TempDir::new().unwrap();
    let mut config = test_config(&dir);
    config.metrics_token = Some(MetricsToken::new(TOKEN).unwrap());
    config.smtp_url = Some(format!("smtp://{gone}"));
    config.alert_from = Some("haven@riverside.example.org".into());
    let app = spawn_app_with(dir, config).await;
    push_immediate_incident(&app).await;
    let text = wait_for(
        &app,
        "haven_job_runs_total{job=\"alert_mail\",result=\"failed\"}",
        1.0,
    )
    .await;
    assert_eq!(
        sample(
            &text,
            "haven_job_runs_total{job=\"alert_mail\",result=\"ok\"}"
        ),
        None
    );
}
