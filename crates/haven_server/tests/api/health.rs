use crate::helpers::spawn_app;
use haven_core::api::Health;

#[tokio::test]
async fn health_check_reports_ok_and_the_server_version() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/health").await;
    assert_eq!(response.status(), 200);
    let health: Health = response.json().await.unwrap();
    assert_eq!(health.status, "ok");
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
}
