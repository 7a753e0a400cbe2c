//! Policies and their published versions.
//!
//! A published version never changes: publishing makes a new version with a new
//! id. A signature binds to a version through the SHA-256 of its canonical text,
//! computed here and only here.

use crate::hash::Sha256Hex;
use crate::Millis;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a policy document is, which decides who signs it and what they add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    EsafetyPolicy,
    StaffAua,
    PupilAua,
    ParentAua,
    VisitorAua,
    CommunityAua,
    ByodAuthorisation,
    PhotoConsent,
    Other,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 9] = [
        PolicyKind::EsafetyPolicy,
        PolicyKind::StaffAua,
        PolicyKind::PupilAua,
        PolicyKind::ParentAua,
        PolicyKind::VisitorAua,
        PolicyKind::CommunityAua,
        PolicyKind::ByodAuthorisation,
        PolicyKind::PhotoConsent,
        PolicyKind::Other,
    ];

    /// A heading a person would recognise.
    pub fn label(self) -> &'static str {
        match self {
            PolicyKind::EsafetyPolicy => "E-safety policy",
            PolicyKind::StaffAua => "Staff acceptable use agreement",
            PolicyKind::PupilAua => "Pupil acceptable use agreement",
            PolicyKind::ParentAua => "Parent/carer acceptable use agreement",
            PolicyKind::VisitorAua => "Visitor acceptable use agreement",
            PolicyKind::CommunityAua => "Community user acceptable use agreement",
            PolicyKind::ByodAuthorisation => "Bring your own device authorisation",
            PolicyKind::PhotoConsent => "Photo and video consent",
            PolicyKind::Other => "Other",
        }
    }

    /// Whether people sign this kind of document (an e-safety policy is read, not signed).
    pub fn is_signable(self) -> bool {
        !matches!(self, PolicyKind::EsafetyPolicy | PolicyKind::Other)
    }
}

/// One published, immutable version of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyVersion {
    /// Id of this version; what a signature names.
    pub id: Uuid,
    /// Id of the policy this is a version of; stable across versions.
    pub policy_id: Uuid,
    /// 1 for the first published version, then 2, 3, ...
    pub version: u32,
    pub title: String,
    pub kind: PolicyKind,
    /// Markdown: headings, lists, tables.
    pub body_markdown: String,
    pub approved_by: String,
    /// Day the version takes effect, `YYYY-MM-DD`.
    pub effective_date: String,
    /// Day the next review is due, `YYYY-MM-DD`.
    pub next_review_due: String,
    pub published_at: Millis,
    /// SHA-256 of [`canonical_text`] of the title and body.
    pub text_sha256: Sha256Hex,
}

/// What the policy list shows; the body is fetched per version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySummary {
    pub id: Uuid,
    pub policy_id: Uuid,
    pub version: u32,
    pub title: String,
    pub kind: PolicyKind,
    pub effective_date: String,
    pub next_review_due: String,
    pub text_sha256: Sha256Hex,
}

impl From<&PolicyVersion> for PolicySummary {
    fn from(v: &PolicyVersion) -> Self {
        PolicySummary {
            id: v.id,
            policy_id: v.policy_id,
            version: v.version,
            title: v.title.clone(),
            kind: v.kind,
            effective_date: v.effective_date.clone(),
            next_review_due: v.next_review_due.clone(),
            text_sha256: v.text_sha256.clone(),
        }
    }
}

/// The text a signer is shown, in the one form that is hashed.
///
/// Line endings become `\n`, trailing spaces and tabs are dropped from each line
/// and blank lines at either end are dropped: none of these change what a reader
/// sees, but editors and operating systems change them freely, and a signature
/// must not break because a file went through Windows.
pub fn canonical_text(title: &str, body_markdown: &str) -> String {
    let joined = format!("{}\n\n{}", title.trim(), body_markdown);
    let unified = joined.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = unified
        .lines()
        .map(|l| l.trim_end_matches([' ', '\t']))
        .collect();
    let first = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let last = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(first, |i| i + 1);
    let mut out = lines[first..last].join("\n");
    out.push('\n');
    out
}

/// SHA-256 of the canonical text: the fingerprint a signature binds to.
pub fn text_hash(title: &str, body_markdown: &str) -> Sha256Hex {
    Sha256Hex::of(canonical_text(title, body_markdown).as_bytes())
}

impl PolicyVersion {
    /// Whether the stored digest is the digest of the stored text.
    pub fn hash_is_consistent(&self) -> bool {
        text_hash(&self.title, &self.body_markdown) == self.text_sha256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_stable_for_the_same_text() {
        let a = text_hash("Staff AUA", "# Rules\n\nBe kind online.\n");
        let b = text_hash("Staff AUA", "# Rules\n\nBe kind online.\n");
        assert_eq!(a, b);
        // Pinned so that a change to canonicalisation, which would invalidate every
        // stored signature, cannot slip through unnoticed.
        assert_eq!(
            a.as_str(),
            Sha256Hex::of(b"Staff AUA\n\n# Rules\n\nBe kind online.\n").as_str()
        );
    }

    #[test]
    fn line_endings_and_trailing_spaces_do_not_change_the_hash() {
        let unix = text_hash("T", "line one\nline two\n");
        let windows = text_hash("T", "line one  \r\nline two\r\n\r\n");
        assert_eq!(unix, windows);
    }

    #[test]
    fn any_visible_change_changes_the_hash() {
        let base = text_hash("T", "You must not share passwords.");
        assert_ne!(base, text_hash("T", "You must not share password."));
        assert_ne!(base, text_hash("T", "You must share passwords."));
        assert_ne!(base, text_hash("T2", "You must not share passwords."));
        assert_ne!(base, text_hash("T", "You must not  share passwords."));
        assert_ne!(
            base,
            text_hash("T", "You must not share passwords.\n\nExtra.")
        );
    }

    #[test]
    fn empty_body_still_hashes_the_title() {
        assert_eq!(canonical_text("  Title ", ""), "Title\n");
    }

    proptest::proptest! {
        #[test]
        fn changing_any_character_of_the_body_changes_the_hash(
            body in "[a-zA-Z0-9 .,]{1,200}", idx in 0usize..200, c in "[a-z]"
        ) {
            let chars: Vec<char> = body.chars().collect();
            let i = idx % chars.len();
            let replacement = c.chars().next().unwrap();
            proptest::prop_assume!(chars[i] != replacement);
            // Trailing spaces are deliberately ignored; skip edits that only touch them.
            proptest::prop_assume!(chars[i] != ' ' && replacement != ' ');
            let mut changed = chars.clone();
            changed[i] = replacement;
            let changed: String = changed.into_iter().collect();
            proptest::prop_assert_ne!(text_hash("T", &body), text_hash("T", &changed));
        }
    }
}
