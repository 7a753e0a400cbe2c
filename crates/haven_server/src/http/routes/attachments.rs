//! `/api/v1/attachments/{sha256}`: encrypted incident attachments, uploaded
//! in pieces apart from their incident (docs/sync-protocol.md, "How
//! attachments travel"). Whoever may push (a staff session, an enrolled
//! device) may upload; no one reads an attachment here: the DSL reads it
//! opened, through the incident (`GET /api/v1/incidents/{id}/attachments/{sha256}`).

use crate::clock::now_ms;
use crate::error::AppError;
use crate::http::auth::PushCaller;
use crate::http::json::Json;
use crate::http::openapi::{Forbidden, Internal, Unauthorized};
use crate::http::query::Query;
use crate::state::AppState;
use crate::store::attachments::{self, UploadError};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use haven_core::api::incidents::AttachmentUpload;
use haven_core::api::ApiError;
use haven_core::incident::{is_sha256_hex, ATTACHMENT_PIECE_BYTES};
use serde::Deserialize;

/// Raw bytes, as the document describes them (`type: string, format: binary`).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(#[allow(dead_code)] Vec<u8>);

/// Largest body of one piece, with room for nothing else.
pub const PIECE_BODY_LIMIT: usize = ATTACHMENT_PIECE_BYTES;

/// What every piece says about the whole upload.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PieceQuery {
    /// Bytes of the whole encrypted file.
    pub size: u64,
    /// How many pieces it travels in: `ceil(size / 262144)`.
    pub pieces: u64,
}

fn check_sha(sha256: &str) -> Result<(), AppError> {
    if is_sha256_hex(sha256) {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!(
            "{sha256:?} is not an attachment's name; expected the SHA-256 of the encrypted file, \
             64 lowercase hex characters"
        )))
    }
}

/// Where an upload stands: which pieces the server has, and whether it is
/// complete. A device asks before sending, so an upload cut off resumes
/// with the pieces that are missing.
#[utoipa::path(
    get,
    path = "/api/v1/attachments/{sha256}",
    tag = "sync",
    operation_id = "attachment_upload_status",
    security(("bearer" = [])),
    params(("sha256" = String, Path, pattern = "^[0-9a-f]{64}$", description = "SHA-256 of the encrypted file, lowercase hex")),
    responses(
        (status = 200, description = "The pieces the server has", body = AttachmentUpload),
        (status = 400, description = "`bad_request`: the name is not 64 lowercase hex characters", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`not_found`: no piece of it has arrived (or an unfinished upload was removed after 7 days): send them all; also for an attachment of an incident at an academy where the caller does not work", body = ApiError),
        (status = 500, response = Internal),
    )
)]
pub async fn status(
    State(state): State<AppState>,
    PushCaller(caller): PushCaller,
    Path(sha256): Path<String>,
) -> Result<Json<AttachmentUpload>, AppError> {
    attachments::may_upload(&caller)?;
    check_sha(&sha256)?;
    attachments::status_for(&mut *state.pool.acquire().await?, &caller, &sha256)
        .await?
        .map(Json)
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "no piece of attachment {sha256} has arrived; send them all"
            ))
        })
}

/// One piece of an encrypted attachment (`application/octet-stream`, 262144
/// bytes, the last piece shorter). Sending the same piece again changes
/// nothing; the piece that completes the upload has the whole file checked
/// against its name. The credential's uploads that no incident names yet
/// may hold at most 64 MiB.
#[utoipa::path(
    put,
    path = "/api/v1/attachments/{sha256}/pieces/{index}",
    tag = "sync",
    operation_id = "put_attachment_piece",
    security(("bearer" = [])),
    params(
        ("sha256" = String, Path, pattern = "^[0-9a-f]{64}$", description = "SHA-256 of the whole encrypted file, lowercase hex"),
        ("index" = u64, Path, description = "Which piece, from 0"),
        PieceQuery,
    ),
    request_body(content = inline(Binary), content_type = "application/octet-stream", description = "The piece's bytes"),
    responses(
        (status = 200, description = "Stored (or already here): where the upload stands", body = AttachmentUpload),
        (status = 400, description = "`bad_request`: a bad name, index, size or piece count, or a piece of the wrong length", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`not_found`: the attachment belongs to an incident at an academy where the caller does not work", body = ApiError),
        (status = 409, description = "`piece_conflict`: this piece is already here with different bytes; `attachment_size_conflict`: the upload was started with another size", body = ApiError),
        (status = 413, description = "`attachment_too_large`: the file is over the limit; `attachments_pending_limit`: this credential already has 64 MiB of uploads no incident names; `payload_too_large`: the piece is over 256 KiB", body = ApiError),
        (status = 422, description = "`attachment_digest_mismatch`: every piece arrived but together they are not the file named; they were discarded, send them again", body = ApiError),
        (status = 500, response = Internal),
    )
)]
pub async fn put_piece(
    State(state): State<AppState>,
    PushCaller(caller): PushCaller,
    Path((sha256, index)): Path<(String, String)>,
    Query(q): Query<PieceQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<AttachmentUpload>, UploadError> {
    attachments::may_upload(&caller)?;
    check_sha(&sha256)?;
    let index: u64 = index.parse().map_err(|_| {
        AppError::BadRequest(format!("{index:?} is not a piece number (0, 1, 2, ...)"))
    })?;
    attachments::check_declared(q.size, q.pieces)?;
    let body = body.map_err(|e| UploadError::Refused {
        status: e.status(),
        code: if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            "payload_too_large"
        } else {
            "bad_request"
        },
        message: format!(
            "the piece could not be read ({e}); a piece is at most {PIECE_BODY_LIMIT} bytes"
        ),
    })?;
    let upload = attachments::put_piece(
        &state.pool,
        &caller,
        &sha256,
        q.size,
        index,
        &body,
        now_ms(),
    )
    .await?;
    Ok(Json(upload))
}
