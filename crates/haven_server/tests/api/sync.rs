use crate::helpers::{
    expect_error, spawn_app, Device, ONLINE_SAFETY_VERSION_ID, STAFF_AUA_VERSION_ID,
    VISITOR_AUA_VERSION_ID,
};
use haven_core::hash::Sha256Hex;
use haven_core::sync::wire::{MutationResult, Outcome, PushResponse, MAX_BATCH};
use std::io::Write;

fn rejected_code(result: &MutationResult) -> &str {
    match &result.outcome {
        Outcome::Rejected { code, .. } => code,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_signature_is_applied_and_listed_for_admins() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let record = device.sign(&version, "Ada Lovelace");

    let response = app.push(&device.push(&[(1, &record)])).await;

    assert_eq!(response.last_mutation_id, 1);
    assert_eq!(response.results.len(), 1);
    assert_eq!(response.results[0].id, 1);
    assert_eq!(response.results[0].outcome, Outcome::Applied);
    let stored = app.agreements().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].record, record);
    assert!(stored[0].received_at > 1_700_000_000_000);
}

#[tokio::test]
async fn the_same_batch_pushed_twice_stores_one_agreement() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(VISITOR_AUA_VERSION_ID).await;
    let a = device.sign(&version, "Ada Lovelace");
    let b = device.sign(&version, "Alan Turing");
    let batch = device.push(&[(1, &a), (2, &b)]);

    let first = app.push(&batch).await;
    // The response was lost on the way back, so the device sends it all again.
    let second = app.push(&batch).await;

    assert!(first.results.iter().all(|r| r.outcome == Outcome::Applied));
    assert_eq!(second.last_mutation_id, 2);
    assert!(second
        .results
        .iter()
        .all(|r| r.outcome == Outcome::Duplicate));
    assert_eq!(app.agreements().await.len(), 2);
}

#[tokio::test]
async fn a_replayed_record_under_a_new_mutation_id_is_a_duplicate_not_a_second_row() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let record = device.sign(&version, "Ada Lovelace");

    app.push(&device.push(&[(1, &record)])).await;
    // A device that lost its outbox numbering queues the same record again.
    let replay = app.push(&device.push(&[(2, &record)])).await;

    assert_eq!(replay.last_mutation_id, 2);
    assert_eq!(replay.results[0].outcome, Outcome::Duplicate);
    assert_eq!(app.agreements().await.len(), 1);
}

#[tokio::test]
async fn a_mutation_already_processed_in_an_earlier_push_is_a_duplicate() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let a = device.sign(&version, "Ada Lovelace");
    let b = device.sign(&version, "Alan Turing");

    app.push(&device.push(&[(1, &a)])).await;
    let response = app.push(&device.push(&[(1, &a), (2, &b)])).await;

    assert_eq!(response.results[0].outcome, Outcome::Duplicate);
    assert_eq!(response.results[1].outcome, Outcome::Applied);
    assert_eq!(response.last_mutation_id, 2);
    assert_eq!(app.agreements().await.len(), 2);
}

#[tokio::test]
async fn an_unknown_policy_version_is_rejected_and_the_queue_moves_on() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let orphan = device.sign_unknown();
    let good = device.sign(&version, "Ada Lovelace");

    let response = app.push(&device.push(&[(1, &orphan), (2, &good)])).await;

    assert_eq!(response.last_mutation_id, 2);
    assert_eq!(
        rejected_code(&response.results[0]),
        "unknown_policy_version"
    );
    let Outcome::Rejected { reason, .. } = &response.results[0].outcome else {
        unreachable!()
    };
    assert_eq!(
        reason,
        &format!(
            "policy version {} does not exist on the server",
            orphan.policy_version_id
        )
    );
    assert_eq!(response.results[1].outcome, Outcome::Applied);
    let stored = app.agreements().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].record.id, good.id);

    // Pushed again, the rejected mutation is answered from the stored refusal.
    let again = app.push(&device.push(&[(1, &orphan)])).await;
    assert_eq!(again.results[0].outcome, response.results[0].outcome);
    assert_eq!(app.agreements().await.len(), 1);
}

#[tokio::test]
async fn a_signature_of_different_text_is_rejected_as_a_text_mismatch() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(VISITOR_AUA_VERSION_ID).await;
    let mut record = device.sign(&version, "Ada Lovelace");
    record.policy_text_sha256 = Sha256Hex::of(b"an older text of the visitor agreement");

    let response = app.push(&device.push(&[(1, &record)])).await;

    assert_eq!(response.last_mutation_id, 1);
    assert_eq!(rejected_code(&response.results[0]), "text_mismatch");
    let Outcome::Rejected { reason, .. } = &response.results[0].outcome else {
        unreachable!()
    };
    assert!(reason.contains(version.text_sha256.as_str()), "{reason}");
    assert!(app.agreements().await.is_empty());
}

#[tokio::test]
async fn a_signature_recorded_on_another_device_is_rejected() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let other = Device::fresh();
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let record = other.sign(&version, "Ada Lovelace");

    let response = app.push(&device.push(&[(1, &record)])).await;

    assert_eq!(rejected_code(&response.results[0]), "device_mismatch");
    assert!(app.agreements().await.is_empty());
}

#[tokio::test]
async fn an_invalid_signature_is_rejected_with_the_reason() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let record = device.sign(&version, "   ");

    let response = app.push(&device.push(&[(1, &record)])).await;

    assert_eq!(rejected_code(&response.results[0]), "invalid_agreement");
    assert_eq!(response.last_mutation_id, 1);
}

#[tokio::test]
async fn the_e_safety_policy_is_read_not_signed() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(ONLINE_SAFETY_VERSION_ID).await;
    let record = device.sign(&version, "Ada Lovelace");

    let response = app.push(&device.push(&[(1, &record)])).await;

    assert_eq!(rejected_code(&response.results[0]), "not_signable");
}

#[tokio::test]
async fn devices_are_numbered_independently() {
    let app = spawn_app().await;
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let tablet = Device::fresh();
    let phone = Device::fresh();

    let a = app
        .push(&tablet.push(&[(1, &tablet.sign(&version, "A"))]))
        .await;
    let b = app
        .push(&phone.push(&[(1, &phone.sign(&version, "B"))]))
        .await;

    assert_eq!(a.results[0].outcome, Outcome::Applied);
    assert_eq!(b.results[0].outcome, Outcome::Applied);
    assert_eq!(app.agreements().await.len(), 2);
}

#[tokio::test]
async fn an_empty_push_reports_the_last_processed_mutation() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(STAFF_AUA_VERSION_ID).await;

    assert_eq!(app.push(&device.push(&[])).await.last_mutation_id, 0);
    app.push(&device.push(&[(1, &device.sign(&version, "A"))]))
        .await;
    assert_eq!(app.push(&device.push(&[])).await.last_mutation_id, 1);
}

#[tokio::test]
async fn malformed_json_is_a_400_with_a_clear_message() {
    let app = spawn_app().await;
    let response = app
        .post_raw("/api/v1/sync/push", "application/json", r#"{"device_id": "#)
        .await;
    let error = expect_error(response, 400, "bad_request").await;
    assert!(error.message.contains("EOF"), "{}", error.message);
}

#[tokio::test]
async fn a_wrongly_typed_field_is_a_400_naming_the_field() {
    let app = spawn_app().await;
    let body = r#"{"device_id": "0190c5e0-0000-7000-8000-000000000003", "mutations": 5}"#;
    let response = app
        .post_raw("/api/v1/sync/push", "application/json", body)
        .await;
    let error = expect_error(response, 400, "bad_request").await;
    assert!(error.message.contains("mutations"), "{}", error.message);
}

#[tokio::test]
async fn an_unknown_field_in_a_record_refuses_that_record_naming_the_field() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let mut body = serde_json::to_value(device.push(&[(1, &device.sign(&version, "A"))])).unwrap();
    body["mutations"][0]["change"]["record"]["sneaky"] = serde_json::json!(true);

    let response = app
        .post_raw("/api/v1/sync/push", "application/json", &body.to_string())
        .await;

    assert_eq!(response.status(), 200);
    let reply: haven_core::sync::wire::PushResponse = response.json().await.unwrap();
    let Outcome::Rejected { code, reason } = &reply.results[0].outcome else {
        panic!("expected a refusal, got {:?}", reply.results[0].outcome)
    };
    assert_eq!(code, "unreadable_change");
    assert!(reason.contains("unknown field `sneaky`"), "{reason}");
    assert!(app.agreements().await.is_empty());
}

#[tokio::test]
async fn an_unknown_field_in_the_envelope_or_a_change_that_is_not_an_object_is_a_400() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let mut body = serde_json::to_value(device.push(&[])).unwrap();
    body["sneaky"] = serde_json::json!(true);
    let response = app
        .post_raw("/api/v1/sync/push", "application/json", &body.to_string())
        .await;
    let error = expect_error(response, 400, "bad_request").await;
    assert!(
        error.message.contains("unknown field `sneaky`"),
        "{}",
        error.message
    );

    body = serde_json::to_value(device.push(&[])).unwrap();
    body["mutations"] = serde_json::json!([{"id": 1, "change": 5}]);
    let response = app
        .post_raw("/api/v1/sync/push", "application/json", &body.to_string())
        .await;
    let error = expect_error(response, 400, "bad_request").await;
    assert!(
        error.message.contains("mutations[0].change"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn a_body_that_is_not_declared_as_json_is_a_415() {
    let app = spawn_app().await;
    let response = app.post_raw("/api/v1/sync/push", "text/plain", "{}").await;
    expect_error(response, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn a_batch_over_the_limit_is_refused_whole() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let records: Vec<_> = (0..=MAX_BATCH)
        .map(|i| device.sign(&version, &format!("Signer {i}")))
        .collect();
    let numbered: Vec<_> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (i as u64 + 1, r))
        .collect();

    let response = app.post_push(&device.push(&numbered)).await;

    expect_error(response, 400, "batch_too_large").await;
    assert!(app.agreements().await.is_empty());
}

#[tokio::test]
async fn mutations_out_of_order_are_refused_whole() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let a = device.sign(&version, "A");
    let b = device.sign(&version, "B");

    let response = app.post_push(&device.push(&[(2, &a), (1, &b)])).await;

    expect_error(response, 400, "mutations_out_of_order").await;
    assert!(app.agreements().await.is_empty());
    assert_eq!(app.push(&device.push(&[])).await.last_mutation_id, 0);
}

#[tokio::test]
async fn a_gzip_compressed_push_is_accepted() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let record = device.sign(&version, "Ada Lovelace");
    let json = serde_json::to_vec(&device.push(&[(1, &record)])).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&json).unwrap();
    let gzipped = encoder.finish().unwrap();

    let token = app.push_token().await.to_owned();
    let response = app
        .client
        .post(app.url("/api/v1/sync/push"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gzipped)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let body: PushResponse = response.json().await.unwrap();
    assert_eq!(body.results[0].outcome, Outcome::Applied);
    assert_eq!(app.agreements().await.len(), 1);
}

#[tokio::test]
async fn a_body_in_an_unknown_encoding_is_refused_with_an_api_error() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/sync/push"))
        .header("content-type", "application/json")
        .header("content-encoding", "zstd-from-the-future")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("accept-encoding"));
    assert_eq!(response.headers()["cache-control"], "no-store");
    let error = expect_error(response, 415, "unsupported_media_type").await;
    assert!(error.message.contains("gzip"), "{}", error.message);
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_accepts_it() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url(&format!("/api/v1/policies/{ONLINE_SAFETY_VERSION_ID}")))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn the_same_batch_pushed_twice_at_once_stores_one_agreement() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let batch = device.push(&[(1, &device.sign(&version, "Ada Lovelace"))]);

    // Two tabs, or a retry racing a slow first attempt.
    let (a, b) = tokio::join!(app.push(&batch), app.push(&batch));

    let mut outcomes = [a.results[0].outcome.clone(), b.results[0].outcome.clone()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [Outcome::Applied, Outcome::Duplicate]);
    assert_eq!(app.agreements().await.len(), 1);
}

#[tokio::test]
async fn the_backlog_a_device_reports_is_kept_for_admins() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(VISITOR_AUA_VERSION_ID).await;
    let first = device.sign(&version, "Ada Lovelace");
    let second = device.sign(&version, "Alan Turing");
    let mut request = device.push(&[(1, &first), (2, &second)]);
    // 250 waiting on the device, 2 of them in this push.
    request.backlog = 250;

    app.push(&request).await;

    let pool = app.db().await;
    let backlog: i64 =
        sqlx::query_scalar("SELECT reported_backlog FROM devices WHERE device_id = $1")
            .bind(device.id.to_string())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(backlog, 248);
}

#[tokio::test]
async fn a_replayed_rejection_is_answered_with_the_same_rejection_not_as_a_duplicate() {
    // If the reply carrying a rejection is lost, the device sends the mutation
    // again; answering "duplicate" would make it drop a record the server never stored.
    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(VISITOR_AUA_VERSION_ID).await;
    let mut forged = device.sign(&version, "Mallory");
    forged.policy_text_sha256 = Sha256Hex::of(b"text nobody published");
    let request = device.push(&[(1, &forged)]);

    let first = app.push(&request).await;
    let replay = app.push(&request).await;

    assert_eq!(rejected_code(&first.results[0]), "text_mismatch");
    assert_eq!(replay.results[0].outcome, first.results[0].outcome);
    assert_eq!(replay.last_mutation_id, 1);
    assert!(app.agreements().await.is_empty());
}
