//! `/api/v1/devices`: enrolling reception kiosks and shared staff tablets
//! with short, expiring codes; listing them with their last contact and
//! backlog; revoking one.

use super::parse_id;
use crate::clock::{new_id, now_ms};
use crate::crypto::tokens::{new_prefixed_token, token_digest, DEVICE_TOKEN_PREFIX};
use crate::error::AppError;
use crate::http::auth::{ClientAddr, Staff};
use crate::http::json::Json;
use crate::http::openapi::{
    Forbidden, Internal, PayloadTooLarge, TooManyAttempts, Unauthorized, UnsupportedMediaType,
};
use crate::http::routes::auth::{count_failure, guard_address};
use crate::state::AppState;
use crate::store::audit::{Action, Entry};
use crate::store::devices;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use haven_core::accounts::permissions::Capability;
use haven_core::api::accounts::{
    DeviceView, EnrolRequest, Enrolled, EnrolmentCode, EnrolmentCodeRequest,
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

async fn device(state: &AppState, id: &str) -> Result<DeviceView, AppError> {
    crate::store::devices::device(&state.pool, id).await
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
    if !crate::store::org::academy_exists(&state.pool, request.academy_id).await? {
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
    devices::insert_code(
        &mut *tx,
        &devices::NewCode {
            code_sha256: &token_digest(&normalise_code(&code)),
            academy_id: request.academy_id,
            kind: request.kind.as_str(),
            label: &label,
            created_by: &caller.user_id,
            created_at: now,
            expires_at,
        },
    )
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
    let mut tx = crate::store::db::begin_write(&state.pool).await?;
    let digest = token_digest(&normalise_code(&request.code));
    let row = devices::code(&mut *tx, &digest).await?;
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
    let existing = devices::enrolled_by_sync_id(&mut *tx, &sync_id).await?;
    let token = new_prefixed_token(DEVICE_TOKEN_PREFIX);
    let enrolment = devices::Enrolment {
        academy_id: &academy_id,
        kind: &kind,
        label: &label,
        token_sha256: &token_digest(&token),
        enrolled_by: &created_by,
    };
    let id = match existing {
        Some((_, None)) => {
            return Err(AppError::Conflict {
                code: "already_enrolled",
                message: "this device is enrolled already; an admin can revoke it first".into(),
            })
        }
        // A revoked device enrolled again keeps its row (and its sync history).
        Some((id, Some(_))) => {
            devices::re_enrol(&mut *tx, &id, &enrolment, now).await?;
            id
        }
        None => {
            let id = new_id().to_string();
            devices::enrol(&mut *tx, &id, &sync_id, &enrolment, now).await?;
            id
        }
    };
    devices::use_code(&mut *tx, &digest, now).await?;
    Entry::new(format!("device:{id}"), Action::DeviceEnrolled)
        .academy(&academy_id)
        .client(&client)
        .detail(format!("{kind} \"{label}\""))
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    let settings = crate::store::accounts::settings(&state.pool).await?;
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
    let all = devices::all(&state.pool).await?;
    let mut visible = Vec::with_capacity(all.len());
    for view in all {
        if scope.as_ref().is_none_or(|s| s.contains(&view.academy_id)) {
            visible.push(view);
        }
    }
    Ok(Json(visible))
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
    devices::revoke(&mut *tx, &id, now_ms()).await?;
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
