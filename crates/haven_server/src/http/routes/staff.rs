//! `/api/v1/staff`: staff accounts for trust admins, and for headteachers
//! within their own academies: list, invite, import from CSV, change roles,
//! deactivate, reset a lost second factor.

use super::parse_id;
use crate::error::AppError;
use crate::http::auth::{ClientAddr, Staff};
use crate::http::json::Json;
use crate::http::openapi::{
    Forbidden, Internal, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::state::AppState;
use crate::store::accounts;
use crate::store::audit::{Action, Entry};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use haven_core::accounts::permissions::{Capability, Scope};
use haven_core::accounts::roles::RoleGrant;
use haven_core::accounts::staff_csv::parse_staff_csv;
use haven_core::accounts::RowProblem;
use haven_core::api::accounts::{
    CsvUpload, InviteStaffRequest, InvitedStaff, PutRolesRequest, SetActiveRequest,
    StaffImportReport, StaffMember,
};
use haven_core::api::ApiError;

/// Checks each grant is well formed, names a known academy and is in scope.
async fn check_grants(
    state: &AppState,
    scope: &Scope,
    grants: &[RoleGrant],
) -> Result<(), AppError> {
    let known = crate::store::org::academy_ids(&state.pool).await?;
    for grant in grants {
        grant
            .validate()
            .map_err(|e| AppError::invalid("invalid_roles", e))?;
        if let Some(academy) = grant.academy_id {
            if !known.contains(&academy) {
                return Err(AppError::Invalid {
                    code: "invalid_roles",
                    message: format!("there is no academy {academy}"),
                });
            }
        }
        if !scope.covers(grant) {
            return Err(AppError::Forbidden);
        }
    }
    Ok(())
}

/// Staff the caller manages, by name.
#[utoipa::path(
    get,
    path = "/api/v1/staff",
    tag = "staff",
    operation_id = "list_staff",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Everyone with a role at an academy the caller manages (everyone, for a trust admin)", body = Vec<StaffMember>),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(caller): Staff,
) -> Result<Json<Vec<StaffMember>>, AppError> {
    let scope = caller.scope(Capability::ManageStaff)?;
    let everyone = accounts::all_staff(&state.pool).await?;
    let visible = everyone
        .into_iter()
        .filter(|m| scope.sees(&m.grants))
        .collect();
    Entry::new(caller.actor(), Action::ReadStaff)
        .client(&client)
        .write(&state.pool)
        .await?;
    Ok(Json(visible))
}

/// Invites one person: their account, roles, and a one-time link (14 days)
/// to choose a password.
#[utoipa::path(
    post,
    path = "/api/v1/staff",
    tag = "staff",
    operation_id = "invite_staff",
    security(("bearer" = [])),
    request_body(content = InviteStaffRequest),
    responses(
        (status = 201, description = "Invited; pass the link on to them", body = InvitedStaff),
        (status = 400, description = "`bad_request`; `invalid_email`; `invalid_name`; `invalid_roles`", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, description = "`email_taken`: that email already has an account", body = ApiError),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn invite(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(caller): Staff,
    Json(request): Json<InviteStaffRequest>,
) -> Result<(StatusCode, Json<InvitedStaff>), AppError> {
    let scope = caller.scope(Capability::ManageStaff)?;
    let email = haven_core::accounts::normalise_email(&request.email).map_err(|message| {
        AppError::Invalid {
            code: "invalid_email",
            message,
        }
    })?;
    let name = haven_core::accounts::clean(&request.name);
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::Invalid {
            code: "invalid_name",
            message: "enter the person's name (at most 200 characters)".into(),
        });
    }
    if request.grants.is_empty() {
        return Err(AppError::Invalid {
            code: "invalid_roles",
            message: "give at least one role".into(),
        });
    }
    check_grants(&state, &scope, &request.grants).await?;
    let mut tx = crate::store::db::begin_write(&state.pool).await?;
    let (id, link_path, expires_at) =
        accounts::invite_user(&mut tx, &name, &email, &request.grants).await?;
    Entry::new(caller.actor(), Action::StaffInvited)
        .subject(format!("user:{id}"))
        .client(&client)
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    let staff = accounts::staff_member(&state.pool, &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(InvitedStaff {
            staff,
            link_path,
            expires_at,
        }),
    ))
}

/// Imports staff from CSV (name, email, academy, role): new people are
/// invited, people already in Haven get the roles; every row that cannot be
/// used is reported with its line and reason, and the rest still import.
#[utoipa::path(
    post,
    path = "/api/v1/staff/import",
    tag = "staff",
    operation_id = "import_staff",
    security(("bearer" = [])),
    request_body(content = CsvUpload, example = json!({"csv": "name,email,academy,role\nAda Lovelace,ada@oakfield.example,Oakfield Primary Academy,staff\n"})),
    responses(
        (status = 200, description = "What was imported and what was not", body = StaffImportReport),
        (status = 400, description = "`bad_request`; `invalid_csv`: the file as a whole cannot be read (the message says why)", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn import(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(caller): Staff,
    Json(upload): Json<CsvUpload>,
) -> Result<Json<StaffImportReport>, AppError> {
    let scope = caller.scope(Capability::ManageStaff)?;
    let academies = crate::store::org::academy_names(&state.pool).await?;
    let parsed = parse_staff_csv(&upload.csv, &academies).map_err(|e| AppError::Invalid {
        code: "invalid_csv",
        message: e.to_string(),
    })?;
    let mut problems = parsed.problems;
    let mut tx = crate::store::db::begin_write(&state.pool).await?;
    // Rows are grants; gather them per person, in file order, with the
    // lines each came from.
    let mut people: Vec<(String, String, Vec<RoleGrant>, Vec<usize>)> = Vec::new();
    for row in parsed.rows {
        let grant = RoleGrant {
            role: row.role,
            academy_id: Some(row.academy_id),
        };
        if !scope.covers(&grant) {
            problems.push(RowProblem {
                line: row.line,
                message: "you can only add staff at an academy where you are headteacher".into(),
            });
            continue;
        }
        match people.iter_mut().find(|(_, email, ..)| *email == row.email) {
            Some((_, _, grants, lines)) => {
                grants.push(grant);
                lines.push(row.line);
            }
            None => people.push((row.name, row.email, vec![grant], vec![row.line])),
        }
    }
    let mut invited_ids = Vec::new();
    let mut updated_ids = Vec::new();
    for (name, email, grants, lines) in &people {
        let existing = accounts::user_id_by_email(&mut *tx, email).await?;
        match existing {
            Some(id) => {
                // Someone who also works where the caller does not manage is
                // not theirs to change: nothing is added.
                let held = crate::store::accounts::grants(&mut *tx, &id).await?;
                if !scope.may_change(&held) {
                    for &line in lines {
                        problems.push(RowProblem {
                            line,
                            message: format!(
                                "{email} already has an account with a role outside the academies \
                                 you manage; nothing was added. Ask your trust admin to add the role"
                            ),
                        });
                    }
                    continue;
                }
                accounts::add_grants(&mut tx, &id, grants).await?;
                updated_ids.push(id);
            }
            None => invited_ids.push(accounts::invite_user(&mut tx, name, email, grants).await?),
        }
    }
    Entry::new(caller.actor(), Action::StaffImported)
        .client(&client)
        .detail(format!(
            "{} invited, {} updated, {} rows refused",
            invited_ids.len(),
            updated_ids.len(),
            problems.len()
        ))
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    problems.sort_by_key(|p| p.line);
    let mut invited = Vec::with_capacity(invited_ids.len());
    for (id, link_path, expires_at) in invited_ids {
        invited.push(InvitedStaff {
            staff: accounts::staff_member(&state.pool, &id).await?,
            link_path,
            expires_at,
        });
    }
    let mut updated = Vec::with_capacity(updated_ids.len());
    for id in updated_ids {
        updated.push(accounts::staff_member(&state.pool, &id).await?);
    }
    Ok(Json(StaffImportReport {
        invited,
        updated,
        problems,
    }))
}

/// Sets a person's roles: a trust admin sets all of them, a headteacher those
/// at their own academies (roles elsewhere are kept).
#[utoipa::path(
    put,
    path = "/api/v1/staff/{user_id}/roles",
    tag = "staff",
    operation_id = "put_staff_roles",
    security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "The staff member")),
    request_body(content = PutRolesRequest),
    responses(
        (status = 200, description = "The person with their roles now", body = StaffMember),
        (status = 400, description = "`bad_request`; `invalid_roles`", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`not_found`: no such staff member", body = ApiError),
        (status = 409, description = "`last_trust_admin`: the trust would have no admin", body = ApiError),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn put_roles(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(caller): Staff,
    Path(user_id): Path<String>,
    Json(request): Json<PutRolesRequest>,
) -> Result<Json<StaffMember>, AppError> {
    let user_id = parse_id(&user_id, "staff member id")?.to_string();
    let scope = caller.scope(Capability::ManageStaff)?;
    accounts::staff_member(&state.pool, &user_id).await?;
    check_grants(&state, &scope, &request.grants).await?;
    let mut tx = crate::store::db::begin_write(&state.pool).await?;
    // Every role the person holds must be within the caller's academies:
    // read in the write transaction, so nothing is added between.
    let held = crate::store::accounts::grants(&mut *tx, &user_id).await?;
    if !scope.may_change(&held) {
        return Err(AppError::Forbidden);
    }
    accounts::replace_grants(&mut tx, &user_id, scope.academies(), &request.grants).await?;
    let admins = accounts::trust_admin_count(&mut *tx).await?;
    if admins == 0 {
        return Err(AppError::Conflict {
            code: "last_trust_admin",
            message:
                "this would leave the trust with no admin; make someone else trust admin first"
                    .into(),
        });
    }
    Entry::new(caller.actor(), Action::RolesChanged)
        .subject(format!("user:{user_id}"))
        .client(&client)
        .detail(serde_json::to_string(&request.grants).unwrap_or_default())
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Json(accounts::staff_member(&state.pool, &user_id).await?))
}

/// Deactivates (every session ends at once, sign-in is refused) or
/// reactivates a person.
#[utoipa::path(
    put,
    path = "/api/v1/staff/{user_id}/active",
    tag = "staff",
    operation_id = "set_staff_active",
    security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "The staff member")),
    request_body(content = SetActiveRequest),
    responses(
        (status = 200, description = "The person as they are now", body = StaffMember),
        (status = 400, description = "`bad_request`; `cannot_deactivate_self`", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`not_found`: no such staff member", body = ApiError),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
    )
)]
pub async fn set_active(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(caller): Staff,
    Path(user_id): Path<String>,
    Json(request): Json<SetActiveRequest>,
) -> Result<Json<StaffMember>, AppError> {
    let user_id = parse_id(&user_id, "staff member id")?.to_string();
    let scope = caller.scope(Capability::ManageStaff)?;
    accounts::staff_member(&state.pool, &user_id).await?;
    if user_id == caller.user_id && !request.active {
        return Err(AppError::Invalid {
            code: "cannot_deactivate_self",
            message: "you cannot deactivate your own account; ask another admin".into(),
        });
    }
    let mut tx = crate::store::db::begin_write(&state.pool).await?;
    // Only someone wholly within the caller's academies (never a trust admin
    // for a headteacher): deactivating is trust-wide. Read in the write
    // transaction, so no role elsewhere is added between.
    let held = crate::store::accounts::grants(&mut *tx, &user_id).await?;
    if !scope.may_change(&held) {
        return Err(AppError::Forbidden);
    }
    accounts::set_active(&mut tx, &user_id, request.active).await?;
    let action = if request.active {
        Action::StaffReactivated
    } else {
        Action::StaffDeactivated
    };
    Entry::new(caller.actor(), action)
        .subject(format!("user:{user_id}"))
        .client(&client)
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Json(accounts::staff_member(&state.pool, &user_id).await?))
}

/// Resets a person's second factor, for someone who lost their
/// authenticator app: it is cleared (and any set-up in progress), every
/// session of theirs ends, so whoever holds one cannot set up an app before
/// them, and they sign in next with their password alone and set up a new
/// app (at once, where the trust requires one for their role). Who may: a
/// trust admin, or a headteacher for a person whose every role is at their
/// academies. Not for one's own: replace yours with a code from it.
#[utoipa::path(
    post,
    path = "/api/v1/staff/{user_id}/second-factor/reset",
    tag = "staff",
    operation_id = "reset_staff_second_factor",
    security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "The staff member")),
    responses(
        (status = 204, description = "Their authenticator app is cleared and every session of theirs ended"),
        (status = 400, description = "`bad_request`: the id is not a UUID; `cannot_reset_own_second_factor`: replace or remove your own with a code from it (/auth/totp/confirm, /auth/totp/remove)", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`not_found`: no such staff member", body = ApiError),
        (status = 500, response = Internal),
    )
)]
pub async fn reset_second_factor(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(caller): Staff,
    Path(user_id): Path<String>,
) -> Result<StatusCode, AppError> {
    let user_id = parse_id(&user_id, "staff member id")?.to_string();
    let scope = caller.scope(Capability::ManageStaff)?;
    accounts::staff_member(&state.pool, &user_id).await?;
    if user_id == caller.user_id {
        return Err(AppError::Invalid {
            code: "cannot_reset_own_second_factor",
            message: "you cannot reset your own second factor: replace or remove your \
                      authenticator app on your account page with a code from it, or ask \
                      another admin to reset it"
                .into(),
        });
    }
    let mut tx = crate::store::db::begin_write(&state.pool).await?;
    // As for roles and deactivation: only someone wholly within the caller's
    // academies, read in the write transaction.
    let held = crate::store::accounts::grants(&mut *tx, &user_id).await?;
    if !scope.may_change(&held) {
        return Err(AppError::Forbidden);
    }
    let (had, ended) = accounts::reset_totp(&mut tx, &user_id).await?;
    Entry::new(caller.actor(), Action::SecondFactorReset)
        .subject(format!("user:{user_id}"))
        .client(&client)
        .detail(format!(
            "{}; {ended} sessions ended",
            if had {
                "authenticator app cleared"
            } else {
                "had no authenticator app"
            }
        ))
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(user_id, by = %caller.user_id, "second factor reset");
    Ok(StatusCode::NO_CONTENT)
}
