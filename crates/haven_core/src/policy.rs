//! Policies and their published versions.
//!
//! A published version never changes: publishing makes a new version with a new
//! id. A signature binds to a version through the SHA-256 of its canonical text,
//! computed here and only here.

use crate::hash::Sha256Hex;
use crate::validate::{self, Invalid};
use crate::Millis;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a policy document is, which decides who signs it and what they add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

    /// Who a document of this kind is usually for: a starting point for the
    /// audiences of a new policy, not a rule.
    pub fn default_audiences(self) -> &'static [Audience] {
        use Audience::*;
        match self {
            PolicyKind::EsafetyPolicy => &[Staff, Governor, Trustee, Volunteer, ParentCarer],
            PolicyKind::StaffAua => &[Staff, Governor, Trustee, Volunteer],
            PolicyKind::PupilAua => &[Pupil, ParentCarer],
            PolicyKind::ParentAua => &[ParentCarer],
            PolicyKind::VisitorAua => &[Visitor, Contractor, SupplyTeacher, TraineeTeacher],
            PolicyKind::CommunityAua => &[CommunityUser],
            PolicyKind::ByodAuthorisation => &[Pupil, ParentCarer],
            PolicyKind::PhotoConsent => &[ParentCarer, Pupil],
            PolicyKind::Other => &[],
        }
    }
}

/// Who a policy version is for: for an agreement, who signs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    Staff,
    Governor,
    Trustee,
    Volunteer,
    Pupil,
    ParentCarer,
    Visitor,
    Contractor,
    SupplyTeacher,
    TraineeTeacher,
    CommunityUser,
}

impl Audience {
    pub const ALL: [Audience; 11] = [
        Audience::Staff,
        Audience::Governor,
        Audience::Trustee,
        Audience::Volunteer,
        Audience::Pupil,
        Audience::ParentCarer,
        Audience::Visitor,
        Audience::Contractor,
        Audience::SupplyTeacher,
        Audience::TraineeTeacher,
        Audience::CommunityUser,
    ];

    /// The name on the wire, as serde writes it.
    pub fn wire_name(self) -> &'static str {
        match self {
            Audience::Staff => "staff",
            Audience::Governor => "governor",
            Audience::Trustee => "trustee",
            Audience::Volunteer => "volunteer",
            Audience::Pupil => "pupil",
            Audience::ParentCarer => "parent_carer",
            Audience::Visitor => "visitor",
            Audience::Contractor => "contractor",
            Audience::SupplyTeacher => "supply_teacher",
            Audience::TraineeTeacher => "trainee_teacher",
            Audience::CommunityUser => "community_user",
        }
    }

    /// The audience named by [`Audience::wire_name`].
    pub fn from_wire(name: &str) -> Option<Audience> {
        Audience::ALL.into_iter().find(|a| a.wire_name() == name)
    }

    /// One person of this audience, as a signer is described: "Parent or carer".
    pub fn singular(self) -> &'static str {
        match self {
            Audience::Staff => "Staff member",
            Audience::Governor => "Governor",
            Audience::Trustee => "Trustee",
            Audience::Volunteer => "Volunteer",
            Audience::Pupil => "Pupil",
            Audience::ParentCarer => "Parent or carer",
            Audience::Visitor => "Visitor",
            Audience::Contractor => "Contractor",
            Audience::SupplyTeacher => "Supply teacher",
            Audience::TraineeTeacher => "Trainee teacher",
            Audience::CommunityUser => "Community user",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Audience::Staff => "Staff",
            Audience::Governor => "Governors",
            Audience::Trustee => "Trustees",
            Audience::Volunteer => "Volunteers",
            Audience::Pupil => "Pupils",
            Audience::ParentCarer => "Parents and carers",
            Audience::Visitor => "Visitors",
            Audience::Contractor => "Contractors",
            Audience::SupplyTeacher => "Supply teachers",
            Audience::TraineeTeacher => "Trainee teachers",
            Audience::CommunityUser => "Community users",
        }
    }
}

/// The body that owns a policy: the trust as a whole, or one academy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    deny_unknown_fields,
    from = "OwnerAsRead"
)]
pub enum PolicyOwner {
    #[default]
    Trust,
    Academy {
        academy_id: Uuid,
    },
}

/// [`PolicyOwner`] as it is read. serde lets any field stand beside the tag
/// of a unit variant, `deny_unknown_fields` or not, so `{"type": "trust",
/// "academy_id": ...}` would quietly be the trust; read as an empty struct
/// variant, `trust` refuses other fields like `academy` does.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum OwnerAsRead {
    Trust {},
    Academy { academy_id: Uuid },
}

impl From<OwnerAsRead> for PolicyOwner {
    fn from(owner: OwnerAsRead) -> Self {
        match owner {
            OwnerAsRead::Trust {} => PolicyOwner::Trust,
            OwnerAsRead::Academy { academy_id } => PolicyOwner::Academy { academy_id },
        }
    }
}

impl PolicyOwner {
    pub fn academy_id(self) -> Option<Uuid> {
        match self {
            PolicyOwner::Trust => None,
            PolicyOwner::Academy { academy_id } => Some(academy_id),
        }
    }
}

/// One published, immutable version of a policy.
///
/// Only ever sent by the server, so unknown fields are ignored: a device on
/// an older build must still read versions that carry a field it has not
/// heard of (as `change_summary` once was), or it could show nothing new
/// until its service worker updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyVersion {
    /// Id of this version; what a signature names.
    pub id: Uuid,
    /// Id of the policy this is a version of; stable across versions.
    pub policy_id: Uuid,
    /// 1 for the first published version, then 2, 3, ...
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub version: u32,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::title))]
    pub title: String,
    pub kind: PolicyKind,
    /// Who it is for; for an agreement, who signs it. (Defaults to none only so
    /// that copies a device stored before this field existed still load.)
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeSet<Audience>))]
    pub audiences: Vec<Audience>,
    /// The trust, or the academy whose policy this is.
    #[serde(default)]
    pub owner: PolicyOwner,
    /// Markdown: headings, lists, tables.
    pub body_markdown: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::approved_by))]
    pub approved_by: String,
    /// Day the version takes effect, `YYYY-MM-DD`.
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    pub effective_date: String,
    /// Day of the review that produced this version, `YYYY-MM-DD`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    pub last_reviewed: String,
    /// Day the next review is due, `YYYY-MM-DD`.
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    pub next_review_due: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub published_at: Millis,
    /// SHA-256 of [`canonical_text`] of the title and body.
    pub text_sha256: Sha256Hex,
    /// What changed since the previous version, in the publisher's words:
    /// shown to everyone asked to sign again. Absent for a first version,
    /// and for versions published (or kept on a device) before it was asked
    /// for; left off the wire when absent, so an app from before it still
    /// reads the versions that have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub change_summary: Option<String>,
}

impl PolicyVersion {
    /// The line under a policy's title: kind, version and its dates. One
    /// wording for the app and the page the server sends before it.
    pub fn meta_line(&self) -> String {
        format!(
            "{} · version {} · effective {} · approved by {} · last reviewed {} · next review {}",
            self.kind.label(),
            self.version,
            self.effective_date,
            self.approved_by,
            self.last_reviewed,
            self.next_review_due
        )
    }

    /// Whom it is for, as a sentence; `None` if nobody is named.
    pub fn audiences_line(&self) -> Option<String> {
        (!self.audiences.is_empty()).then(|| {
            let names: Vec<&str> = self.audiences.iter().map(|a| a.label()).collect();
            format!("For: {}.", names.join(", "))
        })
    }
}

/// What the policy list shows; the body is fetched per version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicySummary {
    pub id: Uuid,
    pub policy_id: Uuid,
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub version: u32,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::title))]
    pub title: String,
    pub kind: PolicyKind,
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeSet<Audience>))]
    pub audiences: Vec<Audience>,
    pub owner: PolicyOwner,
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    pub effective_date: String,
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    pub last_reviewed: String,
    #[cfg_attr(feature = "openapi", schema(format = Date))]
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
            audiences: v.audiences.clone(),
            owner: v.owner,
            effective_date: v.effective_date.clone(),
            last_reviewed: v.last_reviewed.clone(),
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

/// Longest policy title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest "approved by" accepted, in characters.
pub const MAX_APPROVER_CHARS: usize = 200;
/// Largest policy body accepted, in bytes of Markdown: twenty times the size of
/// a long real policy.
pub const MAX_BODY_BYTES: usize = 1_000_000;
/// Longest summary of changes accepted, in characters: a few paragraphs.
pub const MAX_CHANGE_SUMMARY_CHARS: usize = 2000;

/// `POST /api/v1/policies`: publish a new version of a policy, or the first
/// version of a new one. The server assigns the version id, the version
/// number, the publishing time and the text hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PublishPolicyVersion {
    /// The policy this is a new version of. Absent: a new policy, with an id
    /// the server makes. A policy id the server does not know also starts a new
    /// policy, so a client can choose the id and safely send the request again.
    #[serde(default)]
    pub policy_id: Option<Uuid>,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::title))]
    pub title: String,
    /// Must be the kind of the policy's earlier versions.
    pub kind: PolicyKind,
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeSet<Audience>))]
    pub audiences: Vec<Audience>,
    /// The trust when absent.
    #[serde(default)]
    pub owner: PolicyOwner,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1_000_000))]
    pub body_markdown: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::approved_by))]
    pub approved_by: String,
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    pub effective_date: String,
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    pub last_reviewed: String,
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    pub next_review_due: String,
    /// What changed since the policy's latest version, for the people asked
    /// to sign again (see [`PublishPolicyVersion::check_change_summary`]):
    /// required for a new version of an existing policy, optional for a
    /// first version. Line breaks are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub change_summary: Option<String>,
}

impl PublishPolicyVersion {
    /// Checks what can be checked without the database: every field is
    /// present and well formed, the review is due after the last one, and an
    /// agreement says who signs it.
    pub fn validate(&self) -> Result<(), Invalid> {
        validate::line("title", &self.title, MAX_TITLE_CHARS)?;
        if self.body_markdown.trim().is_empty() {
            return Err(Invalid::new("body_markdown", "must not be empty"));
        }
        if self.body_markdown.len() > MAX_BODY_BYTES {
            return Err(Invalid::new(
                "body_markdown",
                format!(
                    "is {} bytes long; the most allowed is {MAX_BODY_BYTES}",
                    self.body_markdown.len()
                ),
            ));
        }
        if self.body_markdown.contains('\0') {
            return Err(Invalid::new(
                "body_markdown",
                "must not contain NUL characters",
            ));
        }
        validate::line("approved_by", &self.approved_by, MAX_APPROVER_CHARS)?;
        validate::iso_date("effective_date", &self.effective_date)?;
        validate::iso_date("last_reviewed", &self.last_reviewed)?;
        validate::iso_date("next_review_due", &self.next_review_due)?;
        if self.next_review_due <= self.last_reviewed {
            return Err(Invalid::new(
                "next_review_due",
                format!(
                    "{} is not after the last review on {}",
                    self.next_review_due, self.last_reviewed
                ),
            ));
        }
        if self.kind.is_signable() && self.audiences.is_empty() {
            return Err(Invalid::new(
                "audiences",
                format!(
                    "say who signs this {}; for example {}",
                    self.kind.label().to_lowercase(),
                    audience_names(self.kind.default_audiences())
                ),
            ));
        }
        for (i, a) in self.audiences.iter().enumerate() {
            if self.audiences[..i].contains(a) {
                return Err(Invalid::new(
                    "audiences",
                    format!("{} is listed twice", a.wire_name()),
                ));
            }
        }
        if let Some(summary) = &self.change_summary {
            let chars = summary.trim().chars().count();
            if chars > MAX_CHANGE_SUMMARY_CHARS {
                return Err(Invalid::new(
                    "change_summary",
                    format!(
                        "is {chars} characters long; the most allowed is \
                         {MAX_CHANGE_SUMMARY_CHARS}"
                    ),
                ));
            }
            if summary
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
            {
                return Err(Invalid::new(
                    "change_summary",
                    "must not contain control characters",
                ));
            }
        }
        Ok(())
    }

    /// The summary of changes as it is stored: trimmed, and absent when
    /// blank.
    pub fn change_summary(&self) -> Option<&str> {
        self.change_summary
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// A new version of a policy that already has `latest` must say what
    /// changed: the people who signed an earlier version are asked to sign
    /// again, and are told why. A first version needs no summary.
    pub fn check_change_summary(&self, latest: Option<&PolicyVersion>) -> Result<(), Invalid> {
        match latest {
            Some(latest) if self.change_summary().is_none() => Err(Invalid::new(
                "change_summary",
                format!(
                    "say what changed since version {}: everyone who signed an \
                     earlier version is asked to sign again and is shown it",
                    latest.version
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The version this request publishes, with the digest of its text.
    pub fn into_version(
        self,
        id: Uuid,
        policy_id: Uuid,
        version: u32,
        published_at: Millis,
    ) -> PolicyVersion {
        let text_sha256 = text_hash(&self.title, &self.body_markdown);
        let change_summary = self.change_summary().map(str::to_owned);
        PolicyVersion {
            id,
            policy_id,
            version,
            title: self.title,
            kind: self.kind,
            audiences: self.audiences,
            owner: self.owner,
            body_markdown: self.body_markdown,
            approved_by: self.approved_by,
            effective_date: self.effective_date,
            last_reviewed: self.last_reviewed,
            next_review_due: self.next_review_due,
            published_at,
            text_sha256,
            change_summary,
        }
    }

    /// Whether `existing` already holds exactly what this request would
    /// publish (so sending it again is a retry, not a new version).
    pub fn is_published_as(&self, existing: &PolicyVersion) -> bool {
        self.policy_id.is_none_or(|id| id == existing.policy_id)
            && self.title == existing.title
            && self.kind == existing.kind
            && self.audiences == existing.audiences
            && self.owner == existing.owner
            && self.body_markdown == existing.body_markdown
            && self.approved_by == existing.approved_by
            && self.effective_date == existing.effective_date
            && self.last_reviewed == existing.last_reviewed
            && self.next_review_due == existing.next_review_due
            && self.change_summary() == existing.change_summary.as_deref()
    }
}

/// Audience wire names, for messages: `staff, governor`.
fn audience_names(audiences: &[Audience]) -> String {
    audiences
        .iter()
        .map(|a| a.wire_name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_is_tagged_by_type_and_refuses_other_fields() {
        let academy = PolicyOwner::Academy {
            academy_id: Uuid::from_u128(7),
        };
        for owner in [PolicyOwner::Trust, academy] {
            let json = serde_json::to_value(owner).unwrap();
            assert_eq!(serde_json::from_value::<PolicyOwner>(json).unwrap(), owner);
        }
        assert_eq!(
            serde_json::to_value(PolicyOwner::Trust).unwrap(),
            serde_json::json!({"type": "trust"})
        );
        for bad in [
            serde_json::json!({"type": "trust", "academy_id": Uuid::from_u128(7)}),
            serde_json::json!({"type": "trust", "x": 1}),
            serde_json::json!({"type": "academy", "academy_id": Uuid::from_u128(7), "x": 1}),
            serde_json::json!({"type": "academy"}),
        ] {
            assert!(
                serde_json::from_value::<PolicyOwner>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

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

    fn publish() -> PublishPolicyVersion {
        PublishPolicyVersion {
            policy_id: None,
            title: "Staff Acceptable Use Agreement".into(),
            kind: PolicyKind::StaffAua,
            audiences: vec![Audience::Staff, Audience::Volunteer],
            owner: PolicyOwner::Trust,
            body_markdown: "## 1. Passwords\n\nKeep them to yourself.\n".into(),
            approved_by: "Board of Trustees".into(),
            effective_date: "2026-09-01".into(),
            last_reviewed: "2026-07-01".into(),
            next_review_due: "2027-07-01".into(),
            change_summary: None,
        }
    }

    #[test]
    fn a_complete_publish_request_is_valid_and_its_version_hashes_its_text() {
        let request = publish();
        assert_eq!(request.validate(), Ok(()));
        let v = request.clone().into_version(
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            3,
            1_780_000_000_000,
        );
        assert!(v.hash_is_consistent());
        assert_eq!(v.version, 3);
        assert!(request.is_published_as(&v));
        let mut changed = request;
        changed.body_markdown.push_str("And lock your screen.\n");
        assert!(!changed.is_published_as(&v));
    }

    #[test]
    fn each_bad_field_is_named() {
        type Spoil = fn(&mut PublishPolicyVersion);
        let cases: [(&str, Spoil); 7] = [
            ("title", |r| r.title = "  ".into()),
            ("body_markdown", |r| r.body_markdown = "\n\n".into()),
            ("approved_by", |r| r.approved_by.clear()),
            ("effective_date", |r| {
                r.effective_date = "1 Sept 2026".into()
            }),
            ("last_reviewed", |r| r.last_reviewed = "2026-02-30".into()),
            ("next_review_due", |r| {
                r.next_review_due = "2026-06-30".into()
            }),
            ("audiences", |r| r.audiences.clear()),
        ];
        for (field, spoil) in cases {
            let mut r = publish();
            spoil(&mut r);
            assert_eq!(r.validate().unwrap_err().field, field);
        }
    }

    #[test]
    fn an_agreement_must_say_who_signs_it_but_a_policy_need_not() {
        let mut r = publish();
        r.audiences.clear();
        let err = r.validate().unwrap_err();
        assert!(err.problem.contains("staff, governor"), "{err}");
        r.kind = PolicyKind::EsafetyPolicy;
        assert_eq!(r.validate(), Ok(()));
    }

    #[test]
    fn an_audience_listed_twice_is_refused() {
        let mut r = publish();
        r.audiences.push(Audience::Staff);
        assert!(r.validate().unwrap_err().problem.contains("staff"));
    }

    #[test]
    fn a_body_over_the_limit_is_refused() {
        let mut r = publish();
        r.body_markdown = "x".repeat(MAX_BODY_BYTES + 1);
        assert_eq!(r.validate().unwrap_err().field, "body_markdown");
    }

    #[test]
    fn audience_wire_names_are_what_serde_writes() {
        for a in Audience::ALL {
            assert_eq!(
                serde_json::to_string(&a).unwrap(),
                format!("\"{}\"", a.wire_name())
            );
        }
    }

    #[test]
    fn the_owner_is_tagged_on_the_wire_and_the_trust_by_default() {
        let academy = PolicyOwner::Academy {
            academy_id: Uuid::from_u128(9),
        };
        assert_eq!(
            serde_json::to_value(academy).unwrap(),
            serde_json::json!({"type": "academy", "academy_id": Uuid::from_u128(9)})
        );
        assert_eq!(
            serde_json::to_value(PolicyOwner::Trust).unwrap(),
            serde_json::json!({"type": "trust"})
        );
        let mut json = serde_json::to_value(publish()).unwrap();
        json.as_object_mut().unwrap().remove("owner");
        let back: PublishPolicyVersion = serde_json::from_value(json).unwrap();
        assert_eq!(back.owner, PolicyOwner::Trust);
    }

    #[test]
    fn a_version_stored_before_audiences_owner_review_date_and_summary_existed_still_loads() {
        let old = r#"{"id":"00000000-0000-0000-0000-000000000001",
            "policy_id":"00000000-0000-0000-0000-000000000002","version":1,"title":"T",
            "kind":"visitor_aua","body_markdown":"B","approved_by":"Board",
            "effective_date":"2026-09-01","next_review_due":"2027-09-01",
            "published_at":1780000000000,"text_sha256":"%H"}"#
            .replace("%H", text_hash("T", "B").as_str());
        let v: PolicyVersion = serde_json::from_str(&old).unwrap();
        assert!(v.audiences.is_empty());
        assert_eq!(v.owner, PolicyOwner::Trust);
        assert_eq!(v.change_summary, None);
        assert!(v.hash_is_consistent());
    }

    #[test]
    fn a_version_from_a_newer_server_with_a_field_unknown_here_still_loads() {
        let newer = r#"{"id":"00000000-0000-0000-0000-000000000001",
            "policy_id":"00000000-0000-0000-0000-000000000002","version":2,"title":"T",
            "kind":"visitor_aua","body_markdown":"B","approved_by":"Board",
            "effective_date":"2026-09-01","next_review_due":"2027-09-01",
            "published_at":1780000000000,"text_sha256":"%H",
            "a_field_from_the_future":{"x":1}}"#
            .replace("%H", text_hash("T", "B").as_str());
        let v: PolicyVersion = serde_json::from_str(&newer).unwrap();
        assert_eq!(v.version, 2);
        assert!(v.hash_is_consistent());
    }

    #[test]
    fn publish_requests_refuse_unknown_fields() {
        let mut json = serde_json::to_value(publish()).unwrap();
        json["text_sha256"] = "0".repeat(64).into();
        let err = serde_json::from_value::<PublishPolicyVersion>(json).unwrap_err();
        assert!(err.to_string().contains("text_sha256"), "{err}");
    }

    #[test]
    fn a_new_version_must_say_what_changed_but_a_first_version_need_not() {
        let first = publish();
        assert_eq!(first.check_change_summary(None), Ok(()));
        let v1 = first.clone().into_version(
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            1,
            1_780_000_000_000,
        );
        assert_eq!(v1.change_summary, None);

        let mut next = first;
        next.policy_id = Some(v1.policy_id);
        next.body_markdown.push_str("\nLock your screen.\n");
        for blank in [None, Some(String::new()), Some(" \n\t ".to_owned())] {
            next.change_summary = blank;
            let err = next.check_change_summary(Some(&v1)).unwrap_err();
            assert_eq!(err.field, "change_summary");
            assert!(err.problem.contains("since version 1"), "{err}");
        }
        next.change_summary = Some("  Section 1 now asks you to lock your screen.\n".into());
        assert_eq!(next.validate(), Ok(()));
        assert_eq!(next.check_change_summary(Some(&v1)), Ok(()));
        let v2 = next
            .clone()
            .into_version(Uuid::from_u128(3), v1.policy_id, 2, 1);
        assert_eq!(
            v2.change_summary.as_deref(),
            Some("Section 1 now asks you to lock your screen."),
            "stored trimmed"
        );
        assert!(next.is_published_as(&v2), "a retry is recognised");
        next.change_summary = Some("Something else.".into());
        assert!(!next.is_published_as(&v2));
    }

    #[test]
    fn a_change_summary_keeps_line_breaks_but_not_other_control_characters_or_excess() {
        let mut r = publish();
        r.change_summary = Some("One.\r\nTwo.\n\tThree.".into());
        assert_eq!(r.validate(), Ok(()));
        r.change_summary = Some("Bell\u{7}".into());
        assert_eq!(r.validate().unwrap_err().field, "change_summary");
        r.change_summary = Some("x".repeat(MAX_CHANGE_SUMMARY_CHARS + 1));
        assert_eq!(r.validate().unwrap_err().field, "change_summary");
        r.change_summary = Some("é".repeat(MAX_CHANGE_SUMMARY_CHARS));
        assert_eq!(r.validate(), Ok(()), "counted in characters, not bytes");
    }

    #[test]
    fn a_version_without_a_summary_leaves_it_off_the_wire() {
        let v = publish().into_version(Uuid::from_u128(1), Uuid::from_u128(2), 1, 1);
        let json = serde_json::to_value(&v).unwrap();
        assert!(json.get("change_summary").is_none(), "{json}");
        let mut with = v.clone();
        with.change_summary = Some("New section 4.".into());
        let json = serde_json::to_value(&with).unwrap();
        assert_eq!(json["change_summary"], "New section 4.");
        assert_eq!(serde_json::from_value::<PolicyVersion>(json).unwrap(), with);
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
