//! Signed agreements: who accepted (or declined) exactly which version of
//! which text, in what capacity, and how they signed.
//!
//! A signed agreement is append-only: it is never edited, and an amendment would
//! be a new record that points at the old one. [`AgreementRecord::record_sha256`]
//! is the digest of the whole record, computed the same way on the device (for
//! the receipt) and on the server (for the ledger).

use crate::hash::Sha256Hex;
use crate::policy::{Audience, PolicyVersion};
use crate::signature::{SignatureError, SignatureMark};
use crate::Millis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Whom a person signs for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Capacity {
    /// For themselves.
    #[default]
    Myself,
    /// For a child: a parent or carer signing the pupil agreement or consent.
    OnBehalfOf {
        child_name: String,
        /// "Mother", "Foster carer", ...
        relationship: String,
    },
}

/// The uses photo and video consent asks about, each answered yes or no:
/// (answer key, what the form shows). Kept with the demo consent form's table.
pub const PHOTO_USES: [(&str, &str); 7] = [
    ("displays_in_school", "Displays in school"),
    ("learning_records", "Learning records"),
    ("newsletters", "Newsletters"),
    ("academy_website", "Academy website"),
    ("social_media", "Official social media"),
    ("local_press", "Local and regional press"),
    ("performance_videos", "Video recordings of performances"),
];

/// Most answers an agreement kind may ask for (photo consent: one per use).
pub const MAX_ANSWERS: usize = 20;
const MAX_ANSWER_CHARS: usize = 200;
const MAX_ANSWER_KEY_CHARS: usize = 50;

/// Longest signer name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// A signature as the device records it and the server receives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// `true`: the person agreed ("I agree" ticked, signed); `false`: they
    /// declined, which is recorded too.
    pub agreed: bool,
    /// Device clock at the moment of signing.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub signed_at: Millis,
    pub device_id: Uuid,
    /// For themselves or for a named child. Records made before this field
    /// existed are for the signer themselves.
    #[serde(default, deserialize_with = "strict::capacity")]
    pub capacity: Capacity,
    /// The role they sign in: staff, parent/carer, visitor, governor, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Audience>,
    /// Staff: their job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// The signer's staff account, when a staff member signs for themselves
    /// while signed in (or unlocked) on the device; compliance counts by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_account: Option<Uuid>,
    /// What the agreement kind asks besides agreeing, e.g. photo consent
    /// `{"school_website": "yes", "local_press": "no"}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub answers: BTreeMap<String, String>,
    /// The drawn strokes, or a typed name with its statement of intent.
    /// Absent on records from before the signature pad (typed name only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict::mark"
    )]
    pub mark: Option<SignatureMark>,
}

/// Stricter reading of the tagged enums in a record than serde's derive
/// gives: serde takes a variant's number as its tag (`"method": 0` reads as
/// `drawn`) and lets any field stand beside a unit variant's tag. A record
/// is evidence: it must say exactly what the schema says it may.
mod strict {
    use super::{Capacity, SignatureMark};
    use serde::de::Error;
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    fn tagged<'de, D: Deserializer<'de>>(d: D, tag: &str) -> Result<Value, D::Error> {
        let value = Value::deserialize(d)?;
        match value.get(tag) {
            Some(Value::String(_)) => Ok(value),
            _ => Err(D::Error::custom(format!(
                "`{tag}` must be given, as one of the names the API documents"
            ))),
        }
    }

    pub fn capacity<'de, D: Deserializer<'de>>(d: D) -> Result<Capacity, D::Error> {
        let value = tagged(d, "type")?;
        if value["type"] == "myself" && value.as_object().is_some_and(|o| o.len() > 1) {
            return Err(D::Error::custom(
                "a capacity of `myself` has no other fields",
            ));
        }
        serde_json::from_value(value).map_err(D::Error::custom)
    }

    pub fn mark<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SignatureMark>, D::Error> {
        let value = Value::deserialize(d)?;
        if value.is_null() {
            return Ok(None);
        }
        let value = tagged(value, "method").map_err(D::Error::custom)?;
        serde_json::from_value(value)
            .map(Some)
            .map_err(D::Error::custom)
    }
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
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error("the child's name: {0}")]
    ChildName(String),
    #[error("say how you are related to the child (for example mother, father, carer)")]
    RelationshipMissing,
    #[error("the job title is {0} characters long; the most allowed is 200")]
    JobTitleTooLong(usize),
    #[error("answer {key:?}: {problem}")]
    BadAnswer { key: String, problem: String },
    #[error("photo consent: answer yes or no for \"{0}\"")]
    PhotoUseUnanswered(&'static str),
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
        if !(EARLIEST..LATEST).contains(&self.signed_at) {
            return Err(AgreementError::ImplausibleTime(self.signed_at));
        }
        if let Capacity::OnBehalfOf {
            child_name,
            relationship,
        } = &self.capacity
        {
            validate_signer_name(child_name)
                .map_err(|e| AgreementError::ChildName(e.to_string()))?;
            let relationship = relationship.trim();
            if relationship.is_empty() || relationship.chars().any(char::is_control) {
                return Err(AgreementError::RelationshipMissing);
            }
        }
        if let Some(title) = &self.job_title {
            let chars = title.chars().count();
            if chars > MAX_NAME_CHARS {
                return Err(AgreementError::JobTitleTooLong(chars));
            }
        }
        if self.answers.len() > MAX_ANSWERS {
            return Err(AgreementError::BadAnswer {
                key: String::new(),
                problem: format!("at most {MAX_ANSWERS} answers"),
            });
        }
        for (key, value) in &self.answers {
            let bad_key = key.is_empty()
                || key.chars().count() > MAX_ANSWER_KEY_CHARS
                || !key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if bad_key {
                return Err(AgreementError::BadAnswer {
                    key: key.clone(),
                    problem: "keys are lowercase letters, digits and _".into(),
                });
            }
            if value.chars().count() > MAX_ANSWER_CHARS || value.chars().any(char::is_control) {
                return Err(AgreementError::BadAnswer {
                    key: key.clone(),
                    problem: format!(
                        "at most {MAX_ANSWER_CHARS} characters, no control characters"
                    ),
                });
            }
        }
        // A decline needs no signature; an agreement made with the pad does.
        if let (true, Some(mark)) = (self.agreed, &self.mark) {
            mark.validate()?;
        }
        Ok(())
    }

    /// Photo consent needs a yes or no for every use in [`PHOTO_USES`].
    pub fn photo_answers_complete(&self) -> Result<(), AgreementError> {
        for (key, label) in PHOTO_USES {
            match self.answers.get(key).map(String::as_str) {
                Some("yes" | "no") => {}
                _ => return Err(AgreementError::PhotoUseUnanswered(label)),
            }
        }
        Ok(())
    }

    /// SHA-256 of the record's canonical encoding: its JSON with fields in
    /// declaration order, absent optional fields left out, answers sorted by
    /// key. Device and server compute it with this one function.
    pub fn record_sha256(&self) -> Sha256Hex {
        // Serialising plain data with string keys cannot fail.
        Sha256Hex::of(&serde_json::to_vec(self).unwrap_or_default())
    }

    /// The short code printed on the receipt: the first 40 bits of the record
    /// digest in Crockford base32, as `XXXX-XXXX` (no I, L, O or U to misread).
    pub fn receipt_code(&self) -> String {
        receipt_code_of(&self.record_sha256())
    }

    /// Full check against the version the record names.
    pub fn validate_against(&self, version: &PolicyVersion) -> Result<(), AgreementError> {
        self.validate()?;
        if self.agreed && version.kind == crate::policy::PolicyKind::PhotoConsent {
            self.photo_answers_complete()?;
        }
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

/// The receipt code of a record digest (see [`AgreementRecord::receipt_code`]).
pub fn receipt_code_of(digest: &Sha256Hex) -> String {
    let bytes = hex::decode(digest.as_str()).unwrap_or_default();
    let bits = bytes
        .iter()
        .take(5)
        .fold(0u64, |bits, b| (bits << 8) | u64::from(*b));
    crate::crockford::encode(bits, 8)
}

/// A typed receipt code in the form it is looked up in: upper case, the
/// letters people confuse read as Crockford does (O→0, I/L→1), `XXXX-XXXX`.
pub fn normalise_receipt_code(code: &str) -> Option<String> {
    crate::crockford::normalise(code, 8)
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
            change_summary: None,
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
            ..Default::default()
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
    fn a_decline_is_a_valid_record() {
        let mut r = record();
        r.agreed = false;
        assert_eq!(r.validate(), Ok(()));
    }

    #[test]
    fn a_record_for_a_child_names_the_child_and_the_relationship() {
        let mut r = record();
        r.capacity = Capacity::OnBehalfOf {
            child_name: "Amira Khan".into(),
            relationship: "Mother".into(),
        };
        assert_eq!(r.validate(), Ok(()));
        r.capacity = Capacity::OnBehalfOf {
            child_name: "Amira Khan".into(),
            relationship: " ".into(),
        };
        assert_eq!(r.validate(), Err(AgreementError::RelationshipMissing));
        r.capacity = Capacity::OnBehalfOf {
            child_name: "".into(),
            relationship: "Mother".into(),
        };
        assert!(matches!(r.validate(), Err(AgreementError::ChildName(_))));
    }

    #[test]
    fn photo_consent_needs_an_answer_for_every_use() {
        let mut v = version();
        v.kind = crate::policy::PolicyKind::PhotoConsent;
        let mut r = record();
        assert_eq!(
            r.validate_against(&v),
            Err(AgreementError::PhotoUseUnanswered("Displays in school"))
        );
        for (key, _) in PHOTO_USES {
            r.answers.insert(key.into(), "no".into());
        }
        assert_eq!(r.validate_against(&v), Ok(()));
        r.answers.insert("local_press".into(), "maybe".into());
        assert!(r.validate_against(&v).is_err());
        r.agreed = false;
        assert_eq!(r.validate_against(&v), Ok(()), "a decline answers nothing");
    }

    #[test]
    fn answers_have_plain_keys_and_short_values() {
        let mut r = record();
        r.answers.insert("school_website".into(), "yes".into());
        assert_eq!(r.validate(), Ok(()));
        r.answers.insert("Bad Key".into(), "yes".into());
        assert!(matches!(
            r.validate(),
            Err(AgreementError::BadAnswer { .. })
        ));
    }

    #[test]
    fn an_agreement_with_a_blank_pad_is_refused_and_a_typed_one_needs_the_statement() {
        use crate::signature::TYPED_STATEMENT;
        let mut r = record();
        r.mark = Some(SignatureMark::Drawn { strokes: vec![] });
        assert_eq!(
            r.validate(),
            Err(AgreementError::Signature(SignatureError::Blank))
        );
        r.mark = Some(SignatureMark::Typed {
            typed_name: "Ada Lovelace".into(),
            statement: TYPED_STATEMENT.into(),
        });
        assert_eq!(r.validate(), Ok(()));
        r.agreed = false;
        r.mark = Some(SignatureMark::Drawn { strokes: vec![] });
        assert_eq!(r.validate(), Ok(()), "a decline needs no signature");
    }

    #[test]
    fn the_record_digest_covers_every_field_and_gives_a_short_receipt_code() {
        let r = record();
        let digest = r.record_sha256();
        assert_eq!(digest, r.clone().record_sha256(), "stable");
        let mut changed = r.clone();
        changed.signer_name = "Ada King".into();
        assert_ne!(changed.record_sha256(), digest);
        let mut answered = r.clone();
        answered.answers.insert("local_press".into(), "no".into());
        assert_ne!(answered.record_sha256(), digest);
        let code = r.receipt_code();
        assert_eq!(code.len(), 9);
        assert_eq!(
            normalise_receipt_code(&code.to_lowercase()),
            Some(code.clone())
        );
        assert_eq!(normalise_receipt_code(&code.replace('-', " ")), Some(code));
        assert_eq!(normalise_receipt_code("ABCD-EFG"), None);
        assert_eq!(
            normalise_receipt_code("oiL0-0000"),
            Some("0110-0000".into())
        );
    }

    #[test]
    fn tags_must_be_names_and_myself_has_no_other_fields() {
        let mut json = serde_json::to_value(record()).unwrap();
        json["mark"] = serde_json::json!({"method": 0, "strokes": []});
        let err = serde_json::from_value::<AgreementRecord>(json.clone()).unwrap_err();
        assert!(err.to_string().contains("method"), "{err}");
        json["mark"] = serde_json::json!({"method": "typed", "typed_name": "A", "statement": "s"});
        assert!(serde_json::from_value::<AgreementRecord>(json.clone()).is_ok());
        json["capacity"] = serde_json::json!({"type": "myself", "child_name": "X"});
        assert!(serde_json::from_value::<AgreementRecord>(json.clone()).is_err());
        json["capacity"] = serde_json::json!({"type": 1, "child_name": "X", "relationship": "Y"});
        assert!(serde_json::from_value::<AgreementRecord>(json.clone()).is_err());
        json["capacity"] =
            serde_json::json!({"type": "on_behalf_of", "child_name": "X", "relationship": "Y"});
        assert!(serde_json::from_value::<AgreementRecord>(json).is_ok());
    }

    #[test]
    fn a_record_from_before_the_new_fields_still_decodes_the_same() {
        let old = serde_json::json!({
            "id": Uuid::from_u128(3), "policy_version_id": Uuid::from_u128(1),
            "policy_text_sha256": text_hash("Visitor AUA", "Use the guest Wi-Fi only."),
            "signer_name": "Ada Lovelace", "agreed": true, "signed_at": 1_790_000_000_000_i64,
            "device_id": Uuid::from_u128(4)
        });
        let decoded: AgreementRecord = serde_json::from_value(old).unwrap();
        assert_eq!(decoded, record());
        assert_eq!(decoded.capacity, Capacity::Myself);
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
