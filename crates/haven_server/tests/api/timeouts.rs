//! A caller that sends slowly or stops is cut off, so it cannot hold the
//! server's connections open.

use crate::helpers::{spawn_app_with, test_config, TestApp};
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn app_with_one_second_timeouts() -> TestApp {
    let dir = TempDir::new().unwrap();
    let mut config = test_config(&dir);
    config.header_timeout_secs = 1;
    config.body_idle_timeout_secs = 1;
    spawn_app_with(dir, config).await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// What the server sends before it closes the connection (waiting at most
/// `limit`, so a server that never closes fails the test instead of hanging).
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut seen = Vec::new();
    let read_all = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read_all).await.ok()?;
    Some(String::from_utf8_lossy(&seen).into_owned())
}

#[tokio::test]
async fn a_caller_who_never_finishes_its_headers_is_disconnected() {
    let app = app_with_one_second_timeouts().await;
    let mut slow = connect(&app).await;
    slow.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: haven\r\n")
        .await
        .unwrap();
    let answered = read_until_closed(&mut slow, Duration::from_secs(10)).await;
    let answer = answered.expect("the server closed the connection");
    assert!(!answer.contains("200 OK"), "{answer}");

    // A caller who sends its headers in time is answered as usual.
    let mut prompt = connect(&app).await;
    prompt
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: haven\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut prompt, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_caller_who_stops_sending_its_body_is_cut_off_and_nothing_is_applied() {
    let app = app_with_one_second_timeouts().await;
    let token = app.push_token().await.to_owned();
    let mut slow = connect(&app).await;
    let head = format!(
        "POST /api/v1/sync/push HTTP/1.1\r\nHost: haven\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"device_id\": "
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut slow, Duration::from_secs(10))
        .await
        .expect("the server gave up on the body");
    assert!(!answer.contains("200 OK"), "{answer}");
    let pool = crate::authorization::open_db(&app).await;
    let devices: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM devices")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(devices, 0);
}
