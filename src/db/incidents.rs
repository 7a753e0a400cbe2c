//! Incidents on the device. Nothing readable is kept: the outbox holds the
//! incident sealed for the server (`lock::seal_incident`), and the record
//! here holds only what a list needs (id, time, type, where it is) and the
//! author's own copy sealed under their key, which is deleted the moment the
//! server acknowledges the incident, leaving a stub.

use super::agreements::Append;
use super::{from_js, read_err, to_js, write_err, Db, DbError, SyncState};
use super::{INCIDENTS, REFERENCE};
use crate::lock::Sealed;
use haven_core::incident::{IncidentKey, SealedIncident};
use haven_core::slug::Slug;
use haven_core::sync::wire::{Change, StaffProof};
use haven_core::Millis;
use rexie::TransactionMode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wasm_bindgen::JsValue;

const INCIDENT_KEY: &str = "incident_key";

/// An incident as this device keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredIncident {
    pub id: Uuid,
    /// The staff account that logged it.
    pub author: String,
    pub academy_id: Uuid,
    pub incident_type: Slug,
    pub submitted_at: Millis,
    /// A route says "immediately": shown until the server has it.
    pub immediate: bool,
    /// Pending: "not yet received by the DSL"; Synced: received.
    pub sync: SyncState,
    /// The author's readable copy while it waits; `None` once received.
    #[serde(default)]
    pub author_copy: Option<Sealed>,
}

impl Db {
    /// Stores an incident and queues it for the server in one transaction,
    /// with the author's proof that they were unlocked here
    /// (`lock::proof_for`; `None` only where the server needs none).
    pub async fn record_incident(
        &self,
        stored: &StoredIncident,
        sealed: SealedIncident,
        proof: Option<StaffProof>,
    ) -> Result<(), DbError> {
        let stored = stored.clone();
        self.append(vec![Append {
            store: INCIDENTS,
            change: Change::CreateIncident(sealed),
            replace: false,
            proof,
            value: Box::new(move |_| to_js(&stored)),
        }])
        .await
        .map(|_| ())
    }

    /// Queues a refused incident again, sealed anew (for the server's
    /// current key, say, after `unknown_key`): the record is pending once
    /// more and the refused outbox entry makes way for the new one.
    pub async fn resend_incident(
        &self,
        stored: &StoredIncident,
        sealed: SealedIncident,
        proof: Option<StaffProof>,
    ) -> Result<(), DbError> {
        let mut pending = stored.clone();
        pending.sync = SyncState::Pending;
        self.append(vec![Append {
            store: INCIDENTS,
            change: Change::CreateIncident(sealed),
            replace: true,
            proof,
            value: Box::new(move |_| to_js(&pending)),
        }])
        .await?;
        // The refused entry (kept so the refusal showed) is no longer needed.
        let refused: Vec<u64> = self
            .outbox()
            .await?
            .into_iter()
            .filter(|e| e.state != haven_core::sync::outbox::EntryState::Pending)
            .filter(
                |e| matches!(&e.mutation.change, Change::CreateIncident(s) if s.id == stored.id),
            )
            .map(|e| e.mutation.id)
            .collect();
        if refused.is_empty() {
            return Ok(());
        }
        let tx = self.tx(&[super::OUTBOX], TransactionMode::ReadWrite)?;
        let outbox = tx.store(super::OUTBOX).map_err(read_err)?;
        for id in refused {
            outbox
                .delete(JsValue::from_f64(id as f64))
                .await
                .map_err(write_err)?;
        }
        super::commit(tx).await
    }

    /// Every incident on this device, newest first.
    pub async fn incidents(&self) -> Result<Vec<StoredIncident>, DbError> {
        let tx = self.tx(&[INCIDENTS], TransactionMode::ReadOnly)?;
        let values = tx
            .store(INCIDENTS)
            .map_err(read_err)?
            .get_all(None, None)
            .await
            .map_err(read_err)?;
        let mut all: Vec<StoredIncident> =
            values.into_iter().map(from_js).collect::<Result<_, _>>()?;
        all.sort_by_key(|i| std::cmp::Reverse(i.submitted_at));
        Ok(all)
    }

    /// Marks an incident a settled mutation carried: received (and its
    /// readable copy gone), or refused with the reason.
    pub(crate) async fn settle_incident(
        store: &rexie::Store,
        change: &Change,
        state: SyncState,
    ) -> Result<(), DbError> {
        let Change::CreateIncident(sealed) = change else {
            return Ok(());
        };
        let key = JsValue::from_str(&sealed.id.to_string());
        let Some(value) = store.get(key).await.map_err(read_err)? else {
            return Ok(());
        };
        if value.is_undefined() {
            return Ok(());
        }
        let mut incident: StoredIncident = from_js(value)?;
        if state == SyncState::Synced {
            incident.author_copy = None;
        }
        incident.sync = state;
        store
            .put(&to_js(&incident)?, None)
            .await
            .map_err(write_err)?;
        Ok(())
    }

    /// The server's public key for sealing incidents, once fetched.
    pub async fn incident_key(&self) -> Result<Option<IncidentKey>, DbError> {
        let tx = self.tx(&[REFERENCE], TransactionMode::ReadOnly)?;
        let value = tx
            .store(REFERENCE)
            .map_err(read_err)?
            .get(JsValue::from_str(INCIDENT_KEY))
            .await
            .map_err(read_err)?;
        value.filter(|v| !v.is_undefined()).map(from_js).transpose()
    }

    pub async fn set_incident_key(&self, key: &IncidentKey) -> Result<(), DbError> {
        let tx = self.tx(&[REFERENCE], TransactionMode::ReadWrite)?;
        tx.store(REFERENCE)
            .map_err(read_err)?
            .put(&to_js(key)?, Some(&JsValue::from_str(INCIDENT_KEY)))
            .await
            .map_err(write_err)?;
        super::commit(tx).await
    }
}
