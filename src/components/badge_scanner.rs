//! Reads a visitor badge's QR code with the tablet's camera, where the
//! browser has the Shape Detection API's `BarcodeDetector` (Chrome on
//! Android and ChromeOS; not desktop Linux). Elsewhere the button is not
//! shown and the badge code is typed. Only `/kiosk` pages may use the
//! camera (the server's Permissions-Policy).
//!
//! Called through `js_sys::Reflect` because web-sys has `BarcodeDetector`
//! only behind its unstable-API flag.

use js_sys::{Array, Function, Object, Promise, Reflect};
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// How often a video frame is looked at.
const SCAN_INTERVAL_MS: u32 = 250;

fn get(target: &JsValue, key: &str) -> Result<JsValue, JsValue> {
    Reflect::get(target, &JsValue::from_str(key))
}

fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = get(target, method)?.dyn_into()?;
    f.apply(target, &args.iter().collect::<Array>())
}

async fn await_promise(value: JsValue) -> Result<JsValue, JsValue> {
    JsFuture::from(value.dyn_into::<Promise>()?).await
}

/// Whether this browser can scan QR codes from a camera.
pub fn can_scan() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let has = |target: &JsValue, key: &str| {
        Reflect::has(target, &JsValue::from_str(key)).unwrap_or(false)
    };
    let navigator: JsValue = window.navigator().into();
    has(&window, "BarcodeDetector")
        && get(&navigator, "mediaDevices").is_ok_and(|m| has(&m, "getUserMedia"))
}

fn stop(stream: &JsValue) {
    if let Ok(tracks) = call(stream, "getTracks", &[]) {
        for track in Array::from(&tracks).iter() {
            let _ = call(&track, "stop", &[]);
        }
    }
}

/// Opens the camera into `video` and resolves with the first QR code seen,
/// or an error to show. `cancelled` stops it early.
async fn scan(video: web_sys::HtmlElement, cancelled: RwSignal<bool>) -> Result<String, String> {
    let window = web_sys::window().ok_or("no window")?;
    let navigator: JsValue = window.navigator().into();
    let constraints = Object::new();
    let video_constraints = Object::new();
    Reflect::set(
        &video_constraints,
        &"facingMode".into(),
        &"environment".into(),
    )
    .ok();
    Reflect::set(&constraints, &"video".into(), &video_constraints).ok();
    let devices = get(&navigator, "mediaDevices").map_err(|_| "no camera")?;
    let stream = await_promise(
        call(&devices, "getUserMedia", &[constraints.into()])
            .map_err(|_| "the camera could not be opened")?,
    )
    .await
    .map_err(|_| "the camera is not available or permission was refused; type the code instead")?;
    let video_js: JsValue = video.clone().into();
    Reflect::set(&video_js, &"srcObject".into(), &stream).ok();
    if let Ok(playing) = call(&video_js, "play", &[]) {
        let _ = await_promise(playing).await;
    }
    let options = Object::new();
    Reflect::set(
        &options,
        &"formats".into(),
        &Array::of1(&JsValue::from_str("qr_code")),
    )
    .ok();
    let detector_class: Function = get(&window, "BarcodeDetector")
        .and_then(|c| c.dyn_into())
        .map_err(|_| "this browser cannot read QR codes")?;
    let detector = Reflect::construct(&detector_class, &Array::of1(&options))
        .map_err(|_| "this browser cannot read QR codes")?;
    let result = loop {
        if cancelled.get_untracked() {
            break Err("cancelled".to_owned());
        }
        gloo_timers::future::TimeoutFuture::new(SCAN_INTERVAL_MS).await;
        let Ok(found) = call(&detector, "detect", std::slice::from_ref(&video_js)) else {
            continue;
        };
        let Ok(found) = await_promise(found).await else {
            continue;
        };
        let first = Array::from(&found).get(0);
        if let Some(raw) = get(&first, "rawValue").ok().and_then(|v| v.as_string()) {
            break Ok(raw);
        }
    };
    stop(&stream);
    result
}

/// A "Scan my badge" button and the camera view; calls `on_code` with what
/// the QR code holds. Renders nothing where scanning is not possible.
#[component]
pub fn BadgeScanner(on_code: Callback<String>) -> impl IntoView {
    let scanning = RwSignal::new(false);
    let cancelled = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let video = NodeRef::<leptos::html::Video>::new();
    let start = move |_| {
        error.set(None);
        cancelled.set(false);
        scanning.set(true);
        leptos::task::spawn_local(async move {
            // The video element renders with `scanning`; wait a frame for it.
            gloo_timers::future::TimeoutFuture::new(0).await;
            let Some(el) = video.get_untracked() else {
                return;
            };
            let el: web_sys::HtmlElement = el.unchecked_into();
            match scan(el, cancelled).await {
                Ok(raw) => on_code.run(raw),
                Err(e) if e == "cancelled" => {}
                Err(e) => error.set(Some(e)),
            }
            scanning.set(false);
        });
    };
    on_cleanup(move || cancelled.set(true));
    can_scan().then(|| {
        view! {
            <div class="badge-scanner">
                <Show when=move || !scanning.get()>
                    <button type="button" class="button kiosk-button" on:click=start>"Scan my badge"</button>
                </Show>
                <Show when=move || scanning.get()>
                    <video node_ref=video class="scanner-video" muted=true playsinline=true aria-label="Camera view: hold your badge's QR code up to the camera"></video>
                    <button type="button" class="button button-secondary" on:click=move |_| cancelled.set(true)>"Stop scanning"</button>
                </Show>
                {move || error.get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
            </div>
        }
    })
}
