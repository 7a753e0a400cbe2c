//! Applying a device's push: idempotent, in one transaction per batch.
//!
//! Replicache's rule: each device numbers its mutations 1, 2, 3, ...; the server
//! keeps the highest number it has processed for that device and writes it in
//! the same transaction as the mutations' effects. A mutation at or below that
//! number was processed before and is answered with its first answer and no
//! effect. A mutation that can never be applied is answered `Rejected`, kept
//! as its digest, code and reason, and still counted as processed, so the
//! device's queue moves on.
//!
//! A device id belongs to one device (docs/sync-protocol.md, "Identity"): an
//! enrolled device by its token, any other browser by the secret it made on
//! its first run. A push under someone else's id, a jump in the numbering, or
//! a different change under a number already processed (two devices sharing
//! one id) is refused whole and changes nothing.

use crate::crypto::incident_key::{IncidentKeyStore, OpenError};
use crate::crypto::keys::ServerKey;
use crate::error::AppError;
use crate::http::auth::{Caller, StaffCaller};
use crate::store::db::begin_write;
use crate::store::limiter::{Limit, Limiter};
use crate::store::policies::{find_version, kind_to_str};
use haven_core::agreement::{AgreementError, AgreementRecord};
use haven_core::hash::Sha256Hex;
use haven_core::incident::{IncidentRecord, SealedIncident};
use haven_core::policy::PolicyVersion;
use haven_core::sync::server_rules::{
    self, advance, check_continues, classify, replay_outcome, BatchError, Classification,
    DeviceMismatch, Processed,
};
use haven_core::sync::staff_proof::{self, change_digest};
use haven_core::sync::wire::{
    Change, Mutation, MutationResult, Outcome, PushRequest, PushResponse,
};
use haven_core::visit::{VisitEnd, VisitRecord};
use sqlx::{Any, AnyPool, Transaction};
use std::collections::HashMap;
use uuid::Uuid;

/// Sealed incidents of a push, opened before its transaction starts (RSA
/// is slow next to SQLite's write lock), by mutation id.
type Opened = HashMap<u64, Result<IncidentRecord, OpenError>>;

/// Refusals one credential may have kept within [`REFUSAL_WINDOW_MS`]: far
/// more than an honest device makes, few enough that a hostile caller cannot
/// fill the disk. Over it, a push that would keep more is refused whole (429)
/// and the device retries later with its records intact.
pub const MAX_REFUSALS_PER_WINDOW: i64 = 1_000;
pub const REFUSAL_WINDOW_MS: i64 = 60 * 60 * 1000;
/// New device ids one credential may bind within [`NEW_DEVICE_WINDOW_MS`]: a
/// staff member's phone, laptop and a browser or two, not thousands.
pub const MAX_NEW_DEVICES_PER_WINDOW: i64 = 20;
pub const NEW_DEVICE_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// What a push needs from the server besides the database.
#[derive(Clone, Copy)]
pub struct PushKeys<'a> {
    /// Derives each person's online key, to check staff proofs.
    pub server_key: &'a ServerKey,
    /// Opens sealed incidents (made on first need).
    pub incident_key: &'a IncidentKeyStore,
    /// Counts the incidents each credential has the server open, so no
    /// one can make it decrypt without bound (see [`OPENS_PER_CREDENTIAL`]);
    /// `None` counts nothing (the simulation).
    pub opens: Option<&'a Limiter>,
}

/// Sealed incidents one credential may have the server open (RSA) in an
/// hour: far more than a school logs, few enough that the timed decryptions
/// a side-channel attack on RSA needs would take years (RUSTSEC-2023-0071,
/// `.cargo/audit.toml`).
pub const OPENS_PER_CREDENTIAL: Limit = Limit {
    failures: 120,
    window_ms: 60 * 60 * 1000,
};

/// Applies a whole push at server time `now` and says what became of each mutation.
/// `caller` is who pushed: how they were identified is kept with each
/// agreement, visit and end (and in an agreement's ledger entry), bounds the
/// staff account a record may name and the academy a visit may be recorded at.
///
/// Everything cheap is checked before anything expensive: the batch's shape,
/// whose device id this is, and whether this caller may push each kind of
/// record (a staff proof is one HMAC) come before any incident is opened
/// with RSA.
pub async fn apply_push(
    pool: &AnyPool,
    request: &PushRequest,
    now: i64,
    caller: &Caller,
    keys: PushKeys<'_>,
) -> Result<PushResponse, AppError> {
    check_batch(&request.mutations)?;
    let device_id = request.device_id.to_string();
    let binding = binding_of(caller, request.device_secret.as_deref())?;

    // Before RSA: the id must be this caller's (or new), and only new
    // mutations that pass the cheap checks are opened. A push with no
    // incident has nothing expensive to guard, and the transaction checks
    // the same again.
    let has_incidents = request
        .mutations
        .iter()
        .any(|m| matches!(m.change, Change::CreateIncident(_)));
    let before = if has_incidents {
        let mut conn = pool.acquire().await?;
        let row = device_row(&mut conn, &device_id).await?;
        check_owner(&mut conn, caller, &device_id, &binding, row.as_ref()).await?;
        row.map_or(0, |r| r.last)
    } else {
        0
    };
    let prechecked: HashMap<u64, Outcome> = request
        .mutations
        .iter()
        .filter_map(|m| precheck(caller, m, keys.server_key).map(|o| (m.id, o)))
        .collect();
    let to_open = || {
        request
            .mutations
            .iter()
            .filter(|m| m.id > before && !prechecked.contains_key(&m.id))
            .filter(|m| matches!(m.change, Change::CreateIncident(_)))
    };
    if let Some(opens) = keys.opens {
        count_opens(opens, caller, to_open().count(), now)?;
    }
    let opened = open_incidents(keys.incident_key, to_open()).await?;

    let mut tx = begin_write(pool).await?;
    let row = device_row(&mut tx, &device_id).await?;
    check_owner(&mut tx, caller, &device_id, &binding, row.as_ref()).await?;
    if row.is_none() {
        check_new_device_budget(&mut tx, caller, now).await?;
    }
    let mut last = row.as_ref().map_or(0, |r| r.last);
    if !sim_faults::on(sim_faults::Fault::IgnoreGap) {
        check_continues(last, &request.mutations).map_err(device_mismatch)?;
    }

    let pusher = caller.identification();
    let mut cache = PushCache::default();
    let mut results = Vec::with_capacity(request.mutations.len());
    let mut processed_now = Vec::with_capacity(request.mutations.len());
    for mutation in &request.mutations {
        let digest = change_digest(&mutation.change);
        let outcome = match classify(last, mutation.id) {
            // A replay gets the answer the first attempt got: a rejection stays
            // a rejection, or a device whose reply was lost would drop the
            // record; a different change under the same number is a second
            // device with this id, refused before anything is written.
            Classification::Replay => {
                let kept = processed(&mut tx, &device_id, mutation.id).await?;
                let kept = sim_faults::bend(kept);
                replay_outcome(mutation.id, &digest, kept).map_err(device_mismatch)?
            }
            Classification::New => {
                let outcome = match prechecked.get(&mutation.id) {
                    Some(refusal) => refusal.clone(),
                    None => {
                        let ctx = Context {
                            device_id: request.device_id,
                            binding: &binding,
                            mutation_id: mutation.id,
                            now,
                            caller,
                        };
                        apply_mutation(&mut tx, &ctx, &mut cache, mutation, &opened).await?
                    }
                };
                processed_now.push((mutation.id, digest, outcome.clone()));
                last = advance(last, mutation.id);
                outcome
            }
        };
        results.push(MutationResult {
            id: mutation.id,
            outcome,
        });
    }
    keep_processed(&mut tx, &device_id, &processed_now, &pusher, now).await?;
    if processed_now
        .iter()
        .any(|(_, _, outcome)| matches!(outcome, Outcome::Rejected { .. }))
    {
        check_refusal_budget(&mut tx, &pusher, now).await?;
    }

    sqlx::query(
        "INSERT INTO devices (device_id, last_mutation_id, last_seen_at, reported_backlog, \
         binding, registered_by, registered_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (device_id) DO UPDATE SET \
         last_mutation_id = excluded.last_mutation_id, last_seen_at = excluded.last_seen_at, \
         reported_backlog = excluded.reported_backlog, binding = excluded.binding",
    )
    .bind(&device_id)
    .bind(to_db_id(
        if sim_faults::on(sim_faults::Fault::SkipLastMutationId) {
            row.as_ref().map_or(0, |r| r.last)
        } else {
            last
        },
    ))
    .bind(now)
    // What is still waiting once this batch is in.
    .bind(to_db_id(
        request
            .backlog
            .saturating_sub(request.mutations.len() as u64),
    ))
    .bind(&binding)
    .bind(&pusher)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    pause_inside_push_for_tests().await;
    sim_faults::crash_before_commit()?;
    tx.commit().await?;

    Ok(PushResponse {
        last_mutation_id: last,
        results,
    })
}

/// A debug build waits here, inside the push's transaction, for
/// `HAVEN_TEST_PUSH_PAUSE_MS` milliseconds, so an end-to-end test can kill
/// the server in the middle of a push. Release builds have no such pause.
async fn pause_inside_push_for_tests() {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("HAVEN_TEST_PUSH_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        tracing::info!(ms, "pausing inside the push transaction (test hook)");
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}

/// Faults put into this push on purpose, so that the sync simulation
/// (`tests/sync_simulation.rs`) can show it notices each one in the real
/// code. Only the `sim-faults` feature, which only that test's build turns
/// on, can set them; without it every check here is a constant `false`.
pub mod sim_faults {
    use super::{AppError, Processed};

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Fault {
        /// A replayed rejection is answered `duplicate`.
        DuplicateForReplayedRejection,
        /// A replay's digest is not compared with the change processed first.
        IgnoreDigest,
        /// A jump in a device's numbering is let through.
        IgnoreGap,
        /// A push under a device id bound to another device is let through.
        IgnoreOwner,
        /// `last_mutation_id` is not moved on.
        SkipLastMutationId,
    }

    #[cfg(feature = "sim-faults")]
    thread_local! {
        static FAULT: std::cell::Cell<Option<Fault>> = const { std::cell::Cell::new(None) };
        static CRASH: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Puts `fault` into every push on this thread (`None`: a working server).
    #[cfg(feature = "sim-faults")]
    pub fn set(fault: Option<Fault>) {
        FAULT.with(|f| f.set(fault));
    }

    /// Whether the next push on this thread dies just before its commit, as
    /// the server process would: not a bug, the simulation's crash mid-batch.
    #[cfg(feature = "sim-faults")]
    pub fn crash_next_push(crash: bool) {
        CRASH.with(|c| c.set(crash));
    }

    pub(super) fn on(fault: Fault) -> bool {
        #[cfg(feature = "sim-faults")]
        return FAULT.with(|f| f.get()) == Some(fault);
        #[cfg(not(feature = "sim-faults"))]
        return {
            let _ = fault;
            false
        };
    }

    pub(super) fn bend(mut kept: Option<Processed>) -> Option<Processed> {
        if let Some(k) = kept.as_mut() {
            if on(Fault::IgnoreDigest) {
                k.change_sha256 = None;
            }
            if on(Fault::DuplicateForReplayedRejection) {
                k.rejection = None;
            }
        }
        kept
    }

    pub(super) fn crash_before_commit() -> Result<(), AppError> {
        #[cfg(feature = "sim-faults")]
        if CRASH.with(|c| c.replace(false)) {
            return Err(AppError::Internal("simulated crash before commit".into()));
        }
        Ok(())
    }
}

/// Counts `n` incidents to open against the caller's hourly budget, before
/// any is opened; over it, the push is refused whole (429).
fn count_opens(opens: &Limiter, caller: &Caller, n: usize, now: i64) -> Result<(), AppError> {
    if n == 0 {
        return Ok(());
    }
    let key = format!("open:{}", caller.identification());
    if let Err(wait) = opens.check(&key, OPENS_PER_CREDENTIAL, now) {
        return Err(AppError::TooManyAttempts {
            message: format!(
                "this sign-in has sent more incidents in the last hour than a school logs; \
                 they are kept on the device and sent again in {}",
                crate::store::limiter::wait_words(wait)
            ),
            retry_after_ms: wait,
        });
    }
    for _ in 0..n {
        opens.fail(&key, now);
    }
    Ok(())
}

/// What the server knows of one device id.
struct DeviceRow {
    last: u64,
    /// `None` for a device that pushed before ids were bound: its next push
    /// binds it.
    binding: Option<String>,
}

async fn device_row(
    conn: &mut sqlx::AnyConnection,
    device_id: &str,
) -> Result<Option<DeviceRow>, AppError> {
    let row: Option<(i64, Option<String>)> =
        sqlx::query_as("SELECT last_mutation_id, binding FROM devices WHERE device_id = $1")
            .bind(device_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(last, binding)| DeviceRow {
        last: u64::try_from(last).unwrap_or(0),
        binding,
    }))
}

/// What binds a device id to the one device that may push under it: an
/// enrolled device's enrolment, or the SHA-256 of a browser's own secret.
fn binding_of(caller: &Caller, secret: Option<&str>) -> Result<String, AppError> {
    if let Caller::Device(device) = caller {
        return Ok(format!("enrolled:{}", device.id));
    }
    let secret = secret.ok_or_else(|| {
        AppError::BadRequest(
            "a push from a browser that is not an enrolled device must carry its \
             `device_secret`; update the app (reload the page) and it will be sent"
                .into(),
        )
    })?;
    let digest = device_secret_digest(secret)?;
    // A sync credential pushes for the one browser it was made for.
    if let Caller::Staff(StaffCaller {
        sync_only: Some(for_secret),
        ..
    }) = caller
    {
        if digest.as_str() != for_secret {
            return Err(AppError::DeviceNotYours);
        }
    }
    Ok(format!("secret:{digest}"))
}

/// The SHA-256 of a browser's `device_secret`, once its form is checked.
pub(crate) fn device_secret_digest(secret: &str) -> Result<Sha256Hex, AppError> {
    let ok = secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(AppError::BadRequest(
            "`device_secret` must be 32 random bytes in base64url without padding (43 characters)"
                .into(),
        ));
    }
    Ok(Sha256Hex::of(secret.as_bytes()))
}

/// Refuses a push under a device id bound to another device, or under the id
/// an enrolled device syncs with when the caller is not that device.
async fn check_owner(
    conn: &mut sqlx::AnyConnection,
    caller: &Caller,
    device_id: &str,
    binding: &str,
    row: Option<&DeviceRow>,
) -> Result<(), AppError> {
    let bound_elsewhere = match row.and_then(|r| r.binding.as_deref()) {
        Some(bound) => bound != binding,
        // Unbound (new, or from before binding): only an enrolled device may
        // claim its own enrolment's id.
        None => {
            let enrolled: Option<String> =
                sqlx::query_scalar("SELECT id FROM enrolled_devices WHERE sync_device_id = $1")
                    .bind(device_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            match (enrolled, caller) {
                (None, _) => false,
                (Some(id), Caller::Device(d)) => id != d.id,
                (Some(_), _) => true,
            }
        }
    };
    if bound_elsewhere && !sim_faults::on(sim_faults::Fault::IgnoreOwner) {
        return Err(AppError::DeviceNotYours);
    }
    Ok(())
}

/// One credential may bind only so many new device ids a day.
async fn check_new_device_budget(
    tx: &mut Transaction<'static, Any>,
    caller: &Caller,
    now: i64,
) -> Result<(), AppError> {
    let recent: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM devices WHERE registered_by = $1 AND registered_at > $2",
    )
    .bind(caller.identification())
    .bind(now - NEW_DEVICE_WINDOW_MS)
    .fetch_one(&mut **tx)
    .await?;
    if recent >= MAX_NEW_DEVICES_PER_WINDOW {
        return Err(AppError::TooManyAttempts {
            message: format!(
                "this sign-in has started {recent} new devices in the last day, the most \
                 allowed; try again tomorrow or ask an admin"
            ),
            retry_after_ms: NEW_DEVICE_WINDOW_MS,
        });
    }
    Ok(())
}

/// One credential may have only so many refusals kept per hour.
async fn check_refusal_budget(
    tx: &mut Transaction<'static, Any>,
    pusher: &str,
    now: i64,
) -> Result<(), AppError> {
    let kept: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM processed_mutations \
         WHERE pushed_by = $1 AND received_at > $2 AND code IS NOT NULL",
    )
    .bind(pusher)
    .bind(now - REFUSAL_WINDOW_MS)
    .fetch_one(&mut **tx)
    .await?;
    if kept > MAX_REFUSALS_PER_WINDOW {
        return Err(AppError::TooManyAttempts {
            message: format!(
                "this sign-in has sent more than {MAX_REFUSALS_PER_WINDOW} records the server \
                 refused in the last hour; nothing of this push was kept, and the device will \
                 try again later"
            ),
            retry_after_ms: REFUSAL_WINDOW_MS,
        });
    }
    Ok(())
}

fn device_mismatch(e: DeviceMismatch) -> AppError {
    let code = match e {
        DeviceMismatch::Gap { .. } => "mutation_gap",
        DeviceMismatch::Conflict { .. } => "device_conflict",
    };
    AppError::Conflict {
        code,
        message: e.to_string(),
    }
}

/// Refusals that need no database and must come before any expensive work:
/// a parent pushing an incident, a shared device's staff record without a
/// proof that holds.
fn precheck(caller: &Caller, mutation: &Mutation, server_key: &ServerKey) -> Option<Outcome> {
    if matches!(caller, Caller::Parent(_)) && matches!(mutation.change, Change::CreateIncident(_)) {
        return Some(rejected(
            "not_allowed",
            "a parent's invitation cannot log incidents",
        ));
    }
    if !matches!(caller, Caller::Device(_)) || !staff_proof::needs_proof(&mutation.change) {
        return None;
    }
    let result = match &mutation.proof {
        None => Err(staff_proof::ProofError::Missing),
        Some(proof) => {
            let key = staff_proof::proof_key(&server_key.online_key(&proof.account.to_string()));
            staff_proof::verify(&key, proof, &mutation.change)
        }
    };
    result
        .err()
        .map(|e| rejected("staff_proof_required", e.to_string()))
}

/// What the server kept of mutation `mutation_id` of a device.
async fn processed(
    tx: &mut Transaction<'static, Any>,
    device_id: &str,
    mutation_id: u64,
) -> Result<Option<Processed>, AppError> {
    let row: Option<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT change_sha256, code, reason FROM processed_mutations \
         WHERE device_id = $1 AND mutation_id = $2",
    )
    .bind(device_id)
    .bind(to_db_id(mutation_id))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(digest, code, reason)| Processed {
        change_sha256: digest.and_then(|d| Sha256Hex::try_from(d).ok()),
        rejection: code.map(|c| (c, reason.unwrap_or_default())),
    }))
}

/// Keeps the mutations a push processed as their digests (and code and
/// reason if refused), never their bodies: a refusal costs a small row.
async fn keep_processed(
    tx: &mut Transaction<'static, Any>,
    device_id: &str,
    processed: &[(u64, Sha256Hex, Outcome)],
    pusher: &str,
    now: i64,
) -> Result<(), AppError> {
    if processed.is_empty() {
        return Ok(());
    }
    // One statement for the batch: 7 parameters a row, 500 rows at most,
    // within SQLite's limit of 32,766 and PostgreSQL's of 65,535. The
    // placeholders are written here, numbered, because sqlx's QueryBuilder
    // writes `?` for the Any driver, which PostgreSQL does not take.
    const COLUMNS: usize = 7;
    let rows = (0..processed.len())
        .map(|row| {
            let first = row * COLUMNS + 1;
            let marks: Vec<String> = (first..first + COLUMNS).map(|n| format!("${n}")).collect();
            format!("({})", marks.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO processed_mutations \
         (device_id, mutation_id, change_sha256, code, reason, pushed_by, received_at) \
         VALUES {rows} ON CONFLICT (device_id, mutation_id) DO NOTHING"
    );
    let mut insert = sqlx::query(&sql);
    for (mutation_id, digest, outcome) in processed {
        let (code, reason) = match outcome {
            Outcome::Rejected { code, reason } => (Some(code.clone()), Some(reason.clone())),
            _ => (None, None),
        };
        insert = insert
            .bind(device_id.to_owned())
            .bind(to_db_id(*mutation_id))
            .bind(digest.as_str().to_owned())
            .bind(code)
            .bind(reason)
            .bind(pusher.to_owned())
            .bind(now);
    }
    insert.execute(&mut **tx).await?;
    Ok(())
}

/// Refuses batches the protocol forbids (rules in haven_core).
fn check_batch(mutations: &[Mutation]) -> Result<(), AppError> {
    server_rules::check_batch(mutations).map_err(|e| match e {
        BatchError::TooLarge { got, max } => AppError::BatchTooLarge { got, max },
        BatchError::IdOutOfRange { .. } => AppError::BadRequest(e.to_string()),
        BatchError::OutOfOrder { .. } => AppError::MutationsOutOfOrder(e.to_string()),
    })
}

fn to_db_id(id: u64) -> i64 {
    // check_batch keeps every id within i64.
    i64::try_from(id).unwrap_or(i64::MAX)
}

fn rejected(code: &str, reason: impl Into<String>) -> Outcome {
    Outcome::Rejected {
        code: code.to_owned(),
        reason: reason.into(),
    }
}

/// The push a mutation belongs to.
/// What one push reads again and again, read once inside its transaction:
/// the policy versions its agreements name, and the ledger's last hash as
/// this transaction left it (nothing else writes while it holds the lock).
#[derive(Default)]
struct PushCache {
    versions: HashMap<Uuid, Option<PolicyVersion>>,
    ledger_head: Option<Sha256Hex>,
}

impl PushCache {
    async fn version(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        id: Uuid,
    ) -> Result<Option<PolicyVersion>, AppError> {
        if let Some(known) = self.versions.get(&id) {
            return Ok(known.clone());
        }
        let found = find_version(&mut **tx, id).await?;
        self.versions.insert(id, found.clone());
        Ok(found)
    }
}

struct Context<'a> {
    /// The device id the push came under.
    device_id: Uuid,
    /// What that id is bound to.
    binding: &'a str,
    mutation_id: u64,
    now: i64,
    caller: &'a Caller,
}

impl Context<'_> {
    /// Why a record made on `record_device` may not come in this push, if it
    /// may not: it must be this device's, or made under an earlier id of this
    /// same device (one that took a new id after finding its old one in use
    /// or behind the server's count), which is bound to the same device.
    async fn device_refusal(
        &self,
        tx: &mut Transaction<'static, Any>,
        what: &str,
        record_device: Uuid,
    ) -> Result<Option<Outcome>, AppError> {
        if record_device == self.device_id {
            return Ok(None);
        }
        let bound: Option<Option<String>> =
            sqlx::query_scalar("SELECT binding FROM devices WHERE device_id = $1")
                .bind(record_device.to_string())
                .fetch_optional(&mut **tx)
                .await?;
        Ok(match bound {
            Some(Some(b)) if b == self.binding => None,
            _ => Some(rejected(
                "device_mismatch",
                format!(
                    "the {what} was made on device {record_device}, which is another device \
                     than {} that sent it",
                    self.device_id
                ),
            )),
        })
    }
}

/// Applies one new mutation, or says why it never can be.
async fn apply_mutation(
    tx: &mut Transaction<'static, Any>,
    ctx: &Context<'_>,
    cache: &mut PushCache,
    mutation: &Mutation,
    opened: &Opened,
) -> Result<Outcome, AppError> {
    match &mutation.change {
        Change::CreateAgreement(record) => create_agreement(tx, ctx, cache, record).await,
        Change::CreateVisit(visit) => create_visit(tx, ctx, visit).await,
        Change::EndVisit(end) => end_visit(tx, ctx, end).await,
        Change::Unreadable(unreadable) => Ok(rejected(
            "unreadable_change",
            format!(
                "the server cannot read this record ({}): it was made by a newer or damaged copy \
                 of the app; update the app on this device (reload the page) and make it again",
                unreadable.reason
            ),
        )),
        Change::CreateIncident(sealed) => {
            let Some(record) = opened.get(&mutation.id) else {
                // Seen as a replay before the transaction, new inside it: a
                // concurrent push moved the count. The device sends it again.
                return Err(AppError::Internal(format!(
                    "incident of mutation {} was not opened",
                    mutation.id
                )));
            };
            let prover = mutation.proof.as_ref().map(|p| p.account);
            create_incident(tx, ctx, sealed, record, prover).await
        }
    }
}

/// Opens the sealed incidents among `mutations`, off the async threads. The
/// key is loaded (or made) only when there is one.
async fn open_incidents<'m>(
    store: &IncidentKeyStore,
    mutations: impl Iterator<Item = &'m Mutation>,
) -> Result<Opened, AppError> {
    let sealed: Vec<(u64, SealedIncident)> = mutations
        .filter_map(|m| match &m.change {
            Change::CreateIncident(s) => Some((m.id, s.clone())),
            _ => None,
        })
        .collect();
    if sealed.is_empty() {
        return Ok(Opened::new());
    }
    let pair = store
        .get()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        sealed
            .into_iter()
            .map(|(id, s)| (id, pair.open(&s)))
            .collect()
    })
    .await
    .map_err(|e| AppError::Internal(format!("opening incidents: {e}")))
}

/// Why `caller` may not log `record`, if they may not: a parent never; a
/// staff session only as themselves, at an academy where they have a role;
/// a shared device only at its own academy, for an active account there.
async fn incident_caller_refusal(
    tx: &mut Transaction<'static, Any>,
    caller: &Caller,
    record: &IncidentRecord,
) -> Result<Option<Outcome>, AppError> {
    let academy = record.academy_id;
    let author = record.reported_by;
    let reason = match caller {
        Caller::Parent(_) => Some("a parent's invitation cannot log incidents".to_owned()),
        Caller::Staff(staff) if staff.user_id != author.to_string() => Some(format!(
            "the incident names staff account {author} as its author, but was sent by another \
            person's session; sign in as the person who logged it and send it again"
        )),
        Caller::Staff(_) if !caller.belongs_to(academy) => Some(format!(
            "the account that sent this has no role at academy {academy}; an incident is logged \
            at an academy where its author works"
        )),
        Caller::Staff(_) => None,
        Caller::Device(_) if !caller.belongs_to(academy) => Some(format!(
            "this device is enrolled at another academy, not {academy}: log the incident on a \
            device of that academy, or from your own session"
        )),
        Caller::Device(_) => {
            (!crate::store::incidents::works_at(&mut **tx, author, academy).await?).then(|| {
                format!(
                    "there is no active staff account {author} with a role at academy \
                    {academy}; the person who logged it must unlock the device with their own \
                    account"
                )
            })
        }
    };
    Ok(reason.map(|r| rejected("not_allowed", r)))
}

/// An incident: opened, checked against the trust's tables in force, then
/// stored once by its id.
async fn create_incident(
    tx: &mut Transaction<'static, Any>,
    ctx: &Context<'_>,
    sealed: &SealedIncident,
    opened: &Result<IncidentRecord, OpenError>,
    prover: Option<Uuid>,
) -> Result<Outcome, AppError> {
    let caller = ctx.caller;
    let record = match opened {
        Ok(record) => record,
        Err(OpenError::UnknownKey { got, ours }) => {
            return Ok(rejected(
                "unknown_key",
                format!(
                    "the incident was sealed for key {got}, which is not this server's incident \
                    key ({ours}): the device should fetch the key again (GET \
                    /api/v1/incidents/key) and send the incident again"
                ),
            ))
        }
        Err(OpenError::CannotDecrypt(why)) => {
            return Ok(rejected(
                "cannot_decrypt",
                format!(
                    "the incident cannot be opened ({why}): it was damaged or altered on the \
                    way; seal it again from the author's copy on the device and send it again"
                ),
            ))
        }
        Err(e @ OpenError::TooLarge(_)) => {
            return Ok(rejected(
                "invalid_incident",
                format!("{e}: remove or shrink attachments"),
            ))
        }
        Err(OpenError::NotARecord(e)) => {
            return Ok(rejected(
                "invalid_incident",
                format!("what was sealed is not an incident record: {e}"),
            ))
        }
    };
    if record.id != sealed.id || record.device_id != sealed.device_id {
        return Ok(rejected(
            "record_mismatch",
            format!(
                "the sealed incident is {} from device {}, but its envelope says {} from device \
                {}; the device must seal each incident under its own ids",
                record.id, record.device_id, sealed.id, sealed.device_id
            ),
        ));
    }
    if let Some(refusal) = ctx.device_refusal(tx, "incident", record.device_id).await? {
        return Ok(refusal);
    }
    // A shared device's proof was checked before the incident was opened;
    // it must be the author's.
    if let (Caller::Device(_), Some(prover)) = (caller, prover) {
        if prover != record.reported_by {
            return Ok(rejected(
                "staff_proof_required",
                staff_proof::ProofError::WrongAccount {
                    named: record.reported_by,
                    prover,
                }
                .to_string(),
            ));
        }
    }
    if !crate::store::org::academy_exists(&mut **tx, record.academy_id).await? {
        return Ok(rejected(
            "unknown_academy",
            format!(
                "there is no academy {} on the server; an incident is logged at one of the \
                trust's academies",
                record.academy_id
            ),
        ));
    }
    if let Some(refusal) = incident_caller_refusal(tx, caller, record).await? {
        return Ok(refusal);
    }
    let tables = crate::store::incidents::tables(&mut **tx).await?;
    if let Err(e) = record.validate_against(&tables) {
        return Ok(rejected("invalid_incident", e.to_string()));
    }
    let inserted = crate::store::incidents::insert(
        tx,
        record,
        to_db_id(ctx.mutation_id),
        ctx.now,
        &caller.identification(),
    )
    .await?;
    Ok(if inserted {
        Outcome::Applied
    } else {
        Outcome::Duplicate
    })
}

/// A parent's invitation signs only what it was made for: the parent/carer
/// agreement for themselves; the pupil agreement, photo consent and BYOD for
/// one of the invitation's children, by name.
async fn invitation_refusal(
    tx: &mut Transaction<'static, Any>,
    invitation_id: &str,
    record: &AgreementRecord,
    version: &haven_core::policy::PolicyVersion,
) -> Result<Option<Outcome>, AppError> {
    use haven_core::agreement::Capacity;
    use haven_core::policy::PolicyKind;
    let children: String =
        sqlx::query_scalar("SELECT children FROM parent_invitations WHERE id = $1")
            .bind(invitation_id)
            .fetch_one(&mut **tx)
            .await?;
    let children: Vec<haven_core::accounts::Child> = serde_json::from_str(&children)
        .map_err(|e| AppError::Internal(format!("stored children: {e}")))?;
    use haven_core::accounts::clean;
    let same = |a: &str, b: &str| clean(a).to_lowercase() == clean(b).to_lowercase();
    let refusal = match (version.kind, &record.capacity) {
        (PolicyKind::ParentAua, Capacity::Myself) => None,
        (
            PolicyKind::PupilAua | PolicyKind::PhotoConsent | PolicyKind::ByodAuthorisation,
            Capacity::OnBehalfOf { child_name, .. },
        ) => (!children.iter().any(|c| same(&c.pupil_name, child_name)))
            .then(|| format!("{child_name} is not one of the children this invitation is for")),
        (
            PolicyKind::PupilAua | PolicyKind::PhotoConsent | PolicyKind::ByodAuthorisation,
            Capacity::Myself,
        ) => Some(format!(
            "\"{}\" is signed for a child: name the child",
            version.title
        )),
        _ => Some(format!(
            "a parent's invitation does not cover \"{}\"",
            version.title
        )),
    };
    Ok(refusal.map(|r| rejected("not_for_this_invitation", r)))
}

/// Whether `caller` may push a record naming the staff account `account`:
/// a staff session only its own; an enrolled device (where staff unlock
/// with their PIN) any active account; a parent none.
async fn account_refusal(
    tx: &mut Transaction<'static, Any>,
    caller: &Caller,
    account: Option<Uuid>,
) -> Result<Option<Outcome>, AppError> {
    let Some(account) = account else {
        return Ok(None);
    };
    let refusal = match caller {
        Caller::Staff(staff) if staff.user_id != account.to_string() => Some(format!(
            "the record names staff account {account}, but was sent by another person's session"
        )),
        Caller::Parent(_) => Some("a parent's invitation cannot sign for a staff account".into()),
        Caller::Device(_) => {
            let active: Option<i64> = sqlx::query_scalar("SELECT active FROM users WHERE id = $1")
                .bind(account.to_string())
                .fetch_optional(&mut **tx)
                .await?;
            (active != Some(1)).then(|| format!("there is no active staff account {account}"))
        }
        Caller::Staff(_) => None,
    };
    Ok(refusal.map(|r| rejected("account_mismatch", r)))
}

async fn create_agreement(
    tx: &mut Transaction<'static, Any>,
    ctx: &Context<'_>,
    cache: &mut PushCache,
    record: &AgreementRecord,
) -> Result<Outcome, AppError> {
    let (caller, now) = (ctx.caller, ctx.now);
    let identified_by = caller.identification();
    if let Err(e) = record.validate() {
        return Ok(rejected("invalid_agreement", e.to_string()));
    }
    if let Some(refusal) = ctx
        .device_refusal(tx, "agreement", record.device_id)
        .await?
    {
        return Ok(refusal);
    }
    let Some(version) = cache.version(tx, record.policy_version_id).await? else {
        return Ok(rejected(
            "unknown_policy_version",
            format!(
                "policy version {} does not exist on the server",
                record.policy_version_id
            ),
        ));
    };
    if !version.kind.is_signable() {
        return Ok(rejected(
            "not_signable",
            format!(
                "\"{}\" is {} ({}): it is read, not signed",
                version.title,
                version.kind.label().to_lowercase(),
                kind_to_str(version.kind)
            ),
        ));
    }
    if let Err(e) = record.validate_against(&version) {
        let code = match e {
            AgreementError::TextMismatch { .. } => "text_mismatch",
            _ => "invalid_agreement",
        };
        return Ok(rejected(code, e.to_string()));
    }

    // The record id is the second guard: the same signature pushed again under a
    // new mutation number is a duplicate, not a second row.
    if let Some(refusal) = account_refusal(tx, caller, record.signer_account).await? {
        return Ok(refusal);
    }
    if let Caller::Parent(parent) = caller {
        if let Some(refusal) =
            invitation_refusal(tx, &parent.invitation_id, record, &version).await?
        {
            return Ok(refusal);
        }
    }

    let digest = record.record_sha256();
    let inserted = sqlx::query(
        "INSERT INTO agreements (id, policy_version_id, policy_text_sha256, signer_name, agreed, \
         signed_at, device_id, mutation_id, received_at, record_json, record_sha256, receipt_code, \
         identified_by, signer_account) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(record.id.to_string())
    .bind(record.policy_version_id.to_string())
    .bind(record.policy_text_sha256.as_str())
    .bind(&record.signer_name)
    .bind(i64::from(record.agreed))
    .bind(record.signed_at)
    .bind(record.device_id.to_string())
    .bind(to_db_id(ctx.mutation_id))
    .bind(now)
    .bind(serde_json::to_string(record).unwrap_or_default())
    .bind(digest.as_str())
    .bind(record.receipt_code())
    .bind(&identified_by)
    .bind(record.signer_account.map(|a| a.to_string()))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        crate::store::ledger::append(
            tx,
            &mut cache.ledger_head,
            record.id,
            &digest,
            now,
            &identified_by,
        )
        .await?;
    }
    Ok(if inserted == 1 {
        Outcome::Applied
    } else {
        Outcome::Duplicate
    })
}

/// Whether `caller` may record visits at `academy`: a device enrolled
/// there, or a staff session with a role there; never a parent.
fn visit_caller_refusal(caller: &Caller, academy: Uuid) -> Option<Outcome> {
    if caller.belongs_to(academy) {
        return None;
    }
    let reason = match caller {
        Caller::Device(_) => format!(
            "this device is enrolled at another academy, not {academy}: visits are recorded on \
             the academy's own reception devices"
        ),
        Caller::Staff(_) => format!(
            "the account that sent this has no role at academy {academy}; sign in as someone \
             who works there, or use that academy's reception device"
        ),
        Caller::Parent(_) => "a parent's invitation cannot record visits".to_owned(),
    };
    Some(rejected("not_allowed", reason))
}

/// A visitor signing in: checked, then stored once by its id.
async fn create_visit(
    tx: &mut Transaction<'static, Any>,
    ctx: &Context<'_>,
    visit: &VisitRecord,
) -> Result<Outcome, AppError> {
    let caller = ctx.caller;
    if let Err(e) = visit.validate() {
        return Ok(rejected("invalid_visit", e.to_string()));
    }
    if let Some(refusal) = ctx.device_refusal(tx, "visit", visit.device_id).await? {
        return Ok(refusal);
    }
    if !crate::store::org::academy_exists(&mut **tx, visit.academy_id).await? {
        return Ok(rejected(
            "unknown_academy",
            format!(
                "there is no academy {} on the server; a visit is recorded at one of the \
                 trust's academies",
                visit.academy_id
            ),
        ));
    }
    if let Some(refusal) = visit_caller_refusal(caller, visit.academy_id) {
        return Ok(refusal);
    }
    if find_version(&mut **tx, visit.agreement_version_id)
        .await?
        .is_none()
    {
        return Ok(rejected(
            "unknown_policy_version",
            format!(
                "the visit names agreement version {}, which does not exist on the server",
                visit.agreement_version_id
            ),
        ));
    }
    // As with agreements, the record id is the second guard: the same
    // sign-in re-sent under a new mutation number is a duplicate.
    let inserted = crate::store::visits::insert_visit(
        tx,
        visit,
        to_db_id(ctx.mutation_id),
        ctx.now,
        &caller.identification(),
    )
    .await?;
    Ok(if inserted {
        Outcome::Applied
    } else {
        Outcome::Duplicate
    })
}

/// A visitor signing out: a new record pointing at the visit. The first end
/// of a visit is kept; another desk signing the same person out later is a
/// duplicate, not an error.
async fn end_visit(
    tx: &mut Transaction<'static, Any>,
    ctx: &Context<'_>,
    end: &VisitEnd,
) -> Result<Outcome, AppError> {
    let (caller, now, mutation_id) = (ctx.caller, ctx.now, ctx.mutation_id);
    if let Err(e) = end.validate() {
        return Ok(rejected("invalid_visit", e.to_string()));
    }
    if let Some(refusal) = ctx.device_refusal(tx, "sign-out", end.device_id).await? {
        return Ok(refusal);
    }
    let Some(visit) = crate::store::visits::find_visit(&mut **tx, end.visit_id).await? else {
        return Ok(rejected(
            "unknown_visit",
            format!(
                "the server has no visit {}: it may not have reached the server yet from the \
                 device it was signed in on; once that device has synced, sign the visitor out \
                 again",
                end.visit_id
            ),
        ));
    };
    if let Some(refusal) = visit_caller_refusal(caller, visit.academy_id) {
        return Ok(refusal);
    }
    // A sign-out earlier than the sign-in means a desk's clock is wrong, not
    // that the visitor did not leave: insert_end keeps it, marked.
    let inserted = crate::store::visits::insert_end(
        tx,
        &visit,
        end,
        to_db_id(mutation_id),
        now,
        &caller.identification(),
    )
    .await?;
    Ok(if inserted {
        Outcome::Applied
    } else {
        Outcome::Duplicate
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use haven_core::hash::Sha256Hex;
    use haven_core::sync::wire::MAX_BATCH;

    fn mutation(id: u64) -> Mutation {
        Mutation::new(
            id,
            Change::CreateAgreement(AgreementRecord {
                id: Uuid::from_u128(u128::from(id)),
                policy_version_id: Uuid::from_u128(1),
                policy_text_sha256: Sha256Hex::of(b"x"),
                signer_name: "Ada".into(),
                agreed: true,
                signed_at: 1_790_000_000_000,
                device_id: Uuid::from_u128(2),
                ..Default::default()
            }),
        )
    }

    #[test]
    fn consecutive_ids_are_a_valid_batch_and_a_gap_is_not() {
        assert!(check_batch(&[mutation(1), mutation(2), mutation(3)]).is_ok());
        assert!(check_batch(&[]).is_ok());
        assert!(matches!(
            check_batch(&[mutation(1), mutation(2), mutation(5)]),
            Err(AppError::MutationsOutOfOrder(_))
        ));
    }

    #[test]
    fn repeated_decreasing_and_zero_ids_are_refused() {
        assert!(matches!(
            check_batch(&[mutation(2), mutation(2)]),
            Err(AppError::MutationsOutOfOrder(_))
        ));
        assert!(matches!(
            check_batch(&[mutation(3), mutation(1)]),
            Err(AppError::MutationsOutOfOrder(_))
        ));
        assert!(matches!(
            check_batch(&[mutation(0)]),
            Err(AppError::BadRequest(_))
        ));
        assert!(matches!(
            check_batch(&[mutation(u64::MAX)]),
            Err(AppError::BadRequest(_))
        ));
    }

    #[test]
    fn a_batch_over_the_limit_is_refused() {
        let batch: Vec<_> = (1..=MAX_BATCH as u64 + 1).map(mutation).collect();
        assert!(matches!(
            check_batch(&batch),
            Err(AppError::BatchTooLarge { .. })
        ));
    }
}
