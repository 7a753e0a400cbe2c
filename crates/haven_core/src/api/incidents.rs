//! Wire types of the DSL's incident log (`/api/v1/incidents`): the list, one
//! incident with its chronology, follow-ups, alerts and the anonymised report.
//! The incident itself, its follow-up input and its status are in
//! [`crate::incident`].

use crate::incident::{FollowUpKind, IncidentRecord, IncidentStatus};
use crate::rules::Involved;
use crate::slug::Slug;
use crate::Millis;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One incident in the log, without its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentSummary {
    pub id: Uuid,
    pub academy_id: Uuid,
    /// A row id of the sanctions table for `involved`.
    pub incident_type: Slug,
    /// The row's words in the tables in force, or the id if the row is gone.
    pub incident_label: String,
    pub involved: Involved,
    /// The tables said suspected illegal when it was logged.
    pub illegal: bool,
    /// A reporting route said "immediately" when it was logged.
    pub immediate: bool,
    /// The latest status change, else `new`.
    pub status: IncidentStatus,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub occurred_at: Millis,
    /// Device clock when it was submitted.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub reported_at: Millis,
    /// Server clock when it arrived.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub received_at: Millis,
    pub reported_by_name: String,
    /// Still new past the time its route allows (`incident::is_overdue`).
    pub overdue: bool,
}

/// One entry of an incident's chronology: the fields of the
/// `FollowUpInput` it was made from, and who added it when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FollowUp {
    pub id: Uuid,
    pub incident_id: Uuid,
    /// Who added it.
    pub by_name: String,
    /// Server clock when it was added.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub at: Millis,
    /// What was recorded (`kind` and that kind's fields).
    #[serde(flatten)]
    pub kind: FollowUpKind,
    pub note: String,
}

/// One incident in full: what was logged, and everything added since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentDetail {
    pub summary: IncidentSummary,
    /// The record as the member of staff submitted it; never changed.
    pub record: IncidentRecord,
    /// Oldest first.
    pub follow_ups: Vec<FollowUp>,
    /// The `sha256` of each of the record's attachments the server has whole
    /// (`GET .../attachments/{sha256}` serves it); the others are still
    /// arriving from the device. The record's attachment keys are blanked:
    /// only the server opens attachments.
    #[serde(default)]
    pub arrived: Vec<String>,
}

/// Where an encrypted attachment's upload stands
/// (`GET /api/v1/attachments/{sha256}`, and the answer to each piece).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentUpload {
    /// SHA-256 of the whole encrypted file, lowercase hex.
    pub sha256: String,
    /// Bytes of the whole encrypted file.
    pub size: u64,
    /// How many pieces it travels in
    /// (`haven_core::incident::ATTACHMENT_PIECE_BYTES` each, the last shorter).
    pub pieces: u64,
    /// The pieces the server has, by index, in order.
    pub received: Vec<u64>,
    /// Every piece is in and the whole file's digest is `sha256`: the device
    /// may forget it.
    pub complete: bool,
}

/// A new incident whose route says "immediately": what an in-app alert (or
/// an email) may say. It names no person and carries no content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentAlert {
    pub id: Uuid,
    pub academy_id: Uuid,
    pub incident_label: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub received_at: Millis,
}

/// One bar of a report: a group and how many incidents fall in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportCount {
    /// The group's id: an incident type, an academy id, `YYYY-MM`, `pupil`
    /// or `staff`.
    pub key: String,
    /// The group in words.
    pub label: String,
    pub count: u64,
}

/// Counts of incidents for governors and the online safety group: no names,
/// no content. Each list is sorted by key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentReport {
    pub total: u64,
    pub by_type: Vec<ReportCount>,
    pub by_academy: Vec<ReportCount>,
    /// By the month the incident happened (UTC).
    pub by_month: Vec<ReportCount>,
    /// `pupil` or `staff` (everyone who is not a pupil).
    pub by_group: Vec<ReportCount>,
}
