//! Request ids: every response carries `X-Request-Id`; a well-formed one
//! from a load balancer is kept, anything else replaced; and every log line
//! written for a request carries its id.

use crate::helpers::{spawn_app, Device, TestApp, STAFF_AUA_VERSION_ID};
use reqwest::header::HeaderValue;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

/// The id a response came back with.
fn id_of(response: &reqwest::Response) -> String {
    let ids: Vec<_> = response.headers().get_all("x-request-id").iter().collect();
    assert_eq!(ids.len(), 1, "one X-Request-Id, got {ids:?}");
    ids[0].to_str().unwrap().to_owned()
}

/// Sends a GET with this `X-Request-Id` and returns the id that came back.
async fn echoed(app: &TestApp, sent: HeaderValue) -> String {
    let response = app
        .client
        .get(app.url("/api/v1/health"))
        .header("x-request-id", sent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    id_of(&response)
}

/// A new id made by the server: a UUID.
fn assert_made_by_the_server(id: &str, what: &str) {
    assert!(
        Uuid::parse_str(id).is_ok(),
        "{what}: {id:?} is not a new UUID"
    );
}

#[tokio::test]
async fn every_response_carries_a_new_request_id() {
    let app = spawn_app().await;
    let mut seen = std::collections::HashSet::new();
    for (path, status) in [
        ("/api/v1/health", 200),
        ("/api/v1/health", 200),
        ("/api/v1/no-such-thing", 404),
        ("/", 200),
        ("/metrics", 404),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        let id = id_of(&response);
        assert_made_by_the_server(&id, path);
        assert!(seen.insert(id), "{path}: an id given twice");
    }
    // A refusal made by a layer, not a handler, carries one too.
    let response = app
        .client
        .post(app.url("/api/v1/sync/push"))
        .header("content-encoding", "zstd")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_made_by_the_server(&id_of(&response), "415");
}

#[tokio::test]
async fn a_well_formed_incoming_request_id_is_kept() {
    let app = spawn_app().await;
    for id in [
        "lb-7f3a9c.2_x",
        "0b9f5c2e-6f0e-4c3a-9d7e-1f2a3b4c5d6e",
        "a",
        &"9".repeat(64),
    ] {
        assert_eq!(echoed(&app, HeaderValue::from_str(id).unwrap()).await, id);
    }
}

#[tokio::test]
async fn a_hostile_incoming_request_id_is_replaced() {
    let app = spawn_app().await;
    let hostile: Vec<HeaderValue> = vec![
        HeaderValue::from_str(&"9".repeat(65)).unwrap(),
        HeaderValue::from_str(&"x".repeat(4000)).unwrap(),
        HeaderValue::from_static("two words"),
        HeaderValue::from_static("id\"><script>alert(1)</script>"),
        HeaderValue::from_static("tab\tinside"),
        HeaderValue::from_static("a=b; evil=1"),
        HeaderValue::from_bytes("café-ünïcödé".as_bytes()).unwrap(),
        HeaderValue::from_bytes(b"\xff\xfe\x80").unwrap(),
        HeaderValue::from_static(""),
    ];
    for sent in hostile {
        let got = echoed(&app, sent.clone()).await;
        assert_ne!(got.as_bytes(), sent.as_bytes());
        assert_made_by_the_server(&got, &format!("{sent:?}"));
    }
    // Two ids at once: neither is believed.
    let response = app
        .client
        .get(app.url("/api/v1/health"))
        .header("x-request-id", "first")
        .header("x-request-id", "second")
        .send()
        .await
        .unwrap();
    assert_made_by_the_server(&id_of(&response), "two ids");
}

#[tokio::test]
async fn a_request_id_cannot_smuggle_a_line_break() {
    let app = spawn_app().await;
    let address = app.address.trim_start_matches("http://");
    // A bare LF, and an obsolete folded header line, inside the id.
    for request in [
        "GET /api/v1/health HTTP/1.1\r\nHost: haven\r\nX-Request-Id: abc\nInjected: 1\r\nConnection: close\r\n\r\n",
        "GET /api/v1/health HTTP/1.1\r\nHost: haven\r\nX-Request-Id: abc\r\n Injected: 1\r\nConnection: close\r\n\r\n",
    ] {
        let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        socket.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
        let head = answer.split("\r\n\r\n").next().unwrap();
        // Refused outright, or the line break ended the id: what follows it
        // is another header of the request, never part of the id or of
        // the answer.
        if head.starts_with("http/1.1 200") {
            let id = head
                .lines()
                .find_map(|l| l.strip_prefix("x-request-id: "))
                .expect("an id");
            if id != "abc" {
                assert_made_by_the_server(id, request);
            }
        } else {
            assert!(head.starts_with("http/1.1 400"), "{head}");
        }
        assert!(!head.contains("injected"), "{head}");
    }
}

/// Log lines written while the tests run, as the server prints them.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The server runs in this test's (single-threaded) runtime, so a
/// subscriber set for this thread sees every line it logs.
#[tokio::test]
async fn every_log_line_of_a_request_carries_its_id() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let record = device.sign(&version, "Ada Lovelace");
    let token = app.push_token().await.to_owned();
    // A span or event first met by another test's thread while this
    // subscriber was being set can keep the "no one listens" answer it got
    // then (tracing caches it per call site); ask every call site again.
    tracing::callsite::rebuild_interest_cache();
    // One push with the load balancer's id, one without (the server's own).
    let pushed = |device: &Device, record, id: Option<&'static str>| {
        let mut request = app
            .client
            .post(app.url("/api/v1/sync/push"))
            .bearer_auth(&token)
            .json(&device.push(&[(1, record)]));
        if let Some(id) = id {
            request = request.header("x-request-id", id);
        }
        request.send()
    };
    let response = pushed(&device, &record, Some("push-from-lb-42"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(id_of(&response), "push-from-lb-42");
    let other = Device::fresh();
    let other_record = other.sign(&version, "Grace Hopper");
    let response = pushed(&other, &other_record, None).await.unwrap();
    assert_eq!(response.status(), 200);
    let made = id_of(&response);
    assert_made_by_the_server(&made, "no id sent");

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for (device, id) in [(&device, "push-from-lb-42"), (&other, made.as_str())] {
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(&device.id.to_string()))
            .collect();
        assert!(!lines.is_empty(), "the push was not logged:\n{log}");
        let span = format!("request{{id={id} method=POST path=/api/v1/sync/push}}");
        for line in lines {
            assert!(line.contains(&span), "{line}");
        }
    }
}
