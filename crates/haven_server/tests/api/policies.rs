use crate::helpers::{expect_error, spawn_app, ONLINE_SAFETY_VERSION_ID};
use haven_core::policy::{PolicyKind, PolicySummary};
use uuid::Uuid;

#[tokio::test]
async fn the_policy_list_shows_the_demo_policies_by_title_with_consistent_hashes() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/policies").await;
    assert_eq!(response.status(), 200);
    let list: Vec<PolicySummary> = response.json().await.unwrap();

    let titles: Vec<&str> = list.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Bring Your Own Device Authorisation",
            "Community User Acceptable Use Agreement",
            "Online Safety Policy",
            "Parent and Carer Acceptable Use Agreement",
            "Photo and Video Consent",
            "Pupil Acceptable Use Agreement",
            "Staff Acceptable Use Agreement",
            "Visitor Acceptable Use Agreement",
        ]
    );
    let kinds: Vec<PolicyKind> = list.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [
            PolicyKind::ByodAuthorisation,
            PolicyKind::CommunityAua,
            PolicyKind::EsafetyPolicy,
            PolicyKind::ParentAua,
            PolicyKind::PhotoConsent,
            PolicyKind::PupilAua,
            PolicyKind::StaffAua,
            PolicyKind::VisitorAua,
        ]
    );
    for summary in &list {
        let version = app.policy(summary.id).await;
        assert!(version.hash_is_consistent(), "{}", version.title);
        assert_eq!(version.text_sha256, summary.text_sha256);
        assert_eq!(PolicySummary::from(&version), *summary);
    }
}

#[tokio::test]
async fn a_policy_version_has_its_full_markdown_body() {
    let app = spawn_app().await;
    let version = app.policy(ONLINE_SAFETY_VERSION_ID).await;
    assert!(version.body_markdown.contains("## 5. Reporting routes"));
    assert!(version.body_markdown.contains("| Immediately |"));
    assert!(version.body_markdown.len() >= 30_000);
}

#[tokio::test]
async fn an_unknown_policy_version_is_a_json_404() {
    let app = spawn_app().await;
    let id = Uuid::now_v7();
    let response = app.get(&format!("/api/v1/policies/{id}")).await;
    let error = expect_error(response, 404, "not_found").await;
    assert!(error.message.contains(&id.to_string()), "{}", error.message);
}

#[tokio::test]
async fn a_policy_version_id_that_is_not_a_uuid_is_a_400() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/policies/not-a-uuid").await;
    let error = expect_error(response, 400, "bad_request").await;
    assert!(error.message.contains("UUID"), "{}", error.message);
}

#[tokio::test]
async fn unknown_api_paths_and_methods_are_json_errors() {
    let app = spawn_app().await;
    expect_error(app.get("/api/v1/nothing-here").await, 404, "not_found").await;
    expect_error(app.get("/api/v2/policies").await, 404, "not_found").await;
    expect_error(
        app.get("/api/v1/sync/push").await,
        405,
        "method_not_allowed",
    )
    .await;
}
