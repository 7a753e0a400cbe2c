//! The audit log: sign-ins, failures, account and device changes, and every
//! read of a sensitive record. Rows are only ever added (triggers in
//! migration 0004 refuse updates and deletes).

use crate::clock::now_ms;
use haven_core::api::accounts::AuditEntry;
use serde::Serialize;
use sqlx::AnyExecutor;

/// Things that are audited. The string forms are stored and shown to admins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SignIn,
    SignInFailed,
    SignInRefusedRateLimit,
    SignOut,
    SignOutEverywhere,
    SecondFactorEnrolled,
    SecondFactorFailed,
    /// A person removed their own authenticator app, with a code from it.
    SecondFactorRemoved,
    /// A manager cleared someone's authenticator app and ended their
    /// sessions (subject: the person; detail: whether they had one and how
    /// many sessions ended).
    SecondFactorReset,
    FirstAdminSetUp,
    StaffInvited,
    StaffImported,
    InvitationAccepted,
    RolesChanged,
    StaffDeactivated,
    StaffReactivated,
    DeviceCodeCreated,
    DeviceEnrolled,
    DeviceRevoked,
    DeviceRefused,
    ParentInvitationsCreated,
    ParentLinkReissued,
    ParentLinkRedeemed,
    ParentLinkRefused,
    ReadAgreements,
    ReadAuditLog,
    ReadStaff,
    ReadParentInvitations,
    ReadCompliance,
    ReadReception,
    ReceptionSettingsChanged,
    /// The trust's account rules changed (detail: what changed, e.g. a role
    /// no longer required to use a second factor).
    AccountSettingsChanged,
    /// A policy version was published (subject: the version's id).
    PolicyPublished,
    /// New rule tables were published (subject: the version's id).
    RulesPublished,
    /// The trust was set up or its details edited (detail: which fields).
    TrustChanged,
    /// An academy was added or its details edited (detail: which fields).
    AcademyChanged,
    /// Visits past their academy's retention were deleted (actor "system").
    VisitsPurged,
    /// The incident log was listed (subject empty; detail: how many).
    ReadIncidents,
    /// One incident was read (subject: its id).
    ReadIncident,
    /// One attachment of an incident was opened (subject: the incident's
    /// id; detail: the attachment's sha256).
    ReadIncidentAttachment,
    IncidentFollowUpAdded,
    ReadIncidentReport,
    /// Incidents naming a person were read (detail: their ids, not the name).
    ReadPersonIncidents,
    /// A round of reminders to sign at an academy (actor: who pressed the
    /// button, or "system" for the weekly run; detail: the counts).
    RemindersSent,
    /// The trust's reminder rules changed (detail: the rules now).
    ReminderSettingsChanged,
    /// A OneRoster export was read (detail: dry run or applied, and the
    /// plan's counts).
    RosterImported,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SignIn => "sign_in",
            Action::SignInFailed => "sign_in_failed",
            Action::SignInRefusedRateLimit => "sign_in_refused_rate_limit",
            Action::SignOut => "sign_out",
            Action::SignOutEverywhere => "sign_out_everywhere",
            Action::SecondFactorEnrolled => "second_factor_enrolled",
            Action::SecondFactorFailed => "second_factor_failed",
            Action::SecondFactorRemoved => "second_factor_removed",
            Action::SecondFactorReset => "second_factor_reset",
            Action::FirstAdminSetUp => "first_admin_set_up",
            Action::StaffInvited => "staff_invited",
            Action::StaffImported => "staff_imported",
            Action::InvitationAccepted => "invitation_accepted",
            Action::RolesChanged => "roles_changed",
            Action::StaffDeactivated => "staff_deactivated",
            Action::StaffReactivated => "staff_reactivated",
            Action::DeviceCodeCreated => "device_code_created",
            Action::DeviceEnrolled => "device_enrolled",
            Action::DeviceRevoked => "device_revoked",
            Action::DeviceRefused => "device_refused",
            Action::ParentInvitationsCreated => "parent_invitations_created",
            Action::ParentLinkReissued => "parent_link_reissued",
            Action::ParentLinkRedeemed => "parent_link_redeemed",
            Action::ParentLinkRefused => "parent_link_refused",
            Action::ReadAgreements => "read_agreements",
            Action::ReadAuditLog => "read_audit_log",
            Action::ReadStaff => "read_staff",
            Action::ReadParentInvitations => "read_parent_invitations",
            Action::ReadCompliance => "read_compliance",
            Action::ReadReception => "read_reception",
            Action::ReceptionSettingsChanged => "reception_settings_changed",
            Action::AccountSettingsChanged => "account_settings_changed",
            Action::PolicyPublished => "policy_published",
            Action::RulesPublished => "rules_published",
            Action::TrustChanged => "trust_changed",
            Action::AcademyChanged => "academy_changed",
            Action::VisitsPurged => "visits_purged",
            Action::ReadIncidents => "read_incidents",
            Action::ReadIncident => "read_incident",
            Action::ReadIncidentAttachment => "read_incident_attachment",
            Action::IncidentFollowUpAdded => "incident_follow_up_added",
            Action::ReadIncidentReport => "read_incident_report",
            Action::ReadPersonIncidents => "read_person_incidents",
            Action::RemindersSent => "reminders_sent",
            Action::ReminderSettingsChanged => "reminder_settings_changed",
            Action::RosterImported => "roster_imported",
        }
    }
}

/// One entry, built up then written with [`Entry::write`].
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub actor: String,
    pub action: &'static str,
    pub subject: String,
    pub academy_id: String,
    pub client: String,
    pub detail: String,
}

impl Entry {
    /// `actor` is "user:<id>", "device:<id>", "parent:<id>", "anonymous", or
    /// "system" for what the server does by itself (the retention purge).
    pub fn new(actor: impl Into<String>, action: Action) -> Entry {
        Entry {
            actor: actor.into(),
            action: action.as_str(),
            subject: String::new(),
            academy_id: String::new(),
            client: String::new(),
            detail: String::new(),
        }
    }

    pub fn subject(mut self, subject: impl Into<String>) -> Entry {
        self.subject = subject.into();
        self
    }

    pub fn academy(mut self, academy_id: impl ToString) -> Entry {
        self.academy_id = academy_id.to_string();
        self
    }

    pub fn client(mut self, client: &crate::http::auth::ClientAddr) -> Entry {
        self.client = client.0.clone();
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Entry {
        self.detail = detail.into();
        self
    }

    /// Adds the entry; pass a transaction to make it part of the change it records.
    pub async fn write<'e>(self, db: impl AnyExecutor<'e>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, subject, academy_id, client, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(now_ms())
        .bind(&self.actor)
        .bind(self.action)
        .bind(&self.subject)
        .bind(&self.academy_id)
        .bind(&self.client)
        .bind(&self.detail)
        .execute(db)
        .await?;
        Ok(())
    }
}

/// Up to `limit` entries numbered below `before`, newest first.
pub async fn page(
    db: impl AnyExecutor<'_>,
    before: i64,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT seq, at, actor, action, subject, academy_id, client, detail FROM audit_log \
         WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(AuditEntry::from).collect())
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    seq: i64,
    at: i64,
    actor: String,
    action: String,
    subject: String,
    academy_id: String,
    client: String,
    detail: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            seq: r.seq,
            at: r.at,
            actor: r.actor,
            action: r.action,
            subject: r.subject,
            academy_id: uuid::Uuid::parse_str(&r.academy_id).ok(),
            client: r.client,
            detail: r.detail,
        }
    }
}
