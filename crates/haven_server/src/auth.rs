//! Passwords, bearer tokens, and the extractors that say who is calling:
//! [`Caller`] (anyone with a valid token), [`Staff`], [`TrustAdmin`].
//!
//! Passwords are hashed with argon2id. A bearer token is a kind prefix and 32
//! random bytes in hex; the server keeps only its SHA-256, so a copy of the
//! database holds no usable token. Staff sessions expire after
//! [`TOKEN_LIFETIME_MS`]. Academy-level checks are made in the handlers with
//! [`StaffCaller::require`], since only they know which academy is touched.

use crate::error::AppError;
use crate::state::AppState;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::ConnectInfo;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use haven_core::accounts::permissions::{Capability, Scope};
use haven_core::accounts::roles::{Grants, Role, RoleGrant};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use uuid::Uuid;

/// How long a token from `POST /auth/login` is valid: 12 hours.
pub const TOKEN_LIFETIME_MS: i64 = 12 * 60 * 60 * 1000;

/// Hashes a password with argon2id and a fresh random salt, as a PHC string.
///
/// Slow on purpose; call it from a blocking task.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| AppError::Internal(format!("cannot hash password: {e}")))
}

/// Whether `password` matches the PHC string `stored`. A malformed stored hash
/// counts as no match.
///
/// Slow on purpose; call it from a blocking task.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the email is unknown, so that a wrong email
/// takes as long to refuse as a wrong password.
pub fn dummy_password_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default())
}

/// A new bearer token: 32 random bytes as 64 hex characters.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The form a token is stored and looked up in.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The token from an `Authorization: Bearer ...` header, if there is one.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Prefixes that say what a bearer token is, so it is looked up in one table
/// only (and a leaked token says what it is for).
pub const STAFF_SESSION_PREFIX: &str = "hs_";
pub const DEVICE_TOKEN_PREFIX: &str = "hd_";
pub const PARENT_SESSION_PREFIX: &str = "hp_";
/// A staff member's sync credential: pushes for one browser, nothing else.
pub const SYNC_CREDENTIAL_PREFIX: &str = "hk_";

/// A new token with its kind's prefix.
pub fn new_prefixed_token(prefix: &str) -> String {
    format!("{prefix}{}", new_token())
}

/// The client's address as the audit log and rate limits see it; see
/// [`client_address`].
#[derive(Debug, Clone, Default)]
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientAddr(client_address(
            &parts.headers,
            peer,
            state.trusted_proxy_hops,
        )))
    }
}

/// Who sent a request: with `hops` 0, the connection's peer; behind `hops`
/// trusted proxies, each appending the address it saw to `X-Forwarded-For`,
/// the entry `hops` places from the right (every `X-Forwarded-For` header, in
/// order, read as one list). Entries further left were written by the client
/// and are never read, so a caller cannot choose its own address. With fewer
/// entries than hops, the left-most; with none, or one that is not an IP
/// address, the peer.
pub fn client_address(headers: &HeaderMap, peer: Option<IpAddr>, hops: usize) -> String {
    let peer_text = || peer.map(|ip| ip.to_string()).unwrap_or_default();
    if hops == 0 {
        return peer_text();
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    let Some(entry) = forwarded
        .len()
        .checked_sub(hops)
        .map(|i| forwarded[i])
        .or_else(|| forwarded.first().copied())
    else {
        return peer_text();
    };
    // "203.0.113.7", "2001:db8::1", "[2001:db8::1]:443" or "203.0.113.7:5000".
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|addr| addr.ip()));
    match ip {
        Some(ip) => ip.to_string(),
        None => {
            tracing::warn!(
                entry,
                "an X-Forwarded-For entry a trusted proxy wrote is not an address; using the peer"
            );
            peer_text()
        }
    }
}

/// A signed-in staff member.
#[derive(Debug, Clone)]
pub struct StaffCaller {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub grants: Grants,
    /// The stored form of this session's token, to end it.
    pub session_digest: String,
    /// Signed in with a password but still owing the second factor the trust
    /// requires for one of their roles: may only enrol it or sign out.
    pub limited: bool,
    /// Set for a sync credential (`hk_`), not a session: the SHA-256 of the
    /// secret of the one browser it may push for. Only [`PushCaller`]
    /// accepts such a caller; every other extractor refuses it.
    pub sync_only: Option<String>,
}

impl StaffCaller {
    /// `Forbidden` unless the person has `capability` at `academy` (anywhere
    /// when `None`): a trust admin, or one of its roles there.
    pub fn require(&self, academy: Option<Uuid>, capability: Capability) -> Result<(), AppError> {
        if self.grants.can(capability, academy) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    pub fn actor(&self) -> String {
        format!("user:{}", self.user_id)
    }

    /// Where this person has `capability`; having it nowhere is `Forbidden`.
    pub fn scope(&self, capability: Capability) -> Result<Scope, AppError> {
        let scope = self.grants.scope(capability);
        if scope.is_empty() {
            return Err(AppError::Forbidden);
        }
        Ok(scope)
    }

    /// The academies where this person has `capability`: `None` means every
    /// academy (a trust admin); no academy at all is `Forbidden`.
    pub fn managed_academies(&self, capability: Capability) -> Result<Option<Vec<Uuid>>, AppError> {
        Ok(self.scope(capability)?.academies().map(<[Uuid]>::to_vec))
    }
}

/// An enrolled reception kiosk or shared tablet.
#[derive(Debug, Clone)]
pub struct DeviceCaller {
    pub id: String,
    pub sync_device_id: Uuid,
    pub academy_id: Uuid,
    pub kind: String,
}

/// A parent/carer holding a redeemed invitation.
#[derive(Debug, Clone)]
pub struct ParentCaller {
    pub invitation_id: String,
    pub academy_id: Uuid,
}

/// Whoever a bearer token says the caller is. Extracting it answers 401 when
/// the token is missing, unknown, expired or revoked.
#[derive(Debug, Clone)]
pub enum Caller {
    Staff(StaffCaller),
    Device(DeviceCaller),
    Parent(ParentCaller),
}

impl Caller {
    /// How a signer pushing with this credential was identified, as kept with
    /// each agreement: a staff session, a reception kiosk or shared tablet
    /// (signing there happens with reception or staff present), or a parent's
    /// invitation link.
    pub fn identification(&self) -> String {
        match self {
            Caller::Staff(s) => format!("staff:{}", s.user_id),
            Caller::Device(d) => format!("device:{}:{}", d.kind, d.id),
            Caller::Parent(p) => format!("parent:{}", p.invitation_id),
        }
    }

    /// Whether the caller works at `academy`: a device enrolled there (either
    /// kind), or a staff session with any role there (a trust admin works
    /// everywhere). A parent's invitation belongs to no desk.
    pub fn belongs_to(&self, academy: Uuid) -> bool {
        match self {
            Caller::Device(d) => d.academy_id == academy,
            Caller::Staff(s) => s.grants.allows(Some(academy), &Role::ALL),
            Caller::Parent(_) => false,
        }
    }

    pub fn actor(&self) -> String {
        match self {
            Caller::Staff(s) => s.actor(),
            Caller::Device(d) => format!("device:{}", d.id),
            Caller::Parent(p) => format!("parent:{}", p.invitation_id),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    /// Any caller but a sync credential, which may only push ([`PushCaller`]).
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match PushCaller::from_request_parts(parts, state).await? {
            PushCaller(Caller::Staff(s)) if s.sync_only.is_some() => {
                Err(AppError::SyncCredentialOnly)
            }
            PushCaller(caller) => Ok(caller),
        }
    }
}

/// Whoever may send a device's records: any [`Caller`], or a staff member's
/// sync credential. Only the push and attachment uploads take it.
#[derive(Debug, Clone)]
pub struct PushCaller(pub Caller);

impl FromRequestParts<AppState> for PushCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(PushCaller(caller.clone()));
        }
        let token = bearer_token(&parts.headers).ok_or(AppError::Unauthorized)?;
        let caller = resolve(token, state).await?;
        parts.extensions.insert(caller.clone());
        Ok(PushCaller(caller))
    }
}

async fn resolve(token: &str, state: &AppState) -> Result<Caller, AppError> {
    let digest = token_digest(token);
    let now = crate::clock::now_ms();
    if token.starts_with(DEVICE_TOKEN_PREFIX) {
        let row: Option<(String, String, String, String, Option<i64>)> = sqlx::query_as(
            "SELECT id, sync_device_id, academy_id, kind, revoked_at FROM enrolled_devices \
             WHERE token_sha256 = $1",
        )
        .bind(&digest)
        .fetch_optional(&state.pool)
        .await?;
        let (id, sync_device_id, academy_id, kind, revoked_at) =
            row.ok_or(AppError::Unauthorized)?;
        if revoked_at.is_some() {
            return Err(AppError::DeviceRevoked);
        }
        sqlx::query("UPDATE enrolled_devices SET last_contact_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&id)
            .execute(&state.pool)
            .await?;
        return Ok(Caller::Device(DeviceCaller {
            id,
            sync_device_id: parse_stored_id(&sync_device_id)?,
            academy_id: parse_stored_id(&academy_id)?,
            kind,
        }));
    }
    if token.starts_with(PARENT_SESSION_PREFIX) {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT i.id, i.academy_id FROM parent_sessions s \
             JOIN parent_invitations i ON i.id = s.invitation_id \
             WHERE s.token_sha256 = $1 AND s.expires_at > $2",
        )
        .bind(&digest)
        .bind(now)
        .fetch_optional(&state.pool)
        .await?;
        let (invitation_id, academy_id) = row.ok_or(AppError::Unauthorized)?;
        return Ok(Caller::Parent(ParentCaller {
            invitation_id,
            academy_id: parse_stored_id(&academy_id)?,
        }));
    }
    if token.starts_with(SYNC_CREDENTIAL_PREFIX) {
        // Alive only while the full session it came from is.
        let row: Option<(String, String, String, String, String)> = sqlx::query_as(
            "SELECT u.id, u.name, u.email, s.token_sha256, c.device_secret_sha256 \
             FROM sync_credentials c JOIN sessions s ON s.token_sha256 = c.session_sha256 \
             JOIN users u ON u.id = s.user_id \
             WHERE c.token_sha256 = $1 AND s.expires_at > $2 AND s.limited = 0 AND u.active = 1",
        )
        .bind(&digest)
        .bind(now)
        .fetch_optional(&state.pool)
        .await?;
        let (user_id, name, email, session_digest, secret) = row.ok_or(AppError::Unauthorized)?;
        let grants = load_grants(&state.pool, &user_id).await?;
        return Ok(Caller::Staff(StaffCaller {
            user_id,
            name,
            email,
            grants,
            session_digest,
            limited: false,
            sync_only: Some(secret),
        }));
    }
    let row: Option<(String, String, String, i64)> = sqlx::query_as(
        "SELECT u.id, u.name, u.email, s.limited FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_sha256 = $1 AND s.expires_at > $2 AND u.active = 1",
    )
    .bind(&digest)
    .bind(now)
    .fetch_optional(&state.pool)
    .await?;
    let (user_id, name, email, limited) = row.ok_or(AppError::Unauthorized)?;
    let grants = load_grants(&state.pool, &user_id).await?;
    Ok(Caller::Staff(StaffCaller {
        user_id,
        name,
        email,
        grants,
        session_digest: digest,
        limited: limited != 0,
        sync_only: None,
    }))
}

fn parse_stored_id(s: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(s).map_err(|e| AppError::Internal(format!("stored id {s:?}: {e}")))
}

/// Everything `user_id` holds.
pub async fn load_grants<'e>(
    pool: impl sqlx::AnyExecutor<'e>,
    user_id: &str,
) -> Result<Grants, AppError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT role, academy_id FROM user_roles WHERE user_id = $1 ORDER BY 1, 2")
            .bind(user_id)
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|(role, academy)| grant_from_db(role, academy))
        .collect::<Result<_, _>>()
        .map(Grants)
}

/// A `user_roles` row's role and academy (`''` for trust-wide) as a grant.
pub(crate) fn grant_from_db(role: &str, academy: &str) -> Result<RoleGrant, AppError> {
    let role = Role::parse(role)
        .ok_or_else(|| AppError::Internal(format!("unknown stored role {role:?}")))?;
    let academy_id = if academy.is_empty() {
        None
    } else {
        Some(parse_stored_id(academy)?)
    };
    Ok(RoleGrant { role, academy_id })
}

/// A signed-in staff member with a full session (second factor done where the
/// trust requires one). 401 for no or a bad token, 403 for a device, a parent
/// or a limited session.
#[derive(Debug, Clone)]
pub struct Staff(pub StaffCaller);

impl FromRequestParts<AppState> for Staff {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Staff(staff) if staff.limited => Err(AppError::SecondFactorEnrolmentRequired),
            Caller::Staff(staff) => Ok(Staff(staff)),
            _ => Err(AppError::Forbidden),
        }
    }
}

/// A staff session, full or limited: for the few endpoints a person who owes
/// a second factor may use (enrol it, see who they are, sign out).
#[derive(Debug, Clone)]
pub struct AnyStaffSession(pub StaffCaller);

impl FromRequestParts<AppState> for AnyStaffSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Staff(staff) => Ok(AnyStaffSession(staff)),
            _ => Err(AppError::Forbidden),
        }
    }
}

/// A trust admin with a full session.
#[derive(Debug, Clone)]
pub struct TrustAdmin(pub StaffCaller);

impl FromRequestParts<AppState> for TrustAdmin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Staff(staff) = Staff::from_request_parts(parts, state).await?;
        if staff.grants.is_trust_admin() {
            Ok(TrustAdmin(staff))
        } else {
            Err(AppError::Forbidden)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn tokens_are_64_hex_characters_and_differ() {
        let a = new_token();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, new_token());
        assert_ne!(token_digest(&a), a);
    }

    #[test]
    fn only_bearer_headers_give_a_token() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h), None);
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
    }
    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_client_address_is_the_peer_unless_proxies_are_trusted() {
        let peer = Some("10.0.0.5".parse().unwrap());
        let spoofed = forwarded(&["1.2.3.4"]);
        assert_eq!(client_address(&spoofed, peer, 0), "10.0.0.5");
        assert_eq!(client_address(&HeaderMap::new(), peer, 1), "10.0.0.5");
        assert_eq!(client_address(&HeaderMap::new(), None, 0), "");
    }

    #[test]
    fn trusted_hops_are_counted_from_the_right_of_x_forwarded_for() {
        let peer = Some("10.0.0.5".parse().unwrap());
        // The client wrote "6.6.6.6"; the proxy appended what it saw.
        let headers = forwarded(&["6.6.6.6, 203.0.113.7"]);
        assert_eq!(client_address(&headers, peer, 1), "203.0.113.7");
        // Two proxies: the outer saw the client, the inner saw the outer.
        let headers = forwarded(&["6.6.6.6, 203.0.113.7", "192.168.1.1"]);
        assert_eq!(client_address(&headers, peer, 2), "203.0.113.7");
        assert_eq!(client_address(&headers, peer, 1), "192.168.1.1");
        // Fewer entries than hops: the left-most.
        assert_eq!(
            client_address(&forwarded(&["203.0.113.7"]), peer, 3),
            "203.0.113.7"
        );
        // Ports and brackets are dropped; a non-address falls back to the peer.
        let headers = forwarded(&["[2001:db8::1]:443"]);
        assert_eq!(client_address(&headers, peer, 1), "2001:db8::1");
        assert_eq!(
            client_address(&forwarded(&["203.0.113.7:5000"]), peer, 1),
            "203.0.113.7"
        );
        assert_eq!(
            client_address(&forwarded(&["unknown"]), peer, 1),
            "10.0.0.5"
        );
    }
}
