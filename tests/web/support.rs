//! Helpers the browser tests share.

use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

/// Whether `needle` appears in any string or byte array inside `value`.
pub fn holds(value: &JsValue, needle: &[u8]) -> bool {
    let found = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        return found(&bytes.to_vec());
    }
    if let Some(s) = value.as_string() {
        return found(s.as_bytes());
    }
    if let Some(array) = value.dyn_ref::<Array>() {
        let numbers: Option<Vec<u8>> = array.iter().map(|v| v.as_f64().map(|f| f as u8)).collect();
        if let Some(bytes) = numbers {
            return found(&bytes);
        }
        return array.iter().any(|v| holds(&v, needle));
    }
    if let Some(object) = value.dyn_ref::<Object>() {
        return Object::values(object).iter().any(|v| holds(&v, needle));
    }
    false
}

/// Every outbox entry's mutation, in order: what a push would have sent.
pub async fn outbox_mutations(db: &haven::db::Db) -> Vec<haven_core::sync::wire::Mutation> {
    db.outbox()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.mutation)
        .collect()
}
