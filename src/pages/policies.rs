//! The policy library: every policy stored on this device, by kind, with its
//! review status.

use crate::state::{app_db, use_sync_status};
use haven_core::policy::{PolicyKind, PolicyOwner, PolicyVersion};
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

/// Which owner the library shows.
#[derive(Clone, PartialEq)]
enum OwnerFilter {
    All,
    Trust,
    Academy(uuid::Uuid),
}

impl OwnerFilter {
    fn from_value(v: &str) -> Self {
        match v {
            "trust" => OwnerFilter::Trust,
            id => uuid::Uuid::parse_str(id).map_or(OwnerFilter::All, OwnerFilter::Academy),
        }
    }

    /// An academy sees its own policies and the trust's.
    fn shows(&self, owner: &PolicyOwner) -> bool {
        match (self, owner) {
            (OwnerFilter::All, _) => true,
            (OwnerFilter::Trust, PolicyOwner::Trust) => true,
            (OwnerFilter::Academy(_), PolicyOwner::Trust) => true,
            (OwnerFilter::Academy(id), PolicyOwner::Academy { academy_id }) => id == academy_id,
            _ => false,
        }
    }
}

#[component]
pub fn PolicyList() -> impl IntoView {
    let status = use_sync_status();
    let library = LocalResource::new(move || {
        status.data_version.track();
        async move {
            let db = app_db().await?;
            Ok::<_, crate::db::DbError>((db.latest_policies().await?, db.academies().await?))
        }
    });
    let owner = RwSignal::new(OwnerFilter::All);
    let kind = RwSignal::new(None::<PolicyKind>);
    view! {
        <h1>"Policies and agreements"</h1>
        <Transition fallback=|| view! { <p>"Loading policies…"</p> }>
            {move || {
                library.get().map(|result| match result {
                    Err(e) => view! { <p class="field-error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok((list, _)) if list.is_empty() => view! {
                        <p data-testid="no-policies">
                            "No policies on this device yet. They download the first time \
                             Haven can reach the server."
                        </p>
                    }.into_any(),
                    Ok((list, academies)) => {
                        let today = today();
                        let kinds: Vec<PolicyKind> = PolicyKind::ALL
                            .into_iter()
                            .filter(|k| list.iter().any(|p| p.kind == *k))
                            .collect();
                        let list = StoredValue::new(list);
                        view! {
                            <div class="filters no-print">
                                <div class="field">
                                    <label for="filter-academy">"Academy"</label>
                                    <select id="filter-academy" on:change=move |ev| owner.set(OwnerFilter::from_value(&event_target_value(&ev)))>
                                        <option value="all">"All academies"</option>
                                        <option value="trust">"Trust-wide only"</option>
                                        {academies.into_iter().map(|a| view! {
                                            <option value=a.id.to_string()>{a.name}</option>
                                        }).collect_view()}
                                    </select>
                                </div>
                                <div class="field">
                                    <label for="filter-kind">"Kind"</label>
                                    <select id="filter-kind" on:change=move |ev| {
                                        let v = event_target_value(&ev);
                                        kind.set(PolicyKind::ALL.into_iter().find(|k| k.label() == v));
                                    }>
                                        <option value="all">"All kinds"</option>
                                        {kinds.iter().map(|k| view! { <option value=k.label()>{k.label()}</option> }).collect_view()}
                                    </select>
                                </div>
                            </div>
                            {move || {
                                let (owner, wanted) = (owner.get(), kind.get());
                                let shown: Vec<PolicyVersion> = list.with_value(|l| {
                                    l.iter()
                                        .filter(|p| owner.shows(&p.owner) && wanted.is_none_or(|k| k == p.kind))
                                        .cloned()
                                        .collect()
                                });
                                if shown.is_empty() {
                                    return view! { <p>"No policies match."</p> }.into_any();
                                }
                                kinds.iter().filter_map(|k| {
                                    let group: Vec<_> = shown.iter().filter(|p| p.kind == *k).cloned().collect();
                                    (!group.is_empty()).then(|| view! { <PolicyGroup kind=*k policies=group today=today.clone()/> })
                                }).collect_view().into_any()
                            }}
                        }.into_any()
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
