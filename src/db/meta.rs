//! Per-device facts: the device id, the next mutation number, the last sync,
//! the credential sync pushes with, and a parent's redeemed invitation.

use super::{commit, from_js, read_err, to_js, write_err, Db, DbError, META};
use haven_core::api::accounts::ParentInvitation;
use haven_core::Millis;
use rexie::TransactionMode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wasm_bindgen::JsValue;

pub(super) const DEVICE_KEY: &str = "device";
const LAST_SYNC_KEY: &str = "last_sync_at";
const CREDENTIAL_KEY: &str = "credential";
const PARENT_INVITATION_KEY: &str = "parent_invitation";

/// What kind of credential the device sends its outbox with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// An enrolled reception kiosk or shared tablet (never expires; revocable).
    Device,
    /// A staff member's session (expires after 12 hours).
    Staff,
    /// A parent/carer's session from an invitation link.
    Parent,
}

/// The bearer token sync pushes with. Kept in the clear in IndexedDB on
/// purpose: the outbox must drain while the screen is locked. It is never a
/// staff member's session (which stays sealed under their key): an enrolled
/// device's token, a staff member's sync credential (`hk_`, which can only
/// push for this browser and ends with their session), or a parent's session
/// on their own phone. Each is revocable and refused for another device's id.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub kind: CredentialKind,
    pub token: String,
    /// When the server stops accepting it; `None` for a device token.
    pub expires_at: Option<Millis>,
    /// Whose it is, for people: "Tom Reilly", "Main reception".
    pub label: String,
    /// Set when the server refused it (expired early, signed out elsewhere,
    /// revoked): records wait until a new one is stored.
    #[serde(default)]
    pub refused: bool,
    /// For a staff member's sync credential: whose (their user id), so that
    /// signing out drops it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A token in a log or panic message is a credential leaked.
        f.debug_struct("Credential")
            .field("kind", &self.kind)
            .field("token", &"…")
            .field("expires_at", &self.expires_at)
            .field("label", &self.label)
            .field("refused", &self.refused)
            .finish()
    }
}

impl Credential {
    /// Whether it is worth sending at `now`.
    pub fn usable(&self, now: Millis) -> bool {
        !self.refused && self.expires_at.is_none_or(|at| at > now)
    }
}

/// Who this device is to the server, and where its numbering stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub device_id: Uuid,
    /// The number the next mutation will get.
    pub next_mutation_id: u64,
    /// The secret this browser sends with every push, which binds its device
    /// id to it on the server (docs/sync-protocol.md, "Identity"): 32 random
    /// bytes, base64url. Made on first use; `None` only in a device record
    /// written before secrets, until it is next read.
    #[serde(default)]
    pub secret: Option<String>,
    /// The ids this device used before, oldest first: it took a new one when
    /// the server found its id in use by another device (a copied browser
    /// profile or tablet image) or its count not the device's
    /// ([`Db::take_new_device_id`]). Records made under them keep their own
    /// `device_id`, so the device still knows them as its own.
    #[serde(default)]
    pub previous_ids: Vec<Uuid>,
}

impl DeviceInfo {
    pub(super) fn new(device_id: Uuid) -> Self {
        DeviceInfo {
            device_id,
            next_mutation_id: 1,
            secret: Some(new_device_secret()),
            previous_ids: Vec::new(),
        }
    }

    /// Whether `id` is this device's, now or before it took a new id.
    pub fn is_own(&self, id: Uuid) -> bool {
        id == self.device_id || self.previous_ids.contains(&id)
    }

    /// The secret to push with.
    pub fn secret(&self) -> Option<String> {
        self.secret.clone()
    }
}

/// 32 bytes from `crypto.getRandomValues`, base64url without padding.
fn new_device_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("crypto.getRandomValues is available");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
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
            Some(v) if !v.is_undefined() => {
                let mut info: DeviceInfo = from_js(v)?;
                // A device from before secrets gets one now; the caller's
                // transaction writes it back with the rest.
                info.secret.get_or_insert_with(new_device_secret);
                Ok(info)
            }
            _ => Ok(DeviceInfo::new(crate::clock::new_id())),
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

    /// A small named value kept in the clear (roles, settings): never a secret.
    pub async fn put_meta<T: Serialize>(&self, key: &str, value: &T) -> Result<(), DbError> {
        let tx = self.tx(&[META], TransactionMode::ReadWrite)?;
        let store = tx.store(META).map_err(read_err)?;
        store
            .put(&to_js(value)?, Some(&JsValue::from_str(key)))
            .await
            .map_err(write_err)?;
        commit(tx).await
    }

    pub async fn get_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, DbError> {
        let tx = self.tx(&[META], TransactionMode::ReadOnly)?;
        let store = tx.store(META).map_err(read_err)?;
        match store.get(JsValue::from_str(key)).await.map_err(read_err)? {
            Some(v) if !v.is_undefined() => from_js(v).map(Some),
            _ => Ok(None),
        }
    }

    /// The credential sync pushes with, if there is one.
    pub async fn credential(&self) -> Result<Option<Credential>, DbError> {
        let tx = self.tx(&[META], TransactionMode::ReadOnly)?;
        let store = tx.store(META).map_err(read_err)?;
        match store
            .get(JsValue::from_str(CREDENTIAL_KEY))
            .await
            .map_err(read_err)?
        {
            Some(v) if !v.is_undefined() => from_js(v).map(Some),
            _ => Ok(None),
        }
    }

    /// Stores (or with `None`, forgets) the credential sync pushes with.
    pub async fn set_credential(&self, credential: Option<&Credential>) -> Result<(), DbError> {
        let tx = self.tx(&[META], TransactionMode::ReadWrite)?;
        let store = tx.store(META).map_err(read_err)?;
        let key = JsValue::from_str(CREDENTIAL_KEY);
        match credential {
            Some(c) => {
                store.put(&to_js(c)?, Some(&key)).await.map_err(write_err)?;
            }
            None => store.delete(key).await.map_err(write_err)?,
        }
        commit(tx).await?;
        Ok(())
    }

    /// The invitation this phone redeemed, with the link's token: the way
    /// back to it, and the academy its header names.
    pub async fn parent_invitation(&self) -> Result<Option<(String, ParentInvitation)>, DbError> {
        self.get_meta(PARENT_INVITATION_KEY).await
    }

    pub async fn keep_parent_invitation(
        &self,
        token: &str,
        invitation: &ParentInvitation,
    ) -> Result<(), DbError> {
        self.put_meta(PARENT_INVITATION_KEY, &(token, invitation))
            .await
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
