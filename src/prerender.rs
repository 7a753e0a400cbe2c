//! Taking over a page the server sent with its content.
//!
//! A parent's link (a policy, signing it, an invitation, a receipt check)
//! arrives with the page already in `<div id="prerendered">`
//! (`crates/haven_server/src/http/prerender.rs`), so there is something to
//! read while this WebAssembly loads. The app renders hidden behind it (the
//! stylesheet hides everything after the block) and, once its own page shows
//! the same thing, [`ready`] swaps the two in one step: the block goes, the
//! app appears in the same place, and whatever was typed into the copy is
//! put into the app's field of the same id, with the focus.

use leptos::prelude::document;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlInputElement};

const BLOCK_ID: &str = "prerendered";

/// How long the app waits, at most, for its page to be ready before it takes
/// over anyway (a page that cannot show what the copy showed still works).
pub const TAKE_OVER_AFTER: std::time::Duration = std::time::Duration::from_secs(20);

fn block() -> Option<Element> {
    document().get_element_by_id(BLOCK_ID)
}

/// Whether the server's copy of a page is still showing.
pub fn showing() -> bool {
    block().is_some()
}

/// Called by a page once it shows what the server's copy of it showed (and
/// by the [`TAKE_OVER_AFTER`] timer): the app takes over. Nothing happens if
/// there is no copy, or it is gone already.
///
/// The swap waits for the app's fields that the copy had text in to be in
/// the document (a page's effects can run a moment before it is attached),
/// checking once a frame, for [`FRAMES`] frames at most.
pub fn ready() {
    take_over_within(FRAMES);
}

/// How many frames the swap waits, at most, for the app's fields.
const FRAMES: u32 = 60;

fn take_over_within(frames: u32) {
    let Some(block) = block() else { return };
    let typed = typed_into(&block);
    let waiting = typed
        .iter()
        .any(|(id, _)| app_element(&block, id).is_none());
    if waiting && frames > 0 {
        let next =
            wasm_bindgen::closure::Closure::once_into_js(move || take_over_within(frames - 1));
        if let Some(window) = web_sys::window() {
            let _ = window.request_animation_frame(next.unchecked_ref());
            return;
        }
    }
    take_over(&block, typed);
}

/// The app's element with `id`: not the copy's.
fn app_element(block: &Element, id: &str) -> Option<Element> {
    let all = document()
        .query_selector_all(&format!("[id=\"{id}\"]"))
        .ok()?;
    (0..all.length())
        .filter_map(|i| all.item(i))
        .filter_map(|n| n.dyn_into::<Element>().ok())
        .find(|e| !block.contains(Some(e)))
}

/// The copy's fields that hold text, by id.
fn typed_into(block: &Element) -> Vec<(String, String)> {
    let mut typed = Vec::new();
    if let Ok(fields) = block.query_selector_all("input[id]") {
        for i in 0..fields.length() {
            let Some(input) = fields
                .item(i)
                .and_then(|n| n.dyn_into::<HtmlInputElement>().ok())
            else {
                continue;
            };
            if !input.value().is_empty() {
                typed.push((input.id(), input.value()));
            }
        }
    }
    typed
}

fn take_over(block: &Element, typed: Vec<(String, String)>) {
    let focused = document()
        .active_element()
        .filter(|e| block.contains(Some(e)))
        .map(|e| e.id())
        .filter(|id| !id.is_empty());
    let targets: Vec<(HtmlInputElement, String)> = typed
        .into_iter()
        .filter_map(|(id, value)| {
            let input = app_element(block, &id)?
                .dyn_into::<HtmlInputElement>()
                .ok()?;
            Some((input, value))
        })
        .collect();
    let focus = focused.and_then(|id| app_element(block, &id));
    block.remove();
    for (input, value) in targets {
        if input.value().is_empty() {
            input.set_value(&value);
            // Bubbling, as a keystroke's would: Leptos listens at the root.
            let init = web_sys::EventInit::new();
            init.set_bubbles(true);
            if let Ok(event) = web_sys::Event::new_with_event_init_dict("input", &init) {
                let _ = input.dispatch_event(&event);
            }
        }
    }
    if let Some(el) = focus.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = el.focus();
    }
}
