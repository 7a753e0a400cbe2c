//! Reads one policy version from the device and renders it safely.

use crate::db::DbError;
use crate::state::{app_db, use_sync_status};
use haven_core::policy::PolicyVersion;
use haven_core::render::markdown_to_safe_html;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use uuid::Uuid;

/// The version id in the route, if it is a UUID.
fn route_version_id() -> impl Fn() -> Option<Uuid> + Copy {
    let params = use_params_map();
    move || {
        params
            .read()
            .get("id")
            .and_then(|s| Uuid::parse_str(&s).ok())
    }
}

/// The policy version named in the route, read from the device.
///
/// Re-read when a sync brings it down, but not once it is shown: published
/// versions never change, and re-rendering would lose the reader's place or
/// what a signer has typed.
pub(crate) fn use_route_policy() -> LocalResource<Result<Option<PolicyVersion>, DbError>> {
    let status = use_sync_status();
    let id = route_version_id();
    let found = RwSignal::new(false);
    let reload = RwSignal::new(0u32);
    Effect::new(move |_| {
        status.data_version.track();
        if !found.get_untracked() {
            reload.update(|n| *n += 1);
        }
    });
    LocalResource::new(move || {
        reload.track();
        let id = id();
        async move {
            let Some(id) = id else { return Ok(None) };
            let policy = app_db().await?.policy(id).await?;
            found.set(policy.is_some());
            Ok(policy)
        }
    })
}

#[component]
pub fn Reader() -> impl IntoView {
    let policy = use_route_policy();
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || policy.get().map(|result| match result {
                Err(e) => view! { <p class="field-error" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(None) => view! {
                    <h1>"Policy not on this device"</h1>
                    <p>"It will download the next time Haven reaches the server."</p>
                }.into_any(),
                Ok(Some(p)) => {
                    // Safe: core escapes raw HTML and drops unsafe links.
                    let html = markdown_to_safe_html(&p.body_markdown);
                    let sign_href = format!("/sign/{}", p.id);
                    view! {
                        <article>
                            <h1 data-testid="policy-title">{p.title.clone()}</h1>
                            <p class="meta">
                                {format!("{} · version {} · effective {} · approved by {} · next review {}",
                                    p.kind.label(), p.version, p.effective_date, p.approved_by, p.next_review_due)}
                            </p>
                            {p.kind.is_signable().then(|| view! {
                                <p class="no-print"><A href=sign_href.clone() attr:class="button">"Sign this agreement"</A></p>
                            })}
                            <div class="policy-body" data-testid="policy-body" inner_html=html></div>
                            {p.kind.is_signable().then(|| view! {
                                <p class="no-print"><A href=sign_href attr:class="button">"Sign this agreement"</A></p>
                            })}
                        </article>
                    }.into_any()
                }
            })}
        </Transition>
    }
}
