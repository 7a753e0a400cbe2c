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
        self.outbox_after(None, limit).await
    }

    /// The oldest `limit` entries numbered above `after` (from the first if
    /// `None`), in mutation order.
    pub async fn outbox_after(
        &self,
        after: Option<u64>,
        limit: Option<u32>,
    ) -> Result<Vec<OutboxEntry>, DbError> {
        let range = after
            .map(|after| rexie::KeyRange::lower_bound(&JsValue::from_f64(after as f64), Some(true)))
            .transpose()
            .map_err(|e| DbError::Read(e.to_string()))?;
        let tx = self.tx(&[OUTBOX], TransactionMode::ReadOnly)?;
        let values = tx
            .store(OUTBOX)
            .map_err(read_err)?
            .get_all(range, limit)
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
        Ok(self.outbox_counts().await?.pending)
    }

    /// What the sync badge shows, read without decoding every entry (a
    /// kiosk that was offline all day may hold thousands): each entry's
    /// `state` and `queued_at` only.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, DbError> {
        let tx = self.tx(&[OUTBOX], TransactionMode::ReadOnly)?;
        let values = tx
            .store(OUTBOX)
            .map_err(read_err)?
            .get_all(None, None)
            .await
            .map_err(read_err)?;
        let mut counts = OutboxCounts::default();
        let (state, queued_at) = (JsValue::from_str("state"), JsValue::from_str("queued_at"));
        for value in &values {
            // A pending entry's state is the string "pending"; a refused
            // one's is an object with its reason.
            let pending = js_sys::Reflect::get(value, &state)
                .ok()
                .and_then(|s| s.as_string())
                .is_some_and(|s| s == "pending");
            if pending {
                counts.pending += 1;
                let at = js_sys::Reflect::get(value, &queued_at)
                    .ok()
                    .and_then(|v| v.as_f64())
                    .map(|v| v as haven_core::Millis);
                counts.oldest_pending_at = match (counts.oldest_pending_at, at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            } else {
                counts.rejected += 1;
            }
        }
        Ok(counts)
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
        let record_ids: Vec<Option<uuid::Uuid>> = updates
            .iter()
            .map(|(m, _)| match &m.change {
                Change::CreateAgreement(record) => Some(record.id),
                _ => None,
            })
            .collect();
        let stored = stored_agreements(&agreements, &record_ids).await?;

        let mut taken = Vec::with_capacity(updates.len());
        let mut kept_agreements = Vec::with_capacity(updates.len());
        let mut refusals = Vec::new();
        let mut written = HashSet::new();
        for ((mutation, state), agreement) in updates.iter().zip(stored) {
            // A stub is already at the server; only a whole record changes.
            // The record is the one sent (stored with it, in one
            // transaction), so only what the outbox lacks is read back.
            let whole = match (&mutation.change, agreement) {
                (Change::CreateAgreement(record), Some(value))
                    if !value.is_undefined() && !super::agreements::is_stub(&value) =>
                {
                    Some(StoredAgreement {
                        record: record.clone(),
                        mutation_id: mutation.id,
                        sync: state.clone(),
                        returning: super::agreements::returning_of(&value)?,
                    })
                }
                _ => None,
            };
            if let Some(agreement) = whole {
                written.insert(agreement.record.id);
                if stub_synced && agreement.sync == SyncState::Synced {
                    let mut stub = AgreementStub::of(&agreement, now);
                    stub.last_visit_ended_at = ended.get(&agreement.record.id).copied();
                    kept_agreements.push(to_js(&stub)?);
                } else {
                    kept_agreements.push(to_js(&agreement)?);
                }
            }
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
                    refusals.push(to_js(&entry)?);
                }
                _ => taken.push(mutation.id),
            }
        }
        // A batch's numbers run on without a gap, so its acknowledged
        // entries go in one ranged delete (a few if some were refused), not
        // one request each; and the puts are issued together, the last one
        // awaited (a failed one aborts the whole transaction).
        taken.sort_unstable();
        let deletes = runs(&taken).into_iter().map(|(first, last)| {
            let range = web_sys::IdbKeyRange::bound(
                &JsValue::from_f64(first as f64),
                &JsValue::from_f64(last as f64),
            )
            .map_err(|e| DbError::Write(format!("{e:?}")))?;
            Ok::<_, DbError>(outbox.delete(range.into()))
        });
        let deletes: Vec<_> = deletes.collect::<Result<_, _>>()?;
        let (deleted, put_agreements, put_refusals) = futures::join!(
            try_join_all(deletes),
            agreements.put_all(kept_agreements.into_iter().map(|v| (v, None))),
            outbox.put_all(refusals.into_iter().map(|v| (v, None))),
        );
        deleted.map_err(write_err)?;
        put_agreements.map_err(write_err)?;
        put_refusals.map_err(write_err)?;
        // Stubs of agreements from an earlier push whose visit has now left.
        if stub_synced {
            Db::note_visits_ended(&agreements, &ended, &written).await?;
        }
        Ok(())
    }
}

/// The stored agreements with these record ids (`None` for a change that is
/// not an agreement), in order. A batch of signatures made one after another
/// has ids close together (UUID v7, time first), so when the range from the
/// least to the greatest holds little else they come in one read, not one
/// request each.
async fn stored_agreements(
    agreements: &rexie::Store,
    ids: &[Option<uuid::Uuid>],
) -> Result<Vec<Option<JsValue>>, DbError> {
    let keys: Vec<String> = ids.iter().flatten().map(|id| id.to_string()).collect();
    if let (Some(least), Some(greatest)) = (keys.iter().min(), keys.iter().max()) {
        let range = rexie::KeyRange::bound(
            &JsValue::from_str(least),
            &JsValue::from_str(greatest),
            None,
            None,
        )
        .map_err(|e| DbError::Read(e.to_string()))?;
        let within = agreements
            .count(Some(range.clone()))
            .await
            .map_err(read_err)?;
        if keys.len() > 1 && (within as usize) <= 2 * keys.len() {
            let values = agreements
                .get_all(Some(range), None)
                .await
                .map_err(read_err)?;
            let by_id: HashMap<String, JsValue> = values
                .into_iter()
                .filter_map(|v| Some((super::agreements::record_id_of(&v)?, v)))
                .collect();
            return Ok(ids
                .iter()
                .map(|id| id.and_then(|id| by_id.get(&id.to_string()).cloned()))
                .collect());
        }
    }
    // A key no agreement has (a visit's) reads back as nothing.
    let keys = ids.iter().map(|id| match id {
        Some(id) => JsValue::from_str(&id.to_string()),
        None => JsValue::from_str(""),
    });
    try_join_all(keys.map(|k| agreements.get(k)))
        .await
        .map_err(read_err)
}

/// What waits in the outbox, for the sync badge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: usize,
    pub rejected: usize,
    pub oldest_pending_at: Option<haven_core::Millis>,
}

/// `ids` (sorted, no repeats) as runs of consecutive numbers, first and last.
fn runs(ids: &[u64]) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &id in ids {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == id => *last = id,
            _ => runs.push((id, id)),
        }
    }
    runs
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
