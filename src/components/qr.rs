//! A QR code drawn on the device as SVG, so it works offline.

use leptos::prelude::*;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode as Code};

/// The SVG of a QR code for `text`, or `None` if it is too long for one.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = Code::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(180, 180)
            .quiet_zone(true)
            .build(),
    )
}

/// The QR code of `text`, with `label` for screen readers. The SVG is made
/// here from the text's bits alone (no text of it is put into the markup),
/// so it cannot carry markup from `text`.
#[component]
pub fn QrCode(text: String, label: String) -> impl IntoView {
    match qr_svg(&text) {
        Some(svg) => {
            view! { <div class="qr" role="img" aria-label=label inner_html=svg></div> }.into_any()
        }
        None => {
            view! { <p class="field-error">"This link is too long for a QR code."</p> }.into_any()
        }
    }
}
