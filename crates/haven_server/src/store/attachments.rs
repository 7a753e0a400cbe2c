//! Incident attachments on the server: encrypted files uploaded in pieces,
//! apart from their incident (docs/sync-protocol.md, "How attachments
//! travel"), and opened only to serve them to someone who may read the
//! incident.
//!
//! An upload is named by the SHA-256 of its ciphertext, so a piece sent twice
//! is recognised, a piece that differs from the one stored is a conflict, and
//! the whole is checked once every piece is in. The server cannot read what
//! it stores here: the key is in the incident record, which only the server's
//! incident key opens.

use crate::error::AppError;
use crate::http::auth::Caller;
use crate::store::db::begin_write;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use haven_core::api::incidents::AttachmentUpload;
use haven_core::api::ApiError;
use haven_core::incident::{
    megabytes, piece_count, piece_range, Attachment, ABANDONED_UPLOAD_MS, MAX_CIPHERTEXT_BYTES,
    MAX_PENDING_ATTACHMENT_BYTES,
};
use haven_core::Millis;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, AnyPool};

/// Why an upload or a read is refused, with a status [`AppError`] has no
/// variant for; answered as the API answers every error.
#[derive(Debug)]
pub enum UploadError {
    App(AppError),
    Refused {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
}

impl From<AppError> for UploadError {
    fn from(e: AppError) -> Self {
        UploadError::App(e)
    }
}

impl From<sqlx::Error> for UploadError {
    fn from(e: sqlx::Error) -> Self {
        UploadError::App(e.into())
    }
}

impl IntoResponse for UploadError {
    fn into_response(self) -> Response {
        match self {
            UploadError::App(e) => e.into_response(),
            UploadError::Refused {
                status,
                code,
                message,
            } => (
                status,
                axum::Json(ApiError {
                    code: code.to_owned(),
                    message,
                }),
            )
                .into_response(),
        }
    }
}

fn refused(status: StatusCode, code: &'static str, message: String) -> UploadError {
    UploadError::Refused {
        status,
        code,
        message,
    }
}

/// Who may upload: whoever may push a record (a staff session, an enrolled
/// device), but not a parent's session, which never logs an incident.
pub fn may_upload(caller: &Caller) -> Result<(), AppError> {
    match caller {
        Caller::Parent(_) => Err(AppError::Forbidden),
        Caller::Staff(_) | Caller::Device(_) => Ok(()),
    }
}

/// The upload's size as declared with each piece, checked against the
/// limits in haven_core.
pub fn check_declared(size: u64, pieces: u64) -> Result<(), UploadError> {
    if size == 0 {
        return Err(AppError::BadRequest(
            "`size` must be the encrypted attachment's length in bytes, at least 1".into(),
        )
        .into());
    }
    if size > MAX_CIPHERTEXT_BYTES {
        return Err(refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            "attachment_too_large",
            format!(
                "an encrypted attachment must be between 1 byte and {MAX_CIPHERTEXT_BYTES} bytes; \
                 this one says it is {size}. Attach a smaller file"
            ),
        ));
    }
    if pieces != piece_count(size) {
        return Err(AppError::BadRequest(format!(
            "an attachment of {size} bytes travels in {} pieces of {} bytes (the last shorter), \
             not {pieces}",
            piece_count(size),
            haven_core::incident::ATTACHMENT_PIECE_BYTES
        ))
        .into());
    }
    Ok(())
}

/// Where the upload `sha256` stands, if the server has heard of it.
pub async fn status(
    db: &mut AnyConnection,
    sha256: &str,
) -> Result<Option<AttachmentUpload>, AppError> {
    let row: Option<(i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT size, pieces, completed_at FROM attachment_uploads WHERE sha256 = $1",
    )
    .bind(sha256)
    .fetch_optional(&mut *db)
    .await?;
    let Some((size, pieces, completed_at)) = row else {
        return Ok(None);
    };
    let received: Vec<i64> =
        sqlx::query_scalar("SELECT idx FROM attachment_pieces WHERE sha256 = $1 ORDER BY idx")
            .bind(sha256)
            .fetch_all(&mut *db)
            .await?;
    Ok(Some(AttachmentUpload {
        sha256: sha256.to_owned(),
        size: size as u64,
        pieces: pieces as u64,
        received: received.into_iter().map(|i| i as u64).collect(),
        complete: completed_at.is_some(),
    }))
}

/// Whether the upload `sha256` is hidden from `caller`: once an incident
/// names it, only someone who works at that incident's academy (every
/// such incident's) may learn where it stands or add a piece to it. Until
/// then only the device that made it knows its name.
async fn hidden_from(
    db: &mut AnyConnection,
    caller: &Caller,
    sha256: &str,
) -> Result<bool, AppError> {
    // Whoever started the upload may always finish it: otherwise someone at
    // another academy who learnt its name could log an incident of their
    // own naming it, and so lock its own uploader out of the rest.
    let uploader: Option<String> =
        sqlx::query_scalar("SELECT uploaded_by FROM attachment_uploads WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&mut *db)
            .await?;
    if uploader.as_deref() == Some(caller.identification().as_str()) {
        return Ok(false);
    }
    let academies: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT i.academy_id FROM incident_attachments a \
         JOIN incidents i ON i.id = a.incident_id WHERE a.sha256 = $1",
    )
    .bind(sha256)
    .fetch_all(&mut *db)
    .await?;
    for academy in academies {
        let academy = crate::store::db::parse_id(&academy)?;
        if !caller.belongs_to(academy) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Where the upload `sha256` stands, for `caller`: `None` if the server has
/// not heard of it, or it belongs to an incident at an academy where the
/// caller does not work (answered alike).
pub async fn status_for(
    db: &mut AnyConnection,
    caller: &Caller,
    sha256: &str,
) -> Result<Option<AttachmentUpload>, AppError> {
    if hidden_from(db, caller, sha256).await? {
        return Ok(None);
    }
    status(db, sha256).await
}

/// Bytes of the uploads `uploaded_by` started that no incident names yet,
/// finished or not: what one credential may leave on the server.
async fn pending_bytes(db: &mut AnyConnection, uploaded_by: &str) -> Result<u64, AppError> {
    let bytes: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(u.size), 0) AS BIGINT) FROM attachment_uploads u WHERE u.uploaded_by = $1 \
         AND NOT EXISTS (SELECT 1 FROM incident_attachments a WHERE a.sha256 = u.sha256)",
    )
    .bind(uploaded_by)
    .fetch_one(&mut *db)
    .await?;
    Ok(bytes as u64)
}

/// One piece of the upload `sha256` (`size` bytes in `pieces` pieces in all),
/// in one write transaction: the same piece again changes nothing, a
/// different one is a conflict, and the piece that completes the upload has
/// the whole checked against its digest. Returns where the upload stands.
pub async fn put_piece(
    pool: &AnyPool,
    caller: &Caller,
    sha256: &str,
    size: u64,
    index: u64,
    bytes: &[u8],
    now: Millis,
) -> Result<AttachmentUpload, UploadError> {
    check_declared(size, piece_count(size))?;
    let Some(range) = piece_range(size, index) else {
        return Err(AppError::BadRequest(format!(
            "an attachment of {size} bytes has pieces 0 to {}; there is no piece {index}",
            piece_count(size) - 1
        ))
        .into());
    };
    if bytes.len() as u64 != range.end - range.start {
        return Err(AppError::BadRequest(format!(
            "piece {index} of an attachment of {size} bytes is {} bytes (bytes {} to {}); this \
             one is {}",
            range.end - range.start,
            range.start,
            range.end - 1,
            bytes.len()
        ))
        .into());
    }
    let mut tx = begin_write(pool).await?;
    if hidden_from(&mut tx, caller, sha256).await? {
        return Err(AppError::NotFound(format!(
            "there is no upload {sha256} that you may add to: it belongs to an incident at an \
             academy where you do not work"
        ))
        .into());
    }
    let known: Option<(i64, Option<i64>)> =
        sqlx::query_as("SELECT size, completed_at FROM attachment_uploads WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&mut *tx)
            .await?;
    match known {
        Some((known_size, _)) if known_size as u64 != size => {
            return Err(refused(
                StatusCode::CONFLICT,
                "attachment_size_conflict",
                format!(
                    "attachment {sha256} is being uploaded as {known_size} bytes, not {size}; \
                     the same file always has the same size"
                ),
            ));
        }
        // Complete already (a piece resent after a lost reply): nothing to do.
        Some((_, Some(_))) => {}
        Some((_, None)) => store_piece(&mut tx, sha256, index, bytes).await?,
        None => {
            let uploader = caller.identification();
            let pending = pending_bytes(&mut tx, &uploader).await?;
            if pending + size > MAX_PENDING_ATTACHMENT_BYTES as u64 {
                return Err(refused(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "attachments_pending_limit",
                    format!(
                        "the server already holds {} of attachments from you that no incident \
                         names yet; with this one ({}) that would pass the most allowed, {}. \
                         Send the incidents they belong to first; unfinished uploads are removed \
                         after {} days",
                        megabytes(pending),
                        megabytes(size),
                        megabytes(MAX_PENDING_ATTACHMENT_BYTES as u64),
                        ABANDONED_UPLOAD_MS / (24 * 60 * 60 * 1000)
                    ),
                ));
            }
            sqlx::query(
                "INSERT INTO attachment_uploads (sha256, size, pieces, uploaded_by, started_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(sha256)
            .bind(size as i64)
            .bind(piece_count(size) as i64)
            .bind(&uploader)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            store_piece(&mut tx, sha256, index, bytes).await?;
        }
    }
    let mut upload = status(&mut tx, sha256)
        .await?
        .ok_or_else(|| AppError::Internal(format!("upload {sha256} vanished")))?;
    if !upload.complete && upload.received.len() as u64 == upload.pieces {
        if whole_digest(&mut tx, sha256).await? != sha256 {
            // Every piece was taken as sent, yet the whole is not the file
            // named: start again rather than keep something no one can use.
            sqlx::query("DELETE FROM attachment_uploads WHERE sha256 = $1")
                .bind(sha256)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Err(refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "attachment_digest_mismatch",
                format!(
                    "the {} pieces put together are not the file named {sha256} (its SHA-256 \
                     differs), so they were discarded; send every piece again",
                    upload.pieces
                ),
            ));
        }
        sqlx::query("UPDATE attachment_uploads SET completed_at = $1 WHERE sha256 = $2")
            .bind(now)
            .bind(sha256)
            .execute(&mut *tx)
            .await?;
        upload.complete = true;
    }
    tx.commit().await?;
    Ok(upload)
}

async fn store_piece(
    tx: &mut AnyConnection,
    sha256: &str,
    index: u64,
    bytes: &[u8],
) -> Result<(), UploadError> {
    let stored: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT bytes FROM attachment_pieces WHERE sha256 = $1 AND idx = $2")
            .bind(sha256)
            .bind(index as i64)
            .fetch_optional(&mut *tx)
            .await?;
    match stored {
        Some(stored) if stored == bytes => Ok(()),
        Some(_) => Err(refused(
            StatusCode::CONFLICT,
            "piece_conflict",
            format!(
                "piece {index} of attachment {sha256} is already here with different bytes; a \
                 piece never changes (the file is named by its digest)"
            ),
        )),
        None => {
            sqlx::query("INSERT INTO attachment_pieces (sha256, idx, bytes) VALUES ($1, $2, $3)")
                .bind(sha256)
                .bind(index as i64)
                .bind(bytes)
                .execute(&mut *tx)
                .await?;
            Ok(())
        }
    }
}

/// The SHA-256 of the stored pieces put together, lowercase hex.
async fn whole_digest(db: &mut AnyConnection, sha256: &str) -> Result<String, AppError> {
    let mut hasher = Sha256::new();
    for piece in pieces(db, sha256).await? {
        hasher.update(&piece);
    }
    Ok(hex::encode(hasher.finalize()))
}

async fn pieces(db: &mut AnyConnection, sha256: &str) -> Result<Vec<Vec<u8>>, AppError> {
    Ok(
        sqlx::query_scalar("SELECT bytes FROM attachment_pieces WHERE sha256 = $1 ORDER BY idx")
            .bind(sha256)
            .fetch_all(&mut *db)
            .await?,
    )
}

/// Which of `sha256s` the server has whole.
pub async fn arrived(db: &mut AnyConnection, sha256s: &[String]) -> Result<Vec<String>, AppError> {
    let mut out = Vec::new();
    for sha in sha256s {
        let complete: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM attachment_uploads WHERE sha256 = $1 AND completed_at IS NOT NULL",
        )
        .bind(sha)
        .fetch_optional(&mut *db)
        .await?;
        if complete.is_some() {
            out.push(sha.clone());
        }
    }
    Ok(out)
}

/// Records, with a new incident in its push transaction, which attachments
/// it names: from then on they no longer count as pending for their uploader
/// and are never purged.
pub async fn link_to_incident(
    tx: &mut AnyConnection,
    incident: &haven_core::incident::IncidentRecord,
) -> Result<(), AppError> {
    for a in &incident.attachments {
        sqlx::query(
            "INSERT INTO incident_attachments (sha256, incident_id) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&a.sha256)
        .bind(incident.id.to_string())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// An attachment opened: its file, checked to be what the record says.
pub struct Opened {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

/// Opens `attachment` of a record the caller may read: `None` while the
/// device has not finished sending it. A file that does not open with the
/// record's key, or is not the size or kind the record says, is refused:
/// it is not what the member of staff attached.
pub async fn open(
    db: &mut AnyConnection,
    attachment: &Attachment,
) -> Result<Option<Opened>, UploadError> {
    if arrived(db, std::slice::from_ref(&attachment.sha256))
        .await?
        .is_empty()
    {
        return Ok(None);
    }
    let ciphertext = pieces(db, &attachment.sha256).await?.concat();
    let damaged = |why: String| {
        refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "attachment_damaged",
            format!(
                "{} cannot be shown: {why}. Ask the member of staff who logged the incident for \
                 the file",
                attachment.name
            ),
        )
    };
    let key = STANDARD
        .decode(&attachment.key)
        .map_err(|e| damaged(format!("its key is not base64 ({e})")))?;
    let iv = STANDARD
        .decode(&attachment.iv)
        .map_err(|e| damaged(format!("its nonce is not base64 ({e})")))?;
    if iv.len() != 12 {
        return Err(damaged("its nonce is not 12 bytes".into()));
    }
    let cipher = Aes256Gcm::new_from_slice(&key)
        .map_err(|_| damaged("its key is not a 32-byte AES key".into()))?;
    let bytes = cipher
        .decrypt(Nonce::from_slice(&iv), ciphertext.as_slice())
        .map_err(|_| damaged("it does not open with the key in the incident".into()))?;
    if bytes.len() as u64 != attachment.size {
        return Err(damaged(format!(
            "it is {} bytes, but the incident says {}",
            bytes.len(),
            attachment.size
        )));
    }
    if sniff(&bytes) != Some(attachment.content_type.as_str()) {
        return Err(damaged(format!(
            "it is not a {} file as the incident says",
            attachment.content_type
        )));
    }
    Ok(Some(Opened {
        bytes,
        content_type: attachment.content_type.clone(),
    }))
}

/// The kind of file `bytes` start like, of the kinds an attachment may be.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// Deletes uploads started before `now - ABANDONED_UPLOAD_MS` that no
/// incident names (finished or not), with their pieces. Returns how many.
pub async fn purge(pool: &AnyPool, now: Millis) -> Result<u64, sqlx::Error> {
    let mut tx = begin_write(pool).await?;
    let removed = sqlx::query(
        "DELETE FROM attachment_uploads WHERE started_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM incident_attachments a WHERE a.sha256 = attachment_uploads.sha256)",
    )
    .bind(now - ABANDONED_UPLOAD_MS)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_recognised_by_how_they_start() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0]), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"%PDF-1.7"), Some("application/pdf"));
        assert_eq!(sniff(b"<html>"), None);
        assert_eq!(sniff(b""), None);
    }
}
