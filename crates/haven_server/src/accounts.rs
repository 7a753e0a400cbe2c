//! Staff accounts in SQLite: people, their roles, sessions, one-time links
//! and the trust's account settings. Handlers in `routes/` decide who may do
//! what; this module only reads and writes.

use crate::auth::{new_prefixed_token, token_digest, STAFF_SESSION_PREFIX, TOKEN_LIFETIME_MS};
use crate::clock::{new_id, now_ms};
use crate::error::AppError;
use haven_core::accounts::roles::{Grants, Role, RoleGrant};
use haven_core::api::accounts::{AccountSettings, Me, StaffMember};
use sqlx::{AnyConnection, AnyPool};
use uuid::Uuid;

/// Prefix of one-time links (set-up, staff and parent invitations).
pub const LINK_PREFIX: &str = "hl_";
/// A staff invitation is good for 14 days; the set-up link for 24 hours.
pub const STAFF_INVITATION_LIFETIME_MS: i64 = 14 * 24 * 60 * 60 * 1000;
pub const SETUP_LINK_LIFETIME_MS: i64 = 24 * 60 * 60 * 1000;

/// A stored user, as sign-in needs it.
#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub password_hash: String,
    #[sqlx(try_from = "crate::db::Flag")]
    pub active: bool,
    pub totp_sealed: Option<String>,
    pub totp_last_step: i64,
}

pub async fn user_by_email(pool: &AnyPool, email: &str) -> Result<Option<UserRow>, AppError> {
    Ok(sqlx::query_as(
        "SELECT id, name, email, password_hash, active, totp_sealed, totp_last_step \
         FROM users WHERE email = $1",
    )
    .bind(email.trim())
    .fetch_optional(pool)
    .await?)
}

pub async fn user_by_id(pool: &AnyPool, id: &str) -> Result<Option<UserRow>, AppError> {
    Ok(sqlx::query_as(
        "SELECT id, name, email, password_hash, active, totp_sealed, totp_last_step \
         FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// Adds a person. `password_hash` is empty for someone invited who has not
/// chosen a password yet (an empty hash never verifies).
pub async fn create_user(
    tx: &mut AnyConnection,
    name: &str,
    email: &str,
    password_hash: &str,
    grants: &[RoleGrant],
) -> Result<Uuid, AppError> {
    let id = new_id();
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, password_hash, role, name, active, created_at) \
         VALUES ($1, $2, $3, 'staff', $4, 1, $5) ON CONFLICT (email) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(email)
    .bind(password_hash)
    .bind(name)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AppError::Conflict {
            code: "email_taken",
            message: format!("{email} already has an account in Haven"),
        });
    }
    add_grants(tx, &id.to_string(), grants).await?;
    Ok(id)
}

/// Gives `user_id` each of `grants` (ones already held are kept once).
pub async fn add_grants(
    tx: &mut AnyConnection,
    user_id: &str,
    grants: &[RoleGrant],
) -> Result<(), AppError> {
    for grant in grants {
        sqlx::query(
            "INSERT INTO user_roles (user_id, role, academy_id) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(grant.role.as_str())
        .bind(grant.academy_id.map(|a| a.to_string()).unwrap_or_default())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Replaces the grants `user_id` holds at the academies in `scope` (all of
/// them when `scope` is `None`, i.e. a trust admin's change).
pub async fn replace_grants(
    tx: &mut AnyConnection,
    user_id: &str,
    scope: Option<&[Uuid]>,
    grants: &[RoleGrant],
) -> Result<(), AppError> {
    match scope {
        None => {
            sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        Some(academies) => {
            for academy in academies {
                sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND academy_id = $2")
                    .bind(user_id)
                    .bind(academy.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    add_grants(tx, user_id, grants).await
}

/// A `users` row as the staff list needs it.
#[derive(sqlx::FromRow)]
struct MemberRow {
    id: String,
    name: String,
    email: String,
    #[sqlx(try_from = "crate::db::Flag")]
    active: bool,
    totp_sealed: Option<String>,
    password_hash: String,
}

const MEMBER_COLUMNS: &str = "id, name, email, active, totp_sealed, password_hash";

impl MemberRow {
    fn into_member(self, grants: Grants) -> Result<StaffMember, AppError> {
        Ok(StaffMember {
            id: parse_uuid(&self.id)?,
            name: self.name,
            email: self.email,
            active: self.active,
            grants,
            second_factor_enrolled: self.totp_sealed.is_some(),
            invitation_pending: self.password_hash.is_empty(),
        })
    }
}

/// The person as an admin sees them.
pub async fn staff_member(pool: &AnyPool, id: &str) -> Result<StaffMember, AppError> {
    let row: Option<MemberRow> =
        sqlx::query_as(&format!("SELECT {MEMBER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?;
    let row = row.ok_or_else(|| AppError::NotFound(format!("there is no staff member {id}")))?;
    let grants = crate::auth::load_grants(pool, &row.id).await?;
    row.into_member(grants)
}

/// Everyone, by name: two queries, however many people there are.
pub async fn all_staff(pool: &AnyPool) -> Result<Vec<StaffMember>, AppError> {
    let rows: Vec<MemberRow> = sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS} FROM users ORDER BY name, email"
    ))
    .fetch_all(pool)
    .await?;
    let roles: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT user_id, role, academy_id FROM user_roles ORDER BY user_id, role, academy_id",
    )
    .fetch_all(pool)
    .await?;
    let mut grants: std::collections::HashMap<String, Vec<RoleGrant>> = Default::default();
    for (user_id, role, academy) in &roles {
        grants
            .entry(user_id.clone())
            .or_default()
            .push(crate::auth::grant_from_db(role, academy)?);
    }
    rows.into_iter()
        .map(|row| {
            let held = Grants(grants.remove(&row.id).unwrap_or_default());
            row.into_member(held)
        })
        .collect()
}

pub fn me(member: &StaffMember) -> Me {
    Me {
        user_id: member.id,
        name: member.name.clone(),
        email: member.email.clone(),
        grants: member.grants.clone(),
        second_factor_enrolled: member.second_factor_enrolled,
    }
}

/// Starts a staff session; returns the token (shown once) and its expiry.
pub async fn start_session(
    tx: &mut AnyConnection,
    user_id: &str,
    limited: bool,
) -> Result<(String, i64), AppError> {
    let now = now_ms();
    let token = new_prefixed_token(STAFF_SESSION_PREFIX);
    let expires_at = now + TOKEN_LIFETIME_MS;
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO sessions (token_sha256, user_id, expires_at, created_at, limited) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_digest(&token))
    .bind(user_id)
    .bind(expires_at)
    .bind(now)
    .bind(i64::from(limited))
    .execute(&mut *tx)
    .await?;
    Ok((token, expires_at))
}

/// A new one-time link token for `purpose` ("setup" or "staff_invitation").
pub async fn new_account_link(
    tx: &mut AnyConnection,
    purpose: &str,
    user_id: Option<&str>,
    lifetime_ms: i64,
) -> Result<(String, i64), AppError> {
    let now = now_ms();
    let token = new_prefixed_token(LINK_PREFIX);
    let expires_at = now + lifetime_ms;
    sqlx::query(
        "INSERT INTO account_links (token_sha256, purpose, user_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_digest(&token))
    .bind(purpose)
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    Ok((token, expires_at))
}

/// Uses up the one-time link `token` made for `purpose`, returning its user
/// id (if it names one). `LinkUsed`/`LinkExpired` say why it cannot be used;
/// an unknown token is `NotFound`.
pub async fn use_account_link(
    tx: &mut AnyConnection,
    purpose: &str,
    token: &str,
) -> Result<Option<String>, AppError> {
    let row: Option<(Option<String>, i64, Option<i64>)> = sqlx::query_as(
        "SELECT user_id, expires_at, used_at FROM account_links \
         WHERE token_sha256 = $1 AND purpose = $2",
    )
    .bind(token_digest(token.trim()))
    .bind(purpose)
    .fetch_optional(&mut *tx)
    .await?;
    let (user_id, expires_at, used_at) = row.ok_or_else(|| {
        AppError::NotFound("this link is not known; check it was copied whole".into())
    })?;
    let now = now_ms();
    if used_at.is_some() {
        return Err(AppError::LinkUsed);
    }
    if expires_at <= now {
        return Err(AppError::LinkExpired);
    }
    sqlx::query("UPDATE account_links SET used_at = $1 WHERE token_sha256 = $2")
        .bind(now)
        .bind(token_digest(token.trim()))
        .execute(&mut *tx)
        .await?;
    Ok(user_id)
}

pub async fn settings(pool: &AnyPool) -> Result<AccountSettings, AppError> {
    let (required, idle): (String, i64) =
        sqlx::query_as("SELECT second_factor_required, idle_lock_minutes FROM account_settings")
            .fetch_one(pool)
            .await?;
    let second_factor_required: Vec<Role> = serde_json::from_str(&required)
        .map_err(|e| AppError::Internal(format!("stored settings: {e}")))?;
    Ok(AccountSettings {
        second_factor_required,
        idle_lock_minutes: u32::try_from(idle).unwrap_or(5),
    })
}

/// Whether a person with `grants` must use a second factor under `settings`.
pub fn second_factor_required(settings: &AccountSettings, grants: &Grants) -> bool {
    grants.needs_second_factor(&settings.second_factor_required)
}

/// When no one can sign in yet (no demo data, no trust admin), a fresh
/// one-time set-up link for the first trust admin; older unused ones stop
/// working. `None` once a trust admin exists.
pub async fn setup_link_if_needed(pool: &AnyPool) -> Result<Option<String>, AppError> {
    let admins: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM user_roles WHERE role = 'trust_admin'")
            .fetch_one(pool)
            .await?;
    if admins > 0 {
        return Ok(None);
    }
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM account_links WHERE purpose = 'setup' AND used_at IS NULL")
        .execute(&mut *tx)
        .await?;
    let (token, _) = new_account_link(&mut tx, "setup", None, SETUP_LINK_LIFETIME_MS).await?;
    tx.commit().await?;
    Ok(Some(token))
}

pub fn parse_uuid(s: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(s).map_err(|e| AppError::Internal(format!("stored id {s:?}: {e}")))
}
