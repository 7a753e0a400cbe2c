//! Signed agreements on the device, written together with their outbox
//! entry, and what an enrolled device keeps of them once the server has them
//! (a stub: see [`AgreementStub`]).

use super::meta::{DeviceInfo, DEVICE_KEY};
use super::to_js;
use super::{durable, from_js, read_err, Db, DbError, AGREEMENTS, META, OUTBOX};
use haven_core::agreement::AgreementRecord;
use haven_core::hash::Sha256Hex;
use haven_core::sync::outbox::{EntryState, OutboxEntry};
use haven_core::sync::wire::{Change, Mutation, StaffProof};
use haven_core::visit::Recognisable;
use haven_core::Millis;
use rexie::TransactionMode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wasm_bindgen::JsValue;

/// Where a stored agreement is on its way to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncState {
    /// Saved on this device, waiting for the server.
    Pending,
    /// The server has it.
    Synced,
    /// The server refused it; kept here with the reason.
    Rejected { code: String, reason: String },
}

/// An agreement as signed, kept whole: until the server has it on every
/// device, and for good on a device that is not enrolled (a parent's phone,
/// a member of staff's own computer), which shows its owner what they signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAgreement {
    pub record: AgreementRecord,
    pub mutation_id: u64,
    pub sync: SyncState,
    /// A visitor's agreement signed at a reception desk: what recognises
    /// them when they come back ([`haven_core::visit::returning_digest`] of
    /// their name and organisation), kept into the stub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returning: Option<Sha256Hex>,
}

/// What an enrolled device (a reception kiosk or a shared tablet) keeps of
/// an agreement once the server has acknowledged it: written in the same
/// transaction as the acknowledgement, in place of the whole record. No
/// signer name, child, job title, answers or signature: the ids, the
/// version, the record's digest and receipt code, whether it was agreed,
/// and times. The server holds the record; the device needs only to know it
/// was sent (and, at reception, to recognise a returning visitor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementStub {
    pub record: StubRecord,
    pub mutation_id: u64,
    /// Always [`SyncState::Synced`]: only what the server has is stubbed.
    pub sync: SyncState,
    /// The whole record's digest, as the ledger has it.
    pub record_sha256: Sha256Hex,
    /// What the signer's receipt says (checkable at `/verify/CODE`, which
    /// shows initials, never the name).
    pub receipt_code: String,
    /// Device clock when the record was cut down to this.
    pub stubbed_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returning: Option<Sha256Hex>,
    /// Device clock at the end of the last visit here this agreement
    /// covered, once that visit left the device: a reception desk recognises
    /// the visitor for the academy's days from then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_visit_ended_at: Option<Millis>,
}

/// The part of an [`AgreementRecord`] a stub keeps, under the same key path
/// (`record.id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StubRecord {
    pub id: Uuid,
    pub policy_version_id: Uuid,
    pub agreed: bool,
    pub signed_at: Millis,
    pub device_id: Uuid,
}

impl AgreementStub {
    /// Cuts `stored` down to its stub at device time `now`.
    pub fn of(stored: &StoredAgreement, now: Millis) -> AgreementStub {
        let r = &stored.record;
        let record_sha256 = r.record_sha256();
        AgreementStub {
            record: StubRecord {
                id: r.id,
                policy_version_id: r.policy_version_id,
                agreed: r.agreed,
                signed_at: r.signed_at,
                device_id: r.device_id,
            },
            mutation_id: stored.mutation_id,
            sync: SyncState::Synced,
            receipt_code: haven_core::agreement::receipt_code_of(&record_sha256),
            record_sha256,
            stubbed_at: now,
            returning: stored.returning.clone(),
            last_visit_ended_at: None,
        }
    }

    /// When the visitor it covers was last here: the end of their last
    /// visit, or when they signed.
    pub fn last_seen(&self) -> Millis {
        self.last_visit_ended_at
            .map_or(self.record.signed_at, |ended| {
                ended.max(self.record.signed_at)
            })
    }
}

/// One value of the agreements store: the whole record or its stub.
///
/// Read with [`Kept::from_js`], not serde's `untagged`: that tries the
/// whole record first and builds a JavaScript `Error` for every stub it
/// fails on, which made reading a kiosk's ten thousand stubs take half a
/// second. Each kind is written as itself, never as a `Kept`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kept {
    Whole(StoredAgreement),
    Stub(AgreementStub),
}

/// Whether a stored agreement is a stub: only a stub has `stubbed_at`.
pub(crate) fn is_stub(value: &JsValue) -> bool {
    js_sys::Reflect::has(value, &JsValue::from_str("stubbed_at")).unwrap_or(false)
}

/// A stored agreement's `returning` digest, read without decoding the rest.
pub(crate) fn returning_of(value: &JsValue) -> Result<Option<Sha256Hex>, DbError> {
    match js_sys::Reflect::get(value, &JsValue::from_str("returning"))
        .ok()
        .and_then(|v| v.as_string())
    {
        Some(hex) => Sha256Hex::try_from(hex)
            .map(Some)
            .map_err(|e| DbError::Decode(e.to_string())),
        None => Ok(None),
    }
}

/// A stored agreement's record id (its key), as text.
pub(crate) fn record_id_of(value: &JsValue) -> Option<String> {
    let record = js_sys::Reflect::get(value, &JsValue::from_str("record")).ok()?;
    js_sys::Reflect::get(&record, &JsValue::from_str("id"))
        .ok()?
        .as_string()
}

impl Kept {
    /// Decodes a stored value as the kind it is: only a stub has `stubbed_at`.
    pub fn from_js(value: JsValue) -> Result<Kept, DbError> {
        if is_stub(&value) {
            from_js(value).map(Kept::Stub)
        } else {
            from_js(value).map(Kept::Whole)
        }
    }

    /// What recognises a returning visitor by this agreement, if anything.
    pub fn recognisable(&self) -> Option<Recognisable> {
        let (id, version, agreed, signed_at, person) = match self {
            Kept::Whole(a) => (
                a.record.id,
                a.record.policy_version_id,
                a.record.agreed,
                a.record.signed_at,
                a.returning.as_ref()?,
            ),
            Kept::Stub(s) => (
                s.record.id,
                s.record.policy_version_id,
                s.record.agreed,
                s.record.signed_at,
                s.returning.as_ref()?,
            ),
        };
        Some(Recognisable {
            agreement_id: id,
            policy_version_id: version,
            agreed,
            signed_at,
            person: person.clone(),
        })
    }
}

impl Db {
    /// Saves a signature and its outbox entry in one IndexedDB transaction:
    /// either both are stored or neither is. Returns the mutation number.
    pub async fn record_signature(&self, record: &AgreementRecord) -> Result<u64, DbError> {
        self.record_staff_signature(record, None).await
    }

    /// As [`record_signature`](Self::record_signature), for an agreement a
    /// member of staff signed as themselves: its outbox entry carries the
    /// proof they made while unlocked here (`lock::proof_for`).
    pub async fn record_staff_signature(
        &self,
        record: &AgreementRecord,
        proof: Option<StaffProof>,
    ) -> Result<u64, DbError> {
        let mut item = Append::agreement(record)?;
        item.proof = proof;
        let ids = self.append(vec![item]).await?;
        Ok(ids[0])
    }

    /// Adds records and queues their changes, numbered in order, in one
    /// strict-durability transaction with the device's mutation counter: all
    /// of them are stored or none is. Returns the mutation numbers given.
    pub(crate) async fn append(&self, items: Vec<Append>) -> Result<Vec<u64>, DbError> {
        let mut stores: Vec<&str> = Vec::new();
        for item in &items {
            if !stores.contains(&item.store) {
                stores.push(item.store);
            }
        }
        stores.extend([OUTBOX, META]);
        let tx = durable::strict_transaction(&self.raw, &stores)?;
        let store = |name| {
            tx.object_store(name)
                .map_err(|e| DbError::Write(format!("{e:?}")))
        };
        let meta = store(META)?;
        let device_key = JsValue::from_str(DEVICE_KEY);
        let current = meta
            .get(&device_key)
            .map_err(|e| DbError::Write(format!("{e:?}")))?;
        let mut device = match durable::settle_request(&current).await? {
            v if v.is_undefined() => DeviceInfo::new(crate::clock::new_id()),
            v => from_js(v)?,
        };
        // A request can also fail as it is made (a full disk, say): abort so
        // nothing of this transaction is kept, and say what happened.
        let write_failed = |e: JsValue| {
            let _ = tx.abort();
            durable::classify(&e)
        };
        let mut ids = Vec::with_capacity(items.len());
        for item in items {
            let mutation_id = device.next_mutation_id;
            device.next_mutation_id += 1;
            let entry = OutboxEntry {
                mutation: Mutation {
                    proof: item.proof,
                    id: mutation_id,
                    change: item.change,
                },
                state: EntryState::Pending,
                queued_at: crate::clock::now_ms(),
            };
            let value = (item.value)(mutation_id)?;
            // `add` for a new record, never overwriting one; `put` to record
            // an end on a visit already here. Any failure aborts the
            // transaction, so every write lands together or none does.
            let objects = store(item.store)?;
            if item.replace {
                objects.put(&value).map_err(write_failed)?;
            } else {
                objects.add(&value).map_err(write_failed)?;
            }
            store(OUTBOX)?.add(&to_js(&entry)?).map_err(write_failed)?;
            ids.push(mutation_id);
        }
        meta.put_with_key(&to_js(&device)?, &device_key)
            .map_err(write_failed)?;
        durable::committed(&tx).await?;
        Ok(ids)
    }

    /// Every agreement this device keeps whole, oldest first: all of them
    /// on a device that is not enrolled; on an enrolled one, those the
    /// server does not have yet (or refused). See [`Db::agreement_stubs`].
    pub async fn agreements(&self) -> Result<Vec<StoredAgreement>, DbError> {
        let mut all: Vec<StoredAgreement> = self
            .kept_agreements()
            .await?
            .into_iter()
            .filter_map(|k| match k {
                Kept::Whole(a) => Some(a),
                Kept::Stub(_) => None,
            })
            .collect();
        all.sort_by_key(|a| a.mutation_id);
        Ok(all)
    }

    /// The stubs an enrolled device keeps of agreements the server has,
    /// oldest first.
    pub async fn agreement_stubs(&self) -> Result<Vec<AgreementStub>, DbError> {
        let mut all: Vec<AgreementStub> = self
            .kept_agreements()
            .await?
            .into_iter()
            .filter_map(|k| match k {
                Kept::Stub(s) => Some(s),
                Kept::Whole(_) => None,
            })
            .collect();
        all.sort_by_key(|a| a.mutation_id);
        Ok(all)
    }

    /// What a reception desk knows returning visitors by: the key their
    /// digests are made with, and every agreement signed here that carries
    /// one, whole or stub.
    pub async fn returning_visitors(&self) -> Result<(Vec<u8>, Vec<Recognisable>), DbError> {
        let key = self.visitor_key().await?;
        let kept = self
            .kept_agreements()
            .await?
            .iter()
            .filter_map(Kept::recognisable)
            .collect();
        Ok((key, kept))
    }

    pub(crate) async fn kept_agreements(&self) -> Result<Vec<Kept>, DbError> {
        let tx = self.tx(&[AGREEMENTS], TransactionMode::ReadOnly)?;
        let values = tx
            .store(AGREEMENTS)
            .map_err(read_err)?
            .get_all(None, None)
            .await
            .map_err(read_err)?;
        values.into_iter().map(Kept::from_js).collect()
    }
}

/// One record for [`Db::append`]: where it goes, the stored value (given its
/// mutation number), and the change the server will receive.
pub(crate) struct Append {
    pub store: &'static str,
    pub value: Box<dyn FnOnce(u64) -> Result<JsValue, DbError>>,
    pub change: Change,
    /// Overwrite a record already stored under the same key.
    pub replace: bool,
    /// For a staff record: proof the person was unlocked here when it was
    /// made (`haven_core::sync::staff_proof`).
    pub proof: Option<StaffProof>,
}

impl Append {
    pub fn agreement(record: &AgreementRecord) -> Result<Append, DbError> {
        Append::agreement_recognised_by(record, None)
    }

    /// A visitor's agreement, with the digest a returning visitor is known by.
    pub fn agreement_recognised_by(
        record: &AgreementRecord,
        returning: Option<Sha256Hex>,
    ) -> Result<Append, DbError> {
        let record = record.clone();
        Ok(Append {
            store: AGREEMENTS,
            change: Change::CreateAgreement(record.clone()),
            replace: false,
            proof: None,
            value: Box::new(move |mutation_id| {
                to_js(&StoredAgreement {
                    record,
                    mutation_id,
                    sync: SyncState::Pending,
                    returning,
                })
            }),
        })
    }
}
