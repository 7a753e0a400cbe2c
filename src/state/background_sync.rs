//! Background Sync, where the browser has it: after a failed push the page
//! asks for a "haven-sync" event, and the service worker relays it back here
//! when the browser sees the connection return (public/sw.js).

use crate::state::nudge_sync;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

const TAG: &str = "haven-sync";

/// Asks the browser for a sync event once it is back online. Browsers
/// without Background Sync (Firefox, Safari) rely on the `online` event and
/// the retry timer instead.
pub fn register_background_sync() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let container = window.navigator().service_worker();
    let Ok(ready) = container.ready() else { return };
    leptos::task::spawn_local(async move {
        let Ok(registration) = wasm_bindgen_futures::JsFuture::from(ready).await else {
            return;
        };
        let Ok(sync) = Reflect::get(&registration, &"sync".into()) else {
            return;
        };
        let register = Reflect::get(&sync, &"register".into()).ok();
        if let Some(register) = register.and_then(|f| f.dyn_into::<Function>().ok()) {
            if let Ok(p) = register.call1(&sync, &TAG.into()) {
                let _ = wasm_bindgen_futures::JsFuture::from(Promise::from(p)).await;
            }
        }
    });
}

/// Runs a sync pass when the service worker relays a sync event.
pub fn listen_for_background_sync() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let container = window.navigator().service_worker();
    let on_message = Closure::<dyn Fn(web_sys::MessageEvent)>::new(|ev: web_sys::MessageEvent| {
        let kind = Reflect::get(&ev.data(), &"type".into())
            .ok()
            .and_then(|t| t.as_string());
        if kind.as_deref() == Some(TAG) {
            // The browser thinks the network is back; a backoff still holds
            // unless the network really was off (then `online` said so).
            nudge_sync();
        }
    });
    let _ =
        container.add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref());
    // Lives as long as the page.
    on_message.forget();
}
