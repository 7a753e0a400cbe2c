//! Reads one policy version from the device and renders it safely.

use crate::components::text_size::TextSize;
use crate::db::DbError;
use crate::state::{app_db, use_sync_status};
use haven_core::policy::PolicyVersion;
use haven_core::render::render_policy;
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
                Ok(Some(p)) => view! { <PolicyDocument policy=p/> }.into_any(),
            })}
        </Transition>
    }
}

/// The newest stored version of the same policy, if it is newer than `p`.
fn use_newer_version(p: &PolicyVersion) -> LocalResource<Option<PolicyVersion>> {
    let status = use_sync_status();
    let (policy_id, version) = (p.policy_id, p.version);
    LocalResource::new(move || {
        status.data_version.track();
        async move {
            let latest = app_db().await.ok()?.latest_policies().await.ok()?;
            latest
                .into_iter()
                .find(|l| l.policy_id == policy_id && l.version > version)
        }
    })
}

#[component]
fn PolicyDocument(policy: PolicyVersion) -> impl IntoView {
    let search = RwSignal::new(String::new());
    let newer = use_newer_version(&policy);
    let sign_href = format!("/sign/{}", policy.id);
    let signable = policy.kind.is_signable();
    let meta = format!(
        "{} · version {} · effective {} · approved by {} · last reviewed {} · next review {}",
        policy.kind.label(),
        policy.version,
        policy.effective_date,
        policy.approved_by,
        policy.last_reviewed,
        policy.next_review_due
    );
    let audiences = (!policy.audiences.is_empty()).then(|| {
        let names: Vec<&str> = policy.audiences.iter().map(|a| a.label()).collect();
        format!("For: {}.", names.join(", "))
    });
    let title = policy.title.clone();
    let body = StoredValue::new(policy.body_markdown);
    // Safe: core escapes raw HTML and drops unsafe links; the search text is
    // escaped too.
    let rendered = Memo::new(move |_| {
        let query = search.get();
        body.with_value(|md| render_policy(md, Some(&query)))
    });
    let headings = body.with_value(|md| render_policy(md, None).headings);
    let matches = move || {
        let q = search.get();
        (!q.trim().is_empty()).then(|| match rendered.with(|r| r.matches) {
            0 => format!("No matches for “{}”.", q.trim()),
            1 => "1 match, highlighted.".to_owned(),
            n => format!("{n} matches, highlighted."),
        })
    };
    view! {
        <article>
            <h1 data-testid="policy-title">{title}</h1>
            <p class="meta">{meta}</p>
            {audiences.map(|a| view! { <p class="meta" data-testid="audiences">{a}</p> })}
            {move || newer.get().flatten().map(|n| view! {
                <div class="panel panel-warn" role="status" data-testid="newer-version">
                    <p>
                        {format!("You are reading an older version. Version {} is now in force. ", n.version)}
                        <A href=format!("/policies/{}", n.id)>"Read the current version"</A>
                    </p>
                </div>
            })}
            <div class="reader-tools no-print">
                <TextSize/>
                <div class="field reader-search">
                    <label for="doc-search">"Search this document"</label>
                    <input
                        type="search"
                        id="doc-search"
                        autocomplete="off"
                        inputmode="search"
                        prop:value=move || search.get()
                        on:input=move |ev| search.set(event_target_value(&ev))
                    />
                    <p class="hint" role="status" aria-live="polite" data-testid="search-result">{matches}</p>
                </div>
            </div>
            {signable.then(|| view! {
                <p class="no-print"><A href=sign_href.clone() attr:class="button">"Sign this agreement"</A></p>
            })}
            {(headings.len() > 1).then(|| view! {
                <nav class="contents" aria-label="Contents">
                    <details>
                        <summary>"Contents"</summary>
                        <ol>
                            {headings.into_iter().map(|h| {
                                let target = h.id.clone();
                                view! {
                                    <li class=format!("contents-level-{}", h.level)>
                                        <a href=format!("#{}", h.id) on:click=move |ev| {
                                            ev.prevent_default();
                                            scroll_to(&target);
                                        }>{h.text}</a>
                                    </li>
                                }
                            }).collect_view()}
                        </ol>
                    </details>
                </nav>
            })}
            <div class="policy-body" data-testid="policy-body" inner_html=move || rendered.with(|r| r.html.clone())></div>
            {signable.then(|| view! {
                <p class="no-print"><A href=sign_href attr:class="button">"Sign this agreement"</A></p>
            })}
        </article>
    }
}

/// Scrolls to a heading and moves focus there, as following an in-page link would.
fn scroll_to(id: &str) {
    use wasm_bindgen::JsCast;
    if let Some(el) = document().get_element_by_id(id) {
        el.scroll_into_view();
        if let Ok(el) = el.dyn_into::<web_sys::HtmlElement>() {
            let _ = el.set_attribute("tabindex", "-1");
            let _ = el.focus();
        }
    }
}
