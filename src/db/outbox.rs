//! The outbox: changes waiting for the server. Entries leave it only when the
//! server has acknowledged them.

use super::{commit, from_js, read_err, to_js, write_err, Db, DbError, AGREEMENTS, OUTBOX};
use super::{StoredAgreement, SyncState};
use haven_core::sync::outbox::{EntryState, OutboxEntry, Settlement};
use haven_core::sync::wire::Change;
use rexie::TransactionMode;
use wasm_bindgen::JsValue;

impl Db {
    /// Every entry, pending and rejected.
    pub async fn outbox(&self) -> Result<Vec<OutboxEntry>, DbError> {
        let tx = self.tx(&[OUTBOX], TransactionMode::ReadOnly)?;
        let values = tx
            .store(OUTBOX)
            .map_err(read_err)?
            .get_all(None, None)
            .await;
        values.map_err(read_err)?.into_iter().map(from_js).collect()
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
    /// transaction so the two stores never disagree.
    pub async fn settle(&self, settlement: &Settlement) -> Result<(), DbError> {
        let tx = self.tx(&[OUTBOX, AGREEMENTS], TransactionMode::ReadWrite)?;
        let outbox = tx.store(OUTBOX).map_err(read_err)?;
        let agreements = tx.store(AGREEMENTS).map_err(read_err)?;
        let updates = settlement
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
            }));
        for (id, state) in updates {
            let key = JsValue::from_f64(id as f64);
            let Some(value) = outbox.get(key.clone()).await.map_err(read_err)? else {
                continue; // already settled by another reply
            };
            let mut entry: OutboxEntry = from_js(value)?;
            let Change::CreateAgreement(record) = &entry.mutation.change;
            let record_key = JsValue::from_str(&record.id.to_string());
            if let Some(v) = agreements.get(record_key).await.map_err(read_err)? {
                let mut stored: StoredAgreement = from_js(v)?;
                stored.sync = state.clone();
                agreements
                    .put(&to_js(&stored)?, None)
                    .await
                    .map_err(write_err)?;
            }
            match state {
                SyncState::Rejected { code, reason } => {
                    entry.state = EntryState::Rejected { code, reason };
                    outbox.put(&to_js(&entry)?, None).await.map_err(write_err)?;
                }
                _ => outbox.delete(key).await.map_err(write_err)?,
            }
        }
        commit(tx).await?;
        Ok(())
    }
}
