//! Per-device facts: the device id, the next mutation number, the last sync.

use super::{commit, from_js, read_err, to_js, write_err, Db, DbError, META};
use haven_core::Millis;
use rexie::TransactionMode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wasm_bindgen::JsValue;

pub(super) const DEVICE_KEY: &str = "device";
const LAST_SYNC_KEY: &str = "last_sync_at";

/// Who this device is to the server, and where its numbering stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub device_id: Uuid,
    /// The number the next mutation will get.
    pub next_mutation_id: u64,
}

impl DeviceInfo {
    pub(super) fn new(device_id: Uuid) -> Self {
        DeviceInfo {
            device_id,
            next_mutation_id: 1,
        }
    }
}

impl Db {
    /// The device's identity, made on first use.
    pub async fn device(&self) -> Result<DeviceInfo, DbError> {
        let tx = self.tx(&[META], TransactionMode::ReadWrite)?;
        let store = tx.store(META).map_err(read_err)?;
        let info = Self::device_in(&store).await?;
        // Writing it back is a no-op for an existing device and saves a new one.
        Self::put_device_in(&store, &info).await?;
        commit(tx).await?;
        Ok(info)
    }

    /// Reads the device info inside a caller's transaction, making it if missing.
    pub(crate) async fn device_in(store: &rexie::Store) -> Result<DeviceInfo, DbError> {
        match store
            .get(JsValue::from_str(DEVICE_KEY))
            .await
            .map_err(read_err)?
        {
            Some(v) if !v.is_undefined() => from_js(v),
            _ => Ok(DeviceInfo {
                device_id: crate::clock::new_id(),
                next_mutation_id: 1,
            }),
        }
    }

    pub(crate) async fn put_device_in(
        store: &rexie::Store,
        info: &DeviceInfo,
    ) -> Result<(), DbError> {
        store
            .put(&to_js(info)?, Some(&JsValue::from_str(DEVICE_KEY)))
            .await
            .map_err(write_err)?;
        Ok(())
    }

    pub async fn last_sync_at(&self) -> Result<Option<Millis>, DbError> {
        let tx = self.tx(&[META], TransactionMode::ReadOnly)?;
        let store = tx.store(META).map_err(read_err)?;
        let value = store
            .get(JsValue::from_str(LAST_SYNC_KEY))
            .await
            .map_err(read_err)?;
        Ok(value.and_then(|v| v.as_f64()).map(|f| f as Millis))
    }

    pub async fn set_last_sync_at(&self, at: Millis) -> Result<(), DbError> {
        let tx = self.tx(&[META], TransactionMode::ReadWrite)?;
        let store = tx.store(META).map_err(read_err)?;
        store
            .put(
                &JsValue::from_f64(at as f64),
                Some(&JsValue::from_str(LAST_SYNC_KEY)),
            )
            .await
            .map_err(write_err)?;
        commit(tx).await?;
        Ok(())
    }
}
