//! `POST /api/v1/roster/import`: a trust's OneRoster 1.1 CSV export from its
//! MIS (through Wonde or Groupcall Xporter), read and planned by
//! `haven_core::accounts::oneroster`, and carried out when asked: staff get
//! accounts with the staff role at their academies, families get invitation
//! links, and a newer export updates in place. Leavers are deactivated and
//! families who have left have their links closed; nothing is deleted, so
//! what anyone signed stays on record. A dry run (the default) changes
//! nothing and shows the plan.

use super::parents::{DAY_MS, DEFAULT_VALID_DAYS};
use crate::clock::{new_id, now_ms};
use crate::crypto::tokens::{new_prefixed_token, token_digest};
use crate::error::AppError;
use crate::http::auth::{ClientAddr, TrustAdmin};
use crate::http::json::Json;
use crate::http::openapi::{
    Forbidden, Internal, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::state::AppState;
use crate::store::accounts::{self, LINK_PREFIX};
use crate::store::audit::{Action, Entry};
use crate::store::{parents, roster};
use axum::extract::State;
use haven_core::accounts::class_list::ParentInvitationPlan;
use haven_core::accounts::oneroster::{
    parse_roster, plan_roster, CurrentRoster, FileProblem, RosterFiles, RosterPlan, StaffChange,
};
use haven_core::api::accounts::{InvitedStaff, IssuedParentInvitation, RosterImport, RosterUpload};
use haven_core::api::ApiError;

/// The most a roster upload may be: a large trust's users and enrollments.
pub const ROSTER_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// Reads an export, plans it against what earlier imports made and, with
/// `apply`, carries the plan out in one transaction.
#[utoipa::path(
    post,
    path = "/api/v1/roster/import",
    tag = "staff",
    operation_id = "import_roster",
    security(("bearer" = [])),
    request_body(content = RosterUpload),
    responses(
        (status = 200, description = "The plan, every problem row, and (when applied) the new links", body = RosterImport),
        (status = 400, description = "`bad_request`; `invalid_roster`: a file cannot be read or lacks a column (the message names both)", body = ApiError),
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
    TrustAdmin(admin): TrustAdmin,
    Json(upload): Json<RosterUpload>,
) -> Result<Json<RosterImport>, AppError> {
    let academies = crate::store::org::academy_names(&state.pool).await?;
    let files = RosterFiles {
        orgs: &upload.orgs,
        users: &upload.users,
        classes: upload.classes.as_deref(),
        enrollments: upload.enrollments.as_deref(),
    };
    let report = parse_roster(&files, &academies).map_err(|e| AppError::Invalid {
        code: "invalid_roster",
        message: e.to_string(),
    })?;
    let mut tx = crate::store::db::begin_write(&state.pool).await?;
    let current = roster::current(&mut tx).await?;
    let plan = plan_roster(&report, &current);
    let mut result = RosterImport {
        applied: upload.apply,
        counts: report.counts,
        plan,
        problems: report.problems,
        invited: Vec::new(),
        invitations: Vec::new(),
    };
    let mut invited_ids = Vec::new();
    if upload.apply {
        invited_ids = apply(&mut tx, &current, &mut result, &admin.user_id).await?;
    }
    let s = &result.plan.summary;
    Entry::new(admin.actor(), Action::RosterImported)
        .client(&client)
        .detail(format!(
            "{}: staff {} added, {} updated, {} deactivated; families {} added, {} updated, \
             {} closed; {} problems",
            if upload.apply { "applied" } else { "dry run" },
            s.staff_to_add,
            s.staff_to_update,
            s.staff_to_deactivate,
            s.families_to_add,
            s.families_to_update,
            s.families_to_close,
            result.problems.len()
        ))
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    for (id, link_path, expires_at) in invited_ids {
        result.invited.push(InvitedStaff {
            staff: accounts::staff_member(&state.pool, &id).await?,
            link_path,
            expires_at,
        });
    }
    Ok(Json(result))
}

/// A problem with a person rather than a row (line 0: the file as a whole).
fn person_problem(message: String) -> FileProblem {
    FileProblem {
        file: "users.csv".into(),
        line: 0,
        message,
    }
}

/// Carries out `result.plan`, adding the new families' links and any
/// problem met on the way to `result`; returns the staff invited.
async fn apply(
    tx: &mut crate::store::db::Conn,
    current: &CurrentRoster,
    result: &mut RosterImport,
    created_by: &str,
) -> Result<Vec<(String, String, i64)>, AppError> {
    let plan: &RosterPlan = &result.plan;
    let mut problems = Vec::new();
    let mut invited = Vec::new();
    for staff in &plan.staff_to_add {
        let grants = staff.grants();
        match accounts::user_id_by_email(&mut *tx, &staff.email).await? {
            // Someone added by hand before the MIS was connected: the roster
            // takes them over rather than making a second account.
            Some(id) => match roster::staff_source_of(&mut *tx, &id).await? {
                Some(other) => problems.push(person_problem(format!(
                    "{} ({}) has the email {} of another person in the roster ({other}); \
                     they were not added. Correct the email in the MIS",
                    staff.name, staff.source_id, staff.email
                ))),
                None => {
                    accounts::add_grants(tx, &id, &grants).await?;
                    roster::link_staff(&mut *tx, &staff.source_id, &id, &staff.academies).await?;
                }
            },
            None => {
                let made = accounts::invite_user(tx, &staff.name, &staff.email, &grants).await?;
                roster::link_staff(&mut *tx, &staff.source_id, &made.0, &staff.academies).await?;
                invited.push(made);
            }
        }
    }
    for update in &plan.staff_to_update {
        let id = update.user_id.to_string();
        let staff = &update.staff;
        if update.changes.contains(&StaffChange::Name)
            || update.changes.contains(&StaffChange::Email)
        {
            let taken = accounts::user_id_by_email(&mut *tx, &staff.email).await?;
            let email = match taken {
                Some(other) if other != id => {
                    problems.push(person_problem(format!(
                        "{} ({}): the new email {} is another account's; it was not changed",
                        staff.name, staff.source_id, staff.email
                    )));
                    None
                }
                _ => Some(staff.email.as_str()),
            };
            let held = current.staff.iter().find(|k| k.user_id == update.user_id);
            let email = email.or(held.map(|k| k.email.as_str())).unwrap_or_default();
            roster::set_name_and_email(&mut *tx, &id, &staff.name, email).await?;
        }
        if update.changes.contains(&StaffChange::Academies) {
            let before = current
                .staff
                .iter()
                .find(|k| k.user_id == update.user_id)
                .map(|k| k.academies.clone())
                .unwrap_or_default();
            for gone in before.iter().filter(|a| !staff.academies.contains(a)) {
                roster::remove_staff_role(&mut *tx, &id, *gone).await?;
            }
            accounts::add_grants(tx, &id, &staff.grants()).await?;
        }
        if update.changes.contains(&StaffChange::Reactivated) {
            accounts::set_active(tx, &id, true).await?;
        }
        roster::link_staff(&mut *tx, &staff.source_id, &id, &staff.academies).await?;
    }
    for leaver in &plan.staff_to_deactivate {
        // Signing in stops and sessions end; the account and what it signed stay.
        accounts::set_active(tx, &leaver.user_id.to_string(), false).await?;
    }
    let now = now_ms();
    let expires_at = now + i64::from(DEFAULT_VALID_DAYS) * DAY_MS;
    for family in &plan.families_to_add {
        let id = new_id().to_string();
        let token = new_prefixed_token(LINK_PREFIX);
        parents::insert_invitation(
            &mut *tx,
            &parents::NewInvitation {
                id: &id,
                plan: &ParentInvitationPlan {
                    academy_id: family.academy_id,
                    parent_name: family.parent_name.clone(),
                    parent_email: family.parent_email.clone(),
                    children: family.children.clone(),
                    lines: Vec::new(),
                },
                token_sha256: &token_digest(&token),
                created_by,
                created_at: now,
                expires_at,
            },
        )
        .await?;
        roster::link_family(&mut *tx, &family.parent_source_id, family.academy_id, &id).await?;
        result.invitations.push(IssuedParentInvitation {
            invitation: parents::invitation(tx, &id).await?,
            link_path: format!("/join/{token}"),
        });
    }
    for update in &plan.families_to_update {
        let family = &update.family;
        roster::update_invitation(
            &mut *tx,
            &update.invitation_id.to_string(),
            &family.parent_name,
            family.parent_email.as_deref(),
            &family.children,
        )
        .await?;
    }
    for closed in &plan.families_to_close {
        roster::close_family(tx, &closed.invitation_id.to_string(), now).await?;
    }
    result.problems.extend(problems);
    Ok(invited)
}
