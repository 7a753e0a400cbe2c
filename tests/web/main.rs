//! Browser tests: real IndexedDB in headless Chromium and Firefox
//! (wasm-bindgen-test). JavaScript a test needs goes in `browser.js`, not
//! in an `inline_js` block: that file says why.
#![cfg(target_arch = "wasm32")]

mod attachments;
mod durability;
mod identity;
mod incidents;
mod lifecycle;
mod lock;
mod render;
mod signature_pad;
mod staff_proof;
mod storage;
mod support;
mod visits;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
