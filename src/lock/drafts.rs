//! Drafts (an incident being written, say), sealed under their author's key.
//! Only the id, author, kind and time are stored in the clear, so the list
//! can be filtered by person; the body never reaches IndexedDB unencrypted.

use super::crypto::{self, context};
use super::{to_js, LockError, Sealed, Unlocked};
use crate::db::{self, from_js, Db, DbError, DRAFTS, DRAFTS_BY_USER};
use rexie::{KeyRange, TransactionMode};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

/// A draft, decrypted.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub id: String,
    pub kind: String,
    /// Milliseconds since the epoch.
    pub updated_at: f64,
    pub body: Vec<u8>,
}

/// A record in the `drafts` store.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredDraft {
    id: String,
    user_id: String,
    kind: String,
    updated_at: f64,
    body: Sealed,
}

/// The body is bound to its author, id and kind: a sealed body copied into
/// another record does not open.
fn aad(user_id: &str, id: &str, kind: &str) -> Vec<u8> {
    context("draft", &[user_id, id, kind])
}

/// Saves (or replaces) one of `who`'s drafts. An id that belongs to someone
/// else's draft is refused rather than overwritten.
pub async fn save_draft(
    db: &Db,
    who: &Unlocked,
    id: &str,
    kind: &str,
    body: &[u8],
    now_ms: f64,
) -> Result<(), LockError> {
    let user_id = &who.user().user_id;
    // Encrypt before the transaction: awaiting WebCrypto inside it would let
    // IndexedDB commit it early.
    let sealed = crypto::encrypt(&who.inner.key, &aad(user_id, id, kind), body)
        .await
        .map_err(|e| e.into_lock_error("Your draft could not be protected"))?;
    let record = StoredDraft {
        id: id.to_owned(),
        user_id: user_id.clone(),
        kind: kind.to_owned(),
        updated_at: now_ms,
        body: sealed,
    };
    let tx = db.tx(&[DRAFTS], TransactionMode::ReadWrite)?;
    let store = tx.store(DRAFTS).map_err(db::read_err)?;
    if let Some(existing) = get_in(&store, id).await? {
        if existing.user_id != *user_id {
            return Err(DbError::AlreadyExists.into());
        }
    }
    store
        .put(&to_js(&record)?, None)
        .await
        .map_err(db::write_err)?;
    db::commit(tx).await?;
    Ok(())
}

/// `who`'s drafts, decrypted, newest first. Other people's are not read.
pub async fn drafts(db: &Db, who: &Unlocked) -> Result<Vec<Draft>, LockError> {
    let user_id = &who.user().user_id;
    let stored: Vec<StoredDraft> = {
        let tx = db.tx(&[DRAFTS], TransactionMode::ReadOnly)?;
        let range = KeyRange::only(&JsValue::from_str(user_id))
            .map_err(|e| DbError::Read(e.to_string()))?;
        tx.store(DRAFTS)
            .map_err(db::read_err)?
            .index(DRAFTS_BY_USER)
            .map_err(db::read_err)?
            .get_all(Some(range), None)
            .await
            .map_err(db::read_err)?
            .into_iter()
            .map(from_js)
            .collect::<Result<_, _>>()?
    };
    let mut out = Vec::with_capacity(stored.len());
    for d in stored {
        let body = crypto::decrypt(&who.inner.key, &aad(user_id, &d.id, &d.kind), &d.body)
            .await
            .map_err(|e| e.into_lock_error("A draft could not be opened"))?;
        out.push(Draft {
            id: d.id,
            kind: d.kind,
            updated_at: d.updated_at,
            body,
        });
    }
    out.sort_by(|a, b| b.updated_at.total_cmp(&a.updated_at));
    Ok(out)
}

/// Deletes one of `who`'s drafts; someone else's, or a missing one, is left
/// as it is.
pub async fn delete_draft(db: &Db, who: &Unlocked, id: &str) -> Result<(), LockError> {
    let tx = db.tx(&[DRAFTS], TransactionMode::ReadWrite)?;
    let store = tx.store(DRAFTS).map_err(db::read_err)?;
    match get_in(&store, id).await? {
        Some(d) if d.user_id == who.user().user_id => {
            store
                .delete(JsValue::from_str(id))
                .await
                .map_err(db::write_err)?;
            db::commit(tx).await?;
        }
        _ => {}
    }
    Ok(())
}

async fn get_in(store: &rexie::Store, id: &str) -> Result<Option<StoredDraft>, DbError> {
    match store
        .get(JsValue::from_str(id))
        .await
        .map_err(db::read_err)?
    {
        Some(v) if !v.is_undefined() => from_js(v).map(Some),
        _ => Ok(None),
    }
}
