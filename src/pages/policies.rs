//! The policy library: every policy stored on this device, by kind, with its
//! review status.

use crate::state::{app_db, use_sync_status};
use haven_core::policy::{PolicyKind, PolicyVersion};
use leptos::prelude::*;
use leptos_router::components::A;

/// Today as `YYYY-MM-DD` in the device's time zone.
pub fn today() -> String {
    let d = js_sys::Date::new_0();
    format!(
        "{:04}-{:02}-{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date()
    )
}

/// Whether a policy's review date has passed. Dates are ISO, so they compare as text.
pub fn review_overdue(p: &PolicyVersion, today: &str) -> bool {
    p.next_review_due.as_str() < today
}

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
                    Ok(list) => {
                        let today = today();
                        PolicyKind::ALL
                            .into_iter()
                            .filter_map(|kind| {
                                let group: Vec<_> = list.iter().filter(|p| p.kind == kind).cloned().collect();
                                (!group.is_empty()).then(|| view! { <PolicyGroup kind=kind policies=group today=today.clone()/> })
                            })
                            .collect_view()
                            .into_any()
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn PolicyGroup(kind: PolicyKind, policies: Vec<PolicyVersion>, today: String) -> impl IntoView {
    view! {
        <section class="policy-group">
            <h2>{kind.label()}</h2>
            <ul class="policy-list">
                {policies.into_iter().map(|p| {
                    let overdue = review_overdue(&p, &today);
                    view! {
                        <li>
                            <A href=format!("/policies/{}", p.id) attr:data-testid="policy-link">
                                {p.title.clone()}
                                <span class="meta">
                                    {format!("Version {} · effective {} · ", p.version, p.effective_date)}
                                    {if overdue {
                                        view! { <strong class="review-overdue">{format!("review overdue since {}", p.next_review_due)}</strong> }.into_any()
                                    } else {
                                        view! { <span>{format!("next review {}", p.next_review_due)}</span> }.into_any()
                                    }}
                                </span>
                            </A>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}
