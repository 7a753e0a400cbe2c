//! Runs haven_core's sync state machine against IndexedDB and the server.
//!
//! [`DeviceSync`] decides what to push and when to retry; this module does the
//! IO it asks for: read the outbox, send the request (with a timeout), store
//! the settlement. A pass first brings new policy versions down, then pushes
//! until the machine says to wait.

use crate::api::{self, ApiClientError};
use crate::clock::now_ms;
use crate::db::{Db, DbError};
use futures::future::{select, Either};
use haven_core::sync::machine::{Command, DeviceSync, FailureKind, Ticket, REQUEST_TIMEOUT_MS};
use haven_core::sync::outbox::{EntryState, OutboxEntry, Settlement};
use haven_core::sync::wire::Mutation;
use haven_core::Millis;
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] ApiClientError),
    #[error(transparent)]
    Db(#[from] DbError),
    /// Records are waiting and there is no credential the server will take:
    /// they stay on the device until someone signs in or enrols it.
    #[error("{0}")]
    NeedsCredential(String),
    /// The server refused this device's id even after the device took a new
    /// one; records wait on the device.
    #[error(
        "Saved on this device, but the school's server would not take this device's identity, \
         even after it took a new one ({0}). Nothing has been deleted. Tell the person who \
         manages Haven at your school."
    )]
    IdentityRefused(String),
}

/// Whole-push refusals that mean this device id is not this device's alone
/// (a copied browser profile or tablet image uses it too) or that the
/// server's count for it is not the device's (a restored server or browser).
/// The answer is a new id, never deleting anything (docs/sync-protocol.md,
/// "What a device does when the server is ahead of it").
fn needs_new_id(e: &ApiClientError) -> bool {
    matches!(
        e,
        ApiClientError::Server { status: 403 | 409, code, .. }
            if code == "device_not_yours" || code == "device_conflict" || code == "mutation_gap"
    )
}

/// What to tell people when records wait for a credential.
const NO_CREDENTIAL: &str = "Saved on this device. To send it to the school, sign in \
     (or ask an admin to enrol this device).";
const CREDENTIAL_REFUSED: &str = "Saved on this device, but your sign-in has expired or \
     was ended. Sign in again to send what is waiting; nothing has been lost.";
const DEVICE_REVOKED: &str = "Saved on this device, but this device's enrolment was \
     withdrawn. Ask an admin to enrol it again; nothing has been lost.";

impl SyncError {
    pub fn is_unreachable(&self) -> bool {
        matches!(self, SyncError::Api(ApiClientError::Unreachable))
    }
}

/// What a pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub policies_fetched: usize,
    /// Reference data other than policies (rule tables, academies, the trust,
    /// the incident key) arrived: pages that read it look again.
    pub reference_changed: bool,
    /// A reception desk brought down the academy's visitor list.
    pub reception_refreshed: bool,
    pub pushed: usize,
    pub rejected: usize,
    /// The last network or storage failure, if any.
    pub error: Option<SyncError>,
    /// The device took a new id in this pass and sent its records again.
    pub new_id: Option<crate::db::NewDeviceId>,
    /// When the machine wants to run again (a retry or the idle check).
    pub next_at: Millis,
}

impl SyncReport {
    pub fn changed_anything(&self) -> bool {
        self.policies_fetched + self.pushed + self.rejected > 0
            || self.reception_refreshed
            || self.reference_changed
            || self.new_id.is_some()
    }
}

/// How far a push has got through the changes that were waiting when it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    /// Records the server has answered in this pass, taken or refused: no
    /// longer waiting to be sent.
    pub settled: usize,
}

/// Brings down everything the server changed since the device's cursor
/// (policies, academies, the trust, the rule tables), page by page.
pub async fn pull_changes(db: &Db) -> Result<Pulled, SyncError> {
    let mut pulled = Pulled::default();
    loop {
        let reply = api::pull(db.pull_cursor().await?).await?;
        pulled.policies += reply.policies.len();
        pulled.reference |= !reply.is_empty();
        db.apply_pull(&reply).await?;
        if !reply.more {
            return Ok(pulled);
        }
    }
}

/// What a pull brought down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pulled {
    /// Policy versions.
    pub policies: usize,
    /// Anything at all: policies, rule tables, academies or the trust.
    pub reference: bool,
}

/// How soon to look again for a credential when records wait for one.
const CREDENTIAL_RECHECK_MS: Millis = 30_000;

/// Replies being stored at once, at most, while the next push goes out. Each
/// is one IndexedDB transaction, and they run in order.
const STORES_AT_ONCE: usize = 2;

/// Replies being stored in the background (`Db::settle`), oldest first.
#[derive(Default)]
struct Storing(
    std::collections::VecDeque<futures::channel::oneshot::Receiver<Result<(), DbError>>>,
);

impl Storing {
    /// Starts storing a reply: its own task, so it goes on while the next
    /// push is out.
    fn start(&mut self, db: &Db, settlement: Settlement, sent: Vec<Mutation>) {
        let (done, stored) = futures::channel::oneshot::channel();
        let db = db.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = done.send(db.settle(&settlement, &sent).await);
        });
        self.0.push_back(stored);
    }

    /// Waits until at most `left` replies are still being stored, and says
    /// if one of those it waited for failed.
    async fn wait_until(&mut self, left: usize) -> Result<(), DbError> {
        while self.0.len() > left {
            let Some(oldest) = self.0.pop_front() else {
                break;
            };
            oldest
                .await
                .map_err(|_| DbError::Write("storing the server's reply stopped".into()))??;
        }
        Ok(())
    }
}

/// The outbox as a pass reads it: the oldest entries not yet sent, in key
/// order, read a few pushes ahead.
#[derive(Default)]
struct Head {
    entries: Vec<OutboxEntry>,
    /// What waits in the outbox, refused entries included, as the pass
    /// began, less what the server has taken since.
    backlog: usize,
    /// The highest number read: the next read starts above it. Nothing above
    /// it has been sent in this pass, so replies still being stored cannot
    /// change what it finds, and reading need not wait for them.
    read_to: Option<u64>,
    /// The last read reached the end of the outbox.
    complete: bool,
}

impl Head {
    fn pending(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.state == EntryState::Pending)
            .count()
    }

    /// Reads on until there is a full batch of `batch` pending entries or the
    /// end of the outbox, ten batches at a time (so a long backlog is read a
    /// few times, each entry decoded once). Once nothing known is pending,
    /// reads again for what was added since.
    async fn read_for(&mut self, db: &Db, batch: usize) -> Result<(), DbError> {
        if self.pending() >= batch || (self.complete && self.pending() > 0) {
            return Ok(());
        }
        if self.read_to.is_none() {
            self.backlog = db.outbox_len().await?;
        }
        loop {
            let wanted = 10 * batch;
            let more = db.outbox_after(self.read_to, Some(wanted as u32)).await?;
            self.complete = more.len() < wanted;
            if let Some(last) = more.last() {
                self.read_to = Some(last.mutation.id);
            }
            self.entries.extend(more);
            if self.complete || self.pending() >= batch {
                return Ok(());
            }
        }
    }

    /// Forgets what `sent` carried, now answered; `taken` of them left the
    /// outbox.
    fn answered(&mut self, sent: &[Mutation], taken: usize) {
        let sent: std::collections::HashSet<u64> = sent.iter().map(|m| m.id).collect();
        self.entries.retain(|e| !sent.contains(&e.mutation.id));
        self.backlog = self.backlog.saturating_sub(taken);
    }
}

fn failure_kind(e: &ApiClientError) -> FailureKind {
    match e {
        ApiClientError::Unreachable => FailureKind::Unreachable,
        ApiClientError::Server { status, .. } if *status >= 500 || *status == 429 => {
            FailureKind::Temporary
        }
        ApiClientError::Server { status: 413, .. } => FailureKind::TooLarge,
        ApiClientError::Server { .. } => FailureKind::Refused,
        ApiClientError::Decode(_) => FailureKind::Temporary,
    }
}

/// Sends a push, giving up after [`REQUEST_TIMEOUT_MS`] so one hung request
/// cannot stall sync; the machine treats a late reply as stale.
async fn push_with_timeout(
    request: &haven_core::sync::wire::PushRequest,
    token: &str,
) -> Result<haven_core::sync::wire::PushResponse, (FailureKind, Option<ApiClientError>)> {
    let timeout = gloo_timers::future::TimeoutFuture::new(REQUEST_TIMEOUT_MS as u32);
    let push = Box::pin(api::push(request, token));
    match select(push, timeout).await {
        Either::Left((Ok(reply), _)) => Ok(reply),
        Either::Left((Err(e), _)) => Err((failure_kind(&e), Some(e))),
        Either::Right(_) => Err((FailureKind::TimedOut, None)),
    }
}

/// The token to push with, or why there is none.
async fn push_token(db: &Db) -> Result<String, SyncError> {
    let credential = match db.credential().await? {
        Some(c) => Some(retire_stored_session(db, c).await?),
        None => None,
    };
    match credential {
        Some(c) if c.usable(now_ms()) => Ok(c.token),
        Some(c) if c.refused && c.kind == crate::db::CredentialKind::Device => {
            Err(SyncError::NeedsCredential(DEVICE_REVOKED.into()))
        }
        Some(_) => Err(SyncError::NeedsCredential(CREDENTIAL_REFUSED.into())),
        None => Err(SyncError::NeedsCredential(NO_CREDENTIAL.into())),
    }
}

/// A browser signed in before sync credentials kept the person's whole
/// session readable here: swap it for a sync credential made from it, so the
/// session itself leaves storage (its sealed copy stays with the person's
/// key). Offline, it waits for the next pass; refused, it is dropped.
/// Returns the credential to push with.
async fn retire_stored_session(
    db: &Db,
    mut credential: crate::db::Credential,
) -> Result<crate::db::Credential, SyncError> {
    if credential.kind != crate::db::CredentialKind::Staff || !credential.token.starts_with("hs_") {
        return Ok(credential);
    }
    match crate::state::session::sync_credential(db, &credential.token).await {
        Ok(made) => {
            credential.token = made.token;
            credential.expires_at = Some(made.expires_at);
            db.set_credential(Some(&credential)).await?;
        }
        Err(crate::state::session::SignInError::Api(ApiClientError::Server {
            status: 401 | 403,
            ..
        })) => {
            credential.token = String::new();
            credential.refused = true;
            db.set_credential(Some(&credential)).await?;
        }
        Err(_) => {}
    }
    Ok(credential)
}

/// Marks the stored credential as refused, so sync stops sending it and the
/// status says what to do.
async fn mark_refused(db: &Db) -> Result<(), DbError> {
    if let Some(mut credential) = db.credential().await? {
        credential.refused = true;
        db.set_credential(Some(&credential)).await?;
    }
    Ok(())
}

/// Tells the machine push `ticket` failed, now, with fresh jitter.
fn fail(machine: &RefCell<DeviceSync>, ticket: Ticket, kind: FailureKind) {
    machine
        .borrow_mut()
        .on_failure(now_ms(), ticket, kind, js_sys::Math::random());
}

/// One pass: pull policies, then push as the machine directs until it says wait.
pub async fn run_pass(
    db: &Db,
    machine: &Rc<RefCell<DeviceSync>>,
    on_progress: &dyn Fn(Option<Progress>),
) -> SyncReport {
    let mut report = SyncReport {
        policies_fetched: 0,
        reference_changed: false,
        reception_refreshed: false,
        pushed: 0,
        rejected: 0,
        error: None,
        new_id: None,
        next_at: now_ms(),
    };
    // Another tab may have taken a new id since this machine last pushed:
    // storage is the truth (one tab syncs at a time, so it cannot change
    // during this pass but by this pass).
    match db.device().await {
        Ok(device) => machine.borrow_mut().follow_id(device.device_id),
        Err(e) => {
            report.error = Some(e.into());
            return report;
        }
    }
    match pull_changes(db).await {
        Ok(pulled) => {
            report.policies_fetched = pulled.policies;
            report.reference_changed = pulled.reference;
            // The key incidents are sealed with, kept for logging offline.
            // Fetched once, not on every pass: after a refusal for a changed
            // key, "Seal again and send" on /incidents fetches it afresh.
            if matches!(db.incident_key().await, Ok(None)) {
                if let Ok(key) = api::get_public::<haven_core::incident::IncidentKey>(&api::url(
                    "/incidents/key",
                ))
                .await
                {
                    if db.set_incident_key(&key).await.is_ok() {
                        report.reference_changed = true;
                    }
                }
            }
        }
        Err(e) if e.is_unreachable() => {
            // The server did not answer: a push would not either. Wait as
            // after a failed push, so no trigger turns this into a stream of
            // requests (a captive portal, the school's server down).
            report.next_at = machine.borrow_mut().back_off(
                now_ms(),
                FailureKind::Unreachable,
                js_sys::Math::random(),
            );
            report.error = Some(e);
            return report;
        }
        Err(e) => report.error = Some(e),
    }
    let mut total = None;
    // The next batches go out while the last replies are being stored.
    let mut head = Head::default();
    let mut storing = Storing::default();
    // What pushes are sent with, read once per pass (reading it again would
    // wait behind the stores in progress).
    let mut sender: Option<(String, Option<String>)> = None;
    loop {
        let batch = machine.borrow().next_batch_size();
        if let Err(e) = head.read_for(db, batch).await {
            report.error = Some(e.into());
            break;
        }
        let backlog = head.backlog;
        let command = machine
            .borrow_mut()
            .poll(now_ms(), &head.entries, js_sys::Math::random());
        let (ticket, mut request) = match command {
            Command::WaitUntil(at) => {
                report.next_at = at;
                break;
            }
            Command::Push { ticket, request } => (ticket, request),
        };
        let (token, device_secret) = match &sender {
            Some(known) => known.clone(),
            None => {
                let token = match push_token(db).await {
                    Ok(token) => token,
                    Err(e) => {
                        // Nothing is sent, so nothing is in flight: tell the
                        // machine the batch was refused, which keeps the
                        // records and retries slowly (a new sign-in triggers
                        // a pass straight away).
                        fail(machine, ticket, FailureKind::Refused);
                        report.error = Some(e);
                        report.next_at = now_ms() + CREDENTIAL_RECHECK_MS;
                        break;
                    }
                };
                // The secret that binds this browser's device id to it on the server.
                let secret = match db.device().await {
                    Ok(device) => device.secret(),
                    Err(e) => {
                        fail(machine, ticket, FailureKind::Temporary);
                        report.error = Some(e.into());
                        break;
                    }
                };
                sender.insert((token, secret)).clone()
            }
        };
        request.backlog = backlog as u64;
        request.device_secret = device_secret;
        let total = *total.get_or_insert(backlog);
        on_progress(Some(Progress {
            done: total.saturating_sub(backlog),
            total,
            settled: report.pushed + report.rejected,
        }));
        if let Err(e) = storing.wait_until(STORES_AT_ONCE - 1).await {
            // A reply was not stored: its entries are still here and go
            // again next pass (the server knows them). Nothing is in flight.
            fail(machine, ticket, FailureKind::Temporary);
            report.error = Some(e.into());
            break;
        }
        match push_with_timeout(&request, &token).await {
            Ok(reply) => {
                report.error = None;
                let settlement = machine.borrow_mut().on_reply(now_ms(), ticket, &reply);
                if let Some(settlement) = settlement {
                    report.pushed += settlement.acknowledged.len();
                    report.rejected += settlement.rejected.len();
                    // The badge counts down as each batch is answered, not
                    // only once the pass is over.
                    let left = backlog.saturating_sub(settlement.acknowledged.len());
                    on_progress(Some(Progress {
                        done: total.saturating_sub(left),
                        total,
                        settled: report.pushed + report.rejected,
                    }));
                    head.answered(&request.mutations, settlement.acknowledged.len());
                    storing.start(db, settlement, request.mutations);
                }
            }
            Err((kind, Some(e))) if needs_new_id(&e) => {
                // Nothing of this push was kept. Take a new id (renumbering
                // the outbox, deleting nothing) and send everything again;
                // but only once for an id the server has not yet answered.
                if !machine.borrow().may_take_new_id() {
                    fail(machine, ticket, kind);
                    report.error = Some(SyncError::IdentityRefused(e.to_string()));
                    break;
                }
                // Renumbering must not meet a reply still being stored.
                if let Err(stored) = storing.wait_until(0).await {
                    fail(machine, ticket, FailureKind::Temporary);
                    report.error = Some(stored.into());
                    break;
                }
                match db.take_new_device_id().await {
                    Ok(taken) => {
                        machine.borrow_mut().take_new_id(taken.device_id);
                        report.new_id = Some(taken);
                        // Renumbered: read it afresh.
                        head = Head::default();
                    }
                    Err(e) => {
                        fail(machine, ticket, FailureKind::Temporary);
                        report.error = Some(e.into());
                        break;
                    }
                }
            }
            Err((kind, Some(e))) if e.is_credential_refused() => {
                if let Err(e) = mark_refused(db).await {
                    report.error = Some(e.into());
                    break;
                }
                fail(machine, ticket, kind);
                report.error = Some(SyncError::NeedsCredential(
                    if e.code() == Some("device_revoked") {
                        DEVICE_REVOKED
                    } else {
                        CREDENTIAL_REFUSED
                    }
                    .into(),
                ));
                report.next_at = now_ms() + CREDENTIAL_RECHECK_MS;
                break;
            }
            Err((kind, _)) => {
                report.error = Some(SyncError::Api(match kind {
                    FailureKind::Unreachable | FailureKind::TimedOut => ApiClientError::Unreachable,
                    _ => ApiClientError::Server {
                        status: 0,
                        code: "push_failed".into(),
                        message: "the server could not take these changes yet; retrying".into(),
                    },
                }));
                fail(machine, ticket, kind);
            }
        }
    }
    if let Err(e) = storing.wait_until(0).await {
        report.error = Some(e.into());
    }
    on_progress(None);
    // Attachments go after the records, apart: one that fails waits for the
    // next pass and holds up nothing (crate::attachments).
    crate::attachments::upload_waiting(db).await;
    // After the push, so the list the server returns includes this desk's
    // own latest visitors.
    if report.error.is_none() {
        match refresh_reception(db).await {
            Ok(refreshed) => report.reception_refreshed = refreshed,
            Err(e) => report.error = Some(e),
        }
    }
    report
}

/// A reception desk brings down its academy's merged visitor list (every
/// desk's visitors, the hosts, the academy's rules) and then forgets what
/// it no longer needs (`Db::minimise`). `false` on any other device; a
/// shared tablet only cuts what the server has down to stubs.
pub async fn refresh_reception(db: &Db) -> Result<bool, SyncError> {
    use haven_core::api::accounts::DeviceKind;
    let Some(enrolment) = db.enrolment().await? else {
        return Ok(false);
    };
    if enrolment.kind != DeviceKind::ReceptionKiosk {
        db.minimise(now_ms(), None).await?;
        return Ok(false);
    }
    let token = push_token(db).await?;
    let snapshot: haven_core::visit::ReceptionSnapshot = api::get_json(
        &api::url(&format!("/reception/{}", enrolment.academy_id)),
        &token,
    )
    .await?;
    let retention = snapshot.settings.device_retention_days;
    db.put_reception_snapshot(&crate::db::KeptSnapshot {
        snapshot,
        fetched_at: now_ms(),
    })
    .await?;
    db.minimise(now_ms(), Some(retention)).await?;
    Ok(true)
}
