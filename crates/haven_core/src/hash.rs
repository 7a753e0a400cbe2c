//! SHA-256 digests as lowercase hex, the one form Haven stores and compares.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 digest written as 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Hex(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a SHA-256 digest as 64 lowercase hex characters, got {got:?}")]
pub struct BadDigest {
    pub got: String,
}

/// The digest of nothing: a valid value to start a struct from.
impl Default for Sha256Hex {
    fn default() -> Self {
        Self::of(b"")
    }
}

impl Sha256Hex {
    pub fn of(bytes: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sha256Hex {
    type Error = BadDigest;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let ok = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if ok {
            Ok(Self(s))
        } else {
            Err(BadDigest { got: s })
        }
    }
}

impl From<Sha256Hex> for String {
    fn from(h: Sha256Hex) -> String {
        h.0
    }
}

/// What [`Sha256Hex`] accepts, as an ECMA-262 regular expression (for the
/// OpenAPI schema).
pub const SHA256_HEX_PATTERN: &str = "^[0-9a-f]{64}$";

/// On the wire: a string of exactly 64 lowercase hex characters.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Sha256Hex {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(SHA256_HEX_PATTERN))
            .min_length(Some(64))
            .max_length(Some(64))
            .description(Some("A SHA-256 digest as 64 lowercase hex characters."))
            .examples(["ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Sha256Hex {}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_pattern_is_the_digest_check() {
        let pattern = regex::Regex::new(SHA256_HEX_PATTERN).unwrap();
        for s in [
            "a".repeat(64),
            "A".repeat(64),
            "a".repeat(63),
            "a".repeat(65),
            "g".repeat(64),
            format!("{}\n", "a".repeat(64)),
        ] {
            assert_eq!(
                pattern.is_match(&s),
                Sha256Hex::try_from(s.clone()).is_ok(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn digest_of_known_input_matches_the_published_test_vector() {
        // FIPS 180-2 example "abc".
        assert_eq!(
            Sha256Hex::of(b"abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn parsing_refuses_uppercase_short_and_non_hex_strings() {
        let good = "a".repeat(64);
        assert!(Sha256Hex::try_from(good).is_ok());
        assert!(Sha256Hex::try_from("A".repeat(64)).is_err());
        assert!(Sha256Hex::try_from("a".repeat(63)).is_err());
        assert!(Sha256Hex::try_from("g".repeat(64)).is_err());
    }
}
