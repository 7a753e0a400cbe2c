//! Reminders to sign: who is chased, how often, and what an email may say.
//!
//! A reminder goes to each person due to sign at an academy: staff whose
//! agreements are not signed at their current version, and parents/carers
//! who have not opened their invitation link. One email each, naming no one
//! (not the child, not the person) and carrying only the link to sign: email
//! passes through servers the school does not run. A person reminded within
//! the trust's interval is not reminded again, however many times an admin
//! presses the button or the weekly run comes round.

use crate::Millis;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const DAY_MS: Millis = 24 * 60 * 60 * 1000;

/// The shortest and longest interval a trust may set between two reminders
/// to one person, in days.
pub const INTERVAL_DAYS: std::ops::RangeInclusive<u32> = 1..=90;

/// The interval until a trust chooses another.
pub const DEFAULT_INTERVAL_DAYS: u32 = 7;

/// The trust's reminder rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReminderSettings {
    /// Days before one person may be reminded again: 1 to 90.
    pub interval_days: u32,
    /// Whether the server sends the reminders itself, once a week.
    pub weekly: bool,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        ReminderSettings {
            interval_days: DEFAULT_INTERVAL_DAYS,
            weekly: false,
        }
    }
}

impl ReminderSettings {
    /// Why these settings cannot be kept, in words for the admin.
    pub fn problem(&self) -> Option<String> {
        (!INTERVAL_DAYS.contains(&self.interval_days)).then(|| {
            format!(
                "interval_days must be {} to {}; it was {}",
                INTERVAL_DAYS.start(),
                INTERVAL_DAYS.end(),
                self.interval_days
            )
        })
    }

    /// The interval in milliseconds.
    pub fn interval_ms(&self) -> Millis {
        Millis::from(self.interval_days) * DAY_MS
    }

    /// When a person last reminded at `last` may be reminded again (`None`:
    /// never reminded, so now).
    pub fn next_from(&self, last: Option<Millis>) -> Option<Millis> {
        last.map(|at| at + self.interval_ms())
    }

    /// Whether a person last reminded at `last` may be reminded at `now`.
    pub fn may_remind(&self, last: Option<Millis>, now: Millis) -> bool {
        self.next_from(last).is_none_or(|next| now >= next)
    }
}

/// Who a chase-list row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChaseKind {
    /// A member of staff (or governor, volunteer...) with agreements to sign.
    Staff,
    /// A parent/carer whose invitation link has not been opened.
    Parent,
}

impl ChaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChaseKind::Staff => "staff",
            ChaseKind::Parent => "parent",
        }
    }
}

/// One person the compliance page chases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChaseRow {
    pub kind: ChaseKind,
    /// The staff account or the parent invitation.
    pub id: Uuid,
    pub name: String,
    /// Whether there is an address to remind them at.
    pub has_email: bool,
    /// What they are asked to do: the agreements' titles, or opening the link.
    pub due: Vec<String>,
    pub last_reminded_at: Option<Millis>,
    /// When they may next be reminded; `None`: now.
    pub next_reminder_from: Option<Millis>,
}

/// Asks for a round of reminders at one academy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SendReminders {
    pub academy_id: Uuid,
}

/// What one round of reminders at an academy did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReminderReport {
    /// Emails the relay accepted.
    pub sent: u32,
    /// People reminded within the interval: not reminded again.
    pub reminded_recently: u32,
    /// People with no email address on record.
    pub without_email: u32,
    /// Emails the relay did not take; those people may be reminded again at once.
    pub failed: u32,
}

/// The email to a member of staff: the agreements' titles and a link to
/// sign each, nothing about the person.
pub fn staff_email(academy: &str, agreements: &[(String, String)]) -> String {
    let mut body = format!(
        "{academy} asks you to read and sign the following in Haven, the school's \
         online-safety system:\n\n"
    );
    for (title, link) in agreements {
        body.push_str(&format!("- {title}\n  {link}\n"));
    }
    body.push_str(
        "\nEach one takes a few minutes. If you have already signed, sign in to Haven \
         once online so the school sees it.\n",
    );
    body
}

/// The email to a parent/carer: their own link, which names no child.
pub fn parent_email(academy: &str, link: &str) -> String {
    format!(
        "{academy} asks you to read and sign its online-safety agreements for your \
         child in Haven. Open this link on your phone:\n\n  {link}\n\n\
         This link replaces any earlier one from the school. It is yours alone: \
         please do not forward it.\n"
    )
}

/// The subject of every reminder.
pub const SUBJECT: &str = "Please read and sign: online-safety agreements";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_is_reminded_again_only_after_the_interval() {
        let settings = ReminderSettings {
            interval_days: 7,
            weekly: false,
        };
        assert!(settings.may_remind(None, 0));
        let last = 1_000;
        assert!(!settings.may_remind(Some(last), last));
        assert!(!settings.may_remind(Some(last), last + 7 * DAY_MS - 1));
        assert!(settings.may_remind(Some(last), last + 7 * DAY_MS));
        assert_eq!(settings.next_from(Some(last)), Some(last + 7 * DAY_MS));
        assert_eq!(settings.next_from(None), None);
    }

    #[test]
    fn intervals_outside_one_to_ninety_days_are_refused() {
        for (days, ok) in [(0, false), (1, true), (90, true), (91, false)] {
            let settings = ReminderSettings {
                interval_days: days,
                weekly: true,
            };
            assert_eq!(settings.problem().is_none(), ok, "{days}");
        }
    }

    #[test]
    fn emails_carry_the_links_and_no_names() {
        let staff = staff_email(
            "Oakfield Primary",
            &[("Staff AUA".into(), "https://haven.example/sign/0190".into())],
        );
        assert!(staff.contains("Staff AUA") && staff.contains("https://haven.example/sign/0190"));
        let parent = parent_email("Oakfield Primary", "https://haven.example/join/hp_x");
        assert!(parent.contains("https://haven.example/join/hp_x"));
        assert!(parent.starts_with("Oakfield Primary asks you"));
    }
}
