//! A device id belongs to one device; no caller can make another's records
//! vanish, fill the disk, or sign for a teacher with a kiosk's token alone.

use crate::helpers::{
    device_secret, expect_error, incident_push, incident_record, online_key, prove, spawn_app,
    Device, TestApp, TEACHER_EMAIL, TEACHER_ID,
};
use crate::visits::{kiosk, parent, session};
use haven_core::agreement::AgreementRecord;
use haven_core::incident::SealedIncident;
use haven_core::rules::Involved;
use haven_core::sync::wire::{Change, Mutation, Outcome, PushRequest, PushResponse};
use haven_server::store::demo::{OAKFIELD_ID, STAFF_AUA_VERSION_ID};
use haven_server::store::push::{MAX_NEW_DEVICES_PER_WINDOW, MAX_REFUSALS_PER_WINDOW};
use uuid::Uuid;

/// A push of agreements numbered from `first`, as the browser with this
/// device id and `secret` sends it.
fn agreements(device: Uuid, secret: &str, first: u64, records: &[AgreementRecord]) -> PushRequest {
    PushRequest {
        device_id: device,
        device_secret: Some(secret.to_owned()),
        mutations: records
            .iter()
            .enumerate()
            .map(|(i, r)| Mutation::new(first + i as u64, Change::CreateAgreement(r.clone())))
            .collect(),
        backlog: records.len() as u64,
    }
}

async fn post(app: &TestApp, token: &str, request: &PushRequest) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/sync/push"))
        .bearer_auth(token)
        .json(request)
        .send()
        .await
        .unwrap()
}

async fn ok(app: &TestApp, token: &str, request: &PushRequest) -> PushResponse {
    let response = post(app, token, request).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let pool = crate::authorization::open_db(app).await;
    sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
}

async fn last_processed(app: &TestApp, device: Uuid) -> Option<i64> {
    let pool = crate::authorization::open_db(app).await;
    sqlx::query_scalar("SELECT last_mutation_id FROM devices WHERE device_id = $1")
        .bind(device.to_string())
        .fetch_optional(&pool)
        .await
        .unwrap()
}

fn codes(reply: &PushResponse) -> Vec<String> {
    reply
        .results
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Rejected { code, .. } => code.clone(),
            Outcome::Applied => "applied".into(),
            Outcome::Duplicate => "duplicate".into(),
        })
        .collect()
}

#[tokio::test]
async fn a_push_under_another_browsers_device_id_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let admin = app.admin_token().await;
    let carer = parent(&app, &admin).await;
    let phone = Device::fresh();
    let secret = device_secret(phone.id);
    ok(&app, &carer.token, &agreements(phone.id, &secret, 1, &[])).await;

    // A hostile member of staff who learnt the phone's id pushes under it,
    // with their own session and their own secret.
    let hostile = session(&app, TEACHER_EMAIL).await;
    let stolen = agreements(
        phone.id,
        &device_secret(Uuid::now_v7()),
        1,
        &[phone.sign(&version, "Forged")],
    );
    let response = post(&app, &hostile, &stolen).await;
    let error = expect_error(response, 403, "device_not_yours").await;
    assert!(
        error.message.contains("take a new device id"),
        "{}",
        error.message
    );
    // With no secret at all: refused too, as a malformed push.
    let mut bare = stolen.clone();
    bare.device_secret = None;
    expect_error(post(&app, &hostile, &bare).await, 400, "bad_request").await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM agreements").await, 0);
    assert_eq!(last_processed(&app, phone.id).await, Some(0));
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM processed_mutations").await,
        0
    );
}

#[tokio::test]
async fn nobody_but_the_kiosk_pushes_under_the_kiosks_id_even_before_its_first_push() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let desk = kiosk(&app, &admin, OAKFIELD_ID, "Front desk").await;
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let hostile = session(&app, TEACHER_EMAIL).await;
    let as_desk = Device { id: desk.id };

    // The 2^63-1 jump that used to make every later push of the kiosk a
    // "duplicate": refused under the kiosk's id, by anyone.
    let mut jump = agreements(
        desk.id,
        &device_secret(desk.id),
        1,
        &[as_desk.sign(&version, "X")],
    );
    jump.mutations[0].id = i64::MAX as u64;
    expect_error(post(&app, &hostile, &jump).await, 403, "device_not_yours").await;
    // Even the kiosk itself may not jump.
    let response = post(&app, &desk.token, &jump).await;
    let error = expect_error(response, 409, "mutation_gap").await;
    assert!(
        error.message.contains("up to number 0"),
        "{}",
        error.message
    );
    assert_eq!(last_processed(&app, desk.id).await, None);

    // The kiosk's real changes still arrive, numbered from 1.
    let visitor = as_desk.sign(&version, "Visitor");
    let reply = ok(
        &app,
        &desk.token,
        &agreements(desk.id, "", 1, &[visitor]).without_secret(),
    )
    .await;
    assert_eq!(codes(&reply), ["applied"]);
}

#[tokio::test]
async fn a_gap_in_the_numbering_is_refused_whole() {
    let app = spawn_app().await;
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let token = session(&app, TEACHER_EMAIL).await;
    let laptop = Device::fresh();
    let secret = device_secret(laptop.id);
    let a = laptop.sign(&version, "A");
    ok(
        &app,
        &token,
        &agreements(laptop.id, &secret, 1, std::slice::from_ref(&a)),
    )
    .await;
    let b = laptop.sign(&version, "B");
    let response = post(
        &app,
        &token,
        &agreements(laptop.id, &secret, 3, std::slice::from_ref(&b)),
    )
    .await;
    expect_error(response, 409, "mutation_gap").await;
    // Within a push, too.
    let mut holed = agreements(
        laptop.id,
        &secret,
        2,
        &[b.clone(), laptop.sign(&version, "C")],
    );
    holed.mutations[1].id = 4;
    expect_error(
        post(&app, &token, &holed).await,
        400,
        "mutations_out_of_order",
    )
    .await;
    assert_eq!(last_processed(&app, laptop.id).await, Some(1));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM agreements").await, 1);
    // A replay of 1 with the next one is fine: a lost reply.
    let reply = ok(&app, &token, &agreements(laptop.id, &secret, 1, &[a, b])).await;
    assert_eq!(codes(&reply), ["duplicate", "applied"]);
}

/// A tablet image cloned onto two tablets: same id, same secret, different
/// records under the same numbers. The second is detected, not merged, and
/// recovers under a new id with nothing lost and nothing twice.
#[tokio::test]
async fn a_cloned_device_is_detected_and_recovers_under_a_new_id() {
    let app = spawn_app().await;
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let token = session(&app, TEACHER_EMAIL).await;
    let image = Device::fresh();
    let secret = device_secret(image.id);
    let before_cloning = image.sign(&version, "Signed before the image was taken");
    ok(
        &app,
        &token,
        &agreements(image.id, &secret, 1, std::slice::from_ref(&before_cloning)),
    )
    .await;

    let first = image.sign(&version, "On the first tablet");
    let second = image.sign(&version, "On the second tablet");
    let reply = ok(
        &app,
        &token,
        &agreements(image.id, &secret, 2, std::slice::from_ref(&first)),
    )
    .await;
    assert_eq!(codes(&reply), ["applied"]);

    let clash = post(
        &app,
        &token,
        &agreements(image.id, &secret, 2, std::slice::from_ref(&second)),
    )
    .await;
    let error = expect_error(clash, 409, "device_conflict").await;
    assert!(
        error.message.contains("another device"),
        "{}",
        error.message
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM agreements").await, 2);

    // The second tablet takes a new id and sends everything it holds again,
    // records still naming the id they were made under.
    let renamed = Uuid::now_v7();
    let reply = ok(
        &app,
        &token,
        &agreements(renamed, &secret, 1, &[before_cloning, second.clone()]),
    )
    .await;
    assert_eq!(codes(&reply), ["duplicate", "applied"]);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM agreements").await, 3);
    // Under its new id, a browser with another secret may not send records
    // made under the image's id.
    let stranger = Uuid::now_v7();
    let reply = ok(
        &app,
        &token,
        &agreements(
            stranger,
            &device_secret(stranger),
            1,
            &[image.sign(&version, "Forged")],
        ),
    )
    .await;
    assert_eq!(codes(&reply), ["device_mismatch"]);
}

#[tokio::test]
async fn refusals_are_kept_as_digests_and_bounded_per_credential() {
    let app = spawn_app().await;
    let token = session(&app, TEACHER_EMAIL).await;
    let device = Device::fresh();
    let secret = device_secret(device.id);
    // A refused record with a large body keeps only a small row.
    let mut big = device.sign_unknown();
    big.job_title = Some("x".repeat(150));
    let mut refused: Vec<AgreementRecord> = (0..500).map(|_| device.sign_unknown()).collect();
    refused[0] = big;
    ok(&app, &token, &agreements(device.id, &secret, 1, &refused)).await;
    let longest: i64 = count(
        &app,
        "SELECT MAX(length(device_id) + length(change_sha256) + length(code) + length(reason) \
         + length(pushed_by)) FROM processed_mutations",
    )
    .await;
    assert!(longest < 400, "a refusal row is {longest} bytes");

    // Up to the bound, refusals are kept; past it, a push that would keep
    // more is refused whole and keeps nothing.
    let mut next = 501;
    while count(
        &app,
        "SELECT COUNT(*) FROM processed_mutations WHERE code IS NOT NULL",
    )
    .await
        <= MAX_REFUSALS_PER_WINDOW
    {
        let batch: Vec<_> = (0..500).map(|_| device.sign_unknown()).collect();
        let response = post(&app, &token, &agreements(device.id, &secret, next, &batch)).await;
        if response.status() == 429 {
            break;
        }
        assert_eq!(response.status(), 200);
        next += 500;
    }
    let kept = count(&app, "SELECT COUNT(*) FROM processed_mutations").await;
    let response = post(
        &app,
        &token,
        &agreements(device.id, &secret, next, &[device.sign_unknown()]),
    )
    .await;
    expect_error(response, 429, "too_many_attempts").await;
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM processed_mutations").await,
        kept
    );
    assert!(kept <= MAX_REFUSALS_PER_WINDOW + 500);
    // Another credential is not held back by it.
    let other = session(&app, "head@oakfield.example").await;
    let phone = Device::fresh();
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let reply = ok(
        &app,
        &other,
        &agreements(
            phone.id,
            &device_secret(phone.id),
            1,
            &[phone.sign(&version, "Head")],
        ),
    )
    .await;
    assert_eq!(codes(&reply), ["applied"]);
}

#[tokio::test]
async fn one_credential_starts_only_so_many_new_devices_a_day() {
    let app = spawn_app().await;
    let token = session(&app, TEACHER_EMAIL).await;
    for _ in 0..MAX_NEW_DEVICES_PER_WINDOW {
        let id = Uuid::now_v7();
        ok(&app, &token, &agreements(id, &device_secret(id), 1, &[])).await;
    }
    let id = Uuid::now_v7();
    let response = post(&app, &token, &agreements(id, &device_secret(id), 1, &[])).await;
    expect_error(response, 429, "too_many_attempts").await;
    assert_eq!(last_processed(&app, id).await, None);
}

/// The incident key file is made the first time the server opens an
/// incident: while it does not exist, no RSA work has been done.
fn incident_key_made(app: &TestApp) -> bool {
    haven_server::crypto::incident_key::incident_key_path_for(&app.config.key_base().unwrap())
        .exists()
}

/// An incident sealed for a key id the server will never have: opening it
/// would be the expensive step.
fn unopened_incident(device: Uuid) -> SealedIncident {
    let record = incident_record(
        OAKFIELD_ID,
        device,
        TEACHER_ID,
        Involved::PupilInLesson,
        "personal-device",
    );
    SealedIncident {
        id: record.id,
        device_id: device,
        key_id: "k".into(),
        wrapped_key: "AAAA".into(),
        iv: "AAAA".into(),
        ciphertext: "AAAA".into(),
    }
}

#[tokio::test]
async fn a_caller_who_may_not_push_incidents_never_reaches_the_rsa_step() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let carer = parent(&app, &admin).await;
    let desk = kiosk(&app, &admin, OAKFIELD_ID, "Staff room tablet").await;

    let phone = Uuid::now_v7();
    let reply = ok(
        &app,
        &carer.token,
        &incident_push(phone, vec![(1, unopened_incident(phone))]),
    )
    .await;
    assert_eq!(codes(&reply), ["not_allowed"]);
    // A shared device with no proof that a member of staff was unlocked.
    let reply = ok(
        &app,
        &desk.token,
        &incident_push(desk.id, vec![(1, unopened_incident(desk.id))]),
    )
    .await;
    assert_eq!(codes(&reply), ["staff_proof_required"]);
    assert!(
        !incident_key_made(&app),
        "the server opened an incident for a caller it refuses"
    );

    // With the teacher's proof, it gets as far as opening it.
    let mut proven = incident_push(desk.id, vec![(2, unopened_incident(desk.id))]);
    prove(
        &mut proven,
        TEACHER_ID,
        &online_key(&app, TEACHER_EMAIL).await,
    );
    let reply = ok(&app, &desk.token, &proven).await;
    assert_eq!(codes(&reply), ["unknown_key"]);
    assert!(incident_key_made(&app));
}

#[tokio::test]
async fn a_kiosk_cannot_make_a_staff_agreement_without_the_teachers_proof() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let desk = kiosk(&app, &admin, OAKFIELD_ID, "Staff room tablet").await;
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let tablet = Device { id: desk.id };
    let signed_as_teacher = |name: &str| AgreementRecord {
        signer_account: Some(TEACHER_ID),
        ..tablet.sign(&version, name)
    };
    let teacher_key = online_key(&app, TEACHER_EMAIL).await;
    let head_key = online_key(&app, "head@oakfield.example").await;
    let head_id = haven_server::store::demo::DEMO_STAFF[0].0;

    // The token alone.
    let mut bare = agreements(desk.id, "", 1, &[signed_as_teacher("Tom Reilly")]).without_secret();
    let reply = ok(&app, &desk.token, &bare).await;
    assert_eq!(codes(&reply), ["staff_proof_required"]);
    // Another person's proof, or a proof for another record.
    let mut by_head =
        agreements(desk.id, "", 2, &[signed_as_teacher("Tom Reilly")]).without_secret();
    prove(&mut by_head, head_id, &head_key);
    let mut moved = agreements(desk.id, "", 3, &[signed_as_teacher("Tom Reilly")]).without_secret();
    prove(&mut moved, TEACHER_ID, &teacher_key);
    moved.mutations[0].change = Change::CreateAgreement(signed_as_teacher("Tom R."));
    let mut replies = Vec::new();
    for request in [&by_head, &moved] {
        replies.extend(codes(&ok(&app, &desk.token, request).await));
    }
    assert_eq!(replies, ["staff_proof_required", "staff_proof_required"]);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM agreements").await, 0);

    // The teacher, unlocked on the tablet.
    bare = agreements(desk.id, "", 4, &[signed_as_teacher("Tom Reilly")]).without_secret();
    prove(&mut bare, TEACHER_ID, &teacher_key);
    assert_eq!(codes(&ok(&app, &desk.token, &bare).await), ["applied"]);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM agreements").await, 1);
}

#[tokio::test]
async fn each_credential_has_a_bounded_rate_of_pushes() {
    let app = spawn_app().await;
    let token = session(&app, TEACHER_EMAIL).await;
    let laptop = Device::fresh();
    let empty = agreements(laptop.id, &device_secret(laptop.id), 1, &[]);
    let limit = haven_server::store::limiter::PUSHES_PER_CREDENTIAL.failures;
    for _ in 0..limit {
        assert_eq!(post(&app, &token, &empty).await.status(), 200);
    }
    let response = post(&app, &token, &empty).await;
    assert!(response.headers().contains_key("retry-after"));
    expect_error(response, 429, "too_many_attempts").await;
    // Someone else's pushes are not held back.
    let other = session(&app, "head@oakfield.example").await;
    let phone = Device::fresh();
    assert_eq!(
        post(
            &app,
            &other,
            &agreements(phone.id, &device_secret(phone.id), 1, &[])
        )
        .await
        .status(),
        200
    );
}

trait WithoutSecret {
    /// The same push as an enrolled device sends it: no secret.
    fn without_secret(self) -> Self;
}

impl WithoutSecret for PushRequest {
    fn without_secret(mut self) -> Self {
        self.device_secret = None;
        self
    }
}

/// A record the server cannot read (from a newer or broken app) is refused
/// on its own; the records around it are applied, and a replay of it gets
/// the same refusal.
#[tokio::test]
async fn a_record_the_server_cannot_read_is_refused_alone_and_the_rest_go_on() {
    let app = spawn_app().await;
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let token = session(&app, TEACHER_EMAIL).await;
    let laptop = Device::fresh();
    let before = serde_json::to_value(laptop.sign(&version, "Before")).unwrap();
    let after = serde_json::to_value(laptop.sign(&version, "After")).unwrap();
    let body = serde_json::json!({
        "device_id": laptop.id,
        "device_secret": device_secret(laptop.id),
        "mutations": [
            {"id": 1, "change": {"type": "create_agreement", "record": before}},
            {"id": 2, "change": {"type": "create_hologram", "record": {"x": 1}}},
            {"id": 3, "change": {"type": "create_agreement", "record": after}},
        ],
    });
    let send = || async {
        let response = app
            .client
            .post(app.url("/api/v1/sync/push"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<PushResponse>().await.unwrap()
    };
    let reply = send().await;
    assert_eq!(codes(&reply), ["applied", "unreadable_change", "applied"]);
    let Outcome::Rejected { reason, .. } = &reply.results[1].outcome else {
        unreachable!()
    };
    assert!(reason.contains("create_hologram"), "{reason}");
    assert!(reason.contains("update the app"), "{reason}");
    assert_eq!(
        codes(&send().await),
        ["duplicate", "unreadable_change", "duplicate"]
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM agreements").await, 2);
}

/// RSA decryption is the expensive step a timing attack would need many of:
/// one credential has only so many incidents opened an hour.
#[tokio::test]
async fn one_credential_has_only_so_many_incidents_opened_an_hour() {
    let app = spawn_app().await;
    let key = crate::helpers::incident_key(&app).await;
    let token = session(&app, TEACHER_EMAIL).await;
    let laptop = Uuid::now_v7();
    let limit = haven_server::store::push::OPENS_PER_CREDENTIAL.failures as u64;
    let sealed = |_| {
        let record = incident_record(
            OAKFIELD_ID,
            laptop,
            TEACHER_ID,
            Involved::PupilInLesson,
            "personal-device",
        );
        crate::helpers::seal(&record, &key)
    };
    let batch: Vec<_> = (1..=limit).map(|id| (id, sealed(id))).collect();
    let reply = ok(&app, &token, &incident_push(laptop, batch)).await;
    assert!(
        codes(&reply).iter().all(|c| c == "applied"),
        "{:?}",
        codes(&reply)
    );
    // The same numbers sealed again are a clash, refused before any opening.
    let again: Vec<_> = (1..=2).map(|id| (id, sealed(id))).collect();
    let response = post(&app, &token, &incident_push(laptop, again)).await;
    assert_eq!(
        response.status(),
        409,
        "a different sealing of the same numbers is a clash"
    );
    let next = incident_push(laptop, vec![(limit + 1, sealed(limit + 1))]);
    expect_error(post(&app, &token, &next).await, 429, "too_many_attempts").await;
    assert_eq!(last_processed(&app, laptop).await, Some(limit as i64));
}
