//! Larger or smaller text for reading, remembered on this device.

use leptos::prelude::*;

const KEY: &str = "haven.textScale";
const STEPS: [f64; 6] = [0.875, 1.0, 1.125, 1.25, 1.5, 2.0];

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// Applies a scale to the whole page through the `--text-scale` CSS variable.
fn apply(scale: f64) {
    if let Some(root) = document().document_element() {
        use wasm_bindgen::JsCast;
        if let Ok(root) = root.dyn_into::<web_sys::HtmlElement>() {
            let _ = root
                .style()
                .set_property("--text-scale", &scale.to_string());
        }
    }
}

/// Reads the remembered scale and applies it; call once at start-up.
pub fn restore_text_size() -> f64 {
    let scale = storage()
        .and_then(|s| s.get_item(KEY).ok().flatten())
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| STEPS.contains(v))
        .unwrap_or(1.0);
    apply(scale);
    scale
}

#[component]
pub fn TextSize() -> impl IntoView {
    let scale = RwSignal::new(restore_text_size());
    let step = move |delta: isize| {
        let i = STEPS
            .iter()
            .position(|s| *s == scale.get_untracked())
            .unwrap_or(1) as isize;
        let next = STEPS[(i + delta).clamp(0, STEPS.len() as isize - 1) as usize];
        scale.set(next);
        apply(next);
        if let Some(s) = storage() {
            let _ = s.set_item(KEY, &next.to_string());
        }
    };
    view! {
        <div class="text-size" role="group" aria-label="Text size">
            <button type="button" class="button button-secondary" on:click=move |_| step(-1)
                disabled=move || { scale.get() <= STEPS[0] }>"A−"<span class="visually-hidden">" smaller text"</span></button>
            <span class="text-size-value" aria-live="polite">{move || format!("{:.0}%", scale.get() * 100.0)}</span>
            <button type="button" class="button button-secondary" on:click=move |_| step(1)
                disabled=move || { scale.get() >= STEPS[STEPS.len() - 1] }>"A+"<span class="visually-hidden">" larger text"</span></button>
        </div>
    }
}
