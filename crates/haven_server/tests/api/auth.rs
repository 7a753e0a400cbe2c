use crate::helpers::{expect_error, spawn_app, ADMIN_EMAIL, ADMIN_PASSWORD};
use haven_core::api::{AgreementView, LoginResponse};

#[tokio::test]
async fn the_agreements_list_needs_a_token() {
    let app = spawn_app().await;
    let response = app.get_agreements(None).await;
    let error = expect_error(response, 401, "unauthorized").await;
    assert!(!error.message.is_empty());
}

#[tokio::test]
async fn a_made_up_token_is_refused() {
    let app = spawn_app().await;
    let response = app.get_agreements(Some(&"ab".repeat(32))).await;
    expect_error(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn the_demo_admin_signs_in_and_sees_the_agreements() {
    let app = spawn_app().await;
    let response = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 200);
    let login: LoginResponse = response.json().await.unwrap();
    assert_eq!(login.token.len(), 67);
    assert!(login.token.starts_with("hs_"));
    assert!(login.expires_at > 1_700_000_000_000);

    let response = app.get_agreements(Some(&login.token)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let list: Vec<AgreementView> = response.json().await.unwrap();
    assert!(list.is_empty());
}

#[tokio::test]
async fn a_wrong_password_is_refused() {
    let app = spawn_app().await;
    let response = app.login(ADMIN_EMAIL, "not-the-password").await;
    expect_error(response, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn an_unknown_email_is_refused_like_a_wrong_password() {
    let app = spawn_app().await;
    let response = app.login("nobody@riverside.example", ADMIN_PASSWORD).await;
    expect_error(response, 401, "invalid_credentials").await;
}
