//! Incident attachments travel apart from their incident: encrypted on the
//! device with a key of their own, uploaded in pieces that resume and may be
//! sent again, checked whole against their digest, bounded per credential,
//! purged when abandoned; the incident is stored without waiting for them,
//! and the DSL reads each one opened by the server, audited.

use crate::authorization::open_db;
use crate::helpers::{
    expect_error, incident_key, incident_push, incident_record, seal, spawn_app, TestApp,
    TEACHER_EMAIL, TEACHER_ID,
};
use crate::visits::{kiosk, parent, session};
use aes_gcm::aead::{Aead, KeyInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use haven_core::api::incidents::{AttachmentUpload, IncidentDetail};
use haven_core::incident::{
    Attachment, IncidentRecord, ABANDONED_UPLOAD_MS, ATTACHMENT_PIECE_BYTES, MAX_CIPHERTEXT_BYTES,
    MAX_PENDING_ATTACHMENT_BYTES,
};
use haven_core::rules::Involved;
use haven_core::sync::wire::{Outcome, PushResponse};
use haven_server::store::demo::OAKFIELD_ID;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

const DSL_EMAIL: &str = "dsl@oakfield.example";
const HILLTOP_HEAD_EMAIL: &str = "head@hilltop.example";
const PIECE: usize = ATTACHMENT_PIECE_BYTES;

/// A JPEG as far as its first bytes go, `len` bytes long, random after.
pub(crate) fn jpeg(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
    bytes
}

/// What the device does with a picked file: encrypts it under a key of its
/// own and describes it for the record. Returns the description and the
/// ciphertext to upload.
pub(crate) fn encrypt(name: &str, content_type: &str, file: &[u8]) -> (Attachment, Vec<u8>) {
    let mut key = [0u8; 32];
    let mut iv = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut key);
    rand::rngs::OsRng.fill_bytes(&mut iv);
    let ciphertext = aes_gcm::Aes256Gcm::new_from_slice(&key)
        .unwrap()
        .encrypt(aes_gcm::Nonce::from_slice(&iv), file)
        .unwrap();
    let attachment = Attachment {
        name: name.into(),
        content_type: content_type.into(),
        size: file.len() as u64,
        sha256: hex::encode(Sha256::digest(&ciphertext)),
        key: STANDARD.encode(key),
        iv: STANDARD.encode(iv),
    };
    (attachment, ciphertext)
}

fn piece_of(ciphertext: &[u8], index: usize) -> &[u8] {
    &ciphertext[index * PIECE..((index + 1) * PIECE).min(ciphertext.len())]
}

async fn put_piece(
    app: &TestApp,
    token: &str,
    sha256: &str,
    size: usize,
    index: usize,
    bytes: &[u8],
) -> reqwest::Response {
    app.client
        .put(app.url(&format!(
            "/api/v1/attachments/{sha256}/pieces/{index}?size={size}&pieces={}",
            size.div_ceil(PIECE)
        )))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap()
}

async fn put_ok(
    app: &TestApp,
    token: &str,
    sha256: &str,
    ciphertext: &[u8],
    index: usize,
) -> AttachmentUpload {
    let response = put_piece(
        app,
        token,
        sha256,
        ciphertext.len(),
        index,
        piece_of(ciphertext, index),
    )
    .await;
    assert_eq!(response.status(), 200, "piece {index}");
    response.json().await.unwrap()
}

pub(crate) async fn upload(app: &TestApp, token: &str, sha256: &str, ciphertext: &[u8]) {
    let mut last = None;
    for i in 0..ciphertext.len().div_ceil(PIECE) {
        last = Some(put_ok(app, token, sha256, ciphertext, i).await);
    }
    assert!(last.unwrap().complete);
}

async fn get_as(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Pushes `record`, sealed, as the teacher from a device of their own.
async fn push_incident(app: &TestApp, token: &str, record: &IncidentRecord) {
    let key = incident_key(app).await;
    let response = app
        .client
        .post(app.url("/api/v1/sync/push"))
        .bearer_auth(token)
        .json(&incident_push(
            record.device_id,
            vec![(1, seal(record, &key))],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let pushed: PushResponse = response.json().await.unwrap();
    assert_eq!(
        pushed.results[0].outcome,
        Outcome::Applied,
        "{:?}",
        pushed.results[0]
    );
}

fn teachers_incident(attachments: Vec<Attachment>) -> IncidentRecord {
    let mut record = incident_record(
        OAKFIELD_ID,
        Uuid::now_v7(),
        TEACHER_ID,
        Involved::PupilInLesson,
        "personal-device",
    );
    record.attachments = attachments;
    record
}

#[tokio::test]
async fn an_upload_resumes_with_the_pieces_the_server_lacks_and_completes_checked() {
    let app = spawn_app().await;
    let teacher = session(&app, TEACHER_EMAIL).await;
    let (a, ciphertext) = encrypt("photo.jpg", "image/jpeg", &jpeg(2 * PIECE + 1000));
    let status_path = format!("/api/v1/attachments/{}", a.sha256);

    expect_error(get_as(&app, &teacher, &status_path).await, 404, "not_found").await;
    let first = put_ok(&app, &teacher, &a.sha256, &ciphertext, 0).await;
    assert_eq!(first.pieces, 3);
    assert_eq!(first.size, ciphertext.len() as u64);
    assert_eq!(first.received, [0]);
    assert!(!first.complete);
    // The connection drops; later the device asks what is there, and sends the rest.
    put_ok(&app, &teacher, &a.sha256, &ciphertext, 2).await;
    let resumed: AttachmentUpload = get_as(&app, &teacher, &status_path)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resumed.received, [0, 2]);
    assert!(!resumed.complete);
    let done = put_ok(&app, &teacher, &a.sha256, &ciphertext, 1).await;
    assert_eq!(done.received, [0, 1, 2]);
    assert!(done.complete);

    // Stored as sent: the pieces put together are the ciphertext.
    let pool = open_db(&app).await;
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT bytes FROM attachment_pieces WHERE sha256 = $1 ORDER BY idx")
            .bind(&a.sha256)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(stored.concat(), ciphertext);
}

#[tokio::test]
async fn the_same_piece_again_is_fine_and_a_different_one_is_a_conflict() {
    let app = spawn_app().await;
    let teacher = session(&app, TEACHER_EMAIL).await;
    let (a, ciphertext) = encrypt("photo.jpg", "image/jpeg", &jpeg(PIECE + 10));
    let size = ciphertext.len();

    put_ok(&app, &teacher, &a.sha256, &ciphertext, 0).await;
    let again = put_ok(&app, &teacher, &a.sha256, &ciphertext, 0).await;
    assert_eq!(again.received, [0], "a resent piece is stored once");
    let mut other = piece_of(&ciphertext, 0).to_vec();
    other[100] ^= 1;
    let e = expect_error(
        put_piece(&app, &teacher, &a.sha256, size, 0, &other).await,
        409,
        "piece_conflict",
    )
    .await;
    assert!(e.message.contains("piece 0"), "{}", e.message);
    // Another size for the same name contradicts the upload under way.
    let bigger = vec![0u8; PIECE];
    expect_error(
        put_piece(&app, &teacher, &a.sha256, size + PIECE, 0, &bigger).await,
        409,
        "attachment_size_conflict",
    )
    .await;
    put_ok(&app, &teacher, &a.sha256, &ciphertext, 1).await;
    // Complete: a piece resent after a lost reply is still answered 200.
    let after = put_ok(&app, &teacher, &a.sha256, &ciphertext, 1).await;
    assert!(after.complete);
    // Another credential sending the same piece (the teacher signed in again) is fine too.
    let dsl = session(&app, DSL_EMAIL).await;
    assert!(put_ok(&app, &dsl, &a.sha256, &ciphertext, 0).await.complete);
}

#[tokio::test]
async fn pieces_that_do_not_make_the_named_file_are_refused_and_discarded() {
    let app = spawn_app().await;
    let teacher = session(&app, TEACHER_EMAIL).await;
    let (a, mut ciphertext) = encrypt("photo.jpg", "image/jpeg", &jpeg(PIECE + 10));
    ciphertext[PIECE + 3] ^= 0x80;
    put_ok(&app, &teacher, &a.sha256, &ciphertext, 0).await;
    let e = expect_error(
        put_piece(
            &app,
            &teacher,
            &a.sha256,
            ciphertext.len(),
            1,
            piece_of(&ciphertext, 1),
        )
        .await,
        422,
        "attachment_digest_mismatch",
    )
    .await;
    assert!(
        e.message.contains("send every piece again"),
        "{}",
        e.message
    );
    expect_error(
        get_as(&app, &teacher, &format!("/api/v1/attachments/{}", a.sha256)).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn only_those_who_may_push_upload_and_every_piece_is_checked() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (a, ciphertext) = encrypt("photo.jpg", "image/jpeg", &jpeg(1000));
    let size = ciphertext.len();
    let piece = ciphertext.as_slice();

    let parent = parent(&app, &admin).await;
    expect_error(
        put_piece(&app, &parent.token, &a.sha256, size, 0, piece).await,
        403,
        "forbidden",
    )
    .await;
    expect_error(
        get_as(
            &app,
            &parent.token,
            &format!("/api/v1/attachments/{}", a.sha256),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let anonymous = app
        .client
        .put(app.url(&format!(
            "/api/v1/attachments/{}/pieces/0?size={size}&pieces=1",
            a.sha256
        )))
        .body(piece.to_vec())
        .send()
        .await
        .unwrap();
    expect_error(anonymous, 401, "unauthorized").await;

    let desk = kiosk(&app, &admin, OAKFIELD_ID, "Front desk").await;
    let teacher = session(&app, TEACHER_EMAIL).await;
    // Malformed requests change nothing.
    let bad = [
        put_piece(&app, &teacher, "ABC", size, 0, piece).await,
        put_piece(&app, &teacher, &a.sha256, size, 1, piece).await,
        put_piece(&app, &teacher, &a.sha256, size, 0, &piece[1..]).await,
        app.client
            .put(app.url(&format!(
                "/api/v1/attachments/{}/pieces/0?size={size}&pieces=2",
                a.sha256
            )))
            .bearer_auth(&teacher)
            .body(piece.to_vec())
            .send()
            .await
            .unwrap(),
    ];
    for response in bad {
        expect_error(response, 400, "bad_request").await;
    }
    let too_large = MAX_CIPHERTEXT_BYTES as usize + 1;
    expect_error(
        put_piece(&app, &teacher, &a.sha256, too_large, 0, &vec![0; PIECE]).await,
        413,
        "attachment_too_large",
    )
    .await;
    expect_error(
        put_piece(&app, &teacher, &a.sha256, 3 * PIECE, 0, &vec![0; PIECE + 1]).await,
        413,
        "payload_too_large",
    )
    .await;
    expect_error(
        get_as(&app, &teacher, &format!("/api/v1/attachments/{}", a.sha256)).await,
        404,
        "not_found",
    )
    .await;
    // An enrolled device may upload.
    let done = put_ok(&app, &desk.token, &a.sha256, &ciphertext, 0).await;
    assert!(done.complete);
}

#[tokio::test]
async fn one_credential_may_leave_only_so_much_that_no_incident_names() {
    let app = spawn_app().await;
    let teacher = session(&app, TEACHER_EMAIL).await;
    let size = MAX_CIPHERTEXT_BYTES as usize;
    let fits = MAX_PENDING_ATTACHMENT_BYTES / size;
    assert!(fits >= 2);
    // One whole photo at the largest, not yet named by an incident...
    let (a, ciphertext) = encrypt(
        "photo.jpg",
        "image/jpeg",
        &jpeg(haven_core::incident::MAX_ATTACHMENT_BYTES),
    );
    assert_eq!(ciphertext.len(), size);
    upload(&app, &teacher, &a.sha256, &ciphertext).await;
    // ...and uploads started, never finished: each counts in full.
    let mut names = Vec::new();
    for _ in 1..fits {
        let name = hex::encode(Sha256::digest(Uuid::now_v7().as_bytes()));
        let response = put_piece(&app, &teacher, &name, size, 0, &vec![7; PIECE]).await;
        assert_eq!(response.status(), 200);
        names.push(name);
    }
    let one_more = hex::encode(Sha256::digest(b"one more"));
    let e = expect_error(
        put_piece(&app, &teacher, &one_more, size, 0, &vec![7; PIECE]).await,
        413,
        "attachments_pending_limit",
    )
    .await;
    assert!(e.message.contains("64.0 MB"), "{}", e.message);
    // Pieces of an upload already started are still taken.
    let response = put_piece(&app, &teacher, &names[0], size, 1, &vec![7; PIECE]).await;
    assert_eq!(response.status(), 200);
    // The bound is per credential: another person is not held up.
    let dsl = session(&app, DSL_EMAIL).await;
    let another = hex::encode(Sha256::digest(b"another"));
    let response = put_piece(&app, &dsl, &another, size, 0, &vec![7; PIECE]).await;
    assert_eq!(response.status(), 200);
    // Once an incident names the photo, it no longer counts.
    push_incident(&app, &teacher, &teachers_incident(vec![a])).await;
    let response = put_piece(&app, &teacher, &one_more, size, 0, &vec![7; PIECE]).await;
    assert_eq!(
        response.status(),
        200,
        "the named attachment freed its room"
    );
}

#[tokio::test]
async fn uploads_no_incident_names_are_purged_after_a_week_and_named_ones_kept() {
    let app = spawn_app().await;
    let teacher = session(&app, TEACHER_EMAIL).await;
    let (named, named_ct) = encrypt("a.jpg", "image/jpeg", &jpeg(1000));
    let (orphan, orphan_ct) = encrypt("b.jpg", "image/jpeg", &jpeg(1000));
    let (unfinished, unfinished_ct) = encrypt("c.jpg", "image/jpeg", &jpeg(PIECE + 1));
    upload(&app, &teacher, &named.sha256, &named_ct).await;
    upload(&app, &teacher, &orphan.sha256, &orphan_ct).await;
    put_ok(&app, &teacher, &unfinished.sha256, &unfinished_ct, 0).await;
    push_incident(&app, &teacher, &teachers_incident(vec![named.clone()])).await;

    let pool = open_db(&app).await;
    let now = haven_server::clock::now_ms();
    assert_eq!(
        haven_server::store::attachments::purge(&pool, now + ABANDONED_UPLOAD_MS - 60_000)
            .await
            .unwrap(),
        0,
        "nothing before a week"
    );
    assert_eq!(
        haven_server::store::attachments::purge(&pool, now + ABANDONED_UPLOAD_MS + 60_000)
            .await
            .unwrap(),
        2
    );
    let left: Vec<String> = sqlx::query_scalar("SELECT sha256 FROM attachment_uploads")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(left, std::slice::from_ref(&named.sha256));
    let pieces: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attachment_pieces")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(pieces, 1, "the purged uploads' pieces went with them");
    for gone in [&orphan.sha256, &unfinished.sha256] {
        expect_error(
            get_as(&app, &teacher, &format!("/api/v1/attachments/{gone}")).await,
            404,
            "not_found",
        )
        .await;
    }
}

#[tokio::test]
async fn an_incident_is_stored_before_its_attachments_and_the_dsl_opens_each_once_arrived() {
    let app = spawn_app().await;
    let teacher = session(&app, TEACHER_EMAIL).await;
    let dsl = session(&app, DSL_EMAIL).await;
    let photo = jpeg(3 * PIECE + 5);
    let (a, ciphertext) = encrypt("IMG_2041.jpg", "image/jpeg", &photo);
    let (b, b_ct) = encrypt("second.jpg", "image/jpeg", &jpeg(500));
    let record = teachers_incident(vec![a.clone(), b.clone()]);
    // The incident arrives first, with nothing of its attachments on the server.
    push_incident(&app, &teacher, &record).await;
    let detail_path = format!("/api/v1/incidents/{}", record.id);
    let detail: IncidentDetail = get_as(&app, &dsl, &detail_path).await.json().await.unwrap();
    assert_eq!(detail.record.attachments.len(), 2);
    assert!(detail.arrived.is_empty());
    for kept in &detail.record.attachments {
        assert!(
            kept.key.is_empty() && kept.iv.is_empty(),
            "keys stay on the server"
        );
    }
    let a_path = format!("/api/v1/incidents/{}/attachments/{}", record.id, a.sha256);
    let e = expect_error(
        get_as(&app, &dsl, &a_path).await,
        409,
        "attachment_not_arrived",
    )
    .await;
    assert!(e.message.contains("still arriving"), "{}", e.message);
    // Half of it: still arriving.
    put_ok(&app, &teacher, &a.sha256, &ciphertext, 0).await;
    expect_error(
        get_as(&app, &dsl, &a_path).await,
        409,
        "attachment_not_arrived",
    )
    .await;
    for i in 1..4 {
        put_ok(&app, &teacher, &a.sha256, &ciphertext, i).await;
    }
    let detail: IncidentDetail = get_as(&app, &dsl, &detail_path).await.json().await.unwrap();
    assert_eq!(detail.arrived, std::slice::from_ref(&a.sha256));

    let opened = get_as(&app, &dsl, &a_path).await;
    assert_eq!(opened.status(), 200);
    assert_eq!(opened.headers()["content-type"], "image/jpeg");
    assert_eq!(
        opened.headers()["content-disposition"],
        "inline; filename=\"IMG_2041.jpg\""
    );
    assert_eq!(opened.bytes().await.unwrap().as_ref(), photo.as_slice());

    // Audited, like every read of an incident.
    let pool = open_db(&app).await;
    let audited: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT actor, subject, detail FROM audit_log WHERE action = 'read_incident_attachment'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0].1, record.id.to_string());
    assert!(audited[0].2.contains(&a.sha256));
    assert!(audited[0].0.starts_with("user:"));

    // The author may see their own; someone who may not see the incident gets a 404.
    assert_eq!(get_as(&app, &teacher, &a_path).await.status(), 200);
    let outsider = session(&app, HILLTOP_HEAD_EMAIL).await;
    expect_error(get_as(&app, &outsider, &a_path).await, 404, "not_found").await;
    // A digest the incident does not name is not served through it.
    upload(&app, &teacher, &b.sha256, &b_ct).await;
    let (c, c_ct) = encrypt("c.jpg", "image/jpeg", &jpeg(500));
    upload(&app, &teacher, &c.sha256, &c_ct).await;
    let not_named = format!("/api/v1/incidents/{}/attachments/{}", record.id, c.sha256);
    expect_error(get_as(&app, &dsl, &not_named).await, 404, "not_found").await;
    let reads: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'read_incident_attachment'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(reads, 2, "refused reads are not counted as reads");
}

#[tokio::test]
async fn a_file_that_is_not_what_the_incident_says_is_not_served() {
    let app = spawn_app().await;
    let teacher = session(&app, TEACHER_EMAIL).await;
    let dsl = session(&app, DSL_EMAIL).await;
    // Said to be a PNG, but a JPEG inside.
    let (png, png_ct) = encrypt("shot.png", "image/png", &jpeg(500));
    // The size in the record is not the file's.
    let (mut sized, sized_ct) = encrypt("a.jpg", "image/jpeg", &jpeg(500));
    sized.size = 499;
    // A key that does not open it.
    let (mut keyed, keyed_ct) = encrypt("b.jpg", "image/jpeg", &jpeg(500));
    keyed.key = STANDARD.encode([9u8; 32]);
    let record = teachers_incident(vec![png.clone(), sized.clone(), keyed.clone()]);
    push_incident(&app, &teacher, &record).await;
    for (a, ct, words) in [
        (&png, &png_ct, "not a image/png file"),
        (&sized, &sized_ct, "the incident says 499"),
        (&keyed, &keyed_ct, "does not open"),
    ] {
        upload(&app, &teacher, &a.sha256, ct).await;
        let path = format!("/api/v1/incidents/{}/attachments/{}", record.id, a.sha256);
        let e = expect_error(get_as(&app, &dsl, &path).await, 422, "attachment_damaged").await;
        assert!(e.message.contains(words), "{}", e.message);
    }
}
