//! The outbox: changes waiting for the server. Entries leave it only when the
//! server has acknowledged them.

use super::{
    commit, commit_if, from_js, read_err, to_js, write_err, Db, DbError, AGREEMENTS, INCIDENTS,
    META, OUTBOX, REFERENCE, VISITS,
};
use super::{AgreementStub, StoredAgreement, SyncState};
use futures::future::try_join_all;
use haven_core::sync::outbox::{EntryState, OutboxEntry, Settlement};
use haven_core::sync::wire::{Change, Mutation};
use rexie::TransactionMode;
use std::collections::{HashMap, HashSet};
use wasm_bindgen::JsValue;

impl Db {
    /// Every entry, pending and rejected.
    pub async fn outbox(&self) -> Result<Vec<OutboxEntry>, DbError> {
        self.outbox_head(None).await
    }

    /// The oldest `limit` entries (all if `None`), in mutation order: what the
    /// next push needs, without decoding a large backlog for every batch.
    pub async fn outbox_head(&self, limit: Option<u32>) -> Result<Vec<OutboxEntry>, DbError> {
        let tx = self.tx(&[OUTBOX], TransactionMode::ReadOnly)?;
        let values = tx
            .store(OUTBOX)
            .map_err(read_err)?
            .get_all(None, limit)
            .await;
        values.map_err(read_err)?.into_iter().map(from_js).collect()
    }

    /// How many entries there are, pending and rejected, without reading them.
    pub async fn outbox_len(&self) -> Result<usize, DbError> {
        let tx = self.tx(&[OUTBOX], TransactionMode::ReadOnly)?;
        let n = tx
            .store(OUTBOX)
            .map_err(read_err)?
            .count(None)
            .await
            .map_err(read_err)?;
        Ok(n as usize)
    }

    /// How many changes are waiting to be sent.
    pub async fn pending_count(&self) -> Result<usize, DbError> {
        let entries = self.outbox().await?;
        Ok(entries
            .iter()
            .filter(|e| e.state == EntryState::Pending)
            .count())
    }

    /// Applies a push reply: acknowledged entries leave the outbox and their
    /// records show as synced; rejected ones stay, with the reason, in one
    /// transaction so the stores never disagree. `sent` is the pushed
    /// batch, which names the records without reading the outbox back.
    ///
    /// In the same transaction, what the server now has and this device no
    /// longer needs goes: on an enrolled device (a reception kiosk or a
    /// shared tablet) an acknowledged agreement is kept only as its stub
    /// ([`AgreementStub`]); a visit that has ended and reached the server
    /// whole is deleted, and taken out of the kept reception snapshot.
    pub async fn settle(&self, settlement: &Settlement, sent: &[Mutation]) -> Result<(), DbError> {
        let tx = self.tx(
            &[OUTBOX, AGREEMENTS, VISITS, INCIDENTS, META, REFERENCE],
            TransactionMode::ReadWrite,
        )?;
        let work = Db::settle_in(&tx, settlement, sent).await;
        commit_if(tx, work).await
    }

    async fn settle_in(
        tx: &rexie::Transaction,
        settlement: &Settlement,
        sent: &[Mutation],
    ) -> Result<(), DbError> {
        let outbox = tx.store(OUTBOX).map_err(read_err)?;
        let agreements = tx.store(AGREEMENTS).map_err(read_err)?;
        let visits = tx.store(VISITS).map_err(read_err)?;
        let incidents = tx.store(INCIDENTS).map_err(read_err)?;
        let meta = tx.store(META).map_err(read_err)?;
        let reference = tx.store(REFERENCE).map_err(read_err)?;
        let stub_synced = Db::enrolled_in(&meta).await?;
        let now = crate::clock::now_ms();
        let updates: Vec<(&Mutation, SyncState)> = settlement
            .acknowledged
            .iter()
            .map(|&id| (id, SyncState::Synced))
            .chain(settlement.rejected.iter().map(|(id, code, reason)| {
                (
                    *id,
                    SyncState::Rejected {
                        code: code.clone(),
                        reason: reason.clone(),
                    },
                )
            }))
            .filter_map(|(id, state)| sent.iter().find(|m| m.id == id).map(|m| (m, state)))
            .collect();
        // Visits are few next to agreements (one desk, one person at a time):
        // settled one by one. Those that left, by id, and when each
        // agreement's last one ended.
        let mut gone = HashSet::new();
        let mut ended: HashMap<uuid::Uuid, haven_core::Millis> = HashMap::new();
        for (mutation, state) in &updates {
            if let Some(left) = Db::settle_visit(&visits, &mutation.change, state.clone()).await? {
                gone.insert(left.record.id);
                if let Some(end) = &left.end {
                    let at = ended
                        .entry(left.record.agreement_id)
                        .or_insert(end.signed_out_at);
                    *at = (*at).max(end.signed_out_at);
                }
            }
            Db::settle_incident(&incidents, &mutation.change, state.clone()).await?;
        }
        Db::drop_from_snapshot(&reference, &gone).await?;

        // Issue every read at once, then every write: IndexedDB runs them in
        // order within the transaction, and one round trip per step is far
        // cheaper than one per entry.
        // A key no agreement has (a visit's) reads back as nothing.
        let record_keys = updates.iter().map(|(m, _)| match &m.change {
            Change::CreateAgreement(record) => JsValue::from_str(&record.id.to_string()),
            _ => JsValue::from_str(""),
        });
        let stored = try_join_all(record_keys.map(|k| agreements.get(k)))
            .await
            .map_err(read_err)?;

        let mut writes = Vec::with_capacity(updates.len() * 2);
        let mut values = Vec::with_capacity(updates.len() * 2);
        let mut written = HashSet::new();
        for ((mutation, state), agreement) in updates.iter().zip(stored) {
            // A stub is already at the server; only a whole record changes.
            let whole = agreement
                .filter(|v| !v.is_undefined())
                .map(super::agreements::Kept::from_js)
                .transpose()?;
            if let Some(super::agreements::Kept::Whole(mut agreement)) = whole {
                agreement.sync = state.clone();
                written.insert(agreement.record.id);
                if stub_synced && agreement.sync == SyncState::Synced {
                    let mut stub = AgreementStub::of(&agreement, now);
                    stub.last_visit_ended_at = ended.get(&agreement.record.id).copied();
                    values.push((true, to_js(&stub)?));
                } else {
                    values.push((true, to_js(&agreement)?));
                }
            }
            let key = JsValue::from_f64(mutation.id as f64);
            match state {
                SyncState::Rejected { code, reason } => {
                    let entry = OutboxEntry {
                        mutation: (*mutation).clone(),
                        state: EntryState::Rejected {
                            code: code.clone(),
                            reason: reason.clone(),
                        },
                        queued_at: crate::clock::now_ms(),
                    };
                    values.push((false, to_js(&entry)?));
                }
                _ => writes.push(outbox.delete(key)),
            }
        }
        let puts = values.iter().map(|(is_agreement, v)| {
            if *is_agreement {
                agreements.put(v, None)
            } else {
                outbox.put(v, None)
            }
        });
        let (deleted, put) = futures::join!(try_join_all(writes), try_join_all(puts));
        deleted.map_err(write_err)?;
        put.map_err(write_err)?;
        // Stubs of agreements from an earlier push whose visit has now left.
        if stub_synced {
            Db::note_visits_ended(&agreements, &ended, &written).await?;
        }
        Ok(())
    }
}

/// Refused entries are moved to keys from here when the device takes a new
/// id: they keep their state and reason but no longer hold numbers in the new
/// count (1, 2, 3, …), which the server needs without gaps. Far above any
/// count a device reaches, and below 2^53, where a JavaScript number still
/// holds an integer exactly.
pub const REFUSED_KEYS_FROM: u64 = 1 << 52;

const IDENTITY_NOTICE_KEY: &str = "identity_notice";

/// That this device took a new id, for the sync page to say so.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdentityNotice {
    pub at: haven_core::Millis,
    pub previous: uuid::Uuid,
    pub device_id: uuid::Uuid,
}

/// What [`Db::take_new_device_id`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeviceId {
    pub previous: uuid::Uuid,
    pub device_id: uuid::Uuid,
    /// Pending entries, now numbered 1..=renumbered.
    pub renumbered: u64,
}

impl Db {
    /// Takes a new device id after the server refused the old one (another
    /// device uses it, or the server's count for it is not this device's).
    /// Deletes nothing: in one strict-durability transaction the device
    /// keeps its secret, remembers the old id, numbers its pending entries
    /// 1..n in their order, moves refused entries (state and reason kept) to
    /// keys from [`REFUSED_KEYS_FROM`] so they never meet the new numbers,
    /// and sets the next number to n + 1. Pending agreements get their new
    /// number too. Records keep their own `device_id` (the server accepts an
    /// earlier id of the same device), so every one of them is sent again.
    pub async fn take_new_device_id(&self) -> Result<NewDeviceId, DbError> {
        use super::durable;
        use super::meta::{DeviceInfo, DEVICE_KEY};
        let tx = durable::strict_transaction(&self.raw, &[OUTBOX, META, AGREEMENTS])?;
        let store = |name| tx.object_store(name).map_err(|e| durable::classify(&e));
        let failed = |e: JsValue| {
            let _ = tx.abort();
            durable::classify(&e)
        };
        let (outbox, meta, agreements) = (store(OUTBOX)?, store(META)?, store(AGREEMENTS)?);
        let device_key = JsValue::from_str(DEVICE_KEY);
        let mut device =
            match durable::settle_request(&meta.get(&device_key).map_err(failed)?).await? {
                v if v.is_undefined() => DeviceInfo::new(crate::clock::new_id()),
                v => from_js(v)?,
            };
        let all = durable::settle_request(&outbox.get_all().map_err(failed)?).await?;
        // In key order: pending entries first by their old numbers.
        let entries: Vec<OutboxEntry> = js_sys::Array::from(&all)
            .iter()
            .map(from_js)
            .collect::<Result<_, _>>()?;
        let mut next_refused = entries
            .iter()
            .map(|e| e.mutation.id + 1)
            .filter(|&k| k > REFUSED_KEYS_FROM)
            .max()
            .unwrap_or(REFUSED_KEYS_FROM);
        let mut renumbered = 0;
        let mut moved = Vec::with_capacity(entries.len());
        for mut entry in entries {
            if entry.state == EntryState::Pending {
                renumbered += 1;
                entry.mutation.id = renumbered;
            } else if entry.mutation.id < REFUSED_KEYS_FROM {
                entry.mutation.id = next_refused;
                next_refused += 1;
            }
            moved.push(entry);
        }
        durable::settle_request(&outbox.clear().map_err(failed)?).await?;
        for entry in &moved {
            outbox.put(&to_js(entry)?).map_err(failed)?;
        }
        // A pending agreement shows its new number (the list sorts by it).
        for entry in moved.iter().filter(|e| e.state == EntryState::Pending) {
            let Change::CreateAgreement(record) = &entry.mutation.change else {
                continue;
            };
            let key = JsValue::from_str(&record.id.to_string());
            let value = durable::settle_request(&agreements.get(&key).map_err(failed)?).await?;
            if value.is_undefined() {
                continue;
            }
            let mut stored: StoredAgreement = from_js(value)?;
            stored.mutation_id = entry.mutation.id;
            agreements.put(&to_js(&stored)?).map_err(failed)?;
        }
        let previous = device.device_id;
        device.previous_ids.push(previous);
        device.device_id = crate::clock::new_id();
        device.next_mutation_id = renumbered + 1;
        meta.put_with_key(&to_js(&device)?, &device_key)
            .map_err(failed)?;
        // Told on the sync page until dismissed, or for a day.
        let notice = super::IdentityNotice {
            at: crate::clock::now_ms(),
            previous,
            device_id: device.device_id,
        };
        meta.put_with_key(&to_js(&notice)?, &JsValue::from_str(IDENTITY_NOTICE_KEY))
            .map_err(failed)?;
        durable::committed(&tx).await?;
        Ok(NewDeviceId {
            previous,
            device_id: device.device_id,
            renumbered,
        })
    }

    /// The last time this device took a new id, unless dismissed.
    pub async fn identity_notice(&self) -> Result<Option<IdentityNotice>, DbError> {
        self.get_meta(IDENTITY_NOTICE_KEY).await
    }

    /// The person has read the notice.
    pub async fn dismiss_identity_notice(&self) -> Result<(), DbError> {
        let tx = self.tx(&[META], TransactionMode::ReadWrite)?;
        tx.store(META)
            .map_err(read_err)?
            .delete(JsValue::from_str(IDENTITY_NOTICE_KEY))
            .await
            .map_err(write_err)?;
        commit(tx).await
    }
}
