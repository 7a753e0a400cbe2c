//! Liveness (`/api/v1/health`) and readiness (`/api/v1/ready`): readiness
//! follows the database, liveness never does.

use crate::helpers::{expect_error, spawn_app};
use haven_core::api::Health;
use std::time::Duration;

#[tokio::test]
async fn health_check_reports_ok_and_the_server_version() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/health").await;
    assert_eq!(response.status(), 200);
    let health: Health = response.json().await.unwrap();
    assert_eq!(health.status, "ok");
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn ready_while_the_database_answers() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/ready").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let ready: Health = response.json().await.unwrap();
    assert_eq!(ready.status, "ready");
    assert_eq!(ready.version, env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn not_ready_once_the_database_is_closed_while_still_alive() {
    let app = spawn_app().await;
    // The server's own pool, closed under it: no query can run any more.
    app.state.pool.close().await;

    let error = expect_error(app.get("/api/v1/ready").await, 503, "database_unavailable").await;
    // Says what to do, and nothing of the cause (which is in the log).
    assert!(error.message.contains("load balancer"), "{error:?}");
    assert!(error.message.contains("Operator"), "{error:?}");
    assert!(!error.message.to_lowercase().contains("pool"), "{error:?}");
    // Alive all the same: restarting would not bring the database back.
    assert_eq!(app.get("/api/v1/health").await.status(), 200);
}

#[tokio::test]
async fn not_ready_within_its_timeout_while_every_connection_is_taken_then_ready_again() {
    let app = spawn_app().await;
    // Every connection of the server's pool held, as by requests stuck on
    // a stalled disk: the pool would make a caller wait 30 s for one.
    let pool = &app.state.pool;
    let mut held = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        held.push(pool.acquire().await.unwrap());
    }
    let started = tokio::time::Instant::now();
    let response = app.get("/api/v1/ready").await;
    let took = started.elapsed();
    expect_error(response, 503, "database_unavailable").await;
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "answered after {took:?}"
    );
    assert_eq!(app.get("/api/v1/health").await.status(), 200);

    drop(held);
    assert_eq!(app.get("/api/v1/ready").await.status(), 200);
}
