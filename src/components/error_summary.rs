//! Form errors in the manner of the GOV.UK Design System: a summary at the top
//! of the page, focused when it appears, whose links move the focus to each
//! field, and the same message beside the field.
//!
//! A page keeps its errors as [`FieldErrors`]: the field's element id and the
//! message, in the order the fields appear. An error that belongs to no field
//! (the server cannot be reached, say) has the id `""` and is listed unlinked.

use leptos::prelude::*;

/// `(field id, message)` pairs, in page order.
pub type FieldErrors = Vec<(&'static str, String)>;

/// The id of the summary, for [`focus_by_id`] once a check has failed.
pub const SUMMARY_ID: &str = "error-summary";

/// "There is a problem", with a link to each field that has an error.
#[component]
pub fn ErrorSummary(#[prop(into)] errors: Signal<FieldErrors>) -> impl IntoView {
    move || {
        let list = errors.get();
        (!list.is_empty()).then(|| view! {
            <div class="error-summary" id=SUMMARY_ID tabindex="-1" role="alert" aria-labelledby="error-summary-title">
                <h2 id="error-summary-title">"There is a problem"</h2>
                <ul>
                    {list.into_iter().map(|(field, message)| if field.is_empty() {
                        view! { <li>{message}</li> }.into_any()
                    } else {
                        view! { <li><a href=format!("#{field}") on:click=focus_field(field)>{message}</a></li> }.into_any()
                    }).collect_view()}
                </ul>
            </div>
        })
    }
}

/// The message for `field`, to put beside it (its id is `{field}-error`, for
/// the field's `aria-describedby`).
#[component]
pub fn FieldError(#[prop(into)] errors: Signal<FieldErrors>, field: &'static str) -> impl IntoView {
    move || {
        errors
            .with(|list| {
                list.iter()
                    .find(|(f, _)| *f == field)
                    .map(|(_, m)| m.clone())
            })
            .map(|message| {
                view! {
                    <p class="field-error" id=format!("{field}-error")>
                        <span class="visually-hidden">"Error: "</span>{message}
                    </p>
                }
            })
    }
}

/// `"true"` while `field` has an error, for `aria-invalid` and the field's
/// `data-invalid` styling.
pub fn invalid(
    errors: impl Into<Signal<FieldErrors>>,
    field: &'static str,
) -> impl Fn() -> &'static str + Copy {
    let errors = errors.into();
    move || {
        if errors.with(|list| list.iter().any(|(f, _)| *f == field)) {
            "true"
        } else {
            "false"
        }
    }
}

/// The field's `aria-describedby`: its hint, if it has one, and its error
/// while there is one (never an id that is not on the page).
pub fn described_by(
    errors: impl Into<Signal<FieldErrors>>,
    field: &'static str,
    hint: Option<&'static str>,
) -> impl Fn() -> Option<String> + Copy {
    let errors = errors.into();
    move || {
        let error = errors
            .with(|list| list.iter().any(|(f, _)| *f == field))
            .then(|| format!("{field}-error"));
        match (hint, error) {
            (Some(h), Some(e)) => Some(format!("{h} {e}")),
            (Some(h), None) => Some(h.to_owned()),
            (None, e) => e,
        }
    }
}

/// A summary link's click: focus its field rather than let the router navigate.
pub fn focus_field(id: &'static str) -> impl Fn(leptos::ev::MouseEvent) + 'static {
    move |ev| {
        ev.prevent_default();
        focus_by_id(id);
    }
}

/// Focuses the element `id` on the next frame, once what shows it has rendered.
pub fn focus_by_id(id: &str) {
    let id = id.to_owned();
    request_animation_frame(move || {
        use wasm_bindgen::JsCast;
        if let Some(el) = document().get_element_by_id(&id) {
            if let Ok(el) = el.dyn_into::<web_sys::HtmlElement>() {
                let _ = el.focus();
            }
        }
    });
}
