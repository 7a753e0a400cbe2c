//! Passwords, bearer tokens and the [`AdminUser`] extractor.
//!
//! Passwords are hashed with argon2id. A bearer token is 32 random bytes in hex;
//! the server keeps only its SHA-256, so a copy of the database holds no usable
//! token. Tokens expire after [`TOKEN_LIFETIME_MS`].

use crate::error::AppError;
use crate::state::AppState;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// How long a token from `POST /auth/login` is valid: 12 hours.
pub const TOKEN_LIFETIME_MS: i64 = 12 * 60 * 60 * 1000;

/// The role that may see every agreement.
pub const ROLE_ADMIN: &str = "admin";

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

/// A signed-in user with the admin role. Extracting it answers 401 when the
/// token is missing, unknown or expired, and 403 for other roles.
#[derive(Debug, Clone)]
pub struct AdminUser {
    pub user_id: String,
    pub email: String,
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = bearer_token(&parts.headers).ok_or(AppError::Unauthorized)?;
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT u.id, u.email, u.role FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_sha256 = ? AND s.expires_at > ?",
        )
        .bind(token_digest(token))
        .bind(crate::clock::now_ms())
        .fetch_optional(&state.pool)
        .await?;
        let (user_id, email, role) = row.ok_or(AppError::Unauthorized)?;
        if role != ROLE_ADMIN {
            return Err(AppError::Forbidden);
        }
        Ok(AdminUser { user_id, email })
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
}
