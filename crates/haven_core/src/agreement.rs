//! Signed agreements: who accepted exactly which version of which text.
//!
//! A signed agreement is append-only: it is never edited, and an amendment would
//! be a new record that points at the old one.

use crate::hash::Sha256Hex;
use crate::policy::PolicyVersion;
use crate::Millis;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest signer name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// A signature as the device records it and the server receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AgreementRecord {
    /// UUID v7 made on the device, so a record can be created with no server.
    pub id: Uuid,
    pub policy_version_id: Uuid,
    /// SHA-256 of the canonical text the signer was shown.
    pub policy_text_sha256: Sha256Hex,
    /// The signer's full name as typed.
    pub signer_name: String,
    /// The signer ticked "I agree"; a record without it is not a signature.
    pub agreed: bool,
    /// Device clock at the moment of signing.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub signed_at: Millis,
    pub device_id: Uuid,
}

/// Why a record cannot be accepted. Each message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgreementError {
    #[error("enter your full name to sign")]
    NameMissing,
    #[error("the name is {chars} characters long; the most allowed is {MAX_NAME_CHARS}")]
    NameTooLong { chars: usize },
    #[error("the name contains control characters")]
    NameHasControlCharacters,
    #[error("tick \"I agree\" to sign")]
    NotAgreed,
    #[error("the signing time {0} is not a plausible date")]
    ImplausibleTime(Millis),
    #[error(
        "the text you signed (SHA-256 {signed}) is not the text of policy version {version} \
         (SHA-256 {expected}); reload the policy and sign again"
    )]
    TextMismatch {
        version: Uuid,
        signed: Sha256Hex,
        expected: Sha256Hex,
    },
}

/// 2000-01-01 and 2200-01-01 in milliseconds: a device clock outside this range
/// is broken, not early or late.
const EARLIEST: Millis = 946_684_800_000;
const LATEST: Millis = 7_258_118_400_000;

impl AgreementRecord {
    /// Checks that hold without knowing which policies exist.
    pub fn validate(&self) -> Result<(), AgreementError> {
        validate_signer_name(&self.signer_name)?;
        if !self.agreed {
            return Err(AgreementError::NotAgreed);
        }
        if !(EARLIEST..LATEST).contains(&self.signed_at) {
            return Err(AgreementError::ImplausibleTime(self.signed_at));
        }
        Ok(())
    }

    /// Full check against the version the record names.
    pub fn validate_against(&self, version: &PolicyVersion) -> Result<(), AgreementError> {
        self.validate()?;
        if self.policy_text_sha256 != version.text_sha256 {
            return Err(AgreementError::TextMismatch {
                version: version.id,
                signed: self.policy_text_sha256.clone(),
                expected: version.text_sha256.clone(),
            });
        }
        Ok(())
    }
}

/// The rules for a signer's name, shared by the sign form and the server.
pub fn validate_signer_name(name: &str) -> Result<(), AgreementError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(AgreementError::NameMissing);
    }
    let chars = trimmed.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(AgreementError::NameTooLong { chars });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(AgreementError::NameHasControlCharacters);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{text_hash, Audience, PolicyKind, PolicyOwner};

    fn version() -> PolicyVersion {
        PolicyVersion {
            id: Uuid::from_u128(1),
            policy_id: Uuid::from_u128(2),
            version: 1,
            title: "Visitor AUA".into(),
            kind: PolicyKind::VisitorAua,
            audiences: vec![Audience::Visitor],
            owner: PolicyOwner::Trust,
            body_markdown: "Use the guest Wi-Fi only.".into(),
            approved_by: "Board".into(),
            effective_date: "2026-09-01".into(),
            last_reviewed: "2026-07-01".into(),
            next_review_due: "2027-09-01".into(),
            published_at: 1_780_000_000_000,
            text_sha256: text_hash("Visitor AUA", "Use the guest Wi-Fi only."),
        }
    }

    fn record() -> AgreementRecord {
        AgreementRecord {
            id: Uuid::from_u128(3),
            policy_version_id: Uuid::from_u128(1),
            policy_text_sha256: text_hash("Visitor AUA", "Use the guest Wi-Fi only."),
            signer_name: "Ada Lovelace".into(),
            agreed: true,
            signed_at: 1_790_000_000_000,
            device_id: Uuid::from_u128(4),
        }
    }

    #[test]
    fn a_complete_record_for_the_right_text_is_valid() {
        assert_eq!(record().validate_against(&version()), Ok(()));
    }

    #[test]
    fn a_record_for_different_text_is_refused_with_both_digests() {
        let mut r = record();
        r.policy_text_sha256 = text_hash("Visitor AUA", "Something else.");
        let err = r.validate_against(&version()).unwrap_err();
        assert!(matches!(err, AgreementError::TextMismatch { .. }));
        assert!(err.to_string().contains(version().text_sha256.as_str()));
    }

    #[test]
    fn blank_overlong_and_control_character_names_are_refused() {
        let mut r = record();
        r.signer_name = "   ".into();
        assert_eq!(r.validate(), Err(AgreementError::NameMissing));
        r.signer_name = "x".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(
            r.validate(),
            Err(AgreementError::NameTooLong {
                chars: MAX_NAME_CHARS + 1
            })
        );
        r.signer_name = "Ada\u{0}".into();
        assert_eq!(r.validate(), Err(AgreementError::NameHasControlCharacters));
    }

    #[test]
    fn an_unticked_box_is_not_a_signature() {
        let mut r = record();
        r.agreed = false;
        assert_eq!(r.validate(), Err(AgreementError::NotAgreed));
    }

    #[test]
    fn a_broken_device_clock_is_refused() {
        let mut r = record();
        r.signed_at = 0;
        assert_eq!(r.validate(), Err(AgreementError::ImplausibleTime(0)));
    }

    #[test]
    fn unknown_fields_are_refused_when_decoding() {
        let mut json = serde_json::to_value(record()).unwrap();
        json["sneaky"] = serde_json::json!(true);
        let err = serde_json::from_value::<AgreementRecord>(json).unwrap_err();
        assert!(err.to_string().contains("sneaky"), "{err}");
    }
}
