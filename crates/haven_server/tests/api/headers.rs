//! Security headers on every kind of response.

use crate::helpers::{
    spawn_app, spawn_app_with, test_config, TestApp, FULL_APP_HTML, FULL_INLINE_SCRIPT,
    HASHED_WASM, INDEX_HTML, INLINE_SCRIPT,
};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

/// `'sha256-…'` of a script's text, as a CSP source.
fn csp_hash(script: &str) -> String {
    format!(
        "'sha256-{}'",
        BASE64.encode(Sha256::digest(script.as_bytes()))
    )
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// The directives of a CSP, by name.
fn directive<'a>(csp: &'a str, name: &str) -> &'a str {
    csp.split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix(name).filter(|v| v.starts_with(' ')))
        .unwrap_or_else(|| panic!("no {name} in {csp}"))
        .trim()
}

/// Every header that every response must carry, with the camera denied.
fn assert_security_headers(headers: &HeaderMap, what: &str) {
    let csp = header(headers, "content-security-policy");
    assert!(!csp.contains("'unsafe-inline'"), "{what}: {csp}");
    assert!(!csp.contains("'unsafe-eval'"), "{what}: {csp}");
    assert_eq!(directive(csp, "object-src"), "'none'", "{what}");
    assert_eq!(directive(csp, "base-uri"), "'none'", "{what}");
    assert_eq!(directive(csp, "frame-ancestors"), "'none'", "{what}");
    assert_eq!(directive(csp, "default-src"), "'self'", "{what}");
    assert!(
        directive(csp, "script-src").starts_with("'self' 'wasm-unsafe-eval'"),
        "{what}: {csp}"
    );
    assert_eq!(
        header(headers, "x-content-type-options"),
        "nosniff",
        "{what}"
    );
    assert_eq!(header(headers, "referrer-policy"), "no-referrer", "{what}");
    assert_eq!(
        header(headers, "cross-origin-opener-policy"),
        "same-origin",
        "{what}"
    );
    assert_eq!(header(headers, "x-frame-options"), "DENY", "{what}");
    let permissions = header(headers, "permissions-policy");
    assert!(permissions.contains("camera=()"), "{what}: {permissions}");
    for feature in ["microphone=()", "geolocation=()", "payment=()", "usb=()"] {
        assert!(permissions.contains(feature), "{what}: {permissions}");
    }
    assert!(
        headers.get("strict-transport-security").is_none(),
        "{what}: HSTS over plain HTTP"
    );
}

async fn get_headers(app: &TestApp, path: &str, status: u16) -> HeaderMap {
    let response = app.get(path).await;
    assert_eq!(response.status(), status, "{path}");
    response.headers().clone()
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for (path, status) in [
        ("/api/v1/health", 200),
        ("/api/v1/no-such-thing", 404),
        ("/", 200),
        ("/policies/xyz", 200),
        (&format!("/{HASHED_WASM}") as &str, 200),
        ("/sw.js", 200),
        ("/haven-0000000000000000_bg.wasm", 404),
    ] {
        assert_security_headers(&get_headers(&app, path, status).await, path);
    }

    let bad_json = app
        .post_raw("/api/v1/sync/push", "application/json", "{not json")
        .await;
    assert_eq!(bad_json.status(), 400);
    assert_security_headers(bad_json.headers(), "a 400");

    let wrong_method = app
        .client
        .delete(app.url("/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_security_headers(wrong_method.headers(), "a 405");
}

#[tokio::test]
async fn a_404_under_the_api_is_json_with_the_security_headers() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/no-such-thing").await;
    assert_eq!(response.status(), 404);
    assert!(header(response.headers(), "content-type").starts_with("application/json"));
    assert_security_headers(response.headers(), "an API 404");
}

#[tokio::test]
async fn the_csp_allows_the_inline_start_up_script_by_its_hash() {
    let app = spawn_app().await;
    assert!(INDEX_HTML.contains(&format!("<script type=\"module\">{INLINE_SCRIPT}</script>")));
    let response = app.get("/policies").await;
    assert_eq!(response.status(), 200);
    let csp = header(response.headers(), "content-security-policy").to_owned();
    assert_eq!(response.text().await.unwrap(), INDEX_HTML);
    assert_eq!(
        directive(&csp, "script-src"),
        format!(
            "'self' 'wasm-unsafe-eval' {} {}",
            csp_hash(INLINE_SCRIPT),
            csp_hash(FULL_INLINE_SCRIPT)
        )
    );
    // The full app's shell is served under the same policy.
    let response = app.get("/admin").await;
    assert_eq!(header(response.headers(), "content-security-policy"), csp);
    assert_eq!(response.text().await.unwrap(), FULL_APP_HTML);
}

#[tokio::test]
async fn a_rebuilt_app_shell_gets_the_hash_of_its_new_script() {
    let app = spawn_app().await;
    let old = header(
        &get_headers(&app, "/", 200).await,
        "content-security-policy",
    )
    .to_owned();
    assert!(old.contains(&csp_hash(INLINE_SCRIPT)), "{old}");

    let new_script = "\nimport init from '/haven-0f0e0d0c0b0a0908.js';\nawait init();\n";
    std::fs::write(
        app.config.static_dir.join("index.html"),
        format!("<!doctype html><title>Haven, rebuilt</title><script type=\"module\">{new_script}</script>"),
    )
    .unwrap();

    let headers = get_headers(&app, "/", 200).await;
    let csp = header(&headers, "content-security-policy");
    assert!(csp.contains(&csp_hash(new_script)), "{csp}");
    assert!(!csp.contains(&csp_hash(INLINE_SCRIPT)), "{csp}");
    assert_security_headers(&headers, "the rebuilt shell");
}

#[tokio::test]
async fn without_a_built_pwa_the_503_still_has_the_headers() {
    let dir = TempDir::new().unwrap();
    let mut config = test_config(&dir);
    config.static_dir = dir.path().join("not-built");
    let app = spawn_app_with(dir, config).await;
    let headers = get_headers(&app, "/", 503).await;
    assert_security_headers(&headers, "the 503");
    assert_eq!(
        directive(header(&headers, "content-security-policy"), "script-src"),
        "'self' 'wasm-unsafe-eval'"
    );
}

#[tokio::test]
async fn only_the_kiosk_may_use_the_camera() {
    let app = spawn_app().await;
    for path in ["/kiosk", "/kiosk/", "/kiosk/sign-in"] {
        let headers = get_headers(&app, path, 200).await;
        let permissions = header(&headers, "permissions-policy");
        assert!(
            permissions.contains("camera=(self)"),
            "{path}: {permissions}"
        );
        assert!(
            permissions.contains("microphone=()"),
            "{path}: {permissions}"
        );
    }
    for path in ["/", "/kiosks", "/policies/kiosk", "/api/v1/health"] {
        let status = 200;
        let headers = get_headers(&app, path, status).await;
        let permissions = header(&headers, "permissions-policy");
        assert!(permissions.contains("camera=()"), "{path}: {permissions}");
        assert!(
            !permissions.contains("camera=(self)"),
            "{path}: {permissions}"
        );
    }
}

#[tokio::test]
async fn hsts_is_not_sent_over_plain_http_nor_on_an_untrusted_forwarded_proto() {
    let app = spawn_app().await;
    for forwarded in [None, Some("https")] {
        let mut request = app.client.get(app.url("/api/v1/health"));
        if let Some(proto) = forwarded {
            request = request.header("x-forwarded-proto", proto);
        }
        let response = request.send().await.unwrap();
        assert!(
            response
                .headers()
                .get("strict-transport-security")
                .is_none(),
            "{forwarded:?}"
        );
    }
}

#[tokio::test]
async fn hsts_is_sent_when_a_trusted_proxy_says_the_request_came_over_tls() {
    let dir = TempDir::new().unwrap();
    let mut config = test_config(&dir);
    config.trust_proxy = true;
    let app = spawn_app_with(dir, config).await;

    for path in ["/", "/api/v1/health", "/api/v1/no-such-thing"] {
        let response = app
            .client
            .get(app.url(path))
            .header("x-forwarded-proto", "https")
            .send()
            .await
            .unwrap();
        assert_eq!(
            header(response.headers(), "strict-transport-security"),
            "max-age=31536000; includeSubDomains",
            "{path}"
        );
    }
    for proto in [None, Some("http"), Some("http, https")] {
        let mut request = app.client.get(app.url("/"));
        if let Some(proto) = proto {
            request = request.header("x-forwarded-proto", proto);
        }
        let response = request.send().await.unwrap();
        assert!(
            response
                .headers()
                .get("strict-transport-security")
                .is_none(),
            "{proto:?}"
        );
    }
}

#[tokio::test]
async fn a_304_for_the_app_shell_keeps_the_script_hash() {
    // A 304's headers replace those of the browser's cached copy, so the CSP
    // must still allow the cached page's script.
    let app = spawn_app().await;
    let first = get_headers(&app, "/", 200).await;
    let last_modified = header(&first, "last-modified").to_owned();
    let response = app
        .client
        .get(app.url("/"))
        .header("if-modified-since", last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 304);
    assert_security_headers(response.headers(), "a 304");
    let csp = header(response.headers(), "content-security-policy");
    assert!(csp.contains(&csp_hash(INLINE_SCRIPT)), "{csp}");
}
