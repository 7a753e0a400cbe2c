//! Signed agreements on the device, written together with their outbox entry.

use super::meta::{DeviceInfo, DEVICE_KEY};
use super::to_js;
use super::{durable, from_js, read_err, Db, DbError, AGREEMENTS, META, OUTBOX};
use haven_core::agreement::AgreementRecord;
use haven_core::sync::outbox::{EntryState, OutboxEntry};
use haven_core::sync::wire::{Change, Mutation, StaffProof};
use rexie::TransactionMode;
use serde::{Deserialize, Serialize};
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAgreement {
    pub record: AgreementRecord,
    pub mutation_id: u64,
    pub sync: SyncState,
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

    /// Every agreement on this device, oldest first.
    pub async fn agreements(&self) -> Result<Vec<StoredAgreement>, DbError> {
        let tx = self.tx(&[AGREEMENTS], TransactionMode::ReadOnly)?;
        let values = tx
            .store(AGREEMENTS)
            .map_err(read_err)?
            .get_all(None, None)
            .await;
        let mut all: Vec<StoredAgreement> = values
            .map_err(read_err)?
            .into_iter()
            .map(from_js)
            .collect::<Result<_, _>>()?;
        all.sort_by_key(|a| a.mutation_id);
        Ok(all)
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
                })
            }),
        })
    }
}
