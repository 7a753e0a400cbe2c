//! Security headers on every response: API, static files, the SPA fallback,
//! errors and 404s alike.
//!
//! - `Content-Security-Policy` with neither `'unsafe-inline'` nor
//!   `'unsafe-eval'`. WebAssembly needs `'wasm-unsafe-eval'`; Trunk's inline
//!   start-up `<script type="module">` in each app shell (the reader's
//!   `index.html` and the full app's `app/index.html`) is allowed by its
//!   SHA-256 hash, computed from the files on disk (see [`inline_script_hashes`]).
//! - `X-Content-Type-Options`, `Referrer-Policy`, `Cross-Origin-Opener-Policy`,
//!   `X-Frame-Options` (legacy; `frame-ancestors 'none'` is the real rule).
//! - `Permissions-Policy` denying the camera, microphone, geolocation, payment
//!   and USB, except that the kiosk pages (`/kiosk` and below) may use the
//!   camera. A document's permissions policy is fixed when it loads, so the
//!   kiosk must be reached by a full page load of a `/kiosk` URL, not by a
//!   client-side route change from another page.
//! - `Strict-Transport-Security` only when the request arrived over TLS. The
//!   server itself speaks plain HTTP, so that means: behind a reverse proxy that
//!   terminates TLS and says so with `X-Forwarded-Proto: https`, and only if the
//!   operator said the proxy is trusted (`--trust-proxy`), since any client can
//!   send that header.
//!
//! Haven sets no cookies (sign-in uses a bearer token), so there are no cookie
//! attributes to enforce here.

use axum::extract::{Request, State};
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

const PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");
const CROSS_ORIGIN_OPENER_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-opener-policy");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

const HSTS: &str = "max-age=31536000; includeSubDomains";
const PERMISSIONS_DEFAULT: &str = "camera=(), microphone=(), geolocation=(), payment=(), usb=()";
const PERMISSIONS_KIOSK: &str = "camera=(self), microphone=(), geolocation=(), payment=(), usb=()";

/// The layer's state: where the app shells are, whether to trust a proxy, and
/// the current Content Security Policy.
#[derive(Debug)]
pub struct SecurityHeaders {
    shells: Vec<PathBuf>,
    trust_proxy: bool,
    csp: RwLock<Cached>,
}

/// The policy built from one version of the shells, and what identified it.
#[derive(Debug)]
struct Cached {
    /// Modification time and length of each shell read; `None` for one not there.
    stamps: Vec<Option<(SystemTime, u64)>>,
    csp: HeaderValue,
}

impl SecurityHeaders {
    /// Reads the app shells (the reader's `index.html` and the full app's;
    /// those that are there) for their inline scripts.
    pub fn new(shells: Vec<PathBuf>, trust_proxy: bool) -> Arc<Self> {
        let stamps: Vec<_> = shells
            .iter()
            .map(|shell| std::fs::metadata(shell).ok().and_then(|m| stamp_of(&m)))
            .collect();
        let html: Vec<String> = shells
            .iter()
            .zip(&stamps)
            .filter(|(_, stamp)| stamp.is_some())
            .filter_map(|(shell, _)| std::fs::read_to_string(shell).ok())
            .collect();
        Arc::new(SecurityHeaders {
            shells,
            trust_proxy,
            csp: RwLock::new(Cached {
                stamps,
                csp: policy_for(&html),
            }),
        })
    }

    /// The current policy. With `refresh`, first checks the modification time
    /// and length of each shell and re-reads them if any changed, since the
    /// PWA can be rebuilt while the server runs.
    async fn csp(&self, refresh: bool) -> HeaderValue {
        if refresh {
            let mut stamps = Vec::with_capacity(self.shells.len());
            for shell in &self.shells {
                stamps.push(
                    tokio::fs::metadata(shell)
                        .await
                        .ok()
                        .and_then(|m| stamp_of(&m)),
                );
            }
            if stamps != self.read_cache().stamps {
                let mut html = Vec::new();
                for (shell, stamp) in self.shells.iter().zip(&stamps) {
                    if stamp.is_some() {
                        if let Ok(text) = tokio::fs::read_to_string(shell).await {
                            html.push(text);
                        }
                    }
                }
                let csp = policy_for(&html);
                *self.csp.write().unwrap_or_else(|e| e.into_inner()) = Cached {
                    stamps,
                    csp: csp.clone(),
                };
                return csp;
            }
        }
        self.read_cache().csp.clone()
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, Cached> {
        self.csp.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the request reached the client-facing proxy over TLS.
    fn arrived_over_tls(&self, headers: &HeaderMap) -> bool {
        self.trust_proxy
            && headers
                .get(&X_FORWARDED_PROTO)
                .and_then(|v| v.to_str().ok())
                // A chain of proxies appends; the first is the client's.
                .and_then(|v| v.split(',').next())
                .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
    }
}

/// The policy allowing every inline script of the given shells.
fn policy_for(shells: &[String]) -> HeaderValue {
    let mut hashes: Vec<String> = Vec::new();
    for hash in shells.iter().flat_map(|html| inline_script_hashes(html)) {
        if !hashes.contains(&hash) {
            hashes.push(hash);
        }
    }
    content_security_policy(&hashes)
}

fn stamp_of(metadata: &std::fs::Metadata) -> Option<(SystemTime, u64)> {
    metadata
        .is_file()
        .then(|| Some((metadata.modified().ok()?, metadata.len())))
        .flatten()
}

/// The middleware: sets every header on whatever the inner service answered.
///
/// Requests outside `/api/` check the shells for a new build first, so the
/// app shell, and a `304 Not Modified` for it (whose headers replace the cached
/// copy's), always carry the hashes of the file on disk. API responses reuse the
/// last policy: they are JSON, run no script, and stay free of file-system calls.
pub async fn layer(
    State(security): State<Arc<SecurityHeaders>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let refresh = !(path == "/api" || path.starts_with("/api/"));
    let kiosk = path == "/kiosk" || path.starts_with("/kiosk/");
    let hsts = security.arrived_over_tls(request.headers());
    let csp = security.csp(refresh).await;

    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, csp);
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        PERMISSIONS_POLICY,
        HeaderValue::from_static(if kiosk {
            PERMISSIONS_KIOSK
        } else {
            PERMISSIONS_DEFAULT
        }),
    );
    headers.insert(
        CROSS_ORIGIN_OPENER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if hsts {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    response
}

/// The Content Security Policy allowing the given inline script hashes
/// (`'sha256-…'` sources).
pub fn content_security_policy(script_hashes: &[String]) -> HeaderValue {
    let mut script_src = String::from("'self' 'wasm-unsafe-eval'");
    for hash in script_hashes {
        script_src.push(' ');
        script_src.push_str(hash);
    }
    let policy = format!(
        "default-src 'self'; script-src {script_src}; style-src 'self'; \
         img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; \
         manifest-src 'self'; worker-src 'self'; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    );
    // Base64 and fixed ASCII only: always a valid header value.
    HeaderValue::from_str(&policy).expect("CSP is visible ASCII")
}

/// `'sha256-…'` of the text of every inline `<script>` (one with no `src`) in
/// `html`, in order and without duplicates.
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut hashes: Vec<String> = Vec::new();
    for text in inline_scripts(html) {
        // The browser hashes the text after HTML input preprocessing, which
        // turns CRLF and lone CR into LF.
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let hash = format!(
            "'sha256-{}'",
            BASE64.encode(Sha256::digest(text.as_bytes()))
        );
        if !hashes.contains(&hash) {
            hashes.push(hash);
        }
    }
    hashes
}

/// The exact text of every `<script>` element without a `src` attribute.
///
/// A small scanner, enough for the HTML Trunk writes: it skips comments,
/// reads a start tag's attributes (quoted values may hold `>`), and takes a
/// script's text up to the first `</script` (scripts are raw text in HTML).
fn inline_scripts(html: &str) -> Vec<&str> {
    let lower = html.to_ascii_lowercase();
    let mut scripts = Vec::new();
    let mut at = 0;
    while let Some(found) = lower[at..].find('<') {
        let start = at + found;
        let rest = &lower[start..];
        if rest.starts_with("<!--") {
            at = match rest.find("-->") {
                Some(end) => start + end + 3,
                None => break,
            };
            continue;
        }
        let is_script = rest.starts_with("<script")
            && rest[7..]
                .bytes()
                .next()
                .is_some_and(|b| b == b'>' || b == b'/' || b.is_ascii_whitespace());
        if !is_script {
            at = start + 1;
            continue;
        }
        let Some(tag_len) = start_tag_len(rest) else {
            break;
        };
        let attributes = &rest[7..tag_len - 1];
        let content_start = start + tag_len;
        let content_end = lower[content_start..]
            .find("</script")
            .map_or(html.len(), |end| content_start + end);
        if !has_src(attributes) {
            scripts.push(&html[content_start..content_end]);
        }
        at = content_end;
    }
    scripts
}

/// The length of the start tag at the beginning of `tag`, up to and including
/// its `>`, skipping `>` inside quoted attribute values.
fn start_tag_len(tag: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in tag.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// Whether a (lowercased) start tag's attributes include `src`.
fn has_src(attributes: &str) -> bool {
    let mut rest = attributes;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if rest.is_empty() {
            return false;
        }
        let name_len = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len())
            // An attribute name may start with `=`: take at least one byte.
            .max(1);
        if &rest[..name_len] == "src" {
            return true;
        }
        rest = rest[name_len..].trim_start();
        if let Some(value) = rest.strip_prefix('=') {
            let value = value.trim_start();
            rest = match value.chars().next() {
                Some(q @ ('"' | '\'')) => value[1..].find(q).map_or("", |end| &value[end + 2..]),
                _ => value
                    .find(|c: char| c.is_ascii_whitespace())
                    .map_or("", |end| &value[end..]),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256(text: &str) -> String {
        format!(
            "'sha256-{}'",
            BASE64.encode(Sha256::digest(text.as_bytes()))
        )
    }

    #[test]
    fn the_inline_module_script_trunk_writes_is_hashed_exactly() {
        let body = "\nimport init from '/haven-1a2b3c4d5e6f7a8b.js';\nawait init();\n";
        let html = format!(
            "<!DOCTYPE html><html><head>\n<script type=\"module\">{body}</script>\n\
             <link rel=\"modulepreload\" href=\"/haven-1a2b3c4d5e6f7a8b.js\"></head></html>"
        );
        assert_eq!(inline_script_hashes(&html), vec![sha256(body)]);
    }

    #[test]
    fn scripts_with_src_and_comments_are_not_hashed() {
        let html = "<script src=\"/a.js\"></script>\
                    <SCRIPT type=module SRC='/b.js'></SCRIPT>\
                    <!-- <script>commented()</script> -->\
                    <script data-src=\"x\" data-x='>'>one()</script>\
                    <scripts>not a script</scripts>\
                    <script>two()</script>\
                    <script>two()</script>";
        assert_eq!(
            inline_script_hashes(html),
            vec![sha256("one()"), sha256("two()")]
        );
    }

    #[test]
    fn line_endings_are_normalised_as_the_browser_does() {
        assert_eq!(
            inline_script_hashes("<script>\r\na()\rb()\n</script>"),
            vec![sha256("\na()\nb()\n")]
        );
    }

    #[test]
    fn an_unclosed_script_runs_to_the_end() {
        assert_eq!(inline_script_hashes("<script>a()"), vec![sha256("a()")]);
        assert!(inline_script_hashes("<script type=module").is_empty());
    }

    #[test]
    fn the_policy_is_strict_and_lists_the_hashes() {
        let csp = content_security_policy(&[sha256("a()")]);
        let csp = csp.to_str().unwrap();
        assert!(!csp.contains("'unsafe-inline'"));
        assert!(!csp.contains("'unsafe-eval'"));
        for directive in [
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{csp}");
        }
        assert!(csp.contains(&format!(
            "script-src 'self' 'wasm-unsafe-eval' {}",
            sha256("a()")
        )));
    }
}
