//! Staff accounts in the database: people, their roles and second factors,
//! sessions and the sync credentials made from them, one-time links and the
//! trust's account settings. Handlers in `http/routes/` decide who may do what;
//! this module only reads and writes.

use crate::clock::{new_id, now_ms};
use crate::crypto::tokens::{
    new_prefixed_token, token_digest, STAFF_SESSION_PREFIX, TOKEN_LIFETIME_MS,
};
use crate::error::AppError;
use haven_core::accounts::roles::{Grants, Role, RoleGrant};
use haven_core::api::accounts::{AccountSettings, Me, StaffMember};
use sqlx::{AnyConnection, AnyExecutor, AnyPool};
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
    #[sqlx(try_from = "crate::store::db::Flag")]
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
    #[sqlx(try_from = "crate::store::db::Flag")]
    active: bool,
    totp_sealed: Option<String>,
    password_hash: String,
}

const MEMBER_COLUMNS: &str = "id, name, email, active, totp_sealed, password_hash";

impl MemberRow {
    fn into_member(self, grants: Grants) -> Result<StaffMember, AppError> {
        Ok(StaffMember {
            id: crate::store::db::parse_id(&self.id)?,
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
    let grants = grants(pool, &row.id).await?;
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
            .push(grant_from_db(role, academy)?);
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

/// Invites one person: their account with `grants` and a one-time link to
/// choose a password. Returns their id, the link's path and its expiry.
pub async fn invite_user(
    tx: &mut AnyConnection,
    name: &str,
    email: &str,
    grants: &[RoleGrant],
) -> Result<(String, String, i64), AppError> {
    let id = create_user(tx, name, email, "", grants).await?;
    let (token, expires_at) = new_account_link(
        tx,
        "staff_invitation",
        Some(&id.to_string()),
        STAFF_INVITATION_LIFETIME_MS,
    )
    .await?;
    Ok((id.to_string(), format!("/invite/{token}"), expires_at))
}

/// The id of the person with `email`, if anyone has it.
pub async fn user_id_by_email(
    db: impl AnyExecutor<'_>,
    email: &str,
) -> Result<Option<String>, AppError> {
    Ok(sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_optional(db)
        .await?)
}

/// How many grants of trust admin there are.
pub async fn trust_admin_count(db: impl AnyExecutor<'_>) -> Result<i64, AppError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM user_roles WHERE role = 'trust_admin'")
            .fetch_one(db)
            .await?,
    )
}

pub async fn set_password_hash(
    db: impl AnyExecutor<'_>,
    user_id: &str,
    password_hash: &str,
) -> Result<(), AppError> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Turns sign-in on or off for a person; turning it off also ends every
/// session of theirs.
pub async fn set_active(
    tx: &mut AnyConnection,
    user_id: &str,
    active: bool,
) -> Result<(), AppError> {
    sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
        .bind(i64::from(active))
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if !active {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Ends the session whose token has digest `session_digest`.
pub async fn end_session(db: impl AnyExecutor<'_>, session_digest: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
        .bind(session_digest)
        .execute(db)
        .await?;
    Ok(())
}

/// Ends every session of `user_id`; returns how many there were.
pub async fn end_sessions_of(db: impl AnyExecutor<'_>, user_id: &str) -> Result<u64, AppError> {
    Ok(sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await?
        .rows_affected())
}

/// When the session with digest `session_digest` expires (`None`: no such session).
pub async fn session_expiry(
    db: impl AnyExecutor<'_>,
    session_digest: &str,
) -> Result<Option<i64>, AppError> {
    Ok(
        sqlx::query_scalar("SELECT expires_at FROM sessions WHERE token_sha256 = $1")
            .bind(session_digest)
            .fetch_optional(db)
            .await?,
    )
}

/// Keeps a sync credential for a session and a device secret (a new one
/// replaces the one they had).
pub async fn put_sync_credential(
    db: impl AnyExecutor<'_>,
    token_digest: &str,
    session_digest: &str,
    device_secret_digest: &str,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO sync_credentials (token_sha256, session_sha256, device_secret_sha256, \
         created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (session_sha256, device_secret_sha256) DO UPDATE SET \
         token_sha256 = excluded.token_sha256, created_at = excluded.created_at",
    )
    .bind(token_digest)
    .bind(session_digest)
    .bind(device_secret_digest)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Uses up TOTP time step `step` for `user_id`: a code is good once.
pub async fn use_totp_step(
    db: impl AnyExecutor<'_>,
    user_id: &str,
    step: i64,
) -> Result<(), AppError> {
    sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2")
        .bind(step)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Keeps a new TOTP secret, sealed, until a code from it is confirmed.
pub async fn set_pending_totp(
    db: impl AnyExecutor<'_>,
    user_id: &str,
    sealed: &str,
) -> Result<(), AppError> {
    sqlx::query("UPDATE users SET totp_pending_sealed = $1 WHERE id = $2")
        .bind(sealed)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// A person's sealed TOTP secrets: the one being set up, the one in use,
/// and the last time step used (all `None` for an unknown id).
pub async fn totp_secrets(
    db: impl AnyExecutor<'_>,
    user_id: &str,
) -> Result<(Option<String>, Option<String>, Option<i64>), AppError> {
    let row: Option<(Option<String>, Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT totp_pending_sealed, totp_sealed, totp_last_step FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_optional(db)
    .await?;
    Ok(row.unwrap_or((None, None, None)))
}

/// A person's sealed TOTP secret in use and the last time step used
/// (`(None, 0)` for an unknown id).
pub async fn current_totp(
    db: impl AnyExecutor<'_>,
    user_id: &str,
) -> Result<(Option<String>, i64), AppError> {
    let row: Option<(Option<String>, i64)> =
        sqlx::query_as("SELECT totp_sealed, totp_last_step FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(db)
            .await?;
    Ok(row.unwrap_or((None, 0)))
}

/// Puts the secret being set up in use (its code used `step`) and makes the
/// session with digest `session_digest` a full one.
pub async fn confirm_totp(
    tx: &mut AnyConnection,
    user_id: &str,
    step: i64,
    session_digest: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE users SET totp_sealed = totp_pending_sealed, totp_pending_sealed = NULL, \
         totp_last_step = $1 WHERE id = $2",
    )
    .bind(step)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE sessions SET limited = 0 WHERE token_sha256 = $1")
        .bind(session_digest)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Removes a person's TOTP secret if it is still `sealed` (one set up or
/// reset meanwhile stays); returns how many rows changed (0 or 1).
pub async fn remove_totp(
    db: impl AnyExecutor<'_>,
    user_id: &str,
    sealed: &str,
) -> Result<u64, AppError> {
    Ok(sqlx::query(
        "UPDATE users SET totp_sealed = NULL, totp_pending_sealed = NULL, totp_last_step = 0 \
         WHERE id = $1 AND totp_sealed = $2",
    )
    .bind(user_id)
    .bind(sealed)
    .execute(db)
    .await?
    .rows_affected())
}

/// Clears a person's second factor (and any set-up in progress) and ends
/// every session of theirs: whether they had one, and how many sessions ended.
pub async fn reset_totp(tx: &mut AnyConnection, user_id: &str) -> Result<(bool, u64), AppError> {
    let had: Option<String> = sqlx::query_scalar("SELECT totp_sealed FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE users SET totp_sealed = NULL, totp_pending_sealed = NULL, totp_last_step = 0 \
         WHERE id = $1",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    let ended = end_sessions_of(&mut *tx, user_id).await?;
    Ok((had.is_some(), ended))
}

/// The stored account settings, as they are before a change: the roles
/// that must use a second factor and the idle lock, in minutes.
pub async fn stored_settings(db: impl AnyExecutor<'_>) -> Result<(Vec<Role>, i64), AppError> {
    let (stored, idle): (String, i64) =
        sqlx::query_as("SELECT second_factor_required, idle_lock_minutes FROM account_settings")
            .fetch_one(db)
            .await?;
    let roles: Vec<Role> = serde_json::from_str(&stored)
        .map_err(|e| AppError::Internal(format!("stored settings: {e}")))?;
    Ok((roles, idle))
}

pub async fn put_settings(
    db: impl AnyExecutor<'_>,
    second_factor_required: &[Role],
    idle_lock_minutes: u32,
) -> Result<(), AppError> {
    sqlx::query("UPDATE account_settings SET second_factor_required = $1, idle_lock_minutes = $2")
        .bind(serde_json::to_string(second_factor_required).unwrap_or_else(|_| "[]".into()))
        .bind(i64::from(idle_lock_minutes))
        .execute(db)
        .await?;
    Ok(())
}

/// One active person with a role at an academy: id, name, email, when they
/// joined, and the role (a row per role).
pub type RoleHolder = (String, String, String, i64, String);

/// Active staff with a role at `academy` (only `only` if given), by name.
pub async fn active_role_holders(
    db: impl AnyExecutor<'_>,
    academy: Uuid,
    only: Option<&str>,
) -> Result<Vec<RoleHolder>, AppError> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.name, u.email, u.created_at, r.role FROM users u \
         JOIN user_roles r ON r.user_id = u.id \
         WHERE r.academy_id = $1 AND u.active = 1 AND ($2 IS NULL OR u.id = $3) \
         ORDER BY lower(u.name), u.id, r.role",
    )
    .bind(academy.to_string())
    .bind(only)
    .bind(only)
    .fetch_all(db)
    .await?)
}

/// The active person behind a live session, by the token's SHA-256.
#[derive(Debug, sqlx::FromRow)]
pub struct SessionPerson {
    pub user_id: String,
    pub name: String,
    pub email: String,
    #[sqlx(try_from = "crate::store::db::Flag")]
    pub limited: bool,
}

pub async fn live_session(
    db: impl AnyExecutor<'_>,
    token_sha256: &str,
    now: i64,
) -> Result<Option<SessionPerson>, AppError> {
    Ok(sqlx::query_as(
        "SELECT u.id AS user_id, u.name, u.email, s.limited FROM sessions s \
         JOIN users u ON u.id = s.user_id \
         WHERE s.token_sha256 = $1 AND s.expires_at > $2 AND u.active = 1",
    )
    .bind(token_sha256)
    .bind(now)
    .fetch_optional(db)
    .await?)
}

/// The person behind a sync credential, alive only while the full session it
/// came from is.
#[derive(Debug, sqlx::FromRow)]
pub struct CredentialPerson {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub session_sha256: String,
    pub device_secret_sha256: String,
}

pub async fn live_sync_credential(
    db: impl AnyExecutor<'_>,
    token_sha256: &str,
    now: i64,
) -> Result<Option<CredentialPerson>, AppError> {
    Ok(sqlx::query_as(
        "SELECT u.id AS user_id, u.name, u.email, s.token_sha256 AS session_sha256, \
         c.device_secret_sha256 \
         FROM sync_credentials c JOIN sessions s ON s.token_sha256 = c.session_sha256 \
         JOIN users u ON u.id = s.user_id \
         WHERE c.token_sha256 = $1 AND s.expires_at > $2 AND s.limited = 0 AND u.active = 1",
    )
    .bind(token_sha256)
    .bind(now)
    .fetch_optional(db)
    .await?)
}

/// Everything `user_id` holds.
pub async fn grants<'e>(db: impl AnyExecutor<'e>, user_id: &str) -> Result<Grants, AppError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT role, academy_id FROM user_roles WHERE user_id = $1 ORDER BY 1, 2")
            .bind(user_id)
            .fetch_all(db)
            .await?;
    rows.iter()
        .map(|(role, academy)| grant_from_db(role, academy))
        .collect::<Result<_, _>>()
        .map(Grants)
}

/// A `user_roles` row's role and academy (`''` for trust-wide) as a grant.
fn grant_from_db(role: &str, academy: &str) -> Result<RoleGrant, AppError> {
    let role = Role::parse(role)
        .ok_or_else(|| AppError::Internal(format!("unknown stored role {role:?}")))?;
    let academy_id = if academy.is_empty() {
        None
    } else {
        Some(crate::store::db::parse_id(academy)?)
    };
    Ok(RoleGrant { role, academy_id })
}
