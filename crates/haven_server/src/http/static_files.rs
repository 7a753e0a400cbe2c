//! Serving the built PWA: files from the static folder, an app shell for app
//! routes (the reader's `index.html`, or the full app's `app/index.html`, as
//! `haven_core::shell` decides), and cache headers that make updates safe.
//!
//! Files whose names carry Trunk's content hash never change, so browsers may
//! keep them for a year. Everything else (`index.html`, the manifest, `sw.js`,
//! icons) must be revalidated on every load, or a device could be stuck on an
//! old app shell that points at hashed files no longer there.

use crate::http::prerender::{self, Page};
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use haven_core::shell::{shell_for, Shell, FULL_APP_DIR};
use sqlx::AnyPool;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const NO_CACHE: &str = "no-cache";

#[derive(Debug)]
struct StaticFiles {
    dir: PathBuf,
    index: PathBuf,
    full_index: PathBuf,
    /// For the pages sent with their content (`http::prerender`).
    pool: AnyPool,
}

/// The app shells in `dir`: the reader's, then the full app's.
pub fn shells(dir: &Path) -> [PathBuf; 2] {
    [
        dir.join("index.html"),
        dir.join(FULL_APP_DIR).join("index.html"),
    ]
}

/// A router that serves `dir` at `/`, for use as the app's fallback; `pool`
/// gives the content of the pages sent with it (`http::prerender`).
pub fn router(dir: &Path, pool: AnyPool) -> Router {
    let [index, full_index] = shells(dir);
    let files = Arc::new(StaticFiles {
        dir: dir.to_path_buf(),
        index,
        full_index,
        pool,
    });
    let serve_dir = ServeDir::new(dir).fallback(spa_fallback.with_state(Arc::clone(&files)));
    Router::new()
        .fallback_service(serve_dir)
        .layer(middleware::from_fn_with_state(
            files,
            headers_and_availability,
        ))
}

/// A path the static folder does not have: an app route gets the shell of the
/// build that has its page (the PWA's router shows the page); a missing file,
/// such as an old hashed asset, gets a real 404 so it is never cached as HTML.
///
/// A folder built with the reader alone (a development build) serves the
/// reader for every page.
async fn spa_fallback(State(files): State<Arc<StaticFiles>>, request: Request) -> Response {
    let path = request.uri().path();
    if looks_like_a_file(path) {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let full = shell_for(path) == Shell::Full
        && tokio::fs::metadata(&files.full_index)
            .await
            .is_ok_and(|m| m.is_file());
    let shell = if full {
        &files.full_index
    } else {
        &files.index
    };
    if !full {
        if let Some(page) = Page::at(path) {
            if let Some(html) = with_content(&files, &page).await {
                return Html(html).into_response();
            }
        }
    }
    match ServeFile::new(shell).oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}

/// The reader's shell with `page`'s content, if it can be made.
async fn with_content(files: &StaticFiles, page: &Page) -> Option<String> {
    let shell = tokio::fs::read_to_string(&files.index).await.ok()?;
    prerender::shell_with(&files.pool, &shell, page).await
}

/// Answers 503 while the PWA is not built, and sets the cache headers.
async fn headers_and_availability(
    State(files): State<Arc<StaticFiles>>,
    request: Request,
    next: Next,
) -> Response {
    if !tokio::fs::metadata(&files.index)
        .await
        .is_ok_and(|m| m.is_file())
    {
        let message = format!(
            "Haven's app is not built yet: run `cargo xtask run` (no index.html in {}).\n",
            files.dir.display()
        );
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            message,
        )
            .into_response();
    }

    let file_name = file_name(request.uri().path()).to_owned();
    let mut response = next.run(request).await;
    let cache = if response.status().is_success() && is_content_hashed(&file_name) {
        IMMUTABLE
    } else {
        NO_CACHE
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    if file_name == "sw.js" {
        headers.insert(
            HeaderName::from_static("service-worker-allowed"),
            HeaderValue::from_static("/"),
        );
    }
    response
}

/// The last segment of a URL path.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or("")
}

/// Whether a URL path names a file (its last segment has an extension) rather
/// than an app route.
fn looks_like_a_file(path: &str) -> bool {
    file_name(path)
        .rfind('.')
        .is_some_and(|dot| dot > 0 && dot + 1 < file_name(path).len())
}

/// Whether a file name carries Trunk's content hash: `-` and the hash in
/// lowercase hex, then `.` or `_` (`haven-1a2b3c4d5e6f7a8b_bg.wasm`,
/// `style-1a2b3c4d5e6f7a8b.css`).
///
/// Trunk writes the 64-bit hash with `{:x}`, which drops leading zeros, so a
/// hash is 16 digits almost always but can be shorter; 12 to 16 are accepted.
pub fn is_content_hashed(file_name: &str) -> bool {
    file_name.match_indices('-').any(|(dash, _)| {
        let rest = &file_name[dash + 1..];
        let digits = rest
            .bytes()
            .take_while(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            .count();
        (12..=16).contains(&digits) && matches!(rest.as_bytes().get(digits), Some(b'.' | b'_'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_hashed_names_are_recognised() {
        assert!(is_content_hashed("haven-1a2b3c4d5e6f7a8b_bg.wasm"));
        assert!(is_content_hashed("haven-1a2b3c4d5e6f7a8b.js"));
        assert!(is_content_hashed("style-0123456789abcdef.css"));
        assert!(is_content_hashed("style-123456789abcdef.css"));
    }

    #[test]
    fn plain_names_are_not_hashed() {
        for name in [
            "index.html",
            "sw.js",
            "manifest.webmanifest",
            "icon-192.png",
            "icon-512-maskable.png",
            "haven-1A2B3C4D5E6F7A8B.js",
            "haven-1a2b3c4d5e6f7a8b9.js",
            "",
        ] {
            assert!(!is_content_hashed(name), "{name}");
        }
    }

    #[test]
    fn app_routes_are_not_files() {
        assert!(!looks_like_a_file("/"));
        assert!(!looks_like_a_file(
            "/policies/0190c5e0-0000-7000-8000-000000000001"
        ));
        assert!(looks_like_a_file("/haven-1a2b3c4d5e6f7a8b_bg.wasm"));
        assert!(looks_like_a_file("/icons/icon-192.png"));
    }
}
