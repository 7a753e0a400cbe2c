//! Applying a device's push: idempotent, in one transaction per batch.
//!
//! Replicache's rule: each device numbers its mutations 1, 2, 3, ...; the server
//! keeps the highest number it has processed for that device and writes it in
//! the same transaction as the mutations' effects. A mutation at or below that
//! number was processed before and is answered `Duplicate` with no effect. A
//! mutation that can never be applied is answered `Rejected`, stored with its
//! reason and still counted as processed, so the device's queue moves on.

use crate::auth::Caller;
use crate::db::begin_write;
use crate::error::AppError;
use crate::incident_key::{IncidentKeyStore, OpenError};
use crate::policies::{find_version, kind_to_str};
use haven_core::agreement::{AgreementError, AgreementRecord};
use haven_core::incident::{IncidentRecord, SealedIncident};
use haven_core::sync::server_rules::{
    self, advance, classify, replay_outcome, BatchError, Classification,
};
use haven_core::sync::wire::{
    Change, Mutation, MutationResult, Outcome, PushRequest, PushResponse,
};
use haven_core::visit::{VisitEnd, VisitError, VisitRecord};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::collections::HashMap;
use uuid::Uuid;

/// Sealed incidents of a push, opened before its transaction starts (RSA
/// is slow next to SQLite's write lock), by mutation id.
type Opened = HashMap<u64, Result<IncidentRecord, OpenError>>;

/// Applies a whole push at server time `now` and says what became of each mutation.
/// `caller` is who pushed: how they were identified is kept with each
/// agreement, visit and end (and in an agreement's ledger entry), bounds the
/// staff account a record may name and the academy a visit may be recorded at.
/// Sealed incidents are opened with `incident_key` (made on first need).
pub async fn apply_push(
    pool: &SqlitePool,
    request: &PushRequest,
    now: i64,
    caller: &Caller,
    incident_key: &IncidentKeyStore,
) -> Result<PushResponse, AppError> {
    check_batch(&request.mutations)?;
    let device_id = request.device_id.to_string();
    let opened = open_incidents(incident_key, &request.mutations).await?;

    let mut tx = begin_write(pool).await?;
    let stored: Option<i64> =
        sqlx::query_scalar("SELECT last_mutation_id FROM devices WHERE device_id = ?")
            .bind(&device_id)
            .fetch_optional(&mut *tx)
            .await?;
    let mut last = stored.map_or(0, |n| u64::try_from(n).unwrap_or(0));

    let mut results = Vec::with_capacity(request.mutations.len());
    for mutation in &request.mutations {
        let outcome = match classify(last, mutation.id) {
            // A replay gets the answer the first attempt got: a rejection stays
            // a rejection, or a device whose reply was lost would drop the record.
            Classification::Replay => {
                replay_outcome(earlier_rejection(&mut tx, &device_id, mutation.id).await?)
            }
            Classification::New => {
                let outcome =
                    apply_mutation(&mut tx, request.device_id, mutation, now, caller, &opened)
                        .await?;
                if let Outcome::Rejected { code, reason } = &outcome {
                    store_rejection(&mut tx, request.device_id, mutation, code, reason, now)
                        .await?;
                }
                last = advance(last, mutation.id);
                outcome
            }
        };
        results.push(MutationResult {
            id: mutation.id,
            outcome,
        });
    }

    sqlx::query(
        "INSERT INTO devices (device_id, last_mutation_id, last_seen_at, reported_backlog) \
         VALUES (?, ?, ?, ?) \
         ON CONFLICT (device_id) DO UPDATE SET \
         last_mutation_id = excluded.last_mutation_id, last_seen_at = excluded.last_seen_at, \
         reported_backlog = excluded.reported_backlog",
    )
    .bind(&device_id)
    .bind(to_db_id(last))
    .bind(now)
    // What is still waiting once this batch is in.
    .bind(to_db_id(
        request
            .backlog
            .saturating_sub(request.mutations.len() as u64),
    ))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    Ok(PushResponse {
        last_mutation_id: last,
        results,
    })
}

/// Refuses batches the protocol forbids (rules in haven_core).
fn check_batch(mutations: &[Mutation]) -> Result<(), AppError> {
    server_rules::check_batch(mutations).map_err(|e| match e {
        BatchError::TooLarge { got, max } => AppError::BatchTooLarge { got, max },
        BatchError::IdOutOfRange { .. } => AppError::BadRequest(e.to_string()),
        BatchError::OutOfOrder { .. } => AppError::MutationsOutOfOrder(e.to_string()),
    })
}

/// The code and reason a mutation was refused with, if it was.
async fn earlier_rejection(
    tx: &mut Transaction<'static, Sqlite>,
    device_id: &str,
    mutation_id: u64,
) -> Result<Option<(String, String)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT code, reason FROM rejected_mutations WHERE device_id = ? AND mutation_id = ?",
    )
    .bind(device_id)
    .bind(to_db_id(mutation_id))
    .fetch_optional(&mut **tx)
    .await?)
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

/// Applies one new mutation, or says why it never can be.
async fn apply_mutation(
    tx: &mut Transaction<'static, Sqlite>,
    device_id: Uuid,
    mutation: &Mutation,
    now: i64,
    caller: &Caller,
    opened: &Opened,
) -> Result<Outcome, AppError> {
    match &mutation.change {
        Change::CreateAgreement(record) => {
            create_agreement(tx, device_id, mutation.id, record, now, caller).await
        }
        Change::CreateVisit(visit) => {
            create_visit(tx, device_id, mutation.id, visit, now, caller).await
        }
        Change::EndVisit(end) => end_visit(tx, device_id, mutation.id, end, now, caller).await,
        Change::CreateIncident(sealed) => {
            let Some(record) = opened.get(&mutation.id) else {
                return Err(AppError::Internal(format!(
                    "incident of mutation {} was not opened",
                    mutation.id
                )));
            };
            create_incident(tx, device_id, mutation.id, sealed, record, now, caller).await
        }
    }
}

/// Opens every sealed incident of `mutations`, off the async threads. The
/// key is loaded (or made) only when there is one.
async fn open_incidents(
    store: &IncidentKeyStore,
    mutations: &[Mutation],
) -> Result<Opened, AppError> {
    let sealed: Vec<(u64, SealedIncident)> = mutations
        .iter()
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
    tx: &mut Transaction<'static, Sqlite>,
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
            (!crate::incidents::works_at(&mut **tx, author, academy).await?).then(|| {
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
    tx: &mut Transaction<'static, Sqlite>,
    device_id: Uuid,
    mutation_id: u64,
    sealed: &SealedIncident,
    opened: &Result<IncidentRecord, OpenError>,
    now: i64,
    caller: &Caller,
) -> Result<Outcome, AppError> {
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
    if record.device_id != device_id {
        return Ok(rejected(
            "record_mismatch",
            format!(
                "the incident was logged on device {} but pushed by device {device_id}",
                record.device_id
            ),
        ));
    }
    if !crate::org::academy_exists(&mut **tx, record.academy_id).await? {
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
    let tables = crate::incidents::tables(&mut **tx).await?;
    if let Err(e) = record.validate_against(&tables) {
        return Ok(rejected("invalid_incident", e.to_string()));
    }
    let inserted = crate::incidents::insert(
        tx,
        record,
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

/// A parent's invitation signs only what it was made for: the parent/carer
/// agreement for themselves; the pupil agreement, photo consent and BYOD for
/// one of the invitation's children, by name.
async fn invitation_refusal(
    tx: &mut Transaction<'static, Sqlite>,
    invitation_id: &str,
    record: &AgreementRecord,
    version: &haven_core::policy::PolicyVersion,
) -> Result<Option<Outcome>, AppError> {
    use haven_core::agreement::Capacity;
    use haven_core::policy::PolicyKind;
    let children: String =
        sqlx::query_scalar("SELECT children FROM parent_invitations WHERE id = ?")
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
    tx: &mut Transaction<'static, Sqlite>,
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
            let active: Option<bool> = sqlx::query_scalar("SELECT active FROM users WHERE id = ?")
                .bind(account.to_string())
                .fetch_optional(&mut **tx)
                .await?;
            (active != Some(true)).then(|| format!("there is no active staff account {account}"))
        }
        Caller::Staff(_) => None,
    };
    Ok(refusal.map(|r| rejected("account_mismatch", r)))
}

async fn create_agreement(
    tx: &mut Transaction<'static, Sqlite>,
    device_id: Uuid,
    mutation_id: u64,
    record: &AgreementRecord,
    now: i64,
    caller: &Caller,
) -> Result<Outcome, AppError> {
    let identified_by = caller.identification();
    if let Err(e) = record.validate() {
        return Ok(rejected("invalid_agreement", e.to_string()));
    }
    if record.device_id != device_id {
        return Ok(rejected(
            "device_mismatch",
            format!(
                "the agreement was made on device {} but pushed by device {device_id}",
                record.device_id
            ),
        ));
    }
    let Some(version) = find_version(&mut **tx, record.policy_version_id).await? else {
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
         identified_by, signer_account) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(record.id.to_string())
    .bind(record.policy_version_id.to_string())
    .bind(record.policy_text_sha256.as_str())
    .bind(&record.signer_name)
    .bind(record.agreed)
    .bind(record.signed_at)
    .bind(record.device_id.to_string())
    .bind(to_db_id(mutation_id))
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
        crate::ledger::append(tx, record.id, &digest, now, &identified_by).await?;
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
    tx: &mut Transaction<'static, Sqlite>,
    device_id: Uuid,
    mutation_id: u64,
    visit: &VisitRecord,
    now: i64,
    caller: &Caller,
) -> Result<Outcome, AppError> {
    if let Err(e) = visit.validate() {
        return Ok(rejected("invalid_visit", e.to_string()));
    }
    if visit.device_id != device_id {
        return Ok(rejected(
            "device_mismatch",
            format!(
                "the visit was recorded on device {} but pushed by device {device_id}",
                visit.device_id
            ),
        ));
    }
    if !crate::org::academy_exists(&mut **tx, visit.academy_id).await? {
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
    let inserted = crate::visits::insert_visit(
        tx,
        visit,
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

/// A visitor signing out: a new record pointing at the visit. The first end
/// of a visit is kept; another desk signing the same person out later is a
/// duplicate, not an error.
async fn end_visit(
    tx: &mut Transaction<'static, Sqlite>,
    device_id: Uuid,
    mutation_id: u64,
    end: &VisitEnd,
    now: i64,
    caller: &Caller,
) -> Result<Outcome, AppError> {
    if let Err(e) = end.validate() {
        return Ok(rejected("invalid_visit", e.to_string()));
    }
    if end.device_id != device_id {
        return Ok(rejected(
            "device_mismatch",
            format!(
                "the sign-out was recorded on device {} but pushed by device {device_id}",
                end.device_id
            ),
        ));
    }
    let Some(visit) = crate::visits::find_visit(&mut **tx, end.visit_id).await? else {
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
    if end.signed_out_at < visit.signed_in_at {
        return Ok(rejected(
            "invalid_visit",
            VisitError::EndsBeforeStart.to_string(),
        ));
    }
    let inserted = crate::visits::insert_end(
        tx,
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

async fn store_rejection(
    tx: &mut Transaction<'static, Sqlite>,
    device_id: Uuid,
    mutation: &Mutation,
    code: &str,
    reason: &str,
    now: i64,
) -> Result<(), AppError> {
    let payload = serde_json::to_string(mutation)
        .map_err(|e| AppError::Internal(format!("cannot serialise a mutation: {e}")))?;
    sqlx::query(
        "INSERT INTO rejected_mutations (device_id, mutation_id, code, reason, received_at, payload) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, mutation_id) DO NOTHING",
    )
    .bind(device_id.to_string())
    .bind(to_db_id(mutation.id))
    .bind(code)
    .bind(reason)
    .bind(now)
    .bind(payload)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use haven_core::hash::Sha256Hex;
    use haven_core::sync::wire::MAX_BATCH;

    fn mutation(id: u64) -> Mutation {
        Mutation {
            id,
            change: Change::CreateAgreement(AgreementRecord {
                id: Uuid::from_u128(u128::from(id)),
                policy_version_id: Uuid::from_u128(1),
                policy_text_sha256: Sha256Hex::of(b"x"),
                signer_name: "Ada".into(),
                agreed: true,
                signed_at: 1_790_000_000_000,
                device_id: Uuid::from_u128(2),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn increasing_ids_with_gaps_are_a_valid_batch() {
        assert!(check_batch(&[mutation(1), mutation(2), mutation(5)]).is_ok());
        assert!(check_batch(&[]).is_ok());
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
