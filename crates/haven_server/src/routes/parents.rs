//! `/api/v1/parent-invitations`: single-use, expiring signing links for
//! parents and carers, made from a class list (siblings share one link), and
//! what a parent holding a redeemed link may see.
//!
//! A link is a bearer secret in a URL, so only its SHA-256 is kept: the list
//! shows links once, when made. "New link" replaces a lost one (the old link
//! and any session from it stop working).

use super::parse_id;
use crate::accounts::LINK_PREFIX;
use crate::audit::{Action, Entry};
use crate::auth::{
    new_prefixed_token, token_digest, Caller, ClientAddr, Staff, PARENT_SESSION_PREFIX,
};
use crate::clock::{new_id, now_ms};
use crate::error::AppError;
use crate::json::Json;
use crate::openapi::{
    Forbidden, Internal, PayloadTooLarge, TooManyAttempts, Unauthorized, UnsupportedMediaType,
};
use crate::routes::auth::{count_failure, guard_address};
use crate::state::AppState;
use axum::extract::{Path, State};
use haven_core::accounts::class_list::{parse_class_list_csv, Child};
use haven_core::accounts::permissions::Capability;
use haven_core::accounts::RowProblem;
use haven_core::api::accounts::{
    ClassListReport, ClassListUpload, IssuedParentInvitation, ParentInvitation, ParentSession,
    RedeemRequest,
};
use haven_core::api::ApiError;
use sqlx::AnyConnection;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const DEFAULT_VALID_DAYS: u32 = 28;
const MAX_VALID_DAYS: u32 = 90;
/// A redeemed link gives a session for a week: long enough to sign on a
/// phone that loses signal half-way and sends later.
const PARENT_SESSION_MS: i64 = 7 * DAY_MS;

#[derive(sqlx::FromRow)]
struct InvitationRow {
    id: String,
    academy_id: String,
    parent_name: String,
    parent_email: Option<String>,
    children: String,
    created_at: i64,
    expires_at: i64,
    redeemed_at: Option<i64>,
}

const INVITATION_SELECT: &str = "SELECT id, academy_id, parent_name, parent_email, children, \
     created_at, expires_at, redeemed_at FROM parent_invitations";

impl TryFrom<InvitationRow> for ParentInvitation {
    type Error = AppError;

    fn try_from(row: InvitationRow) -> Result<Self, AppError> {
        let children: Vec<Child> = serde_json::from_str(&row.children)
            .map_err(|e| AppError::Internal(format!("stored children: {e}")))?;
        Ok(ParentInvitation {
            id: crate::accounts::parse_uuid(&row.id)?,
            academy_id: crate::accounts::parse_uuid(&row.academy_id)?,
            parent_name: row.parent_name,
            parent_email: row.parent_email,
            children,
            created_at: row.created_at,
            expires_at: row.expires_at,
            redeemed_at: row.redeemed_at,
        })
    }
}

async fn invitation(db: &mut AnyConnection, id: &str) -> Result<ParentInvitation, AppError> {
    let row: Option<InvitationRow> = sqlx::query_as(&format!("{INVITATION_SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.ok_or_else(|| AppError::NotFound(format!("there is no parent invitation {id}")))?
        .try_into()
}

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
    let academies = crate::org::academy_names(&state.pool).await?;
    let parsed = parse_class_list_csv(&upload.csv, &academies).map_err(|e| AppError::Invalid {
        code: "invalid_csv",
        message: e.to_string(),
    })?;
    let mut problems = parsed.problems;
    let now = now_ms();
    let expires_at = now + i64::from(valid_days) * DAY_MS;
    let mut issued = Vec::new();
    let mut tx = crate::db::begin_write(&state.pool).await?;
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
        sqlx::query(
            "INSERT INTO parent_invitations (id, academy_id, parent_name, parent_email, children, \
             token_sha256, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id)
        .bind(plan.academy_id.to_string())
        .bind(&plan.parent_name)
        .bind(&plan.parent_email)
        .bind(serde_json::to_string(&plan.children).unwrap_or_default())
        .bind(token_digest(&token))
        .bind(&caller.user_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        issued.push(IssuedParentInvitation {
            invitation: invitation(&mut tx, &id).await?,
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
    let rows: Vec<InvitationRow> =
        sqlx::query_as(&format!("{INVITATION_SELECT} ORDER BY created_at DESC, id"))
            .fetch_all(&state.pool)
            .await?;
    let mut list = Vec::with_capacity(rows.len());
    for row in rows {
        let invitation = ParentInvitation::try_from(row)?;
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
    let mut tx = crate::db::begin_write(&state.pool).await?;
    let before = invitation(&mut tx, &id).await?;
    caller.require(Some(before.academy_id), Capability::ManageParentLinks)?;
    let token = new_prefixed_token(LINK_PREFIX);
    let now = now_ms();
    let valid_for = (before.expires_at - before.created_at).max(DAY_MS);
    sqlx::query(
        "UPDATE parent_invitations SET token_sha256 = $1, created_at = $2, expires_at = $3, \
         redeemed_at = NULL WHERE id = $4",
    )
    .bind(token_digest(&token))
    .bind(now)
    .bind(now + valid_for)
    .bind(&id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM parent_sessions WHERE invitation_id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    Entry::new(caller.actor(), Action::ParentLinkReissued)
        .subject(format!("parent:{id}"))
        .academy(before.academy_id)
        .client(&client)
        .write(&mut *tx)
        .await?;
    let invitation = invitation(&mut tx, &id).await?;
    tx.commit().await?;
    Ok(Json(IssuedParentInvitation {
        invitation,
        link_path: format!("/join/{token}"),
    }))
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
    let mut tx = crate::db::begin_write(&state.pool).await?;
    let row: Option<(String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, expires_at, redeemed_at FROM parent_invitations WHERE token_sha256 = $1",
    )
    .bind(token_digest(request.token.trim()))
    .fetch_optional(&mut *tx)
    .await?;
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
    sqlx::query("UPDATE parent_invitations SET redeemed_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    let token = new_prefixed_token(PARENT_SESSION_PREFIX);
    let expires_at = now + PARENT_SESSION_MS;
    sqlx::query(
        "INSERT INTO parent_sessions (token_sha256, invitation_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(token_digest(&token))
    .bind(&id)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    let invitation = invitation(&mut tx, &id).await?;
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
    Ok(Json(invitation(&mut conn, &parent.invitation_id).await?))
}
