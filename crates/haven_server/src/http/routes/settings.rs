//! `/api/v1/settings/accounts`: the trust's account rules (second factor
//! for which roles; idle lock time). Anyone signed in or enrolled reads them,
//! since devices need the idle time; trust admins change them.
//! `/api/v1/settings/reminders`: how often one person may be reminded to
//! sign, and whether the server reminds weekly; staff read, trust admins
//! change.

use crate::error::AppError;
use crate::http::auth::{Caller, ClientAddr, Staff, TrustAdmin};
use crate::http::json::Json;
use crate::http::openapi::{
    Forbidden, Internal, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::state::AppState;
use crate::store::audit::{Action, Entry};
use axum::extract::State;
use haven_core::accounts::roles::Role;
use haven_core::api::accounts::AccountSettings;
use haven_core::api::ApiError;
use haven_core::reminders::ReminderSettings;

/// The trust's account rules.
#[utoipa::path(
    get,
    path = "/api/v1/settings/accounts",
    tag = "staff",
    operation_id = "get_account_settings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rules", body = AccountSettings),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<AccountSettings>, AppError> {
    Ok(Json(crate::store::accounts::settings(&state.pool).await?))
}

/// Changes the trust's account rules.
#[utoipa::path(
    put,
    path = "/api/v1/settings/accounts",
    tag = "staff",
    operation_id = "put_account_settings",
    security(("bearer" = [])),
    request_body(content = AccountSettings),
    responses(
        (status = 200, description = "The rules now", body = AccountSettings),
        (status = 400, description = "`bad_request`; `invalid_settings`: the message names the field", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    client: ClientAddr,
    TrustAdmin(admin): TrustAdmin,
    Json(settings): Json<AccountSettings>,
) -> Result<Json<AccountSettings>, AppError> {
    if !(1..=120).contains(&settings.idle_lock_minutes) {
        return Err(AppError::Invalid {
            code: "invalid_settings",
            message: format!(
                "idle_lock_minutes must be 1 to 120; it was {}",
                settings.idle_lock_minutes
            ),
        });
    }
    if let Some(role) = settings
        .second_factor_required
        .iter()
        .find(|r| !r.second_factor_may_be_required())
    {
        return Err(AppError::Invalid {
            code: "invalid_settings",
            message: format!(
                "second_factor_required: {} cannot be required to use a second factor; \
                 choose from trust_admin, dsl, esafety_lead",
                role.as_str()
            ),
        });
    }
    let mut roles = settings.second_factor_required.clone();
    roles.sort();
    roles.dedup();
    let mut tx = crate::store::db::begin_write(&state.pool).await?;
    let (before, idle_before) = crate::store::accounts::stored_settings(&mut *tx).await?;
    crate::store::accounts::put_settings(&mut *tx, &roles, settings.idle_lock_minutes).await?;
    let changes = describe_changes(&before, &roles, idle_before, settings.idle_lock_minutes);
    if !changes.is_empty() {
        Entry::new(admin.actor(), Action::AccountSettingsChanged)
            .client(&client)
            .detail(changes)
            .write(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Json(crate::store::accounts::settings(&state.pool).await?))
}

/// What an admin changed, for the audit log: roles that must now use a
/// second factor, roles that no longer must, and the idle lock time. Empty
/// when nothing changed.
fn describe_changes(before: &[Role], after: &[Role], idle_before: i64, idle_after: u32) -> String {
    let names = |roles: Vec<&Role>| {
        roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let added: Vec<&Role> = after.iter().filter(|r| !before.contains(r)).collect();
    let removed: Vec<&Role> = before.iter().filter(|r| !after.contains(r)).collect();
    let mut parts = Vec::new();
    if !removed.is_empty() {
        parts.push(format!(
            "second factor no longer required for {}",
            names(removed)
        ));
    }
    if !added.is_empty() {
        parts.push(format!("second factor now required for {}", names(added)));
    }
    if idle_before != i64::from(idle_after) {
        parts.push(format!("idle lock {idle_before} -> {idle_after} minutes"));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_roles_turned_off_and_on_and_the_idle_time() {
        let before = [Role::TrustAdmin, Role::Dsl];
        let after = [Role::Dsl, Role::EsafetyLead];
        assert_eq!(
            describe_changes(&before, &after, 5, 10),
            "second factor no longer required for trust_admin; \
             second factor now required for esafety_lead; idle lock 5 -> 10 minutes"
        );
        assert_eq!(describe_changes(&before, &before, 5, 5), "");
    }
}

/// The trust's reminder rules.
#[utoipa::path(
    get,
    path = "/api/v1/settings/reminders",
    tag = "staff",
    operation_id = "get_reminder_settings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rules", body = ReminderSettings),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn get_reminders(
    State(state): State<AppState>,
    _caller: Staff,
) -> Result<Json<ReminderSettings>, AppError> {
    Ok(Json(crate::store::reminders::settings(&state.pool).await?))
}

/// Changes the trust's reminder rules.
#[utoipa::path(
    put,
    path = "/api/v1/settings/reminders",
    tag = "staff",
    operation_id = "put_reminder_settings",
    security(("bearer" = [])),
    request_body(content = ReminderSettings),
    responses(
        (status = 200, description = "The rules now", body = ReminderSettings),
        (status = 400, description = "`bad_request`; `invalid_settings`: the message names the field", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn put_reminders(
    State(state): State<AppState>,
    client: ClientAddr,
    TrustAdmin(admin): TrustAdmin,
    Json(settings): Json<ReminderSettings>,
) -> Result<Json<ReminderSettings>, AppError> {
    crate::jobs::reminders::check(&settings)?;
    let mut tx = crate::store::db::begin_write(&state.pool).await?;
    crate::store::reminders::put_settings(&mut *tx, &settings).await?;
    Entry::new(admin.actor(), Action::ReminderSettingsChanged)
        .client(&client)
        .detail(format!(
            "every {} days; weekly run {}",
            settings.interval_days,
            if settings.weekly { "on" } else { "off" }
        ))
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Json(settings))
}
