//! A request id for every request, in the `X-Request-Id` response header and
//! on every log line written while the request is handled, so an operator
//! can find a caller's request in the log (and a load balancer's id for it).
//!
//! A load balancer or proxy in front of the server may already have given
//! the request an id: a well-formed one ([`acceptable`]: 1 to
//! [`MAX_LEN`] letters, digits, `.`, `_` or `-`) is kept, so its log and
//! Haven's share it. Anything else — too long, spaces, quotes, control or
//! non-ASCII bytes, several values — is dropped ([`drop_unacceptable`]) and
//! tower-http's `SetRequestIdLayer` gives the request a new UUID, so no
//! caller can write what they like into the log or forge a line break in it.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Span;

/// The header, both ways.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest incoming id kept: a UUID is 36, the ids load balancers make
/// are shorter than this.
pub const MAX_LEN: usize = 64;

/// Whether an incoming id is kept as it is.
pub fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=MAX_LEN).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The middleware that removes an incoming `X-Request-Id` that is not
/// [`acceptable`] (or comes more than once), before an id is set.
pub async fn drop_unacceptable(mut request: Request, next: Next) -> Response {
    let headers = request.headers_mut();
    let mut values = headers.get_all(&X_REQUEST_ID).iter();
    let keep = match (values.next(), values.next()) {
        (None, _) => true,
        (Some(one), None) => acceptable(one),
        (Some(_), Some(_)) => false,
    };
    if !keep {
        headers.remove(&X_REQUEST_ID);
    }
    next.run(request).await
}

/// The span every request is handled in (the trace layer's `make_span_with`):
/// its id, method and path, at INFO so that the default log level shows it
/// on each line. The query string is left out: it can carry a search for a
/// person's name.
pub fn span_for<B>(request: &axum::http::Request<B>) -> Span {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_of_the_safe_characters_are_kept_and_nothing_else() {
        for good in [
            "a",
            "0b9f5c2e-6f0e-4c3a-9d7e-1f2a3b4c5d6e",
            "req_1.2-3",
            &"x".repeat(MAX_LEN),
        ] {
            assert!(acceptable(&HeaderValue::from_str(good).unwrap()), "{good}");
        }
        for bad in [
            "",
            &"x".repeat(MAX_LEN + 1),
            "has space",
            "quote\"d",
            "tab\there",
            "a=b;c",
            "<script>",
        ] {
            assert!(!acceptable(&HeaderValue::from_str(bad).unwrap()), "{bad:?}");
        }
        assert!(!acceptable(
            &HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap()
        ));
        assert!(!acceptable(&HeaderValue::from_bytes(b"\xff\xfe").unwrap()));
    }
}
