//! The outbox: changes waiting for the server. Entries leave it only when the
//! server has acknowledged them.

use super::{
    commit, from_js, read_err, to_js, write_err, Db, DbError, AGREEMENTS, INCIDENTS, OUTBOX, VISITS,
};
use super::{StoredAgreement, SyncState};
use futures::future::try_join_all;
use haven_core::sync::outbox::{EntryState, OutboxEntry, Settlement};
use haven_core::sync::wire::{Change, Mutation};
use rexie::TransactionMode;
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
    /// transaction so the two stores never disagree. `sent` is the pushed
    /// batch, which names the records without reading the outbox back.
    pub async fn settle(&self, settlement: &Settlement, sent: &[Mutation]) -> Result<(), DbError> {
        let tx = self.tx(
            &[OUTBOX, AGREEMENTS, VISITS, INCIDENTS],
            TransactionMode::ReadWrite,
        )?;
        let outbox = tx.store(OUTBOX).map_err(read_err)?;
        let agreements = tx.store(AGREEMENTS).map_err(read_err)?;
        let visits = tx.store(VISITS).map_err(read_err)?;
        let incidents = tx.store(INCIDENTS).map_err(read_err)?;
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
        // settled one by one.
        for (mutation, state) in &updates {
            Db::settle_visit(&visits, &mutation.change, state.clone()).await?;
            Db::settle_incident(&incidents, &mutation.change, state.clone()).await?;
        }

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
        for ((mutation, state), agreement) in updates.iter().zip(stored) {
            if let Some(v) = agreement.filter(|v| !v.is_undefined()) {
                let mut agreement: StoredAgreement = from_js(v)?;
                agreement.sync = state.clone();
                values.push((true, to_js(&agreement)?));
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
        commit(tx).await
    }
}
