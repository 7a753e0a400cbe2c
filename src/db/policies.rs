//! Policy versions kept on the device so they can be read offline.

use super::{commit, from_js, read_err, to_js, write_err, Db, DbError, POLICIES};
use haven_core::policy::PolicyVersion;
use rexie::TransactionMode;
use uuid::Uuid;
use wasm_bindgen::JsValue;

/// A stored version without its text (serde-wasm-bindgen reads only these
/// fields of the stored object).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct VersionHead {
    pub id: Uuid,
    pub policy_id: Uuid,
    pub version: u32,
}

impl Db {
    /// Stores versions (published versions never change, so `put` only adds).
    pub async fn put_policies(&self, versions: &[PolicyVersion]) -> Result<(), DbError> {
        let tx = self.tx(&[POLICIES], TransactionMode::ReadWrite)?;
        let store = tx.store(POLICIES).map_err(read_err)?;
        for v in versions {
            store.put(&to_js(v)?, None).await.map_err(write_err)?;
        }
        commit(tx).await?;
        Ok(())
    }

    pub async fn policy(&self, id: Uuid) -> Result<Option<PolicyVersion>, DbError> {
        let tx = self.tx(&[POLICIES], TransactionMode::ReadOnly)?;
        let store = tx.store(POLICIES).map_err(read_err)?;
        let value = store
            .get(JsValue::from_str(&id.to_string()))
            .await
            .map_err(read_err)?;
        value.filter(|v| !v.is_undefined()).map(from_js).transpose()
    }

    /// The newest stored version of `policy_id` if it is newer than
    /// `version`. Reads each version's id, policy and number only, never its
    /// text, so opening a policy does not wait on every stored text.
    pub async fn newer_version(
        &self,
        policy_id: Uuid,
        version: u32,
    ) -> Result<Option<VersionHead>, DbError> {
        let heads: Vec<VersionHead> = self.every_version().await?;
        Ok(heads
            .into_iter()
            .filter(|h| h.policy_id == policy_id && h.version > version)
            .max_by_key(|h| h.version))
    }

    /// Every stored version of every policy, in no particular order.
    pub async fn all_policy_versions(&self) -> Result<Vec<PolicyVersion>, DbError> {
        self.every_version().await
    }

    /// Every stored version, read as `T` (the whole version, or only some of
    /// its fields: serde-wasm-bindgen reads no others).
    async fn every_version<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, DbError> {
        let tx = self.tx(&[POLICIES], TransactionMode::ReadOnly)?;
        let values = tx
            .store(POLICIES)
            .map_err(read_err)?
            .get_all(None, None)
            .await;
        values.map_err(read_err)?.into_iter().map(from_js).collect()
    }

    /// The stored versions of one policy, oldest first: what the device can
    /// compare a new version with.
    pub async fn versions_of(&self, policy_id: Uuid) -> Result<Vec<PolicyVersion>, DbError> {
        let mut versions: Vec<PolicyVersion> = self
            .all_policy_versions()
            .await?
            .into_iter()
            .filter(|v| v.policy_id == policy_id)
            .collect();
        versions.sort_by_key(|v| v.version);
        Ok(versions)
    }

    /// The latest stored version of each policy, sorted by title.
    pub async fn latest_policies(&self) -> Result<Vec<PolicyVersion>, DbError> {
        let all = self.all_policy_versions().await?;
        let mut latest: Vec<PolicyVersion> = Vec::new();
        for v in all {
            match latest.iter_mut().find(|l| l.policy_id == v.policy_id) {
                Some(l) if l.version < v.version => *l = v,
                Some(_) => {}
                None => latest.push(v),
            }
        }
        latest.sort_by(|a, b| a.title.cmp(&b.title));
        Ok(latest)
    }
}
