//! The policy library: every policy stored on this device.

use crate::state::{app_db, use_sync_status};
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn PolicyList() -> impl IntoView {
    let status = use_sync_status();
    let policies = LocalResource::new(move || {
        status.data_version.track();
        async move { app_db().await?.latest_policies().await }
    });
    view! {
        <h1>"Policies and agreements"</h1>
        <Transition fallback=|| view! { <p>"Loading policies…"</p> }>
            {move || {
                policies.get().map(|result| match result {
                    Err(e) => view! { <p class="field-error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <p data-testid="no-policies">
                            "No policies on this device yet. They download the first time \
                             Haven can reach the server."
                        </p>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul class="policy-list">
                            {list.into_iter().map(|p| view! {
                                <li>
                                    <A href=format!("/policies/{}", p.id) attr:data-testid="policy-link">
                                        {p.title.clone()}
                                        <span class="meta">
                                            {format!("{} · version {} · effective {}", p.kind.label(), p.version, p.effective_date)}
                                        </span>
                                    </A>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                })
            }}
        </Transition>
    }
}
