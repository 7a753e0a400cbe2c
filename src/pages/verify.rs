//! `/verify/CODE`: anyone can check a receipt — whether the record exists
//! on the school's server and is unaltered. Shows initials, not names.

use crate::api::{self, ApiClientError};
use haven_core::api::VerifiedReceipt;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

fn date(ms: i64) -> String {
    js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64))
        .to_locale_string("en-GB", &wasm_bindgen::JsValue::UNDEFINED)
        .as_string()
        .unwrap_or_default()
}

#[component]
pub fn Verify() -> impl IntoView {
    let code = use_params_map().with_untracked(|p| p.get("code").unwrap_or_default());
    let shown = code.clone();
    // The server's copy says "Checking…" too (`crate::prerender`).
    Effect::new(|_| crate::prerender::ready());
    let result = LocalResource::new(move || {
        let code = code.clone();
        async move {
            let resp = gloo_net::http::Request::get(&api::url(&format!("/verify/{code}")))
                .send()
                .await
                .map_err(|_| ApiClientError::Unreachable)?;
            if resp.status() == 404 {
                return Ok(Vec::new());
            }
            if !resp.ok() {
                let e: haven_core::api::ApiError = resp
                    .json()
                    .await
                    .map_err(|e| ApiClientError::Decode(e.to_string()))?;
                return Err(ApiClientError::Server {
                    status: resp.status(),
                    code: e.code,
                    message: e.message,
                });
            }
            resp.json::<Vec<VerifiedReceipt>>()
                .await
                .map_err(|e| ApiClientError::Decode(e.to_string()))
        }
    });
    view! {
        <h1>{format!("Check receipt {shown}")}</h1>
        <Transition fallback=|| view! { <p>"Checking…"</p> }>
            {move || result.get().map(|r| match r {
                Err(ApiClientError::Unreachable) => view! {
                    <p class="panel panel-warn">"The school's server cannot be reached, so the receipt cannot be checked now. Try again when online."</p>
                }.into_any(),
                Err(e) => view! { <p class="panel panel-warn" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(list) if list.is_empty() => view! {
                    <p class="panel panel-warn" data-testid="verify-result">"No signed record has this receipt code. Check the code for typing mistakes; a record signed offline appears once the device that made it has been online."</p>
                }.into_any(),
                Ok(list) => view! {
                    {list.into_iter().map(|r| {
                        let verdict = if r.unaltered {
                            "This record is on the school's server and has not been changed since it arrived."
                        } else {
                            "Warning: this record has been changed since it arrived. Tell the school's data protection officer."
                        };
                        view! {
                            <div class=if r.unaltered { "panel panel-ok" } else { "panel panel-warn" } data-testid="verify-result">
                                <p><strong>{verdict}</strong></p>
                                <dl class="summary-list">
                                    <div><dt>"Agreement"</dt><dd>{format!("{} (version {})", r.policy_title, r.policy_version)}</dd></div>
                                    <div><dt>{if r.agreed { "Signed by" } else { "Declined by" }}</dt><dd>{r.signer_initials.clone()}</dd></div>
                                    <div><dt>"Signed"</dt><dd>{date(r.signed_at)}</dd></div>
                                    <div><dt>"Received"</dt><dd>{date(r.received_at)}</dd></div>
                                </dl>
                            </div>
                        }
                    }).collect_view()}
                }.into_any(),
            })}
        </Transition>
    }
}
