//! `/api/v1/devices`: enrolling reception kiosks and shared staff tablets
//! with short, expiring codes; listing them with their last contact and
//! backlog; revoking one.

use super::parse_id;
use crate::audit::{Action, Entry};
use crate::auth::{new_prefixed_token, token_digest, ClientAddr, Staff, DEVICE_TOKEN_PREFIX};
use crate::clock::{new_id, now_ms};
use crate::error::AppError;
use crate::json::Json;
use crate::openapi::{
    Forbidden, Internal, PayloadTooLarge, TooManyAttempts, Unauthorized, UnsupportedMediaType,
};
use crate::routes::auth::{count_failure, guard_address};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use haven_core::accounts::permissions::Capability;
use haven_core::api::accounts::{
    DeviceKind, DeviceView, EnrolRequest, Enrolled, EnrolmentCode, EnrolmentCodeRequest,
};
use haven_core::api::ApiError;
use rand::Rng;

/// An enrolment code is good for 15 minutes: long enough to walk to the
/// device, short enough that a code on a sticky note is soon useless.
pub const CODE_LIFETIME_MS: i64 = 15 * 60 * 1000;
/// No 0/O, 1/I/L: codes are read off one screen and typed into another.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_LEN: usize = 8;

/// A new code, shown as `ABCD-EFGH`.
fn new_code() -> String {
    let mut rng = rand::rngs::OsRng;
    let chars: String = (0..CODE_LEN)
        .map(|_| char::from(CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())]))
        .collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

/// A typed code in the form it is hashed in: upper case, no spaces or dashes.
fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: String,
    sync_device_id: String,
    academy_id: String,
    kind: String,
    label: String,
    enrolled_at: i64,
    last_contact_at: i64,
    reported_backlog: Option<i64>,
    revoked_at: Option<i64>,
}

const DEVICE_SELECT: &str = "SELECT e.id, e.sync_device_id, e.academy_id, e.kind, e.label, \
     e.enrolled_at, e.last_contact_at, d.reported_backlog, e.revoked_at \
     FROM enrolled_devices e LEFT JOIN devices d ON d.device_id = (SELECT device_id FROM devices \
     WHERE binding = 'enrolled:' || e.id ORDER BY last_seen_at DESC LIMIT 1)";

impl TryFrom<DeviceRow> for DeviceView {
    type Error = AppError;

    fn try_from(row: DeviceRow) -> Result<Self, AppError> {
        Ok(DeviceView {
            id: crate::accounts::parse_uuid(&row.id)?,
            sync_device_id: crate::accounts::parse_uuid(&row.sync_device_id)?,
            academy_id: crate::accounts::parse_uuid(&row.academy_id)?,
            kind: DeviceKind::parse(&row.kind)
                .ok_or_else(|| AppError::Internal(format!("stored device kind {}", row.kind)))?,
            label: row.label,
            enrolled_at: row.enrolled_at,
            last_contact_at: row.last_contact_at,
            reported_backlog: u64::try_from(row.reported_backlog.unwrap_or(0)).unwrap_or(0),
            revoked_at: row.revoked_at,
        })
    }
}

async fn device(state: &AppState, id: &str) -> Result<DeviceView, AppError> {
    let row: Option<DeviceRow> = sqlx::query_as(&format!("{DEVICE_SELECT} WHERE e.id = $1"))
        .bind(id)
        .fetch_optional(&state.pool)
        .await?;
    row.ok_or_else(|| AppError::NotFound(format!("there is no enrolled device {id}")))?
        .try_into()
}

/// Makes a one-time enrolment code for a device at an academy.
#[utoipa::path(
    post,
    path = "/api/v1/devices/codes",
    tag = "devices",
    operation_id = "create_enrolment_code",
    security(("bearer" = [])),
    request_body(content = EnrolmentCodeRequest),
    responses(
        (status = 201, description = "Type this code into the device within 15 minutes", body = EnrolmentCode),
        (status = 400, description = "`bad_request`; `invalid_device`: no such academy, or a bad label", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn create_code(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(caller): Staff,
    Json(request): Json<EnrolmentCodeRequest>,
) -> Result<(StatusCode, Json<EnrolmentCode>), AppError> {
    caller.require(Some(request.academy_id), Capability::ManageDevices)?;
    if !crate::org::academy_exists(&state.pool, request.academy_id).await? {
        return Err(AppError::Invalid {
            code: "invalid_device",
            message: format!("there is no academy {}", request.academy_id),
        });
    }
    let label = haven_core::accounts::clean(&request.label);
    if label.is_empty() || label.chars().count() > 100 {
        return Err(AppError::Invalid {
            code: "invalid_device",
            message:
                "label: say where the device is, e.g. \"Main reception\" (at most 100 characters)"
                    .into(),
        });
    }
    let code = new_code();
    let now = now_ms();
    let expires_at = now + CODE_LIFETIME_MS;
    let mut tx = state.pool.begin().await?;
    sqlx::query(
        "INSERT INTO enrolment_codes (code_sha256, academy_id, kind, label, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(token_digest(&normalise_code(&code)))
    .bind(request.academy_id.to_string())
    .bind(request.kind.as_str())
    .bind(&label)
    .bind(&caller.user_id)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    Entry::new(caller.actor(), Action::DeviceCodeCreated)
        .academy(request.academy_id)
        .client(&client)
        .detail(format!("{} \"{label}\"", request.kind.as_str()))
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrolmentCode { code, expires_at }),
    ))
}

/// Enrols the calling device with a code: it gets its device token, which it
/// keeps and sends as its bearer token from then on.
#[utoipa::path(
    post,
    path = "/api/v1/devices/enrol",
    tag = "devices",
    operation_id = "enrol_device",
    request_body(content = EnrolRequest),
    responses(
        (status = 201, description = "Enrolled", body = Enrolled),
        (status = 400, description = "`bad_request`", body = ApiError),
        (status = 404, description = "`not_found`: the code is not known (check for typing mistakes)", body = ApiError),
        (status = 409, description = "`already_enrolled`: this device is enrolled already", body = ApiError),
        (status = 410, description = "`link_used` or `link_expired`: the code was used or is too old; ask for a new one", body = ApiError),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    )
)]
pub async fn enrol(
    State(state): State<AppState>,
    client: ClientAddr,
    Json(request): Json<EnrolRequest>,
) -> Result<(StatusCode, Json<Enrolled>), AppError> {
    guard_address(&state, &client).await?;
    let now = now_ms();
    let mut tx = crate::db::begin_write(&state.pool).await?;
    let digest = token_digest(&normalise_code(&request.code));
    let row: Option<(String, String, String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT academy_id, kind, label, created_by, expires_at, used_at FROM enrolment_codes \
         WHERE code_sha256 = $1",
    )
    .bind(&digest)
    .fetch_optional(&mut *tx)
    .await?;
    let checked = match row {
        None => Err(AppError::NotFound(
            "that enrolment code is not known; check it for typing mistakes".into(),
        )),
        Some((.., Some(_))) => Err(AppError::LinkUsed),
        Some((_, _, _, _, expires_at, None)) if expires_at <= now => Err(AppError::LinkExpired),
        Some(row) => Ok(row),
    };
    let (academy_id, kind, label, created_by, ..) = match checked {
        Ok(found) => found,
        Err(refusal) => {
            // Give up the write lock first: the refusal is logged on its own.
            tx.rollback().await?;
            Entry::new("anonymous", Action::DeviceRefused)
                .client(&client)
                .write(&state.pool)
                .await?;
            return count_failure(&state, &client, Err(refusal)).await;
        }
    };
    let sync_id = request.sync_device_id.to_string();
    let existing: Option<(String, Option<i64>)> =
        sqlx::query_as("SELECT id, revoked_at FROM enrolled_devices WHERE sync_device_id = $1")
            .bind(&sync_id)
            .fetch_optional(&mut *tx)
            .await?;
    let token = new_prefixed_token(DEVICE_TOKEN_PREFIX);
    let id = match existing {
        Some((_, None)) => {
            return Err(AppError::Conflict {
                code: "already_enrolled",
                message: "this device is enrolled already; an admin can revoke it first".into(),
            })
        }
        // A revoked device enrolled again keeps its row (and its sync history).
        Some((id, Some(_))) => {
            sqlx::query(
                "UPDATE enrolled_devices SET academy_id = $1, kind = $2, label = $3, token_sha256 = $4, \
                 enrolled_at = $5, enrolled_by = $6, last_contact_at = $7, revoked_at = NULL WHERE id = $8",
            )
            .bind(&academy_id)
            .bind(&kind)
            .bind(&label)
            .bind(token_digest(&token))
            .bind(now)
            .bind(&created_by)
            .bind(now)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            id
        }
        None => {
            let id = new_id().to_string();
            sqlx::query(
                "INSERT INTO enrolled_devices (id, sync_device_id, academy_id, kind, label, \
                 token_sha256, enrolled_at, enrolled_by, last_contact_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&id)
            .bind(&sync_id)
            .bind(&academy_id)
            .bind(&kind)
            .bind(&label)
            .bind(token_digest(&token))
            .bind(now)
            .bind(&created_by)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            id
        }
    };
    sqlx::query("UPDATE enrolment_codes SET used_at = $1 WHERE code_sha256 = $2")
        .bind(now)
        .bind(&digest)
        .execute(&mut *tx)
        .await?;
    Entry::new(format!("device:{id}"), Action::DeviceEnrolled)
        .academy(&academy_id)
        .client(&client)
        .detail(format!("{kind} \"{label}\""))
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    let settings = crate::accounts::settings(&state.pool).await?;
    Ok((
        StatusCode::CREATED,
        Json(Enrolled {
            token,
            device: device(&state, &id).await?,
            idle_lock_minutes: settings.idle_lock_minutes,
        }),
    ))
}

/// Enrolled devices the caller manages, with last contact and backlog.
#[utoipa::path(
    get,
    path = "/api/v1/devices",
    tag = "devices",
    operation_id = "list_devices",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Devices, most recently in contact first", body = Vec<DeviceView>),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Staff(caller): Staff,
) -> Result<Json<Vec<DeviceView>>, AppError> {
    let scope = caller.managed_academies(Capability::ManageDevices)?;
    let rows: Vec<DeviceRow> = sqlx::query_as(&format!(
        "{DEVICE_SELECT} ORDER BY e.last_contact_at DESC, e.id"
    ))
    .fetch_all(&state.pool)
    .await?;
    let mut devices = Vec::with_capacity(rows.len());
    for row in rows {
        let view = DeviceView::try_from(row)?;
        if scope.as_ref().is_none_or(|s| s.contains(&view.academy_id)) {
            devices.push(view);
        }
    }
    Ok(Json(devices))
}

/// Revokes a device: its token stops working at its next request.
#[utoipa::path(
    post,
    path = "/api/v1/devices/{device_id}/revoke",
    tag = "devices",
    operation_id = "revoke_device",
    security(("bearer" = [])),
    params(("device_id" = Uuid, Path, description = "The enrolled device (its `id`, not its sync id)")),
    responses(
        (status = 200, description = "Revoked (or already revoked)", body = DeviceView),
        (status = 400, description = "`bad_request`: not a UUID", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`not_found`", body = ApiError),
        (status = 500, response = Internal),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(caller): Staff,
    Path(id): Path<String>,
) -> Result<Json<DeviceView>, AppError> {
    let id = parse_id(&id, "device id")?.to_string();
    let before = device(&state, &id).await?;
    caller.require(Some(before.academy_id), Capability::ManageDevices)?;
    let mut tx = state.pool.begin().await?;
    sqlx::query("UPDATE enrolled_devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    Entry::new(caller.actor(), Action::DeviceRevoked)
        .subject(format!("device:{id}"))
        .academy(before.academy_id)
        .client(&client)
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Json(device(&state, &id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unambiguous_and_typed_forms_normalise() {
        let code = new_code();
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
        assert!(code
            .bytes()
            .filter(|b| *b != b'-')
            .all(|b| CODE_ALPHABET.contains(&b)));
        assert_eq!(normalise_code(" abcd-efgh "), "ABCDEFGH");
        assert_eq!(normalise_code("ABCD EFGH"), normalise_code("abcd-efgh"));
    }
}
