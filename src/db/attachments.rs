//! Encrypted incident attachments waiting to be uploaded. Each is the
//! ciphertext `lock::seal_attachment` made, under its SHA-256: nothing
//! readable (its key is inside the incident, sealed for the server). It is
//! kept until the server has it whole and its incident is received, then
//! deleted (`crate::attachments` does the uploading).
//!
//! The bytes are stored as a `Uint8Array`, not through serde: a photo as a
//! JS array of numbers would take ten times the room.

use super::{durable, read_err, write_err, Db, DbError, ATTACHMENTS};
use js_sys::{Object, Reflect, Uint8Array};
use rexie::TransactionMode;
use uuid::Uuid;
use wasm_bindgen::{JsCast, JsValue};

/// One encrypted attachment on the device.
pub struct StoredAttachment {
    /// SHA-256 of `ciphertext`, lowercase hex: its name on the server.
    pub sha256: String,
    pub incident_id: Uuid,
    pub ciphertext: Vec<u8>,
}

fn to_object(a: &StoredAttachment) -> Result<JsValue, DbError> {
    let object = Object::new();
    let set = |name: &str, value: &JsValue| {
        Reflect::set(&object, &JsValue::from_str(name), value)
            .map(|_| ())
            .map_err(|_| DbError::Write(format!("attachment {}: cannot build it", a.sha256)))
    };
    set("sha256", &JsValue::from_str(&a.sha256))?;
    set(
        "incident_id",
        &JsValue::from_str(&a.incident_id.to_string()),
    )?;
    set(
        "ciphertext",
        &Uint8Array::from(a.ciphertext.as_slice()).into(),
    )?;
    Ok(object.into())
}

fn from_object(value: &JsValue) -> Result<StoredAttachment, DbError> {
    let get = |name: &str| Reflect::get(value, &JsValue::from_str(name)).ok();
    let broken = || DbError::Decode("a stored attachment is not in the expected form".into());
    let sha256 = get("sha256")
        .and_then(|v| v.as_string())
        .ok_or_else(broken)?;
    let incident_id = get("incident_id")
        .and_then(|v| v.as_string())
        .and_then(|s| Uuid::parse_str(&s).ok())
        .ok_or_else(broken)?;
    let ciphertext = get("ciphertext")
        .and_then(|v| v.dyn_into::<Uint8Array>().ok())
        .ok_or_else(broken)?
        .to_vec();
    Ok(StoredAttachment {
        sha256,
        incident_id,
        ciphertext,
    })
}

impl Db {
    /// Keeps an incident's encrypted attachments, on disk before this
    /// returns (strict durability): they are stored before the incident, so
    /// an incident on the device never names one that is not here.
    pub async fn store_attachments(&self, items: &[StoredAttachment]) -> Result<(), DbError> {
        if items.is_empty() {
            return Ok(());
        }
        let tx = durable::strict_transaction(&self.raw, &[ATTACHMENTS])?;
        let store = tx
            .object_store(ATTACHMENTS)
            .map_err(|e| durable::classify(&e))?;
        for item in items {
            // `put`: the same file again (a retried submit) is the same record.
            if let Err(e) = store.put(&to_object(item)?) {
                let _ = tx.abort();
                return Err(durable::classify(&e));
            }
        }
        durable::committed(&tx).await
    }

    /// The names of the attachments waiting here, oldest incident first
    /// (names are random, so this is only for a stable order).
    pub async fn waiting_attachments(&self) -> Result<Vec<String>, DbError> {
        let tx = self.tx(&[ATTACHMENTS], TransactionMode::ReadOnly)?;
        let keys = tx
            .store(ATTACHMENTS)
            .map_err(read_err)?
            .get_all_keys(None, None)
            .await
            .map_err(read_err)?;
        Ok(keys.into_iter().filter_map(|k| k.as_string()).collect())
    }

    /// How many attachments wait here, without reading them.
    pub async fn waiting_attachment_count(&self) -> Result<u32, DbError> {
        let tx = self.tx(&[ATTACHMENTS], TransactionMode::ReadOnly)?;
        tx.store(ATTACHMENTS)
            .map_err(read_err)?
            .count(None)
            .await
            .map_err(read_err)
    }

    /// One waiting attachment, with its bytes.
    pub async fn attachment(&self, sha256: &str) -> Result<Option<StoredAttachment>, DbError> {
        let tx = self.tx(&[ATTACHMENTS], TransactionMode::ReadOnly)?;
        let value = tx
            .store(ATTACHMENTS)
            .map_err(read_err)?
            .get(JsValue::from_str(sha256))
            .await
            .map_err(read_err)?;
        value
            .filter(|v| !v.is_undefined())
            .map(|v| from_object(&v))
            .transpose()
    }

    /// Forgets an attachment the server has whole.
    pub async fn delete_attachment(&self, sha256: &str) -> Result<(), DbError> {
        let tx = self.tx(&[ATTACHMENTS], TransactionMode::ReadWrite)?;
        tx.store(ATTACHMENTS)
            .map_err(read_err)?
            .delete(JsValue::from_str(sha256))
            .await
            .map_err(write_err)?;
        super::commit(tx).await
    }
}
