//! Wire types for accounts, devices, parent invitations and the audit log.

use crate::accounts::class_list::Child;
use crate::accounts::roles::{Grants, Role, RoleGrant};
use crate::accounts::RowProblem;
use crate::Millis;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub grants: Grants,
    pub second_factor_enrolled: bool,
}

/// Where a session stands on the second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SecondFactorState {
    /// Checked at sign-in.
    Done,
    /// The account has none and the trust does not require one.
    NotNeeded,
    /// The trust requires one for this person's roles and none is set up yet.
    EnrolRequired,
}

/// A new TOTP secret to put in an authenticator app, then confirm with a code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TotpSetup {
    /// The secret in base32, for typing in.
    pub secret: String,
    /// The `otpauth://` link, for a QR code.
    pub otpauth_uri: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TotpConfirm {
    /// A code from the new authenticator app.
    pub code: String,
    /// When replacing an authenticator app: a code from the one in use now,
    /// so a session left open on someone's device cannot move their second
    /// factor to another phone. Not needed the first time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_code: Option<String>,
}

/// Removing one's own authenticator app, where the trust does not require
/// one for any of one's roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TotpRemove {
    /// A code from the authenticator app in use now.
    pub current_code: String,
}

/// The first trust admin, from the one-time set-up link printed at first start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    pub token: String,
    pub name: String,
    pub email: String,
    pub password: String,
}

/// A staff invitation accepted: the password the person chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    pub token: String,
    pub password: String,
}

/// A staff member as an admin sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaffMember {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub active: bool,
    pub grants: Grants,
    pub second_factor_enrolled: bool,
    /// Invited and not yet set a password.
    pub invitation_pending: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InviteStaffRequest {
    pub name: String,
    pub email: String,
    pub grants: Vec<RoleGrant>,
}

/// A staff member invited: the one-time link to pass on to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitedStaff {
    pub staff: StaffMember,
    /// Path on this server, e.g. `/invite/hl_…`; valid once, until `expires_at`.
    pub link_path: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub expires_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CsvUpload {
    /// The file's text (UTF-8).
    pub csv: String,
}

/// What a staff CSV import did, row by row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaffImportReport {
    /// New people, with their invitation links.
    pub invited: Vec<InvitedStaff>,
    /// People already in Haven who were given the roles in the file.
    pub updated: Vec<StaffMember>,
    /// Rows that were not imported, and why.
    pub problems: Vec<RowProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PutRolesRequest {
    pub grants: Vec<RoleGrant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetActiveRequest {
    pub active: bool,
}

/// What an enrolled device is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    ReceptionKiosk,
    SharedTablet,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::ReceptionKiosk => "reception_kiosk",
            DeviceKind::SharedTablet => "shared_tablet",
        }
    }

    pub fn parse(s: &str) -> Option<DeviceKind> {
        match s {
            "reception_kiosk" => Some(DeviceKind::ReceptionKiosk),
            "shared_tablet" => Some(DeviceKind::SharedTablet),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrolmentCodeRequest {
    pub academy_id: Uuid,
    pub kind: DeviceKind,
    /// Where the device is, e.g. "Main reception".
    pub label: String,
}

/// A short code to type into the device, once, before `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrolmentCode {
    pub code: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub expires_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    pub code: String,
    /// The id the device numbers its sync mutations under.
    pub sync_device_id: Uuid,
}

/// An enrolled device as an admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceView {
    pub id: Uuid,
    pub sync_device_id: Uuid,
    pub academy_id: Uuid,
    pub kind: DeviceKind,
    pub label: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub enrolled_at: Millis,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub last_contact_at: Millis,
    /// Changes the device said were still waiting at its last push.
    pub reported_backlog: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub revoked_at: Option<Millis>,
}

/// The device token, kept by the device and sent as its bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Enrolled {
    pub token: String,
    pub device: DeviceView,
    /// Minutes of no use before the device locks.
    pub idle_lock_minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClassListUpload {
    pub csv: String,
    /// Days the links stay valid: 1 to 90, 28 if not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_days: Option<u32>,
}

/// One parent/carer's invitation, covering all their children at one academy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParentInvitation {
    pub id: Uuid,
    pub academy_id: Uuid,
    pub parent_name: String,
    pub parent_email: Option<String>,
    pub children: Vec<Child>,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub created_at: Millis,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub expires_at: Millis,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub redeemed_at: Option<Millis>,
}

/// An invitation with its link, shown once (only the link's hash is kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedParentInvitation {
    pub invitation: ParentInvitation,
    /// Path on this server, e.g. `/join/hl_…`.
    pub link_path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClassListReport {
    pub invitations: Vec<IssuedParentInvitation>,
    pub problems: Vec<RowProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RedeemRequest {
    pub token: String,
}

/// A redeemed invitation link: a session for that parent only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParentSession {
    pub token: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub expires_at: Millis,
    pub invitation: ParentInvitation,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub seq: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub at: Millis,
    /// `user:<id>`, `device:<id>`, `parent:<id>` or `anonymous`.
    pub actor: String,
    pub action: String,
    pub subject: String,
    /// The academy concerned, if the action concerns one.
    pub academy_id: Option<Uuid>,
    pub client: String,
    pub detail: String,
}

/// Trust-wide account rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AccountSettings {
    /// Roles that must sign in with a second factor (of trust_admin, dsl, esafety_lead).
    pub second_factor_required: Vec<Role>,
    /// Minutes of no use before a shared device locks: 1 to 120.
    pub idle_lock_minutes: u32,
}

/// One person × one agreement they are asked to sign, for the compliance
/// view and a person's own "to sign" list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ComplianceRow {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub academy_id: Uuid,
    /// Their roles at this academy.
    pub roles: Vec<Role>,
    pub policy_id: Uuid,
    /// The current version, to sign.
    pub version_id: Uuid,
    pub policy_title: String,
    pub current_version: u32,
    pub status: crate::compliance::SignStatus,
    /// The version their latest relevant record is for, if any.
    pub signed_version: Option<u32>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub signed_at: Option<Millis>,
    /// When their account was made.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub joined_at: Millis,
    /// Joined plus the days allowed to sign.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub due_by: Millis,
    /// Past `due_by` and still not signed the current version.
    pub overdue: bool,
}

/// A OneRoster 1.1 CSV export (`crate::accounts::oneroster`): read and
/// planned, and applied only when `apply` is true.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RosterUpload {
    /// orgs.csv's text.
    pub orgs: String,
    /// users.csv's text.
    pub users: String,
    /// classes.csv's text, if the export has it.
    #[serde(default)]
    pub classes: Option<String>,
    /// enrollments.csv's text, if the export has it.
    #[serde(default)]
    pub enrollments: Option<String>,
    /// False (the default): a dry run, which changes nothing.
    #[serde(default)]
    pub apply: bool,
}

/// What a roster import found, and what it changed when applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RosterImport {
    /// Whether the plan was carried out (false for a dry run).
    pub applied: bool,
    pub counts: crate::accounts::oneroster::RosterCounts,
    pub plan: crate::accounts::oneroster::RosterPlan,
    /// Every row left out or not quite right, by file and line.
    pub problems: Vec<crate::accounts::oneroster::FileProblem>,
    /// New staff, with their invitation links (when applied).
    pub invited: Vec<InvitedStaff>,
    /// New families' invitations, with their links (when applied).
    pub invitations: Vec<IssuedParentInvitation>,
}
