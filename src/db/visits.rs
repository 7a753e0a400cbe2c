//! Visits at reception: signing in (with the visitor's agreement, when they
//! sign one) and out, each written with its outbox entry in one
//! strict-durability transaction; the server's merged view for the roll
//! call; and what a device forgets once the server has a record: an ended
//! visit goes when the server has it (in the acknowledgement's transaction,
//! `Db::settle`), a visitor's agreement becomes a stub there, and
//! [`Db::minimise`] sweeps up after each sync.

use super::agreements::{Append, Kept};
use super::{commit, commit_if, from_js, read_err, to_js, write_err, Db, DbError, SyncState};
use super::{AgreementStub, AGREEMENTS, META, REFERENCE, VISITS};
use haven_core::agreement::AgreementRecord;
use haven_core::api::accounts::DeviceView;
use haven_core::sync::wire::Change;
use haven_core::visit::{
    device_may_forget, device_may_recognise, returning_digest, ReceptionSnapshot, VisitEnd,
    VisitRecord,
};
use haven_core::Millis;
use rexie::TransactionMode;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;
use wasm_bindgen::JsValue;

const SNAPSHOT_KEY: &str = "reception";
const ENROLMENT_KEY: &str = "enrolment";
/// The random key a reception desk makes its returning visitors' digests
/// with ([`returning_digest`]): its own, so a digest means nothing on
/// another device.
const VISITOR_KEY: &str = "visitor_key";

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
    /// visit, with both outbox entries, in one transaction. The agreement
    /// carries the digest this desk will know the visitor by when they come
    /// back ([`Db::returning_visitors`]), made from the visit's name and
    /// organisation.
    pub async fn sign_in_visitor(
        &self,
        agreement: Option<&AgreementRecord>,
        visit: &VisitRecord,
    ) -> Result<(), DbError> {
        let mut items = Vec::new();
        if let Some(agreement) = agreement {
            let key = self.visitor_key().await?;
            let person = returning_digest(&key, &visit.visitor_name, &visit.organisation);
            items.push(Append::agreement_recognised_by(agreement, Some(person))?);
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

    /// Marks the sign-in or sign-out a settled mutation carried. A visit
    /// that has thereby ended and reached the server whole is deleted
    /// instead ([`device_may_forget`]) and returned, so that the caller, in
    /// the same transaction, drops it from the kept snapshot and notes the
    /// end on its agreement's stub.
    pub(crate) async fn settle_visit(
        store: &rexie::Store,
        change: &Change,
        state: SyncState,
    ) -> Result<Option<StoredVisit>, DbError> {
        let (visit_id, is_end) = match change {
            Change::CreateVisit(v) => (v.id, false),
            Change::EndVisit(e) => (e.visit_id, true),
            Change::CreateAgreement(_) | Change::CreateIncident(_) | Change::Unreadable(_) => {
                return Ok(None)
            }
        };
        let key = JsValue::from_str(&visit_id.to_string());
        let Some(value) = store.get(key.clone()).await.map_err(read_err)? else {
            return Ok(None);
        };
        if value.is_undefined() {
            return Ok(None);
        }
        let mut visit: StoredVisit = from_js(value)?;
        if is_end {
            visit.end_sync = Some(state);
        } else {
            visit.sync = state;
        }
        if device_may_forget(!visit.is_on_site(), visit.fully_synced()) {
            store.delete(key).await.map_err(write_err)?;
            return Ok(Some(visit));
        }
        store.put(&to_js(&visit)?, None).await.map_err(write_err)?;
        Ok(None)
    }

    /// Whether this device is enrolled (a reception kiosk or a shared
    /// tablet), read in the caller's transaction: such a device keeps only
    /// stubs of the agreements the server has.
    pub(crate) async fn enrolled_in(meta: &rexie::Store) -> Result<bool, DbError> {
        let value = meta
            .get(JsValue::from_str(ENROLMENT_KEY))
            .await
            .map_err(read_err)?;
        Ok(value.is_some_and(|v| !v.is_undefined() && !v.is_null()))
    }

    /// Takes visits that have left the device out of the kept snapshot, in
    /// the caller's transaction: a snapshot fetched before their end reached
    /// the server still lists them on site, and would bring their names back
    /// into the roll call until the next one arrives.
    pub(crate) async fn drop_from_snapshot(
        reference: &rexie::Store,
        gone: &HashSet<Uuid>,
    ) -> Result<(), DbError> {
        if gone.is_empty() {
            return Ok(());
        }
        let key = JsValue::from_str(SNAPSHOT_KEY);
        let Some(value) = reference.get(key.clone()).await.map_err(read_err)? else {
            return Ok(());
        };
        if value.is_undefined() {
            return Ok(());
        }
        let mut kept: KeptSnapshot = from_js(value)?;
        let before = kept.snapshot.on_site.len();
        kept.snapshot.on_site.retain(|v| !gone.contains(&v.id));
        if kept.snapshot.on_site.len() != before {
            reference
                .put(&to_js(&kept)?, Some(&key))
                .await
                .map_err(write_err)?;
        }
        Ok(())
    }

    /// Notes, on the stub of each agreement a forgotten visit relied on,
    /// when that visit ended: a desk recognises the visitor for the
    /// academy's days from then. In the caller's transaction; `skip` are
    /// agreements the caller writes itself.
    pub(crate) async fn note_visits_ended(
        agreements: &rexie::Store,
        ended: &HashMap<Uuid, Millis>,
        skip: &HashSet<Uuid>,
    ) -> Result<(), DbError> {
        for (id, at) in ended.iter().filter(|(id, _)| !skip.contains(id)) {
            let key = JsValue::from_str(&id.to_string());
            let Some(value) = agreements.get(key).await.map_err(read_err)? else {
                continue;
            };
            if value.is_undefined() {
                continue;
            }
            if let Kept::Stub(mut stub) = Kept::from_js(value)? {
                stub.last_visit_ended_at = Some(stub.last_visit_ended_at.unwrap_or(*at).max(*at));
                agreements
                    .put(&to_js(&stub)?, None)
                    .await
                    .map_err(write_err)?;
            }
        }
        Ok(())
    }

    /// Everything personal this device no longer needs, gone, in one
    /// transaction; run after each sync. Any visit that has ended and
    /// reached the server is deleted (and dropped from the kept snapshot);
    /// normally `settle` did that already. On an enrolled device, every
    /// agreement the server has becomes a stub (those synced before stubs
    /// existed, too). On a reception desk (`retention_days` is then the
    /// academy's device retention; `None` elsewhere), a stub goes once no
    /// visit here relies on it and its visitor has not been here for that
    /// many days ([`device_may_recognise`]). Returns how many visits went.
    pub async fn minimise(
        &self,
        now: Millis,
        retention_days: Option<u32>,
    ) -> Result<usize, DbError> {
        let tx = self.tx(
            &[VISITS, AGREEMENTS, META, REFERENCE],
            TransactionMode::ReadWrite,
        )?;
        let work = Db::minimise_in(&tx, now, retention_days).await;
        commit_if(tx, work).await
    }

    async fn minimise_in(
        tx: &rexie::Transaction,
        now: Millis,
        retention_days: Option<u32>,
    ) -> Result<usize, DbError> {
        let visits = tx.store(VISITS).map_err(read_err)?;
        let agreements = tx.store(AGREEMENTS).map_err(read_err)?;
        let meta = tx.store(META).map_err(read_err)?;
        let reference = tx.store(REFERENCE).map_err(read_err)?;
        let all: Vec<StoredVisit> = visits
            .get_all(None, None)
            .await
            .map_err(read_err)?
            .into_iter()
            .map(from_js)
            .collect::<Result<_, _>>()?;
        let (due, kept): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|v| device_may_forget(!v.is_on_site(), v.fully_synced()));
        let mut ended: HashMap<Uuid, Millis> = HashMap::new();
        for v in &due {
            visits
                .delete(JsValue::from_str(&v.record.id.to_string()))
                .await
                .map_err(write_err)?;
            if let Some(end) = &v.end {
                let at = ended
                    .entry(v.record.agreement_id)
                    .or_insert(end.signed_out_at);
                *at = (*at).max(end.signed_out_at);
            }
        }
        let gone: HashSet<Uuid> = due.iter().map(|v| v.record.id).collect();
        Db::drop_from_snapshot(&reference, &gone).await?;
        if Db::enrolled_in(&meta).await? {
            let needed: HashSet<Uuid> = kept.iter().map(|v| v.record.agreement_id).collect();
            let stored: Vec<Kept> = agreements
                .get_all(None, None)
                .await
                .map_err(read_err)?
                .into_iter()
                .map(Kept::from_js)
                .collect::<Result<_, _>>()?;
            for k in stored {
                let (mut stub, mut changed) = match k {
                    Kept::Whole(a) if a.sync == SyncState::Synced => {
                        (AgreementStub::of(&a, now), true)
                    }
                    // Not at the server yet, or refused: kept whole.
                    Kept::Whole(_) => continue,
                    Kept::Stub(s) => (s, false),
                };
                if let Some(&at) = ended.get(&stub.record.id) {
                    stub.last_visit_ended_at = Some(stub.last_visit_ended_at.unwrap_or(at).max(at));
                    changed = true;
                }
                let key = JsValue::from_str(&stub.record.id.to_string());
                if let Some(days) = retention_days {
                    if !needed.contains(&stub.record.id)
                        && !device_may_recognise(stub.last_seen(), now, days)
                    {
                        agreements.delete(key).await.map_err(write_err)?;
                        continue;
                    }
                }
                if changed {
                    agreements
                        .put(&to_js(&stub)?, None)
                        .await
                        .map_err(write_err)?;
                }
            }
        }
        Ok(due.len())
    }

    /// The random key this desk's returning-visitor digests are made with,
    /// made on first use.
    pub async fn visitor_key(&self) -> Result<Vec<u8>, DbError> {
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let tx = self.tx(&[META], TransactionMode::ReadWrite)?;
        let meta = tx.store(META).map_err(read_err)?;
        let key = JsValue::from_str(VISITOR_KEY);
        let stored = match meta.get(key.clone()).await.map_err(read_err)? {
            Some(v) if !v.is_undefined() => Some(from_js::<String>(v)?),
            _ => None,
        };
        let encoded = match stored {
            Some(k) => k,
            None => {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes)
                    .map_err(|e| DbError::Write(format!("no random source: {e}")))?;
                let k = engine.encode(bytes);
                meta.put(&to_js(&k)?, Some(&key)).await.map_err(write_err)?;
                k
            }
        };
        commit(tx).await?;
        engine
            .decode(encoded)
            .map_err(|e| DbError::Decode(format!("the visitor key: {e}")))
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

    /// Keeps the server's snapshot for the roll call: who is on site now.
    /// A visit the snapshot itself says has ended is left out, should a
    /// server ever list it both ways.
    pub async fn put_reception_snapshot(&self, kept: &KeptSnapshot) -> Result<(), DbError> {
        let mut kept = kept.clone();
        let ended: HashSet<Uuid> = kept.snapshot.ended_recently.iter().copied().collect();
        kept.snapshot.on_site.retain(|v| !ended.contains(&v.id));
        let tx = self.tx(&[REFERENCE], TransactionMode::ReadWrite)?;
        tx.store(REFERENCE)
            .map_err(read_err)?
            .put(&to_js(&kept)?, Some(&JsValue::from_str(SNAPSHOT_KEY)))
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
