//! Writes that must reach the disk before the app says "Saved".
//!
//! Chrome (since 121) commits IndexedDB transactions with "relaxed" durability
//! by default: `complete` can fire before the data is flushed, so a crash or a
//! power cut right after could lose a signature the person saw as saved. rexie
//! does not expose the `durability` option and web-sys has it only behind an
//! unstable cfg, so these transactions are opened on a second, raw connection
//! through `IDBDatabase.transaction(stores, "readwrite", {durability: "strict"})`.

use super::DbError;
use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DomException, IdbDatabase, IdbRequest, IdbTransaction};

/// Opens a plain connection to an existing database (its schema is rexie's job).
pub(crate) async fn open(name: &str) -> Result<IdbDatabase, DbError> {
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or_else(|| DbError::Open("this browser has no IndexedDB".into()))?;
    let request: IdbRequest = factory
        .open(name)
        .map_err(|e| DbError::Open(describe(&e)))?
        .unchecked_into();
    let db = settle_request(&request)
        .await
        .map_err(|e| DbError::Open(e.to_string()))?;
    Ok(db.unchecked_into())
}

/// A read-write transaction that completes only once its data is on disk.
pub(crate) fn strict_transaction(
    db: &IdbDatabase,
    stores: &[&str],
) -> Result<IdbTransaction, DbError> {
    let names: Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
    let options = Object::new();
    Reflect::set(&options, &"durability".into(), &"strict".into())
        .map_err(|e| DbError::Write(describe(&e)))?;
    let transaction: Function = Reflect::get(db, &"transaction".into())
        .and_then(|f| f.dyn_into())
        .map_err(|e| DbError::Write(describe(&e)))?;
    let tx = transaction
        .call3(db, &names, &"readwrite".into(), &options)
        .map_err(|e| DbError::Write(describe(&e)))?;
    Ok(tx.unchecked_into())
}

/// The result of a request, once it has succeeded.
pub(crate) async fn settle_request(request: &IdbRequest) -> Result<JsValue, DbError> {
    let promise = Promise::new(&mut |resolve, reject| {
        let req = request.clone();
        let on_success = Closure::once_into_js(move || {
            let _ = resolve.call1(&JsValue::NULL, &req.result().unwrap_or(JsValue::UNDEFINED));
        });
        let req = request.clone();
        let on_error = Closure::once_into_js(move || {
            let err = req
                .error()
                .ok()
                .flatten()
                .map(JsValue::from)
                .unwrap_or(JsValue::NULL);
            let _ = reject.call1(&JsValue::NULL, &err);
        });
        request.set_onsuccess(Some(on_success.unchecked_ref()));
        request.set_onerror(Some(on_error.unchecked_ref()));
    });
    JsFuture::from(promise).await.map_err(|e| classify(&e))
}

/// Waits for the transaction to commit; an abort or error is a failed write.
pub(crate) async fn committed(tx: &IdbTransaction) -> Result<(), DbError> {
    let promise = Promise::new(&mut |resolve, reject| {
        let on_complete = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::NULL);
        });
        let t = tx.clone();
        let reject2 = reject.clone();
        let on_abort = Closure::once_into_js(move || {
            let err = t.error().map(JsValue::from).unwrap_or(JsValue::NULL);
            let _ = reject.call1(&JsValue::NULL, &err);
        });
        let t = tx.clone();
        let on_error = Closure::once_into_js(move || {
            let err = t.error().map(JsValue::from).unwrap_or(JsValue::NULL);
            let _ = reject2.call1(&JsValue::NULL, &err);
        });
        tx.set_oncomplete(Some(on_complete.unchecked_ref()));
        tx.set_onabort(Some(on_abort.unchecked_ref()));
        tx.set_onerror(Some(on_error.unchecked_ref()));
    });
    JsFuture::from(promise)
        .await
        .map(|_| ())
        .map_err(|e| classify(&e))
}

/// Storage running out deserves its own message: it is the one failure a
/// person can fix themselves.
pub(crate) fn classify(err: &JsValue) -> DbError {
    match err.dyn_ref::<DomException>() {
        Some(e) if e.name() == "QuotaExceededError" => DbError::QuotaExceeded,
        Some(e) if e.name() == "ConstraintError" => DbError::AlreadyExists,
        _ if err.is_null() => DbError::Write("the change was rolled back".into()),
        _ => DbError::Write(describe(err)),
    }
}

fn describe(err: &JsValue) -> String {
    match err.dyn_ref::<DomException>() {
        Some(e) => format!("{}: {}", e.name(), e.message()),
        None => err.as_string().unwrap_or_else(|| format!("{err:?}")),
    }
}
