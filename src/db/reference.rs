//! What the server owns and the device only reads: academies, the trust, the
//! rule tables, and the pull cursor that says how far the device has got.

use super::{commit, from_js, read_err, to_js, write_err, Db, DbError};
use super::{ACADEMIES, META, POLICIES, REFERENCE};
use haven_core::org::{Academy, Trust};
use haven_core::pull::{Cursor, PullResponse};
use haven_core::rules::RulesVersion;
use rexie::TransactionMode;
use wasm_bindgen::JsValue;

const CURSOR_KEY: &str = "pull_cursor";
const RULES_KEY: &str = "rules";
const TRUST_KEY: &str = "trust";

impl Db {
    /// Where the next pull starts.
    pub async fn pull_cursor(&self) -> Result<Cursor, DbError> {
        let tx = self.tx(&[META], TransactionMode::ReadOnly)?;
        let store = tx.store(META).map_err(read_err)?;
        let value = store
            .get(JsValue::from_str(CURSOR_KEY))
            .await
            .map_err(read_err)?;
        Ok(value
            .and_then(|v| v.as_f64())
            .map_or(Cursor::START, |n| Cursor(n as u64)))
    }

    /// Stores one pull reply and its cursor in one transaction, so the cursor
    /// never runs ahead of the data. A `reset` reply replaces what was here.
    pub async fn apply_pull(&self, reply: &PullResponse) -> Result<(), DbError> {
        let tx = self.tx(
            &[POLICIES, ACADEMIES, REFERENCE, META],
            TransactionMode::ReadWrite,
        )?;
        let policies = tx.store(POLICIES).map_err(read_err)?;
        let academies = tx.store(ACADEMIES).map_err(read_err)?;
        let reference = tx.store(REFERENCE).map_err(read_err)?;
        if reply.reset {
            policies.clear().await.map_err(write_err)?;
            academies.clear().await.map_err(write_err)?;
            reference.clear().await.map_err(write_err)?;
        }
        for v in &reply.policies {
            policies.put(&to_js(v)?, None).await.map_err(write_err)?;
        }
        for a in &reply.academies {
            academies.put(&to_js(a)?, None).await.map_err(write_err)?;
        }
        if let Some(rules) = &reply.rules {
            reference
                .put(&to_js(rules)?, Some(&RULES_KEY.into()))
                .await
                .map_err(write_err)?;
        }
        if let Some(trust) = &reply.trust {
            reference
                .put(&to_js(trust)?, Some(&TRUST_KEY.into()))
                .await
                .map_err(write_err)?;
        }
        let cursor = JsValue::from_f64(reply.cursor.0 as f64);
        let meta = tx.store(META).map_err(read_err)?;
        meta.put(&cursor, Some(&CURSOR_KEY.into()))
            .await
            .map_err(write_err)?;
        commit(tx).await
    }

    /// Every academy, by name.
    pub async fn academies(&self) -> Result<Vec<Academy>, DbError> {
        let tx = self.tx(&[ACADEMIES], TransactionMode::ReadOnly)?;
        let values = tx
            .store(ACADEMIES)
            .map_err(read_err)?
            .get_all(None, None)
            .await;
        let mut all: Vec<Academy> = values
            .map_err(read_err)?
            .into_iter()
            .map(from_js)
            .collect::<Result<_, _>>()?;
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// The rule tables in force, once pulled.
    pub async fn rules(&self) -> Result<Option<RulesVersion>, DbError> {
        self.reference(RULES_KEY).await
    }

    pub async fn trust(&self) -> Result<Option<Trust>, DbError> {
        self.reference(TRUST_KEY).await
    }

    async fn reference<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, DbError> {
        let tx = self.tx(&[REFERENCE], TransactionMode::ReadOnly)?;
        let store = tx.store(REFERENCE).map_err(read_err)?;
        let value = store.get(JsValue::from_str(key)).await.map_err(read_err)?;
        value.filter(|v| !v.is_undefined()).map(from_js).transpose()
    }
}
