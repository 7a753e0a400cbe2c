//! `/api/v1/parent-invitations`: single-use, expiring signing links for
//! parents and carers, made from a class list (siblings share one link), and
//! what a parent holding a redeemed link may see.
//!
//! A link is a bearer secret in a URL, so only its SHA-256 is kept: the list
//! shows links once, when made. "New link" replaces a lost one (the old link
//! and any session from it stop working).

use super::parse_id;
use crate::clock::{new_id, now_ms};
use crate::crypto::tokens::{new_prefixed_token, token_digest, PARENT_SESSION_PREFIX};
use crate::error::AppError;
use crate::http::auth::{Caller, ClientAddr, Staff};
use crate::http::json::Json;
use crate::http::openapi::{
    Forbidden, Internal, PayloadTooLarge, TooManyAttempts, Unauthorized, UnsupportedMediaType,
};
use crate::http::routes::auth::{count_failure, guard_address};
use crate::state::AppState;
use crate::store::accounts::LINK_PREFIX;
use crate::store::audit::{Action, Entry};
use crate::store::parents;
use axum::extract::{Path, State};
use haven_core::accounts::class_list::parse_class_list_csv;
use haven_core::accounts::permissions::Capability;
use haven_core::accounts::RowProblem;
use haven_core::api::accounts::{
    ClassListReport, ClassListUpload, IssuedParentInvitation, ParentInvitation, ParentSession,
    RedeemRequest,
};
use haven_core::api::ApiError;

pub(crate) const DAY_MS: i64 = 24 * 60 * 60 * 1000;
pub(crate) const DEFAULT_VALID_DAYS: u32 = 28;
const MAX_VALID_DAYS: u32 = 90;
/// A redeemed link gives a session for a week: long enough to sign on a
/// phone that loses signal half-way and sends later.
const PARENT_SESSION_MS: i64 = 7 * DAY_MS;

/// Makes one invitation per parent/carer (siblings together) from a class
/// list (pupil name, class/year, academy, parent/carer name, optional email).
#[utoipa::path(
    post,
    path = "/api/v1/parent-invitations/import",
    tag = "parents",
    operation_id = "import_class_list",
    security(("bearer" = [])),
    request_body(content = ClassListUpload, example = json!({"csv": "pupil name,class,academy,parent/carer name,email\nAmira Khan,Year 3,Oakfield Primary Academy,Sara Khan,sara@example.org\n"})),
    responses(
        (status = 200, description = "The invitations with their links (shown only now), and rows that were not used", body = ClassListReport),
        (status = 400, description = "`bad_request`; `invalid_csv`: the file cannot be read; `invalid_valid_days`", body = ApiError),
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
    Json(upload): Json<ClassListUpload>,
) -> Result<Json<ClassListReport>, AppError> {
    let scope = caller.managed_academies(Capability::ManageParentLinks)?;
    let valid_days = upload.valid_days.unwrap_or(DEFAULT_VALID_DAYS);
    if !(1..=MAX_VALID_DAYS).contains(&valid_days) {
        return Err(AppError::Invalid {
            code: "invalid_valid_days",
            message: format!("valid_days must be 1 to {MAX_VALID_DAYS}; it was {valid_days}"),
        });
    }
    let academies = crate::store::org::academy_names(&state.pool).await?;
    let parsed = parse_class_list_csv(&upload.csv, &academies).map_err(|e| AppError::Invalid {
        code: "invalid_csv",
        message: e.to_string(),
    })?;
    let mut problems = parsed.problems;
    let now = now_ms();
    let expires_at = now + i64::from(valid_days) * DAY_MS;
    let mut issued = Vec::new();
    let mut tx = crate::store::db::begin_write(&state.pool).await?;
    for plan in parsed.rows {
        if scope
            .as_ref()
            .is_some_and(|s| !s.contains(&plan.academy_id))
        {
            problems.extend(plan.lines.iter().map(|&line| {
                RowProblem {
                    line,
                    message: "you can only invite parents at an academy where you are headteacher \
                          or e-safety lead"
                        .into(),
                }
            }));
            continue;
        }
        let id = new_id().to_string();
        let token = new_prefixed_token(LINK_PREFIX);
        parents::insert_invitation(
            &mut *tx,
            &parents::NewInvitation {
                id: &id,
                plan: &plan,
                token_sha256: &token_digest(&token),
                created_by: &caller.user_id,
                created_at: now,
                expires_at,
            },
        )
        .await?;
        issued.push(IssuedParentInvitation {
            invitation: parents::invitation(&mut tx, &id).await?,
            link_path: format!("/join/{token}"),
        });
    }
    Entry::new(caller.actor(), Action::ParentInvitationsCreated)
        .client(&client)
        .detail(format!(
            "{} invitations, {} rows refused",
            issued.len(),
            problems.len()
        ))
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    problems.sort_by_key(|p| p.line);
    Ok(Json(ClassListReport {
        invitations: issued,
        problems,
    }))
}

/// Invitations at the academies the caller may invite at, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/parent-invitations",
    tag = "parents",
    operation_id = "list_parent_invitations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Invitations (without links: only their hashes are kept)", body = Vec<ParentInvitation>),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(caller): Staff,
) -> Result<Json<Vec<ParentInvitation>>, AppError> {
    let scope = caller.managed_academies(Capability::ManageParentLinks)?;
    let all = parents::all_invitations(&state.pool).await?;
    let mut list = Vec::with_capacity(all.len());
    for invitation in all {
        if scope
            .as_ref()
            .is_none_or(|s| s.contains(&invitation.academy_id))
        {
            list.push(invitation);
        }
    }
    Entry::new(caller.actor(), Action::ReadParentInvitations)
        .client(&client)
        .write(&state.pool)
        .await?;
    Ok(Json(list))
}

/// A new link for an invitation (lost, expired or opened on the wrong phone):
/// the old link and any session made from it stop working.
#[utoipa::path(
    post,
    path = "/api/v1/parent-invitations/{invitation_id}/link",
    tag = "parents",
    operation_id = "reissue_parent_link",
    security(("bearer" = [])),
    params(("invitation_id" = Uuid, Path, description = "The invitation")),
    responses(
        (status = 200, description = "The invitation with its new link", body = IssuedParentInvitation),
        (status = 400, description = "`bad_request`: not a UUID", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`not_found`", body = ApiError),
        (status = 500, response = Internal),
    )
)]
pub async fn reissue(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(caller): Staff,
    Path(id): Path<String>,
) -> Result<Json<IssuedParentInvitation>, AppError> {
    let id = parse_id(&id, "invitation id")?.to_string();
    let mut tx = crate::store::db::begin_write(&state.pool).await?;
    let before = parents::invitation(&mut tx, &id).await?;
    caller.require(Some(before.academy_id), Capability::ManageParentLinks)?;
    let entry = Entry::new(caller.actor(), Action::ParentLinkReissued).client(&client);
    let link_path = new_link(&mut tx, &before, entry).await?;
    let invitation = parents::invitation(&mut tx, &id).await?;
    tx.commit().await?;
    Ok(Json(IssuedParentInvitation {
        invitation,
        link_path,
    }))
}

/// Gives `invitation` a new link, good for as long as its first one was (a
/// day at least), and writes `entry` to the audit log: the old link and any
/// session made from it stop working. Returns the link's path. Also used by
/// the reminders to sign (`jobs::reminders`), since a stored link is only a
/// digest and cannot be sent again.
pub(crate) async fn new_link(
    tx: &mut crate::store::db::Conn,
    invitation: &ParentInvitation,
    entry: Entry,
) -> Result<String, AppError> {
    let id = invitation.id.to_string();
    let token = new_prefixed_token(LINK_PREFIX);
    let now = now_ms();
    let valid_for = (invitation.expires_at - invitation.created_at).max(DAY_MS);
    parents::reissue(tx, &id, &token_digest(&token), now, now + valid_for).await?;
    entry
        .subject(format!("parent:{id}"))
        .academy(invitation.academy_id)
        .write(&mut *tx)
        .await?;
    Ok(format!("/join/{token}"))
}

/// Opens an invitation link, once: a session for that parent/carer only.
#[utoipa::path(
    post,
    path = "/api/v1/parent-invitations/redeem",
    tag = "parents",
    operation_id = "redeem_parent_link",
    request_body(content = RedeemRequest),
    responses(
        (status = 200, description = "A parent session, and what the invitation is for", body = ParentSession),
        (status = 400, description = "`bad_request`", body = ApiError),
        (status = 404, description = "`not_found`: the link is not known (was it copied whole?)", body = ApiError),
        (status = 410, description = "`link_used` or `link_expired`: ask the school for a new link", body = ApiError),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    )
)]
pub async fn redeem(
    State(state): State<AppState>,
    client: ClientAddr,
    Json(request): Json<RedeemRequest>,
) -> Result<Json<ParentSession>, AppError> {
    guard_address(&state, &client).await?;
    let now = now_ms();
    let mut tx = crate::store::db::begin_write(&state.pool).await?;
    let row = parents::invitation_by_link(&mut *tx, &token_digest(request.token.trim())).await?;
    let checked = match row {
        None => Err(AppError::NotFound(
            "this link is not known; check it was copied whole, or ask the school for a new one"
                .into(),
        )),
        Some((_, _, Some(_))) => Err(AppError::LinkUsed),
        Some((_, expires_at, None)) if expires_at <= now => Err(AppError::LinkExpired),
        Some((id, ..)) => Ok(id),
    };
    let id = match checked {
        Ok(found) => found,
        Err(refusal) => {
            // Give up the write lock first: the refusal is logged on its own.
            tx.rollback().await?;
            Entry::new("anonymous", Action::ParentLinkRefused)
                .client(&client)
                .write(&state.pool)
                .await?;
            return count_failure(&state, &client, Err(refusal)).await;
        }
    };
    let token = new_prefixed_token(PARENT_SESSION_PREFIX);
    let expires_at = now + PARENT_SESSION_MS;
    parents::redeem(&mut tx, &id, now, &token_digest(&token), expires_at).await?;
    let invitation = parents::invitation(&mut tx, &id).await?;
    Entry::new(format!("parent:{id}"), Action::ParentLinkRedeemed)
        .academy(invitation.academy_id)
        .client(&client)
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Json(ParentSession {
        token,
        expires_at,
        invitation,
    }))
}

/// The invitation of the parent/carer holding this session.
#[utoipa::path(
    get,
    path = "/api/v1/parent-invitations/mine",
    tag = "parents",
    operation_id = "my_parent_invitation",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Their invitation: academy and children", body = ParentInvitation),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn mine(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ParentInvitation>, AppError> {
    let Caller::Parent(parent) = caller else {
        return Err(AppError::Forbidden);
    };
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        parents::invitation(&mut conn, &parent.invitation_id).await?,
    ))
}
