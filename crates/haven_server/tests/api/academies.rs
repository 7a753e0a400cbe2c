use crate::helpers::{expect_error, spawn_app};
use haven_core::org::{Academy, AcademyInput, Trust};
use haven_server::store::demo;
use uuid::Uuid;

#[tokio::test]
async fn the_demo_academies_name_their_key_personnel() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/academies").await;
    assert_eq!(response.status(), 200);
    let list: Vec<Academy> = response.json().await.unwrap();
    assert_eq!(list.len(), 2);
    let hilltop = list.iter().find(|a| a.id == demo::HILLTOP_ID).unwrap();
    assert_eq!(hilltop.name, "Hilltop Secondary Academy");
    assert!(hilltop.key_personnel.dsl.email.ends_with("example.org"));
    let oakfield = list.iter().find(|a| a.id == demo::OAKFIELD_ID).unwrap();
    assert_eq!(
        oakfield.key_personnel.esafety_lead, hilltop.key_personnel.esafety_lead,
        "one online safety lead serves both academies"
    );
}

#[tokio::test]
async fn the_trust_names_its_chief_executive_and_chair() {
    let app = spawn_app().await;
    let trust: Trust = app.get("/api/v1/trust").await.json().await.unwrap();
    assert_eq!(trust.id, demo::TRUST_ID);
    assert_eq!(trust.name, "Riverside Learning Trust");
    assert!(!trust.chief_executive.name.is_empty());
    assert!(!trust.chair_of_trustees.name.is_empty());
}

#[tokio::test]
async fn adding_an_academy_requires_an_admin_and_a_valid_body() {
    let app = spawn_app().await;
    let id = Uuid::now_v7();
    let (_, mut input) = demo::academies().into_iter().next().unwrap();
    input.name = "Meadow Infant Academy".into();
    expect_error(app.put_academy(None, id, &input).await, 401, "unauthorized").await;

    let token = app.admin_token().await;
    let mut bad: AcademyInput = input.clone();
    bad.key_personnel.dsl.email = "dsl at meadow".into();
    let e = expect_error(
        app.put_academy(Some(&token), id, &bad).await,
        400,
        "invalid_academy",
    )
    .await;
    assert!(
        e.message.starts_with("key_personnel.dsl.email"),
        "{}",
        e.message
    );

    let response = app.put_academy(Some(&token), id, &input).await;
    assert_eq!(response.status(), 201);
    let list: Vec<Academy> = app.get("/api/v1/academies").await.json().await.unwrap();
    assert_eq!(list.len(), 3);
    expect_error(
        app.put_academy(Some(&token), Uuid::nil(), &serde_json::json!({"name": "X"}))
            .await,
        400,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn editing_the_trust_requires_an_admin_and_is_pulled_as_a_change() {
    let app = spawn_app().await;
    let before = app.pull(0).await.cursor;
    let mut input = demo::trust();
    input.chair_of_trustees.name = "Ms Lena Fischer".into();
    let response = app
        .send_json(reqwest::Method::PUT, "/api/v1/trust", None, &input)
        .await;
    expect_error(response, 401, "unauthorized").await;

    let token = app.admin_token().await;
    let mut bad = input.clone();
    bad.chief_executive.phone = Some("ring the office".into());
    let response = app
        .send_json(reqwest::Method::PUT, "/api/v1/trust", Some(&token), &bad)
        .await;
    let e = expect_error(response, 400, "invalid_trust").await;
    assert!(
        e.message.starts_with("chief_executive.phone"),
        "{}",
        e.message
    );

    let response = app
        .send_json(reqwest::Method::PUT, "/api/v1/trust", Some(&token), &input)
        .await;
    assert_eq!(response.status(), 200);
    let changes = app.pull(before.0).await;
    let trust = changes.trust.unwrap();
    assert_eq!(trust.id, demo::TRUST_ID, "the trust keeps its id");
    assert_eq!(trust.chair_of_trustees.name, "Ms Lena Fischer");
    assert!(changes.policies.is_empty() && changes.academies.is_empty());
}
