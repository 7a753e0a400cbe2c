//! Parent invitations (single-use, expiring signing links, only their
//! SHA-256 kept) and the parent sessions redeemed from them, in the database.
//! `http/routes/parents` decides who may make, list, reissue and redeem them; this
//! module only reads and writes.

use crate::error::AppError;
use haven_core::accounts::class_list::{Child, ParentInvitationPlan};
use haven_core::api::accounts::ParentInvitation;
use sqlx::{AnyConnection, AnyExecutor};

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
            id: crate::store::db::parse_id(&row.id)?,
            academy_id: crate::store::db::parse_id(&row.academy_id)?,
            parent_name: row.parent_name,
            parent_email: row.parent_email,
            children,
            created_at: row.created_at,
            expires_at: row.expires_at,
            redeemed_at: row.redeemed_at,
        })
    }
}

/// The invitation `id`.
pub async fn invitation(db: &mut AnyConnection, id: &str) -> Result<ParentInvitation, AppError> {
    let row: Option<InvitationRow> = sqlx::query_as(&format!("{INVITATION_SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.ok_or_else(|| AppError::NotFound(format!("there is no parent invitation {id}")))?
        .try_into()
}

/// Every invitation, newest first.
pub async fn all_invitations(db: impl AnyExecutor<'_>) -> Result<Vec<ParentInvitation>, AppError> {
    let rows: Vec<InvitationRow> =
        sqlx::query_as(&format!("{INVITATION_SELECT} ORDER BY created_at DESC, id"))
            .fetch_all(db)
            .await?;
    rows.into_iter().map(ParentInvitation::try_from).collect()
}

/// A new invitation, from one parent's rows of a class list.
pub struct NewInvitation<'a> {
    pub id: &'a str,
    pub plan: &'a ParentInvitationPlan,
    pub token_sha256: &'a str,
    pub created_by: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn insert_invitation(
    db: impl AnyExecutor<'_>,
    new: &NewInvitation<'_>,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO parent_invitations (id, academy_id, parent_name, parent_email, children, \
         token_sha256, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new.id)
    .bind(new.plan.academy_id.to_string())
    .bind(&new.plan.parent_name)
    .bind(&new.plan.parent_email)
    .bind(serde_json::to_string(&new.plan.children).unwrap_or_default())
    .bind(new.token_sha256)
    .bind(new.created_by)
    .bind(new.created_at)
    .bind(new.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Gives invitation `id` a new link (digest `token_sha256`, good from
/// `created_at` to `expires_at`): the old link and every session made from
/// it stop working.
pub async fn reissue(
    tx: &mut AnyConnection,
    id: &str,
    token_sha256: &str,
    created_at: i64,
    expires_at: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE parent_invitations SET token_sha256 = $1, created_at = $2, expires_at = $3, \
         redeemed_at = NULL WHERE id = $4",
    )
    .bind(token_sha256)
    .bind(created_at)
    .bind(expires_at)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM parent_sessions WHERE invitation_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The invitation whose link has digest `token_sha256`: its id, when it
/// expires and when it was redeemed.
pub async fn invitation_by_link(
    db: impl AnyExecutor<'_>,
    token_sha256: &str,
) -> Result<Option<(String, i64, Option<i64>)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT id, expires_at, redeemed_at FROM parent_invitations WHERE token_sha256 = $1",
    )
    .bind(token_sha256)
    .fetch_optional(db)
    .await?)
}

/// Marks invitation `id` redeemed at `now` and starts a parent session
/// (digest `session_sha256`) that lasts until `expires_at`.
pub async fn redeem(
    tx: &mut AnyConnection,
    id: &str,
    now: i64,
    session_sha256: &str,
    expires_at: i64,
) -> Result<(), AppError> {
    sqlx::query("UPDATE parent_invitations SET redeemed_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO parent_sessions (token_sha256, invitation_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(session_sha256)
    .bind(id)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The invitation and academy of a parent session that has not expired, by
/// the session token's SHA-256.
pub async fn live_session(
    db: impl AnyExecutor<'_>,
    token_sha256: &str,
    now: i64,
) -> Result<Option<(String, String)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT i.id, i.academy_id FROM parent_sessions s \
         JOIN parent_invitations i ON i.id = s.invitation_id \
         WHERE s.token_sha256 = $1 AND s.expires_at > $2",
    )
    .bind(token_sha256)
    .bind(now)
    .fetch_optional(db)
    .await?)
}
