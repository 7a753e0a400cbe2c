//! Typed client for the server's REST API, over haven_core's wire types.

use gloo_net::http::{Request, Response};
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

/// Everything the server changed after `since`, at most one page.
pub async fn pull(since: Cursor) -> Result<PullResponse, ApiClientError> {
    let resp = Request::get(&format!("{BASE}/pull?since={since}"))
        .send()
        .await
        .map_err(|_| ApiClientError::Unreachable)?;
    read(resp).await
}

pub async fn push(batch: &PushRequest) -> Result<PushResponse, ApiClientError> {
    let resp = Request::post(&format!("{BASE}/sync/push"))
        .json(batch)
        .map_err(|e| ApiClientError::Decode(e.to_string()))?
        .send()
        .await
        .map_err(|_| ApiClientError::Unreachable)?;
    read(resp).await
}

/// Signs an admin in; the token is kept for this tab only (see `state::admin`).
pub async fn login(email: &str, password: &str) -> Result<LoginResponse, ApiClientError> {
    let body = LoginRequest {
        email: email.to_owned(),
        password: password.to_owned(),
        totp_code: None,
    };
    let resp = Request::post(&format!("{BASE}/auth/login"))
        .json(&body)
        .map_err(|e| ApiClientError::Decode(e.to_string()))?
        .send()
        .await
        .map_err(|_| ApiClientError::Unreachable)?;
    read(resp).await
}

/// Publishes a new policy version (admin).
pub async fn publish(
    token: &str,
    request: &PublishPolicyVersion,
) -> Result<PolicyVersion, ApiClientError> {
    let resp = Request::post(&format!("{BASE}/policies"))
        .header("authorization", &format!("Bearer {token}"))
        .json(request)
        .map_err(|e| ApiClientError::Decode(e.to_string()))?
        .send()
        .await
        .map_err(|_| ApiClientError::Unreachable)?;
    read(resp).await
}
