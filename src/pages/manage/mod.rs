//! Admin pages for accounts and devices: staff and roles, devices, parent and
//! carer invitations, the audit log. Each calls the server with the unlocked
//! person's session; the server checks their role at each academy.

pub mod audit;
pub mod compliance;
pub mod devices;
pub mod incidents;
pub mod parents;
pub mod reception;
pub mod reminders;
pub mod roster;
pub mod staff;

pub use crate::clock::ago;
use crate::state::app_db;
use crate::state::session::use_session;
use haven_core::org::Academy;
use leptos::prelude::*;
use leptos_router::components::A;

/// The session token, or a prompt to sign in (these pages need the server).
pub fn require_token(next: &'static str) -> Result<String, AnyView> {
    use_session().token().ok_or_else(|| {
        view! {
            <p class="panel panel-warn">
                "This needs you signed in online. "
                <A href=format!("/signin?next={next}")>"Sign in"</A>
            </p>
        }
        .into_any()
    })
}

/// The academies stored on this device, by name.
pub fn academies() -> LocalResource<Vec<Academy>> {
    LocalResource::new(|| async {
        match app_db().await {
            Ok(db) => db.academies().await.unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    })
}

pub fn academy_name(list: &[Academy], id: Option<uuid::Uuid>) -> String {
    match id {
        None => "Whole trust".into(),
        Some(id) => list
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| id.to_string()),
    }
}

/// A day as the admin pages show it, 2026-12-07, by the browser's time zone.
pub fn date_of(ms: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    format!(
        "{:04}-{:02}-{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date()
    )
}

/// A full link on this site from a path the server gave.
pub fn full_link(path: &str) -> String {
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    format!("{origin}{path}")
}

/// Offers `text` as a file download named `name`.
pub fn download(name: &str, mime: &str, text: &str) {
    use wasm_bindgen::JsCast;
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    let document = web_sys::window().and_then(|w| w.document());
    if let Some(a) = document
        .and_then(|d| d.create_element("a").ok())
        .and_then(|e| e.dyn_into::<web_sys::HtmlAnchorElement>().ok())
    {
        a.set_href(&url);
        a.set_download(name);
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// Reads a chosen file as text.
pub async fn read_file(input: &web_sys::HtmlInputElement) -> Option<String> {
    let file = input.files()?.get(0)?;
    let text = wasm_bindgen_futures::JsFuture::from(file.text())
        .await
        .ok()?;
    text.as_string()
}
