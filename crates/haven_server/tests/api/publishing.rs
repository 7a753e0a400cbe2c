use crate::helpers::{expect_error, spawn_app, STAFF_AUA_VERSION_ID};
use crate::library_client::{next_version_of, publish_request};
use haven_core::policy::{
    PolicyKind, PolicyOwner, PolicySummary, PolicyVersion, MAX_CHANGE_SUMMARY_CHARS,
};
use uuid::Uuid;

#[tokio::test]
async fn publishing_requires_an_admin_token() {
    let app = spawn_app().await;
    let request = publish_request("Staff AUA", "Be kind online.");
    expect_error(app.post_policy(None, &request).await, 401, "unauthorized").await;
    let made_up = "ab".repeat(32);
    expect_error(
        app.post_policy(Some(&made_up), &request).await,
        401,
        "unauthorized",
    )
    .await;
    let list: Vec<PolicySummary> = app.get("/api/v1/policies").await.json().await.unwrap();
    assert!(
        list.iter().all(|p| p.title != "Staff AUA"),
        "nothing was published"
    );
}

#[tokio::test]
async fn publishing_a_new_version_never_alters_the_earlier_one() {
    let app = spawn_app().await;
    let v1 = app.policy(STAFF_AUA_VERSION_ID).await;

    let v2 = app
        .publish(&next_version_of(
            &v1,
            "## 1. New rules\n\nLock your screen.\n",
        ))
        .await;

    assert_eq!(v2.policy_id, v1.policy_id);
    assert_eq!(v2.version, 2);
    assert_ne!(v2.id, v1.id);
    assert_eq!(v2.id.get_version_num(), 7, "server-made UUID v7");
    assert!(v2.hash_is_consistent());
    assert_ne!(v2.text_sha256, v1.text_sha256);
    let v1_again = app.policy(STAFF_AUA_VERSION_ID).await;
    assert_eq!(v1_again, v1, "version 1 is exactly as it was");
    assert!(v1_again.hash_is_consistent());

    let latest: Vec<PolicySummary> = app.get("/api/v1/policies").await.json().await.unwrap();
    let staff = latest.iter().find(|p| p.policy_id == v1.policy_id).unwrap();
    assert_eq!(staff.id, v2.id, "the list shows the latest version");

    let response = app
        .get(&format!("/api/v1/policies/{}/versions", v1.policy_id))
        .await;
    assert_eq!(response.status(), 200);
    let versions: Vec<PolicySummary> = response.json().await.unwrap();
    let numbers: Vec<u32> = versions.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [1, 2]);
    assert_eq!(versions[0], PolicySummary::from(&v1));
    assert_eq!(versions[1], PolicySummary::from(&v2));
}

#[tokio::test]
async fn each_publish_adds_one_to_the_version_number() {
    let app = spawn_app().await;
    let v1 = app.policy(STAFF_AUA_VERSION_ID).await;
    let v2 = app.publish(&next_version_of(&v1, "Second.")).await;
    let v3 = app.publish(&next_version_of(&v2, "Third.")).await;
    assert_eq!((v2.version, v3.version), (2, 3));
    assert_eq!(app.policy(v2.id).await, v2);
}

#[tokio::test]
async fn a_new_policy_starts_at_version_1_with_ids_made_by_the_server() {
    let app = spawn_app().await;
    let request = publish_request(
        "Governor Acceptable Use Agreement",
        "# Rules\n\nBe careful.\n",
    );

    let v = app.publish(&request).await;

    assert_eq!(v.version, 1);
    assert_eq!(v.policy_id.get_version_num(), 7);
    assert_eq!(v.id.get_version_num(), 7);
    assert_ne!(v.id, v.policy_id);
    assert!(v.hash_is_consistent());
    assert_eq!(v.title, request.title);
    assert_eq!(v.audiences, request.audiences);
    assert_eq!(v.last_reviewed, "2026-07-14");
    assert!(v.published_at > 1_700_000_000_000);
    assert_eq!(app.policy(v.id).await, v);
}

#[tokio::test]
async fn sending_the_same_publish_twice_makes_one_version() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let mut request = publish_request("Trip Agreement", "Stay with your group.");
    request.policy_id = Some(Uuid::now_v7());

    let first = app.post_policy(Some(&token), &request).await;
    assert_eq!(first.status(), 201);
    let first: PolicyVersion = first.json().await.unwrap();
    assert_eq!(
        first.policy_id,
        request.policy_id.unwrap(),
        "the client's policy id is kept"
    );

    let again = app.post_policy(Some(&token), &request).await;
    assert_eq!(
        again.status(),
        200,
        "a retry is answered, not published again"
    );
    let again: PolicyVersion = again.json().await.unwrap();
    assert_eq!(again, first);
    let versions: Vec<PolicySummary> = app
        .get(&format!("/api/v1/policies/{}/versions", first.policy_id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(versions.len(), 1);
}

#[tokio::test]
async fn an_invalid_publish_request_is_a_400_that_names_the_field() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let mut r = publish_request("  ", "Body.");
    let e = expect_error(
        app.post_policy(Some(&token), &r).await,
        400,
        "invalid_policy",
    )
    .await;
    assert!(e.message.starts_with("title:"), "{}", e.message);

    r = publish_request("T", "Body.");
    r.next_review_due = "31/07/2027".into();
    let e = expect_error(
        app.post_policy(Some(&token), &r).await,
        400,
        "invalid_policy",
    )
    .await;
    assert!(
        e.message.contains("next_review_due") && e.message.contains("YYYY-MM-DD"),
        "{}",
        e.message
    );

    r = publish_request("T", "Body.");
    r.audiences.clear();
    let e = expect_error(
        app.post_policy(Some(&token), &r).await,
        400,
        "invalid_policy",
    )
    .await;
    assert!(e.message.contains("audiences"), "{}", e.message);

    r = publish_request("T", "");
    let e = expect_error(
        app.post_policy(Some(&token), &r).await,
        400,
        "invalid_policy",
    )
    .await;
    assert!(e.message.contains("body_markdown"), "{}", e.message);
}

#[tokio::test]
async fn the_server_computes_the_hash_and_refuses_one_sent_by_the_client() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let mut body = serde_json::to_value(publish_request("T", "Body.")).unwrap();
    body["text_sha256"] = "0".repeat(64).into();
    let e = expect_error(
        app.post_policy(Some(&token), &body).await,
        400,
        "bad_request",
    )
    .await;
    assert!(e.message.contains("text_sha256"), "{}", e.message);

    let mut body = serde_json::to_value(publish_request("T", "Body.")).unwrap();
    body["kind"] = "newsletter".into();
    expect_error(
        app.post_policy(Some(&token), &body).await,
        400,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn a_new_version_cannot_change_the_kind_of_a_policy() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let v1 = app.policy(STAFF_AUA_VERSION_ID).await;
    let mut request = next_version_of(&v1, "Other text.");
    request.kind = PolicyKind::VisitorAua;
    let e = expect_error(
        app.post_policy(Some(&token), &request).await,
        409,
        "kind_mismatch",
    )
    .await;
    assert!(e.message.contains("staff_aua"), "{}", e.message);
}

#[tokio::test]
async fn a_policy_may_belong_to_an_academy_that_exists() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let mut request = publish_request("Oakfield Tablet Rules", "Two hands on the tablet.");
    request.owner = PolicyOwner::Academy {
        academy_id: haven_server::store::demo::OAKFIELD_ID,
    };
    let v = app.publish(&request).await;
    assert_eq!(v.owner, request.owner);

    request.owner = PolicyOwner::Academy {
        academy_id: Uuid::now_v7(),
    };
    let e = expect_error(
        app.post_policy(Some(&token), &request).await,
        400,
        "invalid_policy",
    )
    .await;
    assert!(e.message.contains("owner.academy_id"), "{}", e.message);
}

#[tokio::test]
async fn the_versions_of_an_unknown_policy_are_a_404_and_a_bad_id_a_400() {
    let app = spawn_app().await;
    let id = Uuid::now_v7();
    expect_error(
        app.get(&format!("/api/v1/policies/{id}/versions")).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.get("/api/v1/policies/nope/versions").await,
        400,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn the_database_itself_refuses_to_change_or_delete_a_published_version() {
    let app = spawn_app().await;
    let pool = app.db().await;
    let id = STAFF_AUA_VERSION_ID.to_string();
    let update = sqlx::query("UPDATE policy_versions SET body_markdown = 'changed' WHERE id = $1")
        .bind(&id)
        .execute(&pool)
        .await;
    assert!(update.unwrap_err().to_string().contains("never changes"));
    let delete = sqlx::query("DELETE FROM policy_versions WHERE id = $1")
        .bind(&id)
        .execute(&pool)
        .await;
    assert!(delete.is_err());
    pool.close().await;
    assert!(app.policy(STAFF_AUA_VERSION_ID).await.hash_is_consistent());
}

#[tokio::test]
async fn a_new_version_without_a_summary_of_changes_is_a_400_naming_the_field() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let v1 = app.policy(STAFF_AUA_VERSION_ID).await;
    for summary in [None, Some(String::new()), Some("  \n ".to_owned())] {
        let mut request = next_version_of(&v1, "## 1. New rules\n\nLock your screen.\n");
        request.change_summary = summary;
        let e = expect_error(
            app.post_policy(Some(&token), &request).await,
            400,
            "change_summary_required",
        )
        .await;
        assert!(
            e.message.starts_with("change_summary:") && e.message.contains("since version 1"),
            "{}",
            e.message
        );
    }
    // The field may not be left out of the JSON either.
    let mut body = serde_json::to_value(next_version_of(&v1, "Other.")).unwrap();
    body.as_object_mut().unwrap().remove("change_summary");
    expect_error(
        app.post_policy(Some(&token), &body).await,
        400,
        "change_summary_required",
    )
    .await;
    let versions: Vec<PolicySummary> = app
        .get(&format!("/api/v1/policies/{}/versions", v1.policy_id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(versions.len(), 1, "nothing was published");

    // Too long is refused as any other bad field.
    let mut request = next_version_of(&v1, "Other.");
    request.change_summary = Some("x".repeat(MAX_CHANGE_SUMMARY_CHARS + 1));
    let e = expect_error(
        app.post_policy(Some(&token), &request).await,
        400,
        "invalid_policy",
    )
    .await;
    assert!(e.message.starts_with("change_summary:"), "{}", e.message);
}

#[tokio::test]
async fn the_summary_of_changes_is_stored_with_the_version_served_and_pulled() {
    let app = spawn_app().await;
    let v1 = app.policy(STAFF_AUA_VERSION_ID).await;
    assert_eq!(v1.change_summary, None);
    let cursor = app.pull(0).await.cursor;

    let mut request = next_version_of(&v1, "## 1. New rules\n\nLock your screen.\n");
    request.change_summary =
        Some("  Section 1 now asks you to lock your screen.\nSection 2 is gone.\n".into());
    let v2 = app.publish(&request).await;
    let kept = "Section 1 now asks you to lock your screen.\nSection 2 is gone.";
    assert_eq!(v2.change_summary.as_deref(), Some(kept), "trimmed");

    let served = app.get(&format!("/api/v1/policies/{}", v2.id)).await;
    let served: serde_json::Value = served.json().await.unwrap();
    assert_eq!(served["change_summary"], kept);
    assert_eq!(app.policy(v2.id).await, v2);

    let pulled = app.pull(cursor.0).await;
    let pulled = pulled.policies.iter().find(|p| p.id == v2.id).unwrap();
    assert_eq!(pulled.change_summary.as_deref(), Some(kept));

    // A first version has none, and says nothing of it on the wire.
    let first = app.get(&format!("/api/v1/policies/{}", v1.id)).await;
    let first: serde_json::Value = first.json().await.unwrap();
    assert!(first.get("change_summary").is_none(), "{first}");

    // Sending the same request again is a retry, not a third version.
    let token = app.admin_token().await;
    let again = app.post_policy(Some(&token), &request).await;
    assert_eq!(again.status(), 200);
}

#[tokio::test]
async fn a_first_version_may_come_with_or_without_a_summary() {
    let app = spawn_app().await;
    let plain = app
        .publish(&publish_request("Trip Agreement", "Stay with your group."))
        .await;
    assert_eq!(plain.change_summary, None);
    let mut request = publish_request("Club Agreement", "Be on time.");
    request.change_summary = Some("Replaces the paper form.".into());
    let with = app.publish(&request).await;
    assert_eq!(
        with.change_summary.as_deref(),
        Some("Replaces the paper form.")
    );
}
