//! Reminders to sign (`haven_core::reminders`): one round at an academy,
//! sent from its compliance page or by the weekly run.
//!
//! A round emails each person due to sign whom the trust's interval allows,
//! through the alert relay ([`AlertMailer`]), with links that start with the
//! configured public address (`HAVEN_PUBLIC_URL`; never a request's Host
//! header, which a caller chooses). Each person is claimed in the database
//! before their email goes (`store::reminders::claim`), so rounds at once
//! (two admins, two instances, the weekly run) remind nobody twice; a claim
//! whose email fails is given back.
//!
//! A parent/carer's reminder carries a new link to their invitation: only
//! the link's digest is stored, so the old link cannot be sent again. The old
//! one, never opened, stops working.

use super::alert_mail::AlertMailer;
use crate::clock::now_ms;
use crate::error::{AppError, ServerError};
use crate::http::routes::parents::new_link;
use crate::metrics::{Job, Metrics};
use crate::store::audit::{Action, Entry};
use crate::store::{compliance, job_runs, org, parents, reminders, roster};
use haven_core::reminders::{
    parent_email, staff_email, ChaseKind, ChaseRow, ReminderReport, ReminderSettings, SUBJECT,
};
use sqlx::AnyPool;
use std::sync::Arc;
use uuid::Uuid;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const WEEK_MS: i64 = 7 * DAY_MS;

/// Days new staff have to sign, as the compliance page's default.
const DUE_DAYS: u32 = crate::http::routes::compliance::DEFAULT_DUE_DAYS;

/// What reminders are sent with: the relay and the address links start with.
#[derive(Debug)]
pub struct Reminders {
    mailer: Arc<AlertMailer>,
    public_url: String,
}

impl Reminders {
    /// Reminders when the relay and the public address are both set; none
    /// when neither is; an error for a public address that is not
    /// `http(s)://host[/path]`.
    pub fn from_settings(
        mailer: Option<Arc<AlertMailer>>,
        public_url: Option<&str>,
    ) -> Result<Option<Self>, ServerError> {
        let Some(url) = public_url else {
            return Ok(None);
        };
        let url = url.trim().trim_end_matches('/');
        let host = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        if host.is_none_or(|h| h.is_empty() || h.contains(['?', '#', '@', ' '])) {
            return Err(ServerError::AlertMail(format!(
                "HAVEN_PUBLIC_URL {url:?} is not https://host[/path]: give the address people \
                 open Haven at"
            )));
        }
        Ok(mailer.map(|mailer| Reminders {
            mailer,
            public_url: url.to_owned(),
        }))
    }
}

/// One person due to sign at an academy.
struct Due {
    kind: ChaseKind,
    id: Uuid,
    name: String,
    email: Option<String>,
    /// Staff: each agreement's title and version to sign.
    agreements: Vec<(String, Uuid)>,
}

impl Due {
    fn key(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.id)
    }
}

/// Staff whose agreements need signing, then parents/carers who have not
/// opened their link, each by name.
async fn due_at(pool: &AnyPool, academy: Uuid) -> Result<Vec<Due>, AppError> {
    let library = compliance::library(pool).await?;
    let rows = compliance::rows_for(pool, &library, academy, None, DUE_DAYS).await?;
    let mut due: Vec<Due> = Vec::new();
    for row in rows.into_iter().filter(|r| r.status.needs_action()) {
        match due.last_mut() {
            Some(person) if person.id == row.user_id => {
                person.agreements.push((row.policy_title, row.version_id))
            }
            _ => due.push(Due {
                kind: ChaseKind::Staff,
                id: row.user_id,
                name: row.name,
                email: Some(row.email).filter(|e| !e.trim().is_empty()),
                agreements: vec![(row.policy_title, row.version_id)],
            }),
        }
    }
    // A family the roster closed has left the school: no reminder, and no
    // new link for it.
    let left = roster::closed_invitations(pool).await?;
    let mut waiting: Vec<Due> = parents::all_invitations(pool)
        .await?
        .into_iter()
        .filter(|i| i.academy_id == academy && i.redeemed_at.is_none())
        .filter(|i| !left.contains(&i.id.to_string()))
        .map(|i| Due {
            kind: ChaseKind::Parent,
            id: i.id,
            name: i.parent_name,
            email: i.parent_email.filter(|e| !e.trim().is_empty()),
            agreements: Vec::new(),
        })
        .collect();
    waiting.sort_by(|a, b| a.name.cmp(&b.name));
    due.extend(waiting);
    Ok(due)
}

/// Who is due to sign at `academy`, with when each was last reminded.
pub async fn chase_list(pool: &AnyPool, academy: Uuid) -> Result<Vec<ChaseRow>, AppError> {
    let settings = reminders::settings(pool).await?;
    let last = reminders::last_reminded(pool).await?;
    let now = now_ms();
    Ok(due_at(pool, academy)
        .await?
        .into_iter()
        .map(|person| {
            let last_reminded_at = last.get(&person.key()).copied();
            ChaseRow {
                kind: person.kind,
                id: person.id,
                name: person.name,
                has_email: person.email.is_some(),
                due: match person.kind {
                    ChaseKind::Staff => person.agreements.into_iter().map(|(t, _)| t).collect(),
                    ChaseKind::Parent => vec!["Open the invitation link".into()],
                },
                last_reminded_at,
                next_reminder_from: settings
                    .next_from(last_reminded_at)
                    .filter(|next| *next > now),
            }
        })
        .collect())
}

/// One round at `academy`: emails everyone due whom the interval allows,
/// and writes `entry` (who asked) to the audit log with what it did.
pub async fn round(
    pool: &AnyPool,
    sender: &Reminders,
    academy: Uuid,
    entry: Entry,
) -> Result<ReminderReport, AppError> {
    let settings = reminders::settings(pool).await?;
    let last = reminders::last_reminded(pool).await?;
    let name = org::find_academy(pool, academy)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no academy {academy}")))?
        .name;
    let mut report = ReminderReport::default();
    for person in due_at(pool, academy).await? {
        let Some(email) = person.email.as_deref() else {
            report.without_email += 1;
            continue;
        };
        let key = person.key();
        let before = last.get(&key).copied();
        let now = now_ms();
        let claimed = settings.may_remind(before, now)
            && reminders::claim(pool, &key, now, now - settings.interval_ms()).await?;
        if !claimed {
            report.reminded_recently += 1;
            continue;
        }
        let sent = match message(pool, sender, &name, &person).await {
            Ok(body) => sender.mailer.send(email, SUBJECT, body).await,
            Err(e) => Err(e.to_string()),
        };
        match sent {
            Ok(()) => report.sent += 1,
            Err(e) => {
                tracing::error!(person = %key, "cannot send a reminder to sign: {e}");
                report.failed += 1;
                reminders::release(pool, &key, now, before).await?;
            }
        }
    }
    entry
        .academy(academy)
        .detail(format!(
            "sent {}, reminded recently {}, no email {}, failed {}",
            report.sent, report.reminded_recently, report.without_email, report.failed
        ))
        .write(pool)
        .await?;
    Ok(report)
}

/// The email for `person`: a staff member's links to sign, or a parent's
/// new invitation link.
async fn message(
    pool: &AnyPool,
    sender: &Reminders,
    academy: &str,
    person: &Due,
) -> Result<String, AppError> {
    let base = &sender.public_url;
    match person.kind {
        ChaseKind::Staff => {
            let links: Vec<(String, String)> = person
                .agreements
                .iter()
                .map(|(title, version)| (title.clone(), format!("{base}/sign/{version}")))
                .collect();
            Ok(staff_email(academy, &links))
        }
        ChaseKind::Parent => {
            let mut tx = crate::store::db::begin_write(pool).await?;
            let invitation = parents::invitation(&mut tx, &person.id.to_string()).await?;
            let entry =
                Entry::new("system", Action::ParentLinkReissued).detail("for a reminder to sign");
            let link_path = new_link(&mut tx, &invitation, entry).await?;
            tx.commit().await?;
            Ok(parent_email(academy, &format!("{base}{link_path}")))
        }
    }
}

/// The trust's rules, checked.
pub fn check(settings: &ReminderSettings) -> Result<(), AppError> {
    match settings.problem() {
        Some(message) => Err(AppError::Invalid {
            code: "invalid_settings",
            message,
        }),
        None => Ok(()),
    }
}

/// The weekly run, if the trust asked for one: a round at every academy, by
/// the one instance that first claims the week (`now` by the server's clock).
pub async fn weekly(pool: &AnyPool, sender: &Reminders, metrics: &Metrics, now: i64) {
    let run = async {
        if !reminders::settings(pool).await?.weekly {
            return Ok(false);
        }
        if !job_runs::claim(
            pool,
            Job::WeeklyReminders.label(),
            now.div_euclid(WEEK_MS),
            now,
        )
        .await?
        {
            return Ok(false);
        }
        for academy in org::academy_ids(pool).await? {
            let entry = Entry::new("system", Action::RemindersSent);
            let report = round(pool, sender, academy, entry).await?;
            tracing::info!(%academy, sent = report.sent, "weekly reminders to sign");
        }
        Ok::<_, AppError>(true)
    };
    match run.await {
        Ok(false) => {}
        Ok(true) => metrics.job_ran(Job::WeeklyReminders, true),
        Err(e) => {
            metrics.job_ran(Job::WeeklyReminders, false);
            tracing::error!(error = %e, "the weekly reminders to sign failed");
        }
    }
}
