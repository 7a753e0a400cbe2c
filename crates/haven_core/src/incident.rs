//! E-safety incidents: what a member of staff records the moment something
//! happens, what the trust's tables recommended at that moment, what was
//! actually done, and the append-only follow-ups the DSL adds afterwards.
//!
//! A submitted incident is never changed: the DSL's actions, referrals,
//! status changes and outcome are [`FollowUp`] records pointing at it.
//!
//! On the wire an incident travels sealed ([`SealedIncident`]): its JSON is
//! encrypted on the device with a fresh AES-256-GCM key, and that key is
//! encrypted with the server's incident public key (RSA-OAEP, SHA-256). So
//! the outbox on a shared tablet holds nothing readable, and it can still
//! drain while the screen is locked. The author's own readable copy is
//! sealed separately with their PIN-unlocked key (`lock/` in the PWA).

use crate::rules::{Guidance, Involved, RuleTables, Timescale};
use crate::slug::Slug;
use crate::validate::{self, Invalid};
use crate::Millis;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest free text (description, action taken, reason), in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Longest short field (a name, a place, a class), in characters.
pub const MAX_LINE_CHARS: usize = 200;
/// Most people named in one incident.
pub const MAX_PEOPLE: usize = 30;
/// Most web addresses recorded for one incident.
pub const MAX_URLS: usize = 30;
/// Longest web address, in characters.
pub const MAX_URL_CHARS: usize = 2_000;
// Attachments: one set of limits, used by the form when a file is picked,
// by the device when it seals and uploads, and by the server.

/// Most attachments on one incident.
pub const MAX_ATTACHMENTS: usize = 5;
/// A photo whose longest side is above this many pixels is redrawn to it,
/// as JPEG, on the device before it is sealed: a 12-megapixel phone photo
/// (3-6 MB) becomes about 0.5-1.5 MB and is still sharp enough to read a
/// screenshot or a message in it.
pub const MAX_IMAGE_SIDE_PX: u32 = 2048;
/// JPEG quality of a redrawn photo (0 to 1, as `canvas.toBlob` takes it).
pub const SHRUNK_JPEG_QUALITY: f64 = 0.85;
/// Largest attachment, in bytes, after a photo is made smaller: room for a
/// redrawn photo at its worst, a long PDF, or a screenshot kept as PNG.
pub const MAX_ATTACHMENT_BYTES: usize = 8 * 1024 * 1024;
/// Largest total of attachments on one incident, in bytes.
pub const MAX_ATTACHMENTS_TOTAL_BYTES: usize = 20 * 1024 * 1024;
/// Kinds of file an attachment may be.
pub const ATTACHMENT_TYPES: [&str; 4] =
    ["image/jpeg", "image/png", "image/webp", "application/pdf"];
/// Kinds of file the device redraws smaller when they are large.
pub const SHRINKABLE_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];
/// AES-GCM appends a 16-byte tag: an encrypted attachment is this much
/// longer than the file.
pub const AES_GCM_TAG_BYTES: usize = 16;
/// An encrypted attachment travels in pieces of this size (the last one
/// shorter), so a dropped connection costs at most one piece.
pub const ATTACHMENT_PIECE_BYTES: usize = 256 * 1024;
/// Most bytes of unfinished uploads one credential (a member of staff, an
/// enrolled device) may have on the server at once: a device uploads one
/// attachment at a time, so this is room for a few abandoned ones.
pub const MAX_PENDING_ATTACHMENT_BYTES: usize = 64 * 1024 * 1024;
/// An upload not finished after this long is deleted by the server (the
/// device starts it again if it still has the file).
pub const ABANDONED_UPLOAD_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Bytes of an attachment's encrypted form, for a file of `size` bytes.
pub fn ciphertext_len(size: u64) -> u64 {
    size + AES_GCM_TAG_BYTES as u64
}

/// Largest encrypted attachment, in bytes.
pub const MAX_CIPHERTEXT_BYTES: u64 = (MAX_ATTACHMENT_BYTES + AES_GCM_TAG_BYTES) as u64;

/// How many pieces an encrypted attachment of `len` bytes travels in.
pub fn piece_count(len: u64) -> u64 {
    len.div_ceil(ATTACHMENT_PIECE_BYTES as u64)
}

/// The byte range of piece `index` of an encrypted attachment of `len`
/// bytes, or `None` if it has no such piece.
pub fn piece_range(len: u64, index: u64) -> Option<std::ops::Range<u64>> {
    let start = index.checked_mul(ATTACHMENT_PIECE_BYTES as u64)?;
    (start < len).then(|| start..(start + ATTACHMENT_PIECE_BYTES as u64).min(len))
}

/// Whether `s` is a SHA-256 digest as attachments are named: 64 lowercase
/// hex characters.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Why a file picked on the form can never be attached, in words for the
/// person who picked it; `None` if it can. `size` is after any shrinking,
/// `already` the sizes of the files attached so far.
pub fn attachment_refusal(
    name: &str,
    content_type: &str,
    size: u64,
    already: &[u64],
) -> Option<String> {
    if !ATTACHMENT_TYPES.contains(&content_type) {
        return Some(format!(
            "{name} cannot be attached: attach a photo (JPEG, PNG or WebP) or a PDF"
        ));
    }
    if already.len() >= MAX_ATTACHMENTS {
        return Some(format!(
            "{name} cannot be attached: an incident can have at most {MAX_ATTACHMENTS} files; \
             remove one first"
        ));
    }
    if size as usize > MAX_ATTACHMENT_BYTES {
        return Some(format!(
            "{name} is {}; the most a file can be is {}. Attach a smaller file or a screenshot \
             of the part that matters",
            megabytes(size),
            megabytes(MAX_ATTACHMENT_BYTES as u64)
        ));
    }
    let total = already.iter().sum::<u64>() + size;
    if total as usize > MAX_ATTACHMENTS_TOTAL_BYTES {
        return Some(format!(
            "{name} cannot be attached: with it the files would be {} together, and the most is \
             {}. Remove a file or attach a smaller one",
            megabytes(total),
            megabytes(MAX_ATTACHMENTS_TOTAL_BYTES as u64)
        ));
    }
    None
}

/// A size in megabytes, one decimal, for messages ("4.7 MB").
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

/// Who a person named in an incident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PersonKind {
    Pupil,
    StaffMember,
    Visitor,
    Unknown,
}

impl PersonKind {
    pub fn label(self) -> &'static str {
        match self {
            PersonKind::Pupil => "Pupil",
            PersonKind::StaffMember => "Member of staff",
            PersonKind::Visitor => "Visitor",
            PersonKind::Unknown => "Not known",
        }
    }
}

/// One person involved in an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PersonInvolved {
    pub kind: PersonKind,
    /// Empty when not known.
    pub name: String,
    /// A pupil's class or year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
}

/// Evidence kept with an incident (never for suspected illegal material).
///
/// The file itself does not travel in the record: it is encrypted on the
/// device with a key of its own and uploaded apart, in pieces
/// (`PUT /api/v1/attachments/{sha256}/pieces/{index}`). The record, sealed
/// for the server like everything in it, carries what opens and checks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    pub name: String,
    /// One of [`ATTACHMENT_TYPES`].
    pub content_type: String,
    /// Size of the file (after any shrinking), in bytes.
    pub size: u64,
    /// SHA-256 of the encrypted file, 64 lowercase hex characters: its name
    /// on the server.
    pub sha256: String,
    /// The file's own AES-256-GCM key, base64 (32 bytes).
    pub key: String,
    /// The AES-GCM nonce, base64 (12 bytes).
    pub iv: String,
}

/// Whether `s` is standard padded base64 of exactly `bytes` bytes.
fn is_base64_of(s: &str, bytes: usize) -> bool {
    let padding = (3 - bytes % 3) % 3;
    s.len() == bytes.div_ceil(3) * 4
        && s.bytes().rev().take(padding).all(|b| b == b'=')
        && s.bytes()
            .take(s.len() - padding)
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
}

/// What the trust's tables recommended when the incident was logged, kept
/// with it in words: the tables may change later, the record must not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Recommended {
    /// Suspected illegal: the police and the DSL now.
    pub illegal: bool,
    /// "Refer to ..." columns, in table order.
    pub referrals: Vec<String>,
    /// What may follow (warning, sanction, ...), in table order.
    pub may_follow: Vec<String>,
    /// Reporting routes that apply, most urgent first: ids from the tables.
    pub routes: Vec<Slug>,
    /// Some route says "immediately".
    pub immediate: bool,
}

impl Recommended {
    pub fn from_guidance(g: &Guidance) -> Recommended {
        Recommended {
            illegal: g.illegal,
            referrals: g
                .actions
                .referral_labels()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            may_follow: g
                .actions
                .outcome_labels()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            routes: g.routes.iter().map(|r| r.id.clone()).collect(),
            immediate: g
                .routes
                .iter()
                .any(|r| r.timescale == Timescale::Immediately),
        }
    }
}

/// What the investigation concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InvestigationOutcome {
    /// An internal response or disciplinary action.
    Internal,
    /// Referred to an outside agency (LADO, children's social care, ...).
    OutsideAgency,
    Police,
    /// The concern had no substance.
    NoSubstance,
}

impl InvestigationOutcome {
    pub const ALL: [InvestigationOutcome; 4] = [
        InvestigationOutcome::Internal,
        InvestigationOutcome::OutsideAgency,
        InvestigationOutcome::Police,
        InvestigationOutcome::NoSubstance,
    ];

    pub fn label(self) -> &'static str {
        match self {
            InvestigationOutcome::Internal => "Internal response or disciplinary action",
            InvestigationOutcome::OutsideAgency => "Referred to an outside agency",
            InvestigationOutcome::Police => "Referred to the police",
            InvestigationOutcome::NoSubstance => "No substance to the concern",
        }
    }
}

/// An incident as the member of staff submits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IncidentRecord {
    /// UUID v7 made on the device.
    pub id: Uuid,
    pub academy_id: Uuid,
    pub device_id: Uuid,
    /// The staff account of the person logging it.
    pub reported_by: Uuid,
    /// Device clock when it was submitted.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub reported_at: Millis,
    /// When it happened (as best known).
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub occurred_at: Millis,
    /// Where: a room, "online at home", ...
    pub location: String,
    /// Whose conduct it is about: picks the sanctions table and the routes.
    pub involved: Involved,
    pub people: Vec<PersonInvolved>,
    /// A row id of the sanctions table for `involved`.
    pub incident_type: Slug,
    pub description: String,
    #[serde(default)]
    pub urls: Vec<String>,
    /// The device used, e.g. "Year 4 iPad 12".
    #[serde(default)]
    pub device_involved: String,
    /// What was done there and then.
    #[serde(default)]
    pub immediate_action: String,
    /// What the tables recommended at the moment of logging.
    pub recommended: Recommended,
    /// Which recommended referrals and actions were actually done (labels).
    #[serde(default)]
    pub actions_taken: Vec<String>,
    /// Why what was done differs from what was recommended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difference_reason: Option<String>,
    /// Asked when a route says "immediately": has the DSL been told in person?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub told_dsl_in_person: Option<bool>,
    /// The second senior member of staff investigating, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_senior_staff: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<InvestigationOutcome>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// Why an incident cannot be accepted, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    #[error("{0}")]
    Field(#[from] Invalid),
    #[error("the time {0} is not a plausible date")]
    ImplausibleTime(Millis),
    #[error("\"{0}\" is not an incident type of the trust's tables for this person")]
    UnknownType(String),
    #[error(
        "this may be illegal material: nothing may be attached. Do not take, print or keep \
         screenshots; leave the device as it is and tell the DSL now"
    )]
    AttachmentOnIllegal,
    #[error("the recommendation kept with the incident is not what the trust's tables say for it")]
    RecommendationMismatch,
    #[error("this must be reported immediately: say whether you have told the DSL in person")]
    DslQuestionUnanswered,
    #[error(
        "what was done differs from what was recommended: say why (for example, the DSL \
         advised otherwise)"
    )]
    DifferenceUnexplained,
}

/// 2000-01-01 and 2200-01-01: a clock outside this range is broken.
const EARLIEST: Millis = 946_684_800_000;
const LATEST: Millis = 7_258_118_400_000;

fn text(field: &str, value: &str, max: usize) -> Result<(), Invalid> {
    if value.chars().count() > max {
        return Err(Invalid::new(field, format!("at most {max} characters")));
    }
    // Free text keeps its line breaks and tabs; other control characters go.
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Invalid::new(field, "no control characters"));
    }
    Ok(())
}

impl IncidentRecord {
    /// Checks that need only the record.
    pub fn validate(&self) -> Result<(), IncidentError> {
        for at in [self.reported_at, self.occurred_at] {
            if !(EARLIEST..LATEST).contains(&at) {
                return Err(IncidentError::ImplausibleTime(at));
            }
        }
        validate::line("location", &self.location, MAX_LINE_CHARS)?;
        validate::line("description", &self.description, MAX_TEXT_CHARS).or_else(|e| {
            // Multi-line text is fine; only emptiness and length matter.
            if self.description.trim().is_empty() {
                Err(e)
            } else {
                text("description", &self.description, MAX_TEXT_CHARS)
            }
        })?;
        text("device_involved", &self.device_involved, MAX_LINE_CHARS)?;
        text("immediate_action", &self.immediate_action, MAX_TEXT_CHARS)?;
        if self.people.len() > MAX_PEOPLE {
            return Err(Invalid::new("people", format!("at most {MAX_PEOPLE} people")).into());
        }
        for (i, p) in self.people.iter().enumerate() {
            text(&format!("people[{i}].name"), &p.name, MAX_LINE_CHARS)?;
            if p.kind != PersonKind::Unknown && p.name.trim().is_empty() {
                return Err(Invalid::new(
                    format!("people[{i}].name"),
                    "enter their name, or choose \"not known\"",
                )
                .into());
            }
            if let Some(class) = &p.class {
                text(&format!("people[{i}].class"), class, MAX_LINE_CHARS)?;
            }
        }
        if self.urls.len() > MAX_URLS {
            return Err(Invalid::new("urls", format!("at most {MAX_URLS} addresses")).into());
        }
        for (i, url) in self.urls.iter().enumerate() {
            validate::line(&format!("urls[{i}]"), url, MAX_URL_CHARS)?;
        }
        for (i, taken) in self.actions_taken.iter().enumerate() {
            validate::line(&format!("actions_taken[{i}]"), taken, MAX_LINE_CHARS)?;
        }
        if let Some(reason) = &self.difference_reason {
            text("difference_reason", reason, MAX_TEXT_CHARS)?;
        }
        if let Some(name) = &self.second_senior_staff {
            text("second_senior_staff", name, MAX_LINE_CHARS)?;
        }
        self.validate_attachments()?;
        if self.recommended.illegal && !self.attachments.is_empty() {
            return Err(IncidentError::AttachmentOnIllegal);
        }
        if self.recommended.immediate && self.told_dsl_in_person.is_none() {
            return Err(IncidentError::DslQuestionUnanswered);
        }
        if !self.done_as_recommended()
            && self
                .difference_reason
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
        {
            return Err(IncidentError::DifferenceUnexplained);
        }
        Ok(())
    }

    fn validate_attachments(&self) -> Result<(), Invalid> {
        if self.attachments.len() > MAX_ATTACHMENTS {
            return Err(Invalid::new(
                "attachments",
                format!("at most {MAX_ATTACHMENTS} files"),
            ));
        }
        let mut total = 0;
        for (i, a) in self.attachments.iter().enumerate() {
            let field = format!("attachments[{i}]");
            validate::line(&format!("{field}.name"), &a.name, MAX_LINE_CHARS)?;
            if !ATTACHMENT_TYPES.contains(&a.content_type.as_str()) {
                return Err(Invalid::new(
                    format!("{field}.content_type"),
                    "attach a photo (JPEG, PNG or WebP) or a PDF",
                ));
            }
            if !is_sha256_hex(&a.sha256) {
                return Err(Invalid::new(
                    format!("{field}.sha256"),
                    "not a SHA-256 digest (64 lowercase hex characters)",
                ));
            }
            if self.attachments[..i].iter().any(|b| b.sha256 == a.sha256) {
                return Err(Invalid::new(
                    format!("{field}.sha256"),
                    "the same encrypted file is attached twice",
                ));
            }
            if !is_base64_of(&a.key, 32) {
                return Err(Invalid::new(
                    format!("{field}.key"),
                    "not a 32-byte AES key in base64",
                ));
            }
            if !is_base64_of(&a.iv, 12) {
                return Err(Invalid::new(
                    format!("{field}.iv"),
                    "not a 12-byte AES-GCM nonce in base64",
                ));
            }
            if a.size == 0 || a.size as usize > MAX_ATTACHMENT_BYTES {
                return Err(Invalid::new(
                    field,
                    format!(
                        "{} is {}; a file must be between 1 byte and {}",
                        a.name,
                        megabytes(a.size),
                        megabytes(MAX_ATTACHMENT_BYTES as u64)
                    ),
                ));
            }
            total += a.size;
        }
        if total as usize > MAX_ATTACHMENTS_TOTAL_BYTES {
            return Err(Invalid::new(
                "attachments",
                format!(
                    "together they are {}; the most is {}",
                    megabytes(total),
                    megabytes(MAX_ATTACHMENTS_TOTAL_BYTES as u64)
                ),
            ));
        }
        Ok(())
    }

    /// Every recommended referral was done.
    pub fn done_as_recommended(&self) -> bool {
        self.recommended
            .referrals
            .iter()
            .all(|r| self.actions_taken.contains(r))
    }

    /// Full check against the trust's tables in force: the type exists for
    /// the person involved, and the recommendation kept is the tables'.
    pub fn validate_against(&self, tables: &RuleTables) -> Result<Guidance, IncidentError> {
        self.validate()?;
        let guidance = tables
            .guidance(self.involved, self.incident_type.as_str())
            .map_err(|_| IncidentError::UnknownType(self.incident_type.to_string()))?;
        if Recommended::from_guidance(&guidance) != self.recommended {
            return Err(IncidentError::RecommendationMismatch);
        }
        Ok(guidance)
    }
}

/// Where an incident is in its handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    New,
    Acknowledged,
    Investigating,
    Closed,
}

impl IncidentStatus {
    pub fn label(self) -> &'static str {
        match self {
            IncidentStatus::New => "New",
            IncidentStatus::Acknowledged => "Acknowledged",
            IncidentStatus::Investigating => "Investigating",
            IncidentStatus::Closed => "Closed",
        }
    }

    /// Status only moves forward (new → acknowledged → investigating →
    /// closed), possibly skipping steps; a closed incident stays closed.
    pub fn may_become(self, next: IncidentStatus) -> bool {
        next > self
    }
}

/// How long a new incident may wait for the DSL before it is overdue: an
/// hour when a route says "immediately", else a day.
pub const IMMEDIATE_ACK_MS: Millis = 60 * 60 * 1000;
pub const SAME_DAY_ACK_MS: Millis = 24 * 60 * 60 * 1000;

/// Whether an incident still `status` at `now`, received at `received_at`,
/// has waited longer than its route allows for someone to acknowledge it.
pub fn is_overdue(
    status: IncidentStatus,
    immediate: bool,
    received_at: Millis,
    now: Millis,
) -> bool {
    let allowed = if immediate {
        IMMEDIATE_ACK_MS
    } else {
        SAME_DAY_ACK_MS
    };
    status == IncidentStatus::New && now - received_at > allowed
}

/// The school term a `YYYY-MM` month falls in, for reports by term:
/// autumn (September to December), spring (January to April), summer (May to
/// August). Returns a key that sorts in school order (the academic year's
/// first calendar year, then 1 to 3) and a label: `("2026-1", "Autumn 2026")`.
pub fn term_of_month(month: &str) -> Option<(String, String)> {
    let (year, m) = month.split_once('-')?;
    let year: i32 = year.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    let (academic_year, n, name) = match m {
        9..=12 => (year, 1, "Autumn"),
        1..=4 => (year - 1, 2, "Spring"),
        5..=8 => (year - 1, 3, "Summer"),
        _ => return None,
    };
    Some((format!("{academic_year}-{n}"), format!("{name} {year}")))
}

/// What a follow-up records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FollowUpKind {
    /// Any action taken.
    ActionTaken,
    /// A referral made, to whom.
    ReferralMade {
        to: String,
    },
    ParentsInformed,
    /// The second senior member of staff now investigating with the DSL.
    SecondInvestigator {
        name: String,
    },
    Outcome {
        outcome: InvestigationOutcome,
    },
    StatusChanged {
        status: IncidentStatus,
    },
}

/// `POST /api/v1/incidents/{id}/follow-ups`: a DSL's entry in the chronology.
/// (No `deny_unknown_fields`: serde cannot combine it with `flatten`; the
/// server reads the body strictly itself.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FollowUpInput {
    #[serde(flatten)]
    pub kind: FollowUpKind,
    /// What happened, in the DSL's words; may be empty for a status change.
    #[serde(default)]
    pub note: String,
}

impl FollowUpInput {
    /// Checks the entry against the incident's current status. Closing needs
    /// an outcome recorded first (`has_outcome`).
    pub fn validate(&self, current: IncidentStatus, has_outcome: bool) -> Result<(), Invalid> {
        text("note", &self.note, MAX_TEXT_CHARS)?;
        match &self.kind {
            FollowUpKind::ReferralMade { to } => validate::line("to", to, MAX_LINE_CHARS)?,
            FollowUpKind::SecondInvestigator { name } => {
                validate::line("name", name, MAX_LINE_CHARS)?
            }
            FollowUpKind::StatusChanged { status } => {
                if !current.may_become(*status) {
                    return Err(Invalid::new(
                        "status",
                        format!(
                            "the incident is {}; it can only move on from there",
                            current.label().to_lowercase()
                        ),
                    ));
                }
                if *status == IncidentStatus::Closed && !has_outcome {
                    return Err(Invalid::new(
                        "status",
                        "record the outcome before closing the incident",
                    ));
                }
            }
            FollowUpKind::ActionTaken | FollowUpKind::ParentsInformed => {
                validate::line("note", &self.note, MAX_TEXT_CHARS)
                    .map_err(|_| Invalid::new("note", "say what was done"))?;
            }
            FollowUpKind::Outcome { .. } => {}
        }
        if current == IncidentStatus::Closed {
            return Err(Invalid::new("status", "the incident is closed"));
        }
        Ok(())
    }
}

/// An incident in transit: its [`IncidentRecord`] JSON, encrypted for the
/// server (see the module docs). Only the ids needed to route and dedupe it
/// are in the clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SealedIncident {
    /// The incident's id (must match the sealed record's).
    pub id: Uuid,
    pub device_id: Uuid,
    /// Which server key it was sealed for (`GET /api/v1/incidents/key`).
    pub key_id: String,
    /// The AES-256-GCM key, encrypted with RSA-OAEP (SHA-256), base64.
    pub wrapped_key: String,
    /// The 96-bit AES-GCM nonce, base64.
    pub iv: String,
    /// The record's JSON, AES-256-GCM encrypted (tag appended), base64.
    pub ciphertext: String,
}

/// Largest sealed incident accepted, in base64 characters. Attachments
/// travel apart, so this is the record's text at its longest (every field
/// full, escaped) with room to spare: 1 MiB of JSON.
pub const MAX_SEALED_CHARS: usize = (1024 * 1024 + AES_GCM_TAG_BYTES).div_ceil(3) * 4;

/// `GET /api/v1/incidents/key`: the server's public key devices seal for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentKey {
    pub key_id: String,
    /// RSA public key, SubjectPublicKeyInfo DER, base64: what WebCrypto's
    /// `importKey("spki", ..., {name: "RSA-OAEP", hash: "SHA-256"})` takes.
    pub spki: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Actions, RuleTables, SanctionAction, SanctionRow};

    fn record(tables: &RuleTables, involved: Involved, incident_type: &str) -> IncidentRecord {
        let g = tables.guidance(involved, incident_type).unwrap();
        let recommended = Recommended::from_guidance(&g);
        IncidentRecord {
            id: Uuid::from_u128(1),
            academy_id: Uuid::from_u128(2),
            device_id: Uuid::from_u128(3),
            reported_by: Uuid::from_u128(4),
            reported_at: 1_790_000_000_000,
            occurred_at: 1_789_999_000_000,
            location: "Room 4".into(),
            involved,
            people: vec![PersonInvolved {
                kind: PersonKind::Pupil,
                name: "Sam Pupil".into(),
                class: Some("4B".into()),
            }],
            incident_type: Slug::parse(incident_type).unwrap(),
            description: "A pupil found a proxy site.\nThey showed a friend.".into(),
            urls: vec!["https://proxy.example/".into()],
            device_involved: "Year 4 iPad 12".into(),
            immediate_action: "Closed the tab.".into(),
            actions_taken: recommended.referrals.clone(),
            told_dsl_in_person: recommended.immediate.then_some(true),
            recommended,
            difference_reason: None,
            second_senior_staff: None,
            outcome: None,
            attachments: vec![],
        }
    }

    /// Every row of the default tables, for the person kinds each applies to.
    fn every_default_case() -> Vec<(Involved, String)> {
        let t = RuleTables::trust_default();
        let mut cases = Vec::new();
        for involved in Involved::ALL {
            let ids: Vec<String> = if involved.is_pupil() {
                t.pupil_sanctions.iter().map(|r| r.id.to_string()).collect()
            } else {
                t.staff_sanctions.iter().map(|r| r.id.to_string()).collect()
            };
            cases.extend(ids.into_iter().map(|id| (involved, id)));
        }
        cases
    }

    /// A row read straight from the table: illegal, referrals, what may follow.
    fn expected<A: SanctionAction>(
        row: &SanctionRow<A>,
    ) -> (bool, Vec<&'static str>, Vec<&'static str>) {
        (
            row.illegal,
            row.referrals().map(SanctionAction::label).collect(),
            row.actions
                .iter()
                .filter(|a| !a.is_referral())
                .map(|a| a.label())
                .collect(),
        )
    }

    #[test]
    fn the_recommendation_for_every_default_incident_type_is_the_tables_row() {
        let t = RuleTables::trust_default();
        let cases = every_default_case();
        assert_eq!(cases.len(), 2 * 16 + 3 * 18, "16 pupil rows, 18 staff rows");
        for (involved, id) in cases {
            let g = t.guidance(involved, &id).unwrap();
            let r = Recommended::from_guidance(&g);
            let (illegal, referrals, may_follow) = if involved.is_pupil() {
                expected(t.pupil_row(&id).unwrap())
            } else {
                expected(t.staff_row(&id).unwrap())
            };
            assert_eq!(r.illegal, illegal, "{involved:?} {id}");
            assert_eq!(r.referrals, referrals, "{involved:?} {id}");
            assert_eq!(r.may_follow, may_follow, "{involved:?} {id}");
            // Illegal rows always go to someone immediately.
            if illegal {
                assert!(
                    r.immediate,
                    "{involved:?} {id} is illegal but not immediate"
                );
            }
            // Every route kept applies to this person.
            for route in &g.routes {
                assert!(
                    route.involved.contains(&involved),
                    "{involved:?} {id}: {}",
                    route.id
                );
            }
            assert!(
                !r.routes.is_empty(),
                "{involved:?} {id} has no reporting route"
            );
            let rec = record(&t, involved, &id);
            assert_eq!(
                rec.validate_against(&t).map(|_| ()),
                Ok(()),
                "{involved:?} {id}"
            );
        }
    }

    #[test]
    fn nothing_may_be_attached_to_a_suspected_illegal_incident() {
        let t = RuleTables::trust_default();
        let mut r = record(&t, Involved::PupilInLesson, "illegal-material");
        assert!(r.recommended.illegal);
        r.attachments = vec![photo(1000)];
        assert_eq!(r.validate(), Err(IncidentError::AttachmentOnIllegal));
    }

    #[test]
    fn an_immediate_route_needs_the_dsl_question_answered() {
        let t = RuleTables::trust_default();
        let mut r = record(&t, Involved::PupilInLesson, "illegal-material");
        assert!(r.recommended.immediate);
        r.told_dsl_in_person = None;
        assert_eq!(r.validate(), Err(IncidentError::DslQuestionUnanswered));
        r.told_dsl_in_person = Some(false);
        assert_eq!(r.validate(), Ok(()), "\"not yet\" is an answer");
    }

    #[test]
    fn doing_less_than_recommended_needs_a_reason() {
        let t = RuleTables::trust_default();
        let mut r = record(&t, Involved::PupilInLesson, "illegal-material");
        r.actions_taken.clear();
        assert_eq!(r.validate(), Err(IncidentError::DifferenceUnexplained));
        r.difference_reason = Some("The DSL took it over at once.".into());
        assert_eq!(r.validate(), Ok(()));
    }

    #[test]
    fn a_recommendation_that_is_not_the_tables_is_refused() {
        let t = RuleTables::trust_default();
        let mut r = record(&t, Involved::PupilInLesson, "illegal-material");
        r.recommended.illegal = false;
        r.recommended.immediate = false;
        assert_eq!(
            r.validate_against(&t).map(|_| ()),
            Err(IncidentError::RecommendationMismatch)
        );
        let mut r = record(&t, Involved::PupilInLesson, "illegal-material");
        r.incident_type = Slug::parse("no-such-type").unwrap();
        assert!(matches!(
            r.validate_against(&t),
            Err(IncidentError::UnknownType(_))
        ));
    }

    /// An attachment as the device describes it: `bytes` long, its digest
    /// made from `n` so each is different.
    fn photo_n(bytes: u64, n: u8) -> Attachment {
        Attachment {
            name: "photo.jpg".into(),
            content_type: "image/jpeg".into(),
            size: bytes,
            sha256: format!("{n:02x}").repeat(32),
            key: "A".repeat(43) + "=",
            iv: "B".repeat(16),
        }
    }

    fn photo(bytes: u64) -> Attachment {
        photo_n(bytes, 0xab)
    }

    fn ok_type(t: &RuleTables) -> String {
        t.pupil_sanctions
            .iter()
            .find(|row| !row.illegal)
            .unwrap()
            .id
            .to_string()
    }

    #[test]
    fn attachments_are_limited_in_kind_number_and_size() {
        let t = RuleTables::trust_default();
        let mut r = record(&t, Involved::PupilInLesson, &ok_type(&t));
        let max = MAX_ATTACHMENT_BYTES as u64;
        r.attachments = vec![photo(1000)];
        assert_eq!(r.validate(), Ok(()));
        r.attachments = vec![photo(max)];
        assert_eq!(r.validate(), Ok(()), "exactly the limit is allowed");
        r.attachments = vec![photo(max + 1)];
        assert!(r.validate().unwrap_err().to_string().contains("MB"));
        r.attachments = vec![photo(0)];
        assert!(r.validate().is_err(), "an empty file");
        let total = MAX_ATTACHMENTS_TOTAL_BYTES as u64;
        r.attachments = (0..3).map(|n| photo_n(total / 3, n)).collect();
        assert_eq!(r.validate(), Ok(()));
        r.attachments = (0..3).map(|n| photo_n(total / 3 + 1, n)).collect();
        assert!(r.validate().unwrap_err().to_string().contains("together"));
        r.attachments = (0..=MAX_ATTACHMENTS as u8)
            .map(|n| photo_n(10, n))
            .collect();
        assert!(r.validate().unwrap_err().to_string().contains("at most"));
        r.attachments = vec![photo(10), photo(10)];
        assert!(r.validate().unwrap_err().to_string().contains("twice"));
        r.attachments = vec![Attachment {
            content_type: "text/html".into(),
            ..photo(10)
        }];
        assert!(r
            .validate()
            .unwrap_err()
            .to_string()
            .contains("content_type"));
    }

    #[test]
    fn an_attachment_must_name_its_digest_key_and_nonce_properly() {
        let t = RuleTables::trust_default();
        let mut r = record(&t, Involved::PupilInLesson, &ok_type(&t));
        let broken = [
            Attachment {
                sha256: "AB".repeat(32),
                ..photo(10)
            },
            Attachment {
                sha256: "ab".repeat(31),
                ..photo(10)
            },
            Attachment {
                key: "A".repeat(44),
                ..photo(10)
            },
            Attachment {
                key: "A".repeat(40) + "===",
                ..photo(10)
            },
            Attachment {
                iv: "B".repeat(15) + "=",
                ..photo(10)
            },
            Attachment {
                iv: "B".repeat(15) + "!",
                ..photo(10)
            },
        ];
        for a in broken {
            let field = if a.sha256 != photo(10).sha256 {
                "sha256"
            } else if a.key != photo(10).key {
                "key"
            } else {
                "iv"
            };
            r.attachments = vec![a];
            let e = r.validate().unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
        assert!(is_base64_of("AAAA", 3));
        assert!(is_base64_of("AAA=", 2));
        assert!(!is_base64_of("AA==", 2));
    }

    #[test]
    fn the_form_refuses_a_file_it_could_never_send_and_says_why() {
        let max = MAX_ATTACHMENT_BYTES as u64;
        assert_eq!(attachment_refusal("a.jpg", "image/jpeg", max, &[]), None);
        let too_big = attachment_refusal("scan.pdf", "application/pdf", max + 1, &[]).unwrap();
        assert!(too_big.contains("scan.pdf is 8.0 MB"), "{too_big}");
        assert!(too_big.contains("the most a file can be is 8.0 MB"));
        let kind = attachment_refusal("notes.docx", "application/msword", 10, &[]).unwrap();
        assert!(kind.contains("JPEG, PNG or WebP"), "{kind}");
        let five = [1; MAX_ATTACHMENTS];
        let count = attachment_refusal("6.jpg", "image/jpeg", 1, &five).unwrap();
        assert!(count.contains("at most 5 files"), "{count}");
        let nearly_full = [max, max];
        let total = attachment_refusal("c.jpg", "image/jpeg", max, &nearly_full).unwrap();
        assert!(total.contains("together"), "{total}");
        assert_eq!(
            attachment_refusal("c.jpg", "image/jpeg", 4 * 1024 * 1024, &nearly_full),
            None,
            "exactly the total is allowed"
        );
    }

    #[test]
    fn an_encrypted_attachment_is_cut_into_pieces_that_cover_it_once() {
        let piece = ATTACHMENT_PIECE_BYTES as u64;
        assert_eq!(piece_count(1), 1);
        assert_eq!(piece_count(piece), 1);
        assert_eq!(piece_count(piece + 1), 2);
        assert_eq!(piece_range(piece + 1, 1), Some(piece..piece + 1));
        assert_eq!(piece_range(piece + 1, 2), None);
        assert_eq!(piece_range(10, u64::MAX), None, "no overflow");
        for len in [1, 17, piece - 1, piece, 3 * piece + 5, MAX_CIPHERTEXT_BYTES] {
            let mut next = 0;
            for i in 0..piece_count(len) {
                let r = piece_range(len, i).unwrap();
                assert_eq!(r.start, next);
                assert!(r.end - r.start <= piece && r.end > r.start);
                next = r.end;
            }
            assert_eq!(next, len);
        }
        assert_eq!(ciphertext_len(100), 116);
        // The largest attachment's pieces fit the server's bound on pending bytes.
        assert!(MAX_CIPHERTEXT_BYTES as usize * 3 <= MAX_PENDING_ATTACHMENT_BYTES);
    }

    #[test]
    fn a_sealed_incident_has_room_for_every_text_field_at_its_longest() {
        let t = RuleTables::trust_default();
        let mut r = record(&t, Involved::PupilInLesson, &ok_type(&t));
        // Four bytes per character, the largest UTF-8 takes.
        let long = "\u{1F600}".repeat(MAX_TEXT_CHARS);
        let line = "\u{1F600}".repeat(MAX_LINE_CHARS);
        r.description = long.clone();
        r.immediate_action = long.clone();
        r.difference_reason = Some(long);
        r.people = vec![
            PersonInvolved {
                kind: PersonKind::Pupil,
                name: line.clone(),
                class: Some(line.clone()),
            };
            MAX_PEOPLE
        ];
        r.urls = vec!["h".repeat(MAX_URL_CHARS); MAX_URLS];
        r.attachments = (0..MAX_ATTACHMENTS as u8)
            .map(|n| Attachment {
                name: line.clone(),
                ..photo_n(1, n)
            })
            .collect();
        let json = serde_json::to_vec(&r).unwrap();
        let sealed = (json.len() + AES_GCM_TAG_BYTES).div_ceil(3) * 4;
        assert!(sealed <= MAX_SEALED_CHARS, "{sealed} > {MAX_SEALED_CHARS}");
    }

    #[test]
    fn is_sha256_hex_takes_only_lowercase_hex_of_64() {
        assert!(is_sha256_hex(&"0f".repeat(32)));
        assert!(!is_sha256_hex(&"0F".repeat(32)));
        assert!(!is_sha256_hex(&"0f".repeat(33)));
        assert!(!is_sha256_hex("../../etc/passwd"));
    }

    #[test]
    fn status_moves_forward_and_closing_needs_an_outcome() {
        use IncidentStatus::*;
        let change = |status| FollowUpInput {
            kind: FollowUpKind::StatusChanged { status },
            note: String::new(),
        };
        assert!(change(Acknowledged).validate(New, false).is_ok());
        assert!(change(Investigating).validate(New, false).is_ok());
        assert!(change(New).validate(Acknowledged, false).is_err());
        assert!(change(Closed).validate(Investigating, false).is_err());
        assert!(change(Closed).validate(Investigating, true).is_ok());
        let note = FollowUpInput {
            kind: FollowUpKind::ParentsInformed,
            note: "Phoned mum at 15:10".into(),
        };
        assert!(
            note.validate(Closed, true).is_err(),
            "a closed incident takes nothing more"
        );
        assert!(FollowUpInput {
            note: " ".into(),
            ..note
        }
        .validate(New, false)
        .is_err());
    }

    #[test]
    fn a_new_incident_is_overdue_after_an_hour_if_immediate_else_a_day() {
        use IncidentStatus::*;
        assert!(!is_overdue(New, true, 0, IMMEDIATE_ACK_MS));
        assert!(is_overdue(New, true, 0, IMMEDIATE_ACK_MS + 1));
        assert!(!is_overdue(New, false, 0, IMMEDIATE_ACK_MS + 1));
        assert!(is_overdue(New, false, 0, SAME_DAY_ACK_MS + 1));
        assert!(!is_overdue(Acknowledged, true, 0, SAME_DAY_ACK_MS * 9));
    }

    #[test]
    fn a_follow_up_reads_from_the_json_the_log_page_sends() {
        let json = r#"{"kind": "referral_made", "to": "LADO", "note": "Phoned 14:05"}"#;
        let f: FollowUpInput = serde_json::from_str(json).unwrap();
        assert_eq!(f.kind, FollowUpKind::ReferralMade { to: "LADO".into() });
        assert_eq!(serde_json::to_value(&f).unwrap()["kind"], "referral_made");
        let status: FollowUpInput =
            serde_json::from_str(r#"{"kind": "status_changed", "status": "acknowledged"}"#)
                .unwrap();
        assert_eq!(status.note, "");
    }

    #[test]
    fn months_fall_into_school_terms_in_school_order() {
        assert_eq!(
            term_of_month("2026-09"),
            Some(("2026-1".into(), "Autumn 2026".into()))
        );
        assert_eq!(
            term_of_month("2027-01"),
            Some(("2026-2".into(), "Spring 2027".into()))
        );
        assert_eq!(
            term_of_month("2027-08"),
            Some(("2026-3".into(), "Summer 2027".into()))
        );
        assert_eq!(term_of_month("2027-13"), None);
        assert_eq!(term_of_month("nonsense"), None);
        let mut keys: Vec<_> = ["2027-05", "2026-10", "2027-02"]
            .iter()
            .filter_map(|m| term_of_month(m))
            .collect();
        keys.sort();
        let labels: Vec<_> = keys.into_iter().map(|(_, l)| l).collect();
        assert_eq!(labels, ["Autumn 2026", "Spring 2027", "Summer 2027"]);
    }

    #[test]
    fn a_pupils_incident_reads_the_pupil_table() {
        let t = RuleTables::trust_default();
        let g = t
            .guidance(Involved::PupilOutsideLesson, "illegal-material")
            .unwrap();
        assert!(matches!(g.actions, Actions::Pupil(_)));
    }
}
