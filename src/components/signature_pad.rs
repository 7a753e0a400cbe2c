//! A signature pad: draw with a finger, stylus or mouse (pointer events), with
//! undo and clear. Strokes are kept as vectors in pad units (see
//! `haven_core::signature`), so zoom and rotation do not change them, and are
//! shown as SVG. People who cannot draw use the typed alternative beside it.

use haven_core::signature::{stroke_path, to_pad, Point, Stroke, PAD_HEIGHT, PAD_WIDTH};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

#[component]
pub fn SignaturePad(
    /// The finished strokes; the form reads them when the person signs.
    strokes: RwSignal<Vec<Stroke>>,
    /// Id of the text that labels the pad.
    labelled_by: &'static str,
) -> impl IntoView {
    // The stroke being drawn, and when it began (for point timings).
    let current = RwSignal::new(None::<(Stroke, f64)>);
    let svg_ref = NodeRef::<leptos::svg::Svg>::new();

    let pad_point = move |ev: &web_sys::PointerEvent, started: f64| -> Option<Point> {
        let svg: web_sys::Element = svg_ref.get_untracked()?.unchecked_into();
        let rect = svg.get_bounding_client_rect();
        // clientX/Y are fractional on high-density screens; web-sys rounds them.
        let coord = |name: &str, fallback: i32| {
            js_sys::Reflect::get(ev, &name.into())
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or(f64::from(fallback))
        };
        let (x, y) = to_pad(
            coord("clientX", ev.client_x()) - rect.left(),
            coord("clientY", ev.client_y()) - rect.top(),
            rect.width(),
            rect.height(),
        );
        Some(Point {
            x,
            y,
            t: (ev.time_stamp() - started).max(0.0) as u32,
        })
    };

    let on_down = move |ev: web_sys::PointerEvent| {
        ev.prevent_default();
        if let Some(target) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        {
            // Keep receiving moves if the finger slides off the pad.
            let _ = target.set_pointer_capture(ev.pointer_id());
        }
        let started = ev.time_stamp();
        if let Some(p) = pad_point(&ev, started) {
            current.set(Some((Stroke { points: vec![p] }, started)));
        }
    };
    let on_move = move |ev: web_sys::PointerEvent| {
        let Some(started) = current.with_untracked(|c| c.as_ref().map(|(_, s)| *s)) else {
            return;
        };
        ev.prevent_default();
        if let Some(p) = pad_point(&ev, started) {
            current.update(|c| {
                if let Some((stroke, _)) = c {
                    if stroke
                        .points
                        .last()
                        .is_none_or(|l| (l.x, l.y) != (p.x, p.y))
                    {
                        stroke.points.push(p);
                    }
                }
            });
        }
    };
    let on_up = move |_ev: web_sys::PointerEvent| {
        if let Some((stroke, _)) = current.get_untracked() {
            strokes.update(|s| s.push(stroke));
        }
        current.set(None);
    };

    view! {
        <div class="signature-pad">
            <svg
                node_ref=svg_ref
                class="signature-surface"
                viewBox=format!("0 0 {PAD_WIDTH} {PAD_HEIGHT}")
                role="img"
                aria-labelledby=labelled_by
                data-testid="signature-pad"
                on:pointerdown=on_down
                on:pointermove=on_move
                on:pointerup=on_up
                on:pointercancel=on_up
            >
                <line class="signature-baseline" x1="60" y1="320" x2="1140" y2="320"></line>
                {move || strokes.get().iter().map(|s| view! { <path d=stroke_path(s)></path> }).collect_view()}
                {move || current.get().map(|(s, _)| view! { <path d=stroke_path(&s)></path> })}
            </svg>
            <div class="signature-actions">
                <button type="button" class="button button-secondary"
                    disabled=move || strokes.with(Vec::is_empty)
                    on:click=move |_| strokes.update(|s| { s.pop(); })>"Undo"</button>
                <button type="button" class="button button-secondary"
                    disabled=move || strokes.with(Vec::is_empty)
                    on:click=move |_| strokes.set(Vec::new())>"Clear"</button>
            </div>
        </div>
    }
}
