//! The signature pad turns pointer input into strokes in pad units, whatever
//! its size on screen, with undo and clear.

use haven::components::signature_pad::SignaturePad;
use haven_core::signature::{Stroke, PAD_HEIGHT, PAD_WIDTH};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;

fn pointer(kind: &str, x: f64, y: f64) -> web_sys::PointerEvent {
    let init = web_sys::PointerEventInit::new();
    init.set_bubbles(true);
    init.set_cancelable(true);
    init.set_client_x(x as i32);
    init.set_client_y(y as i32);
    init.set_pointer_id(1);
    init.set_pointer_type("touch");
    web_sys::PointerEvent::new_with_event_init_dict(kind, &init).unwrap()
}

fn button(host: &web_sys::Element, label: &str) -> web_sys::HtmlElement {
    let buttons = host.query_selector_all("button").unwrap();
    (0..buttons.length())
        .map(|i| {
            buttons
                .item(i)
                .unwrap()
                .dyn_into::<web_sys::HtmlElement>()
                .unwrap()
        })
        .find(|b| b.text_content().as_deref() == Some(label))
        .unwrap()
}

/// Lets Leptos apply pending DOM updates (its effects run as microtasks).
async fn settle() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 20)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

#[wasm_bindgen_test]
async fn drawing_on_a_small_pad_records_strokes_in_pad_units_and_undo_and_clear_remove_them() {
    let document = web_sys::window().unwrap().document().unwrap();
    let host = document.create_element("div").unwrap();
    // A phone-sized pad: 300 x 100 CSS pixels, at the page's top left.
    host.set_attribute("style", "position:fixed;left:0;top:0;width:300px")
        .unwrap();
    document.body().unwrap().append_child(&host).unwrap();
    let strokes = RwSignal::new(Vec::<Stroke>::new());
    let _handle = leptos::mount::mount_to(host.clone().unchecked_into(), move || {
        view! { <span id="pad-label">"Sign here"</span><SignaturePad strokes labelled_by="pad-label"/> }
    });
    let svg = host.query_selector("svg").unwrap().unwrap();
    let rect = svg.get_bounding_client_rect();
    assert_eq!(rect.width().round(), 300.0);

    // A stroke from the left edge, a quarter of the way down, to the middle.
    let (left, top) = (rect.left(), rect.top());
    svg.dispatch_event(&pointer("pointerdown", left, top + 25.0))
        .unwrap();
    svg.dispatch_event(&pointer("pointermove", left + 75.0, top + 25.0))
        .unwrap();
    svg.dispatch_event(&pointer(
        "pointermove",
        left + 150.0,
        top + rect.height() / 2.0,
    ))
    .unwrap();
    svg.dispatch_event(&pointer(
        "pointerup",
        left + 150.0,
        top + rect.height() / 2.0,
    ))
    .unwrap();
    // A dot.
    svg.dispatch_event(&pointer("pointerdown", left + 240.0, top + 10.0))
        .unwrap();
    svg.dispatch_event(&pointer("pointerup", left + 240.0, top + 10.0))
        .unwrap();

    let drawn = strokes.get_untracked();
    assert_eq!(drawn.len(), 2);
    let first: Vec<(u16, u16)> = drawn[0].points.iter().map(|p| (p.x, p.y)).collect();
    let quarter = PAD_HEIGHT / 4;
    assert_eq!(first[0], (0, quarter), "{first:?}");
    assert_eq!(first[1], (PAD_WIDTH / 4, quarter), "{first:?}");
    assert_eq!(first[2], (PAD_WIDTH / 2, PAD_HEIGHT / 2), "{first:?}");
    assert_eq!(drawn[1].points.len(), 1);
    settle().await;
    // Shown as SVG paths.
    assert_eq!(svg.query_selector_all("path").unwrap().length(), 2);

    button(&host, "Undo").click();
    assert_eq!(strokes.get_untracked().len(), 1);
    settle().await;
    assert_eq!(svg.query_selector_all("path").unwrap().length(), 1);
    button(&host, "Clear").click();
    assert!(strokes.get_untracked().is_empty());
    host.remove();
}
