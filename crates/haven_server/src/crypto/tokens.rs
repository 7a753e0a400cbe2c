//! Passwords and bearer tokens.
//!
//! Passwords are hashed with argon2id. A bearer token is a kind prefix and 32
//! random bytes in hex; the server keeps only its SHA-256, so a copy of the
//! database holds no usable token. Staff sessions expire after
//! [`TOKEN_LIFETIME_MS`].

use crate::error::AppError;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

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
}
