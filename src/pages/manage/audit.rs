//! `/admin/audit`: the audit log (trust admins). Reading it is audited too.

use super::require_token;
use crate::api;
use haven_core::api::accounts::AuditEntry;
use leptos::prelude::*;

#[component]
pub fn AuditAdmin() -> impl IntoView {
    view! {
        <h1>"Audit log"</h1>
        {match require_token("/admin/audit") {
            Err(prompt) => prompt,
            Ok(token) => {
                let entries = LocalResource::new(move || {
                    let token = token.clone();
                    async move { api::get_json::<Vec<AuditEntry>>(&api::url("/audit"), &token).await }
                });
                view! {
                    <Transition fallback=|| view! { <p>"Loading…"</p> }>
                        {move || entries.get().map(|r| match r {
                            Err(e) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                            Ok(list) => view! {
                                <div class="table-scroll" tabindex="0" role="region" aria-label="Audit log"><table class="data-table" data-testid="audit-table">
                                    <thead><tr><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"What"</th><th scope="col">"About"</th><th scope="col">"From"</th><th scope="col">"Detail"</th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|e| {
                                            let when = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(e.at as f64)).to_iso_string().as_string().unwrap_or_default();
                                            view! { <tr><td>{when}</td><td>{e.actor}</td><td>{e.action.replace('_', " ")}</td><td>{e.subject}</td><td>{e.client}</td><td>{e.detail}</td></tr> }
                                        }).collect_view()}
                                    </tbody>
                                </table></div>
                            }.into_any(),
                        })}
                    </Transition>
                }.into_any()
            }
        }}
    }
}
