//! The optional alert email for an incident whose route says "immediately".
//!
//! The in-app alert (`GET /api/v1/incidents/alerts`) is the real one; where a
//! relay is configured ([`crate::Config::smtp_url`] and
//! [`crate::Config::alert_from`]) the academy's DSL and e-safety lead also get
//! an email. Email is not a safe place for safeguarding content, so it names
//! no one and says nothing of the incident: only that one logged at the
//! academy needs attention now, and to open Haven. It is sent after the push
//! has committed, in a task of its own: a slow or failing relay never holds up
//! or fails a push, and a failure is logged.
//!
//! Plain SMTP only (`smtp://host[:port]`), as to a relay on the same machine
//! or network, which carries it on with TLS and whatever sign-in it needs.

use crate::error::ServerError;
use crate::metrics::{Job, Metrics};
use haven_core::org::Academy;
use haven_core::sync::wire::{Change, Outcome, PushRequest, PushResponse};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::AnyPool;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The subject of every alert email.
pub const SUBJECT: &str = "Haven: an e-safety incident needs attention now";

/// How long one send may take before it is given up (and logged).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends the alert emails through one SMTP relay, from one address.
#[derive(Clone)]
pub struct AlertMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    relay: String,
}

impl std::fmt::Debug for AlertMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertMailer")
            .field("relay", &self.relay)
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl AlertMailer {
    /// A mailer for the relay at `smtp_url` (`smtp://host[:port]`, port 25
    /// if none), sending from `from`.
    pub fn new(smtp_url: &str, from: &str) -> Result<Self, String> {
        let (host, port) = parse_smtp_url(smtp_url)?;
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("the alert sender {from:?} is not an email address: {e}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            .timeout(Some(SEND_TIMEOUT))
            .build();
        Ok(AlertMailer {
            transport,
            from,
            relay: format!("{host}:{port}"),
        })
    }

    /// The mailer the configuration asks for: none when neither setting is
    /// given; an error when only one is, or either is wrong.
    pub fn from_settings(
        smtp_url: Option<&str>,
        from: Option<&str>,
    ) -> Result<Option<Self>, ServerError> {
        let setup = |e: String| ServerError::AlertMail(e);
        match (smtp_url, from) {
            (None, None) => Ok(None),
            (Some(url), Some(from)) => AlertMailer::new(url, from).map(Some).map_err(setup),
            (Some(_), None) => Err(setup(
                "HAVEN_SMTP_URL is set but HAVEN_ALERT_FROM is not: say which address the \
                 alerts come from"
                    .into(),
            )),
            (None, Some(_)) => Err(setup(
                "HAVEN_ALERT_FROM is set but HAVEN_SMTP_URL is not: say which relay sends \
                 the alerts"
                    .into(),
            )),
        }
    }

    /// The email about one incident at `academy`: to its DSL and e-safety
    /// lead by address alone, with the academy's name and nothing else.
    pub fn message(&self, academy: &Academy) -> Result<Message, String> {
        let people = &academy.key_personnel;
        let mut to: Vec<lettre::Address> = Vec::new();
        for email in [&people.dsl.email, &people.esafety_lead.email] {
            match email.trim().parse::<lettre::Address>() {
                Ok(address) => {
                    let same = |a: &lettre::Address| {
                        let (a, b): (&str, &str) = (a.as_ref(), address.as_ref());
                        a.eq_ignore_ascii_case(b)
                    };
                    if !to.iter().any(same) {
                        to.push(address);
                    }
                }
                Err(e) => tracing::warn!(
                    academy_id = %academy.id,
                    "a lead's email cannot be used for the alert: {e}"
                ),
            }
        }
        if to.is_empty() {
            return Err("the academy has no usable DSL or e-safety lead email".into());
        }
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(SUBJECT)
            .header(ContentType::TEXT_PLAIN);
        for address in to {
            builder = builder.to(Mailbox::new(None, address));
        }
        builder
            .body(body(&academy.name))
            .map_err(|e| format!("cannot build the alert email: {e}"))
    }

    /// Sends the alert for each of `incidents` that is stored as immediate,
    /// in a task of its own; failures are logged and counted in `metrics`
    /// (as is each email sent), never returned.
    pub fn spawn_alerts(
        self: &Arc<Self>,
        pool: AnyPool,
        metrics: Arc<Metrics>,
        incidents: Vec<Uuid>,
    ) {
        if incidents.is_empty() {
            return;
        }
        let mailer = Arc::clone(self);
        tokio::spawn(async move {
            for incident in incidents {
                match mailer.alert(&pool, incident).await {
                    Ok(Sent::Yes) => metrics.job_ran(Job::AlertMail, true),
                    Ok(Sent::NotImmediate) => {}
                    Err(e) => {
                        metrics.job_ran(Job::AlertMail, false);
                        tracing::error!(
                            incident_id = %incident,
                            relay = %mailer.relay,
                            "cannot send the alert email: {e}"
                        );
                    }
                }
            }
        });
    }

    /// Sends one plain-text email to `to` (reminders to sign use the same
    /// relay and sender as the alerts).
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), String> {
        let to: lettre::Address = to
            .trim()
            .parse()
            .map_err(|e| format!("{to:?} is not an email address: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| format!("cannot build the email: {e}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Sends the alert for `incident` if it is stored and immediate.
    async fn alert(&self, pool: &AnyPool, incident: Uuid) -> Result<Sent, String> {
        let Some(academy_id) = crate::store::incidents::immediate_academy(pool, incident)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(Sent::NotImmediate);
        };
        let academy = crate::store::org::find_academy(pool, academy_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("there is no academy {academy_id}"))?;
        let message = self.message(&academy)?;
        self.transport
            .send(message)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(incident_id = %incident, academy_id = %academy_id, "alert email sent");
        Ok(Sent::Yes)
    }
}

/// Whether an incident's alert went.
enum Sent {
    Yes,
    /// Nothing to send: the incident's route does not say "immediately".
    NotImmediate,
}

/// The text of the alert: where, and to open Haven; nothing more.
pub fn body(academy_name: &str) -> String {
    format!(
        "An e-safety incident logged at {academy_name} needs immediate attention.\n\
         \n\
         Open Haven and sign in to see it.\n\
         \n\
         This email names no one and says nothing about the incident, on purpose:\n\
         the record is only in Haven.\n"
    )
}

/// The incidents of `request` that this push stored for the first time
/// (`applied`, not `duplicate` or `rejected`), by id.
pub fn newly_stored_incidents(request: &PushRequest, response: &PushResponse) -> Vec<Uuid> {
    request
        .mutations
        .iter()
        .zip(&response.results)
        .filter_map(
            |(mutation, result)| match (&mutation.change, &result.outcome) {
                (Change::CreateIncident(sealed), Outcome::Applied) if result.id == mutation.id => {
                    Some(sealed.id)
                }
                _ => None,
            },
        )
        .collect()
}

/// `smtp://host[:port]` as a host and a port (25 if none).
fn parse_smtp_url(url: &str) -> Result<(String, u16), String> {
    let Some(rest) = url.trim().strip_prefix("smtp://") else {
        return Err(format!(
            "HAVEN_SMTP_URL {url:?} is not smtp://host[:port]; only plain SMTP to a relay is \
             supported (the relay carries it on with TLS)"
        ));
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(
            "HAVEN_SMTP_URL cannot carry a user name or password: send through a relay that \
             accepts the server without one"
                .into(),
        );
    }
    let bad_port = |p: &str| format!("HAVEN_SMTP_URL has a bad port {p:?}");
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("HAVEN_SMTP_URL {url:?} has an unclosed ["))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad_port(p))?,
            None if after.is_empty() => 25,
            None => return Err(bad_port(after)),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, p)) => (host, p.parse().map_err(|_| bad_port(p))?),
            None => (authority, 25),
        }
    };
    if host.is_empty() {
        return Err(format!("HAVEN_SMTP_URL {url:?} names no host"));
    }
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use haven_core::org::{Contact, KeyPersonnel};

    #[test]
    fn smtp_urls_give_a_host_and_a_port() {
        assert_eq!(
            parse_smtp_url("smtp://127.0.0.1:2525"),
            Ok(("127.0.0.1".into(), 2525))
        );
        assert_eq!(
            parse_smtp_url("smtp://relay.local"),
            Ok(("relay.local".into(), 25))
        );
        assert_eq!(parse_smtp_url("smtp://[::1]:26/"), Ok(("::1".into(), 26)));
        for bad in [
            "smtps://relay:465",
            "relay:25",
            "smtp://",
            "smtp://relay:x",
            "smtp://me:secret@relay",
        ] {
            assert!(parse_smtp_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn both_settings_or_neither() {
        assert!(AlertMailer::from_settings(None, None).unwrap().is_none());
        assert!(AlertMailer::from_settings(
            Some("smtp://127.0.0.1:25"),
            Some("haven@school.example")
        )
        .unwrap()
        .is_some());
        assert!(AlertMailer::from_settings(Some("smtp://127.0.0.1:25"), None).is_err());
        assert!(AlertMailer::from_settings(None, Some("haven@school.example")).is_err());
        assert!(AlertMailer::from_settings(Some("smtp://h"), Some("not an address")).is_err());
    }

    #[test]
    fn the_message_goes_to_the_leads_by_address_and_names_no_one() {
        let contact = |name: &str, email: &str| Contact {
            name: name.into(),
            email: email.into(),
            phone: None,
        };
        let academy = Academy {
            id: Uuid::from_u128(1),
            name: "Oakfield Primary Academy".into(),
            key_personnel: KeyPersonnel {
                headteacher: contact("Mrs Head", "head@oak.example"),
                esafety_lead: contact("Mr Lead", "LEAD@oak.example"),
                dsl: contact("Ms Dsl", "lead@oak.example"),
            },
            updated_at: 0,
        };
        let mailer = AlertMailer::new("smtp://127.0.0.1:25", "haven@oak.example").unwrap();
        let message = mailer.message(&academy).unwrap();
        assert_eq!(message.envelope().to().len(), 1, "one lead, one email");
        let text = String::from_utf8(message.formatted()).unwrap();
        assert!(text.contains(SUBJECT), "{text}");
        assert!(text.contains("Oakfield Primary Academy"), "{text}");
        for name in ["Mrs Head", "Mr Lead", "Ms Dsl", "head@oak.example"] {
            assert!(!text.contains(name), "{name} in {text}");
        }
    }
}
