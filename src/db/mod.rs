//! The device's IndexedDB: policies, agreements, the outbox and sync metadata.
//!
//! Only this module talks to IndexedDB (through rexie); pages call the
//! functions here. Values are stored as the haven_core types, converted with
//! serde-wasm-bindgen.

mod agreements;
mod attachments;
mod durable;
mod incidents;
mod meta;
mod outbox;
mod policies;
mod reference;
mod visits;

pub use agreements::{AgreementStub, StoredAgreement, StubRecord, SyncState};
pub use attachments::StoredAttachment;
pub use incidents::StoredIncident;
pub use meta::{Credential, CredentialKind, DeviceInfo};
pub use outbox::{IdentityNotice, NewDeviceId, REFUSED_KEYS_FROM};
pub use policies::VersionHead;
pub use visits::{KeptSnapshot, StoredVisit};

use rexie::{Index, ObjectStore, Rexie, TransactionMode};
use serde::{de::DeserializeOwned, Serialize};
use std::rc::Rc;
use wasm_bindgen::JsValue;

/// Name of the app's database; tests use their own names.
pub const APP_DB: &str = "haven";
/// 1: policies, agreements, outbox, meta. 2: academies and reference data.
/// 3: local users (each person's wrapped key, see `lock`) and sealed drafts.
/// 4: visits at reception. 5: incidents (stubs and sealed copies).
/// 6: incident attachments, encrypted, until the server has them.
const SCHEMA_VERSION: u32 = 6;

pub(crate) const POLICIES: &str = "policies";
pub(crate) const AGREEMENTS: &str = "agreements";
pub(crate) const OUTBOX: &str = "outbox";
pub(crate) const META: &str = "meta";
pub(crate) const ACADEMIES: &str = "academies";
/// Single server-owned documents by name: the rule tables, the trust.
pub(crate) const REFERENCE: &str = "reference";
/// Staff profiles on this device, by `user_id` (see `lock`).
pub(crate) const LOCAL_USERS: &str = "local_users";
/// Sealed drafts by `id`, indexed by author.
pub(crate) const DRAFTS: &str = "drafts";
pub(crate) const DRAFTS_BY_USER: &str = "user_id";
/// Visits signed in at this reception desk (or signed out here), by id.
pub(crate) const VISITS: &str = "visits";
/// Incidents logged here, by id: a stub and, until received, the author's sealed copy.
pub(crate) const INCIDENTS: &str = "incidents";
/// Encrypted incident attachments waiting to be uploaded, by `sha256`.
pub(crate) const ATTACHMENTS: &str = "attachments";

/// Why a storage operation failed, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    #[error("this device's storage could not be opened: {0}")]
    Open(String),
    #[error("saving on this device failed: {0}")]
    Write(String),
    #[error("reading from this device failed: {0}")]
    Read(String),
    #[error("stored data could not be read back: {0}")]
    Decode(String),
    #[error(
        "this device has run out of storage space, so nothing new was saved; \
         what was saved before is safe. Free some space (or ask IT) and try again"
    )]
    QuotaExceeded,
    #[error("this record is already saved on this device")]
    AlreadyExists,
}

/// A handle on the device database. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Rc<Rexie>,
    /// A second connection for strict-durability writes (see `durable`).
    raw: web_sys::IdbDatabase,
}

impl Db {
    /// Opens (creating or upgrading) the database called `name`.
    pub async fn open(name: &str) -> Result<Db, DbError> {
        let rexie = Rexie::builder(name)
            .version(SCHEMA_VERSION)
            .add_object_store(ObjectStore::new(POLICIES).key_path("id"))
            .add_object_store(ObjectStore::new(AGREEMENTS).key_path("record.id"))
            .add_object_store(ObjectStore::new(OUTBOX).key_path("mutation.id"))
            .add_object_store(ObjectStore::new(META))
            .add_object_store(ObjectStore::new(ACADEMIES).key_path("id"))
            .add_object_store(ObjectStore::new(REFERENCE))
            .add_object_store(ObjectStore::new(LOCAL_USERS).key_path("user_id"))
            .add_object_store(ObjectStore::new(VISITS).key_path("record.id"))
            .add_object_store(ObjectStore::new(INCIDENTS).key_path("id"))
            .add_object_store(ObjectStore::new(ATTACHMENTS).key_path("sha256"))
            .add_object_store(
                ObjectStore::new(DRAFTS)
                    .key_path("id")
                    .add_index(Index::new(DRAFTS_BY_USER, "user_id")),
            )
            .build()
            .await
            .map_err(|e| DbError::Open(e.to_string()))?;
        let raw = durable::open(name).await?;
        Ok(Db {
            inner: Rc::new(rexie),
            raw,
        })
    }

    /// Closes this handle (other clones become unusable).
    pub fn close(self) {
        self.raw.close();
        if let Ok(rexie) = Rc::try_unwrap(self.inner) {
            rexie.close();
        }
    }

    /// Deletes the database called `name`; used by tests.
    pub async fn delete(name: &str) -> Result<(), DbError> {
        Rexie::delete(name)
            .await
            .map_err(|e| DbError::Write(e.to_string()))
    }

    /// Reads the record at `key` in `store` (with an in-line key path), lets
    /// `change` edit it, and writes back what it returns (nothing for `None`),
    /// in one transaction with strict durability: for counters that must
    /// survive a power cut, such as wrong PIN tries.
    pub(crate) async fn update_strict(
        &self,
        store: &str,
        key: &JsValue,
        change: impl FnOnce(Option<JsValue>) -> Option<JsValue>,
    ) -> Result<(), DbError> {
        let tx = durable::strict_transaction(&self.raw, &[store])?;
        let objects = tx.object_store(store).map_err(|e| durable::classify(&e))?;
        let request = objects.get(key).map_err(|e| durable::classify(&e))?;
        let current = durable::settle_request(&request).await?;
        let current = (!current.is_undefined() && !current.is_null()).then_some(current);
        if let Some(next) = change(current) {
            let request = objects.put(&next).map_err(|e| durable::classify(&e))?;
            durable::settle_request(&request).await?;
        }
        durable::committed(&tx).await
    }

    pub(crate) fn tx(
        &self,
        stores: &[&str],
        mode: TransactionMode,
    ) -> Result<rexie::Transaction, DbError> {
        self.inner
            .transaction(stores, mode)
            .map_err(|e| DbError::Read(e.to_string()))
    }
}

pub(crate) fn to_js<T: Serialize>(value: &T) -> Result<JsValue, DbError> {
    // Maps keep JSON's shape as plain objects so key paths like "record.id" work.
    let ser = serde_wasm_bindgen::Serializer::json_compatible();
    value
        .serialize(&ser)
        .map_err(|e| DbError::Write(e.to_string()))
}

pub(crate) fn from_js<T: DeserializeOwned>(value: JsValue) -> Result<T, DbError> {
    serde_wasm_bindgen::from_value(value).map_err(|e| DbError::Decode(e.to_string()))
}

/// Waits for the transaction to finish and fails unless it committed: rexie
/// reports an aborted transaction as `Ok(Aborted)`, not as an error.
pub(crate) async fn commit(tx: rexie::Transaction) -> Result<(), DbError> {
    let result = tx.done().await.map_err(write_err)?;
    if result.is_committed() {
        Ok(())
    } else {
        Err(DbError::Write("the change was rolled back".into()))
    }
}

/// Commits `tx` if `work` succeeded. If it failed, aborts `tx`, so that
/// none of the writes already made in it are kept (IndexedDB would commit
/// them as soon as nothing more is asked of it), and returns the error.
pub(crate) async fn commit_if<T>(
    tx: rexie::Transaction,
    work: Result<T, DbError>,
) -> Result<T, DbError> {
    match work {
        Ok(value) => commit(tx).await.map(|()| value),
        Err(e) => {
            // It may be aborting already (a request failed): either way
            // nothing of it is kept.
            let _ = tx.abort().await;
            Err(e)
        }
    }
}

pub(crate) fn write_err(e: rexie::Error) -> DbError {
    DbError::Write(e.to_string())
}

pub(crate) fn read_err(e: rexie::Error) -> DbError {
    DbError::Read(e.to_string())
}
