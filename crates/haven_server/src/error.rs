//! Errors: [`AppError`] for a request that fails, [`ServerError`] for a server
//! that cannot start.
//!
//! Every API error reaches the client as [`haven_core::api::ApiError`] JSON with
//! a stable `code`. Internal errors are logged in full and answered with a
//! generic message, so nothing about the database leaks.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use haven_core::api::ApiError;
use std::path::PathBuf;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request cannot be understood: bad JSON, a bad id, a broken rule of the API.
    #[error("{0}")]
    BadRequest(String),
    #[error("a push may hold at most {max} mutations; this one has {got}")]
    BatchTooLarge { got: usize, max: usize },
    #[error("{0}")]
    MutationsOutOfOrder(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A well-formed request whose content breaks a domain rule: `code` says
    /// which input (`invalid_policy`, `invalid_rules`, ...), the message which
    /// field and why.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// The request contradicts what is stored (for example a new version of a
    /// policy with a different kind).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0} is not allowed here")]
    MethodNotAllowed(String),
    #[error("sign in to do this (missing, unknown or expired bearer token)")]
    Unauthorized,
    #[error("your account may not do this")]
    Forbidden,
    #[error("the email or password is wrong")]
    InvalidCredentials,
    #[error("enter the 6-digit code from your authenticator app")]
    SecondFactorRequired,
    #[error("that code is not right or was already used; enter the newest code from your authenticator app")]
    SecondFactorWrong,
    #[error(
        "your trust requires a second factor for your role: set up an authenticator app \
         (POST /api/v1/auth/totp/setup) before doing anything else"
    )]
    SecondFactorEnrolmentRequired,
    #[error(
        "this device's enrolment was withdrawn by an admin; ask an admin for a new enrolment code"
    )]
    DeviceRevoked,
    #[error("{message}")]
    TooManyAttempts {
        message: String,
        retry_after_ms: i64,
    },
    /// Too many password checks are waiting (see [`crate::crypto::hashing`]).
    #[error("the server is busy checking other sign-ins; try again in a few seconds")]
    Busy { retry_after_ms: i64 },
    #[error(
        "this device id belongs to another device; this device should take a new device id and \
         send its records again (nothing is lost: records are matched by their own ids)"
    )]
    DeviceNotYours,
    /// A sync credential used for anything but sending its device's records.
    #[error(
        "this credential can only send this device's records to the school; sign in to do \
         anything else"
    )]
    SyncCredentialOnly,
    #[error("this link has already been used; ask the school for a new one")]
    LinkUsed,
    #[error("this link has expired; ask the school for a new one")]
    LinkExpired,
    /// The readiness check found the database not answering
    /// (`GET /api/v1/ready`); the cause is logged, not returned.
    #[error(
        "the database did not answer within 2 seconds, so this server cannot serve requests \
         now; a load balancer should send them to another server. Operator: see this \
         server's log for the cause, and check the disk holding the database file (space, \
         permissions, errors)"
    )]
    DatabaseUnavailable,
    /// `GET /metrics` without the operator's metrics token.
    #[error(
        "send the metrics token this server was started with (--metrics-token, \
         HAVEN_METRICS_TOKEN) as `Authorization: Bearer TOKEN`"
    )]
    MetricsTokenWrong,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AppError::BatchTooLarge { .. } => (StatusCode::BAD_REQUEST, "batch_too_large"),
            AppError::MutationsOutOfOrder(_) => (StatusCode::BAD_REQUEST, "mutations_out_of_order"),
            AppError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            AppError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            AppError::Invalid { code, .. } => (StatusCode::BAD_REQUEST, *code),
            AppError::Conflict { code, .. } => (StatusCode::CONFLICT, *code),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AppError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            AppError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AppError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            AppError::SecondFactorRequired => (StatusCode::UNAUTHORIZED, "second_factor_required"),
            AppError::SecondFactorWrong => (StatusCode::UNAUTHORIZED, "second_factor_wrong"),
            AppError::SecondFactorEnrolmentRequired => {
                (StatusCode::FORBIDDEN, "second_factor_enrolment_required")
            }
            AppError::DeviceRevoked => (StatusCode::UNAUTHORIZED, "device_revoked"),
            AppError::TooManyAttempts { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
            }
            AppError::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            AppError::DeviceNotYours => (StatusCode::FORBIDDEN, "device_not_yours"),
            AppError::SyncCredentialOnly => (StatusCode::FORBIDDEN, "sync_credential_only"),
            AppError::LinkUsed => (StatusCode::GONE, "link_used"),
            AppError::LinkExpired => (StatusCode::GONE, "link_expired"),
            AppError::DatabaseUnavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable")
            }
            AppError::MetricsTokenWrong => (StatusCode::UNAUTHORIZED, "metrics_token_wrong"),
            AppError::Database(_) | AppError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

impl AppError {
    /// A refusal of `input`'s content, naming the field.
    pub fn invalid(code: &'static str, e: haven_core::validate::Invalid) -> AppError {
        AppError::Invalid {
            code,
            message: e.to_string(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        // Busy and DatabaseUnavailable say what to do and hold nothing
        // internal; the other server errors are logged and answered generically.
        let says_what_to_do = matches!(self, AppError::Busy { .. } | AppError::DatabaseUnavailable);
        let message = if status.is_server_error() && !says_what_to_do {
            tracing::error!(error = %self, "request failed");
            "something went wrong on the server; try again later".to_owned()
        } else {
            self.to_string()
        };
        let body = ApiError {
            code: code.to_owned(),
            message,
        };
        let retry_after_ms = match &self {
            AppError::TooManyAttempts { retry_after_ms, .. }
            | AppError::Busy { retry_after_ms } => Some(*retry_after_ms),
            _ => None,
        };
        let mut response = (status, axum::Json(body)).into_response();
        // For the metrics: every refusal is counted by its code where it
        // leaves the app (`metrics::count_refusals`).
        response.extensions_mut().insert(ErrorCode(code));
        if let Some(ms) = retry_after_ms {
            let secs = (ms.max(1000) + 999) / 1000;
            if let Ok(value) = axum::http::HeaderValue::from_str(&secs.to_string()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// The `code` of the API error a response carries, left in its extensions
/// by [`AppError::into_response`]. Codes are written in the code, never
/// taken from a request, so they are a bounded set of metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode(pub &'static str);

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot create the data folder {path}: {source}")]
    CreateDataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "--demo (HAVEN_DEMO) loads accounts whose password is published in the README, so it \
         is allowed only on a loopback address (such as 127.0.0.1 or [::1]), not on {addr}; \
         drop --demo, or bind to 127.0.0.1"
    )]
    DemoNotOnLoopback { addr: std::net::SocketAddr },
    #[error("cannot load the demo data: {0}")]
    Demo(String),
    #[error("cannot publish the default rule tables: {0}")]
    DefaultRules(String),
    #[error("cannot add earlier agreements to the ledger: {0}")]
    Ledger(String),
    #[error("cannot remove visits past their retention: {0}")]
    Purge(String),
    #[error("cannot make the first admin's set-up link: {0}")]
    Setup(String),
    #[error(transparent)]
    Key(#[from] crate::crypto::keys::KeyError),
    #[error("cannot set up the alert email: {0}")]
    AlertMail(String),
    #[error(
        "with a PostgreSQL database the server's key files need a folder: give --key-dir DIR \
         (HAVEN_KEY_DIR), the same files for every instance on that database"
    )]
    KeyDirNeeded,
}
