//! Visits at reception: signing in (with the visitor's agreement, when they
//! sign one) and out, each written with its outbox entry in one
//! strict-durability transaction; the server's merged view for the roll
//! call; and forgetting visits once the academy's retention allows.

use super::agreements::Append;
use super::{commit, from_js, read_err, to_js, write_err, Db, DbError, StoredAgreement, SyncState};
use super::{AGREEMENTS, REFERENCE, VISITS};
use haven_core::agreement::AgreementRecord;
use haven_core::api::accounts::DeviceView;
use haven_core::sync::wire::Change;
use haven_core::visit::{device_may_forget, ReceptionSnapshot, VisitEnd, VisitRecord};
use haven_core::Millis;
use rexie::TransactionMode;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use wasm_bindgen::JsValue;

const SNAPSHOT_KEY: &str = "reception";
const ENROLMENT_KEY: &str = "enrolment";

/// A visit as this device holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredVisit {
    pub record: VisitRecord,
    /// Where the sign-in is on its way to the server.
    pub sync: SyncState,
    #[serde(default)]
    pub end: Option<VisitEnd>,
    /// Where the sign-out is on its way, once there is one.
    #[serde(default)]
    pub end_sync: Option<SyncState>,
}

impl StoredVisit {
    pub fn is_on_site(&self) -> bool {
        self.end.is_none()
    }

    /// Both the sign-in and the sign-out (if any) reached the server.
    pub fn fully_synced(&self) -> bool {
        self.sync == SyncState::Synced
            && self
                .end_sync
                .as_ref()
                .is_none_or(|s| *s == SyncState::Synced)
    }
}

/// The server's view for a reception desk, and when this device fetched it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptSnapshot {
    pub snapshot: ReceptionSnapshot,
    pub fetched_at: Millis,
}

impl Db {
    /// Signs a visitor in: their agreement (when they signed one now) and the
    /// visit, with both outbox entries, in one transaction.
    pub async fn sign_in_visitor(
        &self,
        agreement: Option<&AgreementRecord>,
        visit: &VisitRecord,
    ) -> Result<(), DbError> {
        let mut items = Vec::new();
        if let Some(agreement) = agreement {
            items.push(Append::agreement(agreement)?);
        }
        let stored = StoredVisit {
            record: visit.clone(),
            sync: SyncState::Pending,
            end: None,
            end_sync: None,
        };
        items.push(Append {
            store: VISITS,
            change: Change::CreateVisit(visit.clone()),
            replace: false,
            proof: None,
            value: Box::new(move |_| to_js(&stored)),
        });
        self.append(items).await.map(|_| ())
    }

    /// Signs a visitor out. `visit` is the record as this device knows it: its
    /// own, or one another desk made that arrived in the server's snapshot
    /// (kept here from now on, so the roll call drops it at once).
    pub async fn sign_out_visitor(
        &self,
        visit: &StoredVisit,
        end: &VisitEnd,
    ) -> Result<(), DbError> {
        let mut stored = visit.clone();
        stored.end = Some(end.clone());
        stored.end_sync = Some(SyncState::Pending);
        self.append(vec![Append {
            store: VISITS,
            change: Change::EndVisit(end.clone()),
            replace: true,
            proof: None,
            value: Box::new(move |_| to_js(&stored)),
        }])
        .await
        .map(|_| ())
    }

    /// Every visit on this device, oldest first.
    pub async fn visits(&self) -> Result<Vec<StoredVisit>, DbError> {
        let tx = self.tx(&[VISITS], TransactionMode::ReadOnly)?;
        let values = tx
            .store(VISITS)
            .map_err(read_err)?
            .get_all(None, None)
            .await
            .map_err(read_err)?;
        let mut all: Vec<StoredVisit> =
            values.into_iter().map(from_js).collect::<Result<_, _>>()?;
        all.sort_by_key(|v| v.record.signed_in_at);
        Ok(all)
    }

    /// Marks the sign-in or sign-out a settled mutation carried.
    pub(crate) async fn settle_visit(
        store: &rexie::Store,
        change: &Change,
        state: SyncState,
    ) -> Result<(), DbError> {
        let (visit_id, is_end) = match change {
            Change::CreateVisit(v) => (v.id, false),
            Change::EndVisit(e) => (e.visit_id, true),
            Change::CreateAgreement(_) | Change::CreateIncident(_) | Change::Unreadable(_) => {
                return Ok(())
            }
        };
        let key = JsValue::from_str(&visit_id.to_string());
        let Some(value) = store.get(key).await.map_err(read_err)? else {
            return Ok(());
        };
        if value.is_undefined() {
            return Ok(());
        }
        let mut visit: StoredVisit = from_js(value)?;
        if is_end {
            visit.end_sync = Some(state);
        } else {
            visit.sync = state;
        }
        store.put(&to_js(&visit)?, None).await.map_err(write_err)?;
        Ok(())
    }

    /// Deletes visits whose time on this device is up (ended, at the server,
    /// and older than `retention_days`), with the agreements signed at them
    /// that no remaining visit still relies on. Returns how many visits went.
    pub async fn forget_old_visits(
        &self,
        now: Millis,
        retention_days: u32,
    ) -> Result<usize, DbError> {
        let visits = self.visits().await?;
        let (due, kept): (Vec<_>, Vec<_>) = visits.into_iter().partition(|v| {
            device_may_forget(
                v.end.as_ref().map(|e| e.signed_out_at),
                v.fully_synced(),
                now,
                retention_days,
            )
        });
        if due.is_empty() {
            return Ok(0);
        }
        let still_needed: HashSet<_> = kept.iter().map(|v| v.record.agreement_id).collect();
        let tx = self.tx(&[VISITS, AGREEMENTS], TransactionMode::ReadWrite)?;
        let visits = tx.store(VISITS).map_err(read_err)?;
        let agreements = tx.store(AGREEMENTS).map_err(read_err)?;
        for v in &due {
            visits
                .delete(JsValue::from_str(&v.record.id.to_string()))
                .await
                .map_err(write_err)?;
            let agreement_id = v.record.agreement_id;
            if still_needed.contains(&agreement_id) {
                continue;
            }
            let key = JsValue::from_str(&agreement_id.to_string());
            // Only an agreement the server has: an unsent one is never lost.
            if let Some(value) = agreements.get(key.clone()).await.map_err(read_err)? {
                if !value.is_undefined() {
                    let stored: StoredAgreement = from_js(value)?;
                    if stored.sync == SyncState::Synced {
                        agreements.delete(key).await.map_err(write_err)?;
                    }
                }
            }
        }
        commit(tx).await?;
        Ok(due.len())
    }

    /// The last reception snapshot fetched from the server.
    pub async fn reception_snapshot(&self) -> Result<Option<KeptSnapshot>, DbError> {
        let tx = self.tx(&[REFERENCE], TransactionMode::ReadOnly)?;
        let value = tx
            .store(REFERENCE)
            .map_err(read_err)?
            .get(JsValue::from_str(SNAPSHOT_KEY))
            .await
            .map_err(read_err)?;
        value.filter(|v| !v.is_undefined()).map(from_js).transpose()
    }

    pub async fn put_reception_snapshot(&self, kept: &KeptSnapshot) -> Result<(), DbError> {
        let tx = self.tx(&[REFERENCE], TransactionMode::ReadWrite)?;
        tx.store(REFERENCE)
            .map_err(read_err)?
            .put(&to_js(kept)?, Some(&JsValue::from_str(SNAPSHOT_KEY)))
            .await
            .map_err(write_err)?;
        commit(tx).await
    }

    /// What this device was enrolled as (academy, kind, label), if it was.
    pub async fn enrolment(&self) -> Result<Option<DeviceView>, DbError> {
        self.get_meta(ENROLMENT_KEY).await
    }

    pub async fn set_enrolment(&self, device: &DeviceView) -> Result<(), DbError> {
        self.put_meta(ENROLMENT_KEY, device).await
    }
}
