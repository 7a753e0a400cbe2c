//! Typed client for the server's REST API, over haven_core's wire types.

use gloo_net::http::{Request, RequestBuilder, Response};
use haven_core::api::{ApiError, LoginRequest, LoginResponse};
use haven_core::policy::{PolicyVersion, PublishPolicyVersion};
use haven_core::pull::{Cursor, PullResponse};
use haven_core::sync::wire::{PushRequest, PushResponse};
use serde::de::DeserializeOwned;

const BASE: &str = "/api/v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiClientError {
    /// No answer at all: the device is offline or the server is down. Not an
    /// error to show as such; the UI shows "offline" and sync retries.
    #[error("the Haven server cannot be reached")]
    Unreachable,
    #[error("{message}")]
    Server {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the server's reply could not be read: {0}")]
    Decode(String),
}

impl ApiClientError {
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ApiClientError::Unreachable)
    }

    /// The credential sent was refused (expired, signed out, revoked): a new
    /// sign-in or enrolment is needed, and nothing should be retried with it.
    pub fn is_credential_refused(&self) -> bool {
        matches!(self, ApiClientError::Server { status: 401, code, .. }
            if code == "unauthorized" || code == "device_revoked")
    }

    /// The server's error code, if it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiClientError::Server { code, .. } => Some(code),
            _ => None,
        }
    }
}

async fn read<T: DeserializeOwned>(resp: Response) -> Result<T, ApiClientError> {
    if resp.ok() {
        return resp
            .json::<T>()
            .await
            .map_err(|e| ApiClientError::Decode(e.to_string()));
    }
    let status = resp.status();
    // A proxy or a dead upstream may answer with something that is not ours.
    match resp.json::<ApiError>().await {
        Ok(e) => Err(ApiClientError::Server {
            status,
            code: e.code,
            message: e.message,
        }),
        Err(_) if status == 502 || status == 503 || status == 504 => {
            Err(ApiClientError::Unreachable)
        }
        Err(_) => Err(ApiClientError::Server {
            status,
            code: "http_error".into(),
            message: format!("the server answered {status}"),
        }),
    }
}

/// Adds `Authorization: Bearer` when there is a token.
fn bearer(request: RequestBuilder, token: Option<&str>) -> RequestBuilder {
    match token {
        Some(token) => request.header("authorization", &format!("Bearer {token}")),
        None => request,
    }
}

/// Sends a request, with a JSON body if given; no answer at all is `Unreachable`.
async fn send<B: serde::Serialize>(
    request: RequestBuilder,
    body: Option<&B>,
) -> Result<Response, ApiClientError> {
    let sent = match body {
        Some(body) => {
            request
                .json(body)
                .map_err(|e| ApiClientError::Decode(e.to_string()))?
                .send()
                .await
        }
        None => request.send().await,
    };
    sent.map_err(|_| ApiClientError::Unreachable)
}

/// A 2xx with no body wanted (204), or the error the server gave.
async fn no_content(resp: Response) -> Result<(), ApiClientError> {
    if resp.ok() {
        Ok(())
    } else {
        read::<serde_json::Value>(resp).await.map(|_| ())
    }
}

/// Everything the server changed after `since`, at most one page.
pub async fn pull(since: Cursor) -> Result<PullResponse, ApiClientError> {
    let request = Request::get(&format!("{BASE}/pull?since={since}"));
    read(send::<()>(request, None).await?).await
}

pub async fn push(batch: &PushRequest, token: &str) -> Result<PushResponse, ApiClientError> {
    post_json(&format!("{BASE}/sync/push"), Some(token), batch).await
}

/// Signs a staff member in. `totp_code` is needed once the account has a
/// second factor (the server answers `second_factor_required` without it).
pub async fn login(
    email: &str,
    password: &str,
    totp_code: Option<&str>,
) -> Result<LoginResponse, ApiClientError> {
    let body = LoginRequest {
        email: email.to_owned(),
        password: password.to_owned(),
        totp_code: totp_code.map(str::to_owned),
    };
    post_json(&format!("{BASE}/auth/login"), None, &body).await
}

/// A JSON POST, with a bearer token if given.
pub async fn post_json<B: serde::Serialize, T: DeserializeOwned>(
    url: &str,
    token: Option<&str>,
    body: &B,
) -> Result<T, ApiClientError> {
    read(send(bearer(Request::post(url), token), Some(body)).await?).await
}

/// A JSON PUT with a bearer token.
pub async fn put_json<B: serde::Serialize, T: DeserializeOwned>(
    url: &str,
    token: &str,
    body: &B,
) -> Result<T, ApiClientError> {
    read(send(bearer(Request::put(url), Some(token)), Some(body)).await?).await
}

/// A GET with no credential (public data).
pub async fn get_public<T: DeserializeOwned>(url: &str) -> Result<T, ApiClientError> {
    read(send::<()>(Request::get(url), None).await?).await
}

/// A GET with a bearer token.
pub async fn get_json<T: DeserializeOwned>(url: &str, token: &str) -> Result<T, ApiClientError> {
    read(send::<()>(bearer(Request::get(url), Some(token)), None).await?).await
}

/// A POST whose answer has no body (204), with a bearer token.
pub async fn post_empty(url: &str, token: &str) -> Result<(), ApiClientError> {
    no_content(send::<()>(bearer(Request::post(url), Some(token)), None).await?).await
}

/// A JSON POST whose answer has no body (204), with a bearer token.
pub async fn post_empty_json<B: serde::Serialize>(
    url: &str,
    token: &str,
    body: &B,
) -> Result<(), ApiClientError> {
    no_content(send(bearer(Request::post(url), Some(token)), Some(body)).await?).await
}

/// The API's base path, for pages that build their own URLs.
pub fn url(path: &str) -> String {
    format!("{BASE}{path}")
}

/// Publishes a new policy version (admin).
pub async fn publish(
    token: &str,
    request: &PublishPolicyVersion,
) -> Result<PolicyVersion, ApiClientError> {
    post_json(&format!("{BASE}/policies"), Some(token), request).await
}

/// Where an attachment's upload stands on the server; `None` if no piece of
/// it has arrived (or an unfinished upload was purged).
pub async fn attachment_status(
    sha256: &str,
    token: &str,
) -> Result<Option<haven_core::api::incidents::AttachmentUpload>, ApiClientError> {
    match get_json(&format!("{BASE}/attachments/{sha256}"), token).await {
        Ok(upload) => Ok(Some(upload)),
        Err(ApiClientError::Server { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sends piece `index` of the encrypted attachment `sha256` (`size` bytes in
/// all); the answer says where the upload stands.
pub async fn put_attachment_piece(
    sha256: &str,
    size: u64,
    index: u64,
    piece: &[u8],
    token: &str,
) -> Result<haven_core::api::incidents::AttachmentUpload, ApiClientError> {
    let pieces = haven_core::incident::piece_count(size);
    let url = format!("{BASE}/attachments/{sha256}/pieces/{index}?size={size}&pieces={pieces}");
    let request = bearer(Request::put(&url), Some(token))
        .header("content-type", "application/octet-stream")
        .body(js_sys::Uint8Array::from(piece))
        .map_err(|e| ApiClientError::Decode(e.to_string()))?;
    read(
        request
            .send()
            .await
            .map_err(|_| ApiClientError::Unreachable)?,
    )
    .await
}

/// An incident's attachment, opened by the server, as a `Blob` (for an
/// object URL: an `<img>` cannot send the bearer token itself).
pub async fn incident_attachment(
    incident_id: uuid::Uuid,
    sha256: &str,
    token: &str,
) -> Result<web_sys::Blob, ApiClientError> {
    let url = format!("{BASE}/incidents/{incident_id}/attachments/{sha256}");
    let resp = send::<()>(bearer(Request::get(&url), Some(token)), None).await?;
    if !resp.ok() {
        return read::<serde_json::Value>(resp)
            .await
            .and_then(|_| Err(ApiClientError::Decode("the server sent no file".into())));
    }
    resp.binary()
        .await
        .map(|bytes| {
            let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes.as_slice()));
            let options = web_sys::BlobPropertyBag::new();
            options.set_type(
                &resp
                    .headers()
                    .get("content-type")
                    .unwrap_or_else(|| "application/octet-stream".into()),
            );
            web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
                .map_err(|_| ApiClientError::Decode("the file could not be kept".into()))
        })
        .map_err(|e| ApiClientError::Decode(e.to_string()))?
}
