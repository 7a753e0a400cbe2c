//! Rate limits that hold: sign-in attempts counted before the password is
//! checked, password hashes a few at a time, public look-ups on their own
//! budget, the client address behind trusted proxies; and demo accounts only
//! when asked for, on loopback.

use crate::authorization::open_db;
use crate::helpers::{
    expect_error, spawn_app, spawn_app_with, test_config, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD,
    TEACHER_EMAIL,
};
use haven_core::api::LoginRequest;
use haven_server::{Server, ServerError};
use serde_json::json;
use tempfile::TempDir;

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(&open_db(app).await)
        .await
        .unwrap()
}

async fn login_from(
    app: &TestApp,
    forwarded_for: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&LoginRequest {
            email: email.to_owned(),
            password: password.to_owned(),
            totp_code: None,
        })
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_parallel_wrong_passwords_all_count_and_only_the_limit_reach_the_hash() {
    let app = spawn_app().await;
    let hashes_before = app.state.hashing.finished();
    let guesses: Vec<_> = (0..50)
        .map(|n| {
            let client = app.client.clone();
            let url = app.url("/api/v1/auth/login");
            tokio::spawn(async move {
                client
                    .post(url)
                    .json(&LoginRequest {
                        email: TEACHER_EMAIL.to_owned(),
                        password: format!("guess number {n}"),
                        totp_code: None,
                    })
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.unwrap());
    }
    let wrong = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    // Each was counted before its password was checked: five were checked
    // (the account's limit), the other forty-five refused unchecked.
    assert_eq!((wrong, limited), (5, 45), "{statuses:?}");
    assert_eq!(app.state.hashing.finished() - hashes_before, 5);
    // All fifty are in the audit log.
    assert_eq!(audit_count(&app, "sign_in_failed").await, 5);
    assert_eq!(audit_count(&app, "sign_in_refused_rate_limit").await, 45);
    // The account is limited: the right password is refused too.
    let error = expect_error(
        app.login(TEACHER_EMAIL, ADMIN_PASSWORD).await,
        429,
        "too_many_attempts",
    )
    .await;
    assert!(
        error.message.contains("for this account"),
        "{}",
        error.message
    );
    // Other staff at the same address still sign in.
    assert_eq!(app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_hashes_run_no_more_than_the_gate_allows_at_once() {
    let app = spawn_app().await;
    // Different accounts (made-up ones are checked against a dummy hash),
    // so the per-account limit lets every one reach the hash.
    let sign_ins: Vec<_> = (0..16)
        .map(|n| {
            let client = app.client.clone();
            let url = app.url("/api/v1/auth/login");
            tokio::spawn(async move {
                client
                    .post(url)
                    .json(&LoginRequest {
                        email: format!("nobody{n}@x.example"),
                        password: "wrong password".into(),
                        totp_code: None,
                    })
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for sign_in in sign_ins {
        assert_eq!(sign_in.await.unwrap(), 401);
    }
    let gate = &app.state.hashing;
    assert!(gate.finished() >= 16);
    assert!(
        (1..=gate.size()).contains(&gate.peak()),
        "peak {} with room for {}",
        gate.peak(),
        gate.size()
    );
    assert!(gate.size() <= 4);
}

#[tokio::test]
async fn thirty_bad_look_ups_from_one_address_leave_staff_sign_in_working() {
    let app = spawn_app().await;
    for n in 0..10 {
        let response = app.get(&format!("/api/v1/verify/ZZZZ-ZZ{n:02}")).await;
        expect_error(response, 404, "not_found").await;
        let response = app
            .post_json(
                "/api/v1/devices/enrol",
                None,
                json!({"code": format!("NOPE-{n:04}"), "sync_device_id": uuid::Uuid::now_v7()}),
            )
            .await;
        expect_error(response, 404, "not_found").await;
        let response = app
            .post_json(
                "/api/v1/parent-invitations/redeem",
                None,
                json!({"token": format!("not-a-link-{n}")}),
            )
            .await;
        expect_error(response, 404, "not_found").await;
    }
    // The look-ups' own budget is spent ...
    let error = expect_error(
        app.get("/api/v1/verify/ZZZZ-ZZZZ").await,
        429,
        "too_many_attempts",
    )
    .await;
    assert!(
        error.message.contains("codes or links"),
        "{}",
        error.message
    );
    // ... and staff at that address sign in as before.
    assert_eq!(app.login(TEACHER_EMAIL, ADMIN_PASSWORD).await.status(), 200);
    assert_eq!(app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn right_passwords_do_not_use_up_the_address_budget() {
    let app = spawn_app().await;
    for _ in 0..40 {
        assert_eq!(app.login(TEACHER_EMAIL, ADMIN_PASSWORD).await.status(), 200);
    }
    for n in 0..29 {
        let response = app.login(&format!("nobody{n}@x.example"), "wrong").await;
        assert_eq!(response.status(), 401);
    }
    assert_eq!(app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(), 200);
}

async fn spawn_behind_proxies(hops: usize) -> TestApp {
    let dir = TempDir::new().unwrap();
    let mut config = test_config(&dir);
    config.trusted_proxy_hops = hops;
    spawn_app_with(dir, config).await
}

#[tokio::test]
async fn behind_one_trusted_proxy_limits_key_on_the_right_most_forwarded_address() {
    let app = spawn_behind_proxies(1).await;
    // Thirty failures from 203.0.113.9 as the proxy saw it, each with a
    // different address of the client's own choosing in front.
    for n in 0..30 {
        let forwarded = format!("198.51.100.{n}, 203.0.113.9");
        let response = login_from(&app, &forwarded, &format!("nobody{n}@x.example"), "x").await;
        assert_eq!(response.status(), 401);
    }
    // That address is limited whatever the client writes in front of it ...
    let response = login_from(&app, "192.0.2.1, 203.0.113.9", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let error = expect_error(response, 429, "too_many_attempts").await;
    assert!(
        error.message.contains("from this network"),
        "{}",
        error.message
    );
    // ... another client behind the same proxy is not.
    let response = login_from(
        &app,
        "203.0.113.9, 203.0.113.50",
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
    )
    .await;
    assert_eq!(response.status(), 200);
    // The audit log has the address the proxy saw.
    let clients: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT client FROM audit_log WHERE action = 'sign_in_failed'")
            .fetch_all(&open_db(&app).await)
            .await
            .unwrap();
    assert_eq!(clients, ["203.0.113.9"]);
}

#[tokio::test]
async fn with_no_trusted_proxy_the_forwarded_header_is_ignored() {
    let app = spawn_behind_proxies(0).await;
    for n in 0..30 {
        // A client trying a fresh address each time gets nowhere.
        let forwarded = format!("198.51.100.{n}");
        let response = login_from(&app, &forwarded, &format!("nobody{n}@x.example"), "x").await;
        assert_eq!(response.status(), 401);
    }
    let response = login_from(&app, "192.0.2.77", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    expect_error(response, 429, "too_many_attempts").await;
    let clients: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT client FROM audit_log WHERE action = 'sign_in_failed'")
            .fetch_all(&open_db(&app).await)
            .await
            .unwrap();
    assert_eq!(clients, ["127.0.0.1"]);
}

#[tokio::test]
async fn without_demo_an_empty_database_has_no_demo_accounts() {
    let dir = TempDir::new().unwrap();
    let mut config = test_config(&dir);
    config.demo = false;
    let app = spawn_app_with(dir, config).await;
    expect_error(
        app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&open_db(&app).await)
        .await
        .unwrap();
    assert_eq!(users, 0);
}

#[tokio::test]
async fn demo_data_is_refused_on_an_address_other_than_loopback() {
    for bind in ["0.0.0.0:0", "[::]:0", "192.0.2.1:8080"] {
        let dir = TempDir::new().unwrap();
        let mut config = test_config(&dir);
        config.demo = true;
        config.bind = bind.parse().unwrap();
        let error = Server::build(&config).await.expect_err(bind);
        assert!(
            matches!(error, ServerError::DemoNotOnLoopback { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("--demo"), "{message}");
        assert!(message.contains(bind), "{message}");
        // Refused before anything was written.
        if let Some(path) = config.database.sqlite_path() {
            assert!(!path.exists());
        }
    }
}

/// The binary itself: no demo without `--demo`, the set-up link printed, and
/// `--demo` off loopback refused with a message naming the flag and address.
#[test]
fn the_binary_asks_for_set_up_without_demo_and_refuses_demo_off_loopback() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let bin = env!("CARGO_BIN_EXE_haven_server");
    let dir = TempDir::new().unwrap();
    let database = dir.path().join("haven.sqlite3");

    let refused = Command::new(bin)
        .args(["--bind", "0.0.0.0:0", "--demo", "--static-dir"])
        .arg(dir.path())
        .arg("--database")
        .arg(&database)
        .env_remove("HAVEN_NO_DEMO")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--demo"), "{stderr}");
    assert!(stderr.contains("0.0.0.0:0"), "{stderr}");
    assert!(!database.exists());

    let mut server = Command::new(bin)
        .args(["--bind", "127.0.0.1:0", "--static-dir"])
        .arg(dir.path())
        .arg("--database")
        .arg(&database)
        .env_remove("HAVEN_DEMO")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let found = loop {
        match lines.next() {
            Some(Ok(line)) => {
                let setup =
                    line.contains("Set up the first trust admin") && line.contains("/setup/");
                seen.push(line);
                if setup {
                    break true;
                }
            }
            _ => break false,
        }
    };
    let _ = server.kill();
    let _ = server.wait();
    assert!(found, "{seen:?}");
    assert!(!seen.iter().any(|l| l.contains("Demo sign-in")), "{seen:?}");
}
