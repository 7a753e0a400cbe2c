//! The extractors that say who is calling: [`Caller`] (anyone with a valid
//! bearer token, see [`crate::crypto::tokens`]), [`Staff`], [`TrustAdmin`],
//! and the client's address. Academy-level checks are made in the handlers with
//! [`StaffCaller::require`], since only they know which academy is touched.

use crate::crypto::tokens::{
    token_digest, DEVICE_TOKEN_PREFIX, PARENT_SESSION_PREFIX, SYNC_CREDENTIAL_PREFIX,
};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{accounts, db, devices, parents};
use axum::extract::ConnectInfo;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use haven_core::accounts::permissions::{Capability, Scope};
use haven_core::accounts::roles::{Grants, Role};
use std::net::{IpAddr, SocketAddr};
use uuid::Uuid;

/// The token from an `Authorization: Bearer ...` header, if there is one.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
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
        let device = devices::by_token(&state.pool, &digest)
            .await?
            .ok_or(AppError::Unauthorized)?;
        if device.revoked_at.is_some() {
            return Err(AppError::DeviceRevoked);
        }
        devices::touch(&state.pool, &device.id, now).await?;
        return Ok(Caller::Device(DeviceCaller {
            sync_device_id: db::parse_id(&device.sync_device_id)?,
            academy_id: db::parse_id(&device.academy_id)?,
            id: device.id,
            kind: device.kind,
        }));
    }
    if token.starts_with(PARENT_SESSION_PREFIX) {
        let (invitation_id, academy_id) = parents::live_session(&state.pool, &digest, now)
            .await?
            .ok_or(AppError::Unauthorized)?;
        return Ok(Caller::Parent(ParentCaller {
            invitation_id,
            academy_id: db::parse_id(&academy_id)?,
        }));
    }
    if token.starts_with(SYNC_CREDENTIAL_PREFIX) {
        let person = accounts::live_sync_credential(&state.pool, &digest, now)
            .await?
            .ok_or(AppError::Unauthorized)?;
        let grants = accounts::grants(&state.pool, &person.user_id).await?;
        return Ok(Caller::Staff(StaffCaller {
            user_id: person.user_id,
            name: person.name,
            email: person.email,
            grants,
            session_digest: person.session_sha256,
            limited: false,
            sync_only: Some(person.device_secret_sha256),
        }));
    }
    let person = accounts::live_session(&state.pool, &digest, now)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let grants = accounts::grants(&state.pool, &person.user_id).await?;
    Ok(Caller::Staff(StaffCaller {
        user_id: person.user_id,
        name: person.name,
        email: person.email,
        grants,
        session_digest: digest,
        limited: person.limited,
        sync_only: None,
    }))
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
