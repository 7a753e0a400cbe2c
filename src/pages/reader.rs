//! Reads one policy version from the device and renders it safely.

use crate::components::text_size::TextSize;
use crate::db::{DbError, VersionHead};
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

/// Takes over the server's copy of the page (`crate::prerender`) once it is
/// clear the policy cannot be shown: an error, or a sync pass that ended
/// without bringing it down. (Shown, the page takes over itself.)
///
/// "Not on this device" is believed only from a read made now: the pass that
/// ended may have just stored the policy, and the page's own read of it may
/// not have come back yet. Taking over on the earlier answer showed "Policy
/// not on this device" for a frame, and the policy's arrival then moved
/// everything below it (a layout shift Lighthouse counted).
pub(crate) fn take_over_unless_found(
    policy: LocalResource<Result<Option<PolicyVersion>, DbError>>,
) {
    let status = use_sync_status();
    let id = route_version_id();
    Effect::new(move |_| match policy.get() {
        None | Some(Ok(Some(_))) => {}
        Some(Err(_)) => crate::prerender::ready(),
        Some(Ok(None)) => {
            if status.last_sync_at.get().is_none() && status.problem.get().is_none() {
                return;
            }
            let id = id();
            leptos::task::spawn_local(async move {
                let stored = match (app_db().await, id) {
                    (Ok(db), Some(id)) => db.policy(id).await.ok().flatten(),
                    _ => None,
                };
                if stored.is_none() {
                    crate::prerender::ready();
                }
            });
        }
    });
}

#[component]
pub fn Reader() -> impl IntoView {
    let policy = use_route_policy();
    take_over_unless_found(policy);
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
fn use_newer_version(p: &PolicyVersion) -> LocalResource<Option<VersionHead>> {
    let status = use_sync_status();
    let (policy_id, version) = (p.policy_id, p.version);
    LocalResource::new(move || {
        status.data_version.track();
        async move {
            app_db()
                .await
                .ok()?
                .newer_version(policy_id, version)
                .await
                .ok()
                .flatten()
        }
    })
}

#[component]
fn PolicyDocument(policy: PolicyVersion) -> impl IntoView {
    let search = RwSignal::new(String::new());
    let newer = use_newer_version(&policy);
    let sign_href = format!("/sign/{}", policy.id);
    let signable = policy.kind.is_signable();
    let meta = policy.meta_line();
    let audiences = policy.audiences_line();
    let title = policy.title.clone();
    let body = StoredValue::new(policy.body_markdown);
    // Safe: core escapes raw HTML and drops unsafe links; the search text is
    // escaped too. Rendered once on opening (the contents list and the text
    // come from the same pass); again only for a search.
    let plain = body.with_value(|md| render_policy(md, None));
    let headings = plain.headings;
    let plain = StoredValue::new((plain.html, plain.matches));
    let rendered = Memo::new(move |_| {
        let query = search.get();
        if query.trim().is_empty() {
            return plain.get_value();
        }
        body.with_value(|md| {
            let r = render_policy(md, Some(&query));
            (r.html, r.matches)
        })
    });
    // Mounted, this is what the server's copy showed.
    Effect::new(|_| crate::prerender::ready());
    let matches = move || {
        let q = search.get();
        (!q.trim().is_empty()).then(|| match rendered.with(|r| r.1) {
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
            // Apart, so the text shows without waiting for this look-up.
            <Suspense fallback=|| ()>
                {move || newer.get().flatten().map(|n| view! {
                    <div class="panel panel-warn" role="status" data-testid="newer-version">
                        <p>
                            {format!("You are reading an older version. Version {} is now in force. ", n.version)}
                            <A href=format!("/policies/{}", n.id)>"Read the current version"</A>
                        </p>
                    </div>
                })}
            </Suspense>
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
            <div class="policy-body" data-testid="policy-body" inner_html=move || rendered.with(|r| r.0.clone())></div>
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
