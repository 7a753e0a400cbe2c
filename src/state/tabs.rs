//! Several open tabs, one sync: a Web Lock lets one tab push at a time and a
//! BroadcastChannel tells the others that stored data changed.

use crate::state::lifecycle;
use futures::future::{select, Either};
use js_sys::{Function, Object, Promise, Reflect};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::BroadcastChannel;

const LOCK_NAME: &str = "haven-sync";
const CHANNEL_NAME: &str = "haven-data";

/// Runs `work` holding the sync lock, unless another tab holds it; returns
/// `None` then. Browsers without Web Locks run it directly. If the page is
/// left meanwhile ([`lifecycle::leaving`]), `work` is abandoned and the lock
/// released at once (`None` too), so a page frozen in the back/forward cache
/// never holds it.
pub async fn with_sync_lock<F, Fut, T>(work: F) -> Option<T>
where
    F: FnOnce() -> Fut + 'static,
    Fut: Future<Output = T> + 'static,
    T: 'static,
{
    let locks = web_sys::window()
        .and_then(|w| Reflect::get(&w.navigator(), &"locks".into()).ok())
        .filter(|l| !l.is_undefined());
    let request = locks
        .as_ref()
        .and_then(|l| Reflect::get(l, &"request".into()).ok())
        .and_then(|f| f.dyn_into::<Function>().ok());
    let (Some(locks), Some(request)) = (locks, request) else {
        return Some(work().await);
    };

    let result: Rc<RefCell<Option<T>>> = Rc::default();
    let ran = Rc::new(Cell::new(false));
    let (slot, ran_in) = (result.clone(), ran.clone());
    let callback = Closure::once_into_js(move |lock: JsValue| -> Promise {
        if lock.is_null() {
            // Another tab is syncing.
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        ran_in.set(true);
        future_to_promise(async move {
            let work = Box::pin(work());
            if let Either::Left((value, _)) = select(work, Box::pin(lifecycle::leaving())).await {
                *slot.borrow_mut() = Some(value);
            }
            Ok(JsValue::UNDEFINED)
        })
    });
    let options = Object::new();
    let _ = Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE);
    let Ok(promise) = request.call3(&locks, &LOCK_NAME.into(), &options, &callback) else {
        return None;
    };
    let _ = JsFuture::from(Promise::from(promise)).await;
    let value = result.borrow_mut().take();
    if ran.get() {
        value
    } else {
        None
    }
}

thread_local! {
    static CHANNEL: Option<BroadcastChannel> = BroadcastChannel::new(CHANNEL_NAME).ok();
}

/// Tells other tabs that stored data changed (a signature, a finished sync).
pub fn announce_change() {
    CHANNEL.with(|c| {
        if let Some(c) = c {
            let _ = c.post_message(&"changed".into());
        }
    });
}

/// Calls `on_change` whenever another tab announces a change.
pub fn on_change_elsewhere(on_change: impl Fn() + 'static) {
    CHANNEL.with(|c| {
        if let Some(c) = c {
            let handler = Closure::<dyn Fn()>::new(on_change);
            c.set_onmessage(Some(handler.as_ref().unchecked_ref()));
            // Lives as long as the page.
            handler.forget();
        }
    });
}
