//! Admin home: what the signed-in person may manage (by their roles), and
//! policies due for review.

use crate::pages::policies::today;
use crate::state::session::use_session;
use crate::state::{app_db, use_sync_status};
use haven_core::accounts::permissions::Capability;
use leptos::prelude::*;
use leptos_router::components::A;

/// Days ahead that count as "due soon".
const DUE_SOON_DAYS: f64 = 60.0;

#[component]
pub fn Admin() -> impl IntoView {
    let session = use_session();
    view! {
        <h1>"Admin"</h1>
        {move || {
            let Some(user) = session.user.get() else {
                return view! {
                    <p>"Sign in with an admin account to publish policies, manage staff and devices, \
                        and invite parents."</p>
                    <p><A href="/signin?next=/admin" attr:class="button">"Sign in"</A></p>
                }.into_any();
            };
            let grants = user.grants.clone();
            let trust_admin = grants.is_trust_admin();
            // The same capabilities the server checks (haven_core's
            // permissions), held at some academy.
            let can = |capability| grants.can(capability, None);
            if !Capability::ALL.into_iter().any(can) {
                return view! {
                    <p>"Your account has no admin role. Ask your headteacher or trust admin if you need one."</p>
                    <p><A href="/incidents">"Your incidents"</A></p>
                }.into_any();
            }
            view! {
                <ul class="admin-links">
                    {trust_admin.then(|| view! { <li><A href="/admin/publish">"Publish a new version"</A></li> })}
                    {can(Capability::ManageStaff).then(|| view! { <li><A href="/admin/staff">"Staff and roles"</A></li> })}
                    {trust_admin.then(|| view! { <li><A href="/admin/roster">"Import from the MIS"</A></li> })}
                    {can(Capability::ViewCompliance).then(|| view! { <li><A href="/admin/compliance">"Who has signed"</A></li> })}
                    {can(Capability::ManageDevices).then(|| view! { <li><A href="/admin/devices">"Devices"</A></li> })}
                    {can(Capability::ManageAcademy).then(|| view! { <li><A href="/admin/reception">"Reception rules"</A></li> })}
                    {can(Capability::FollowUpIncidents).then(|| view! { <li><A href="/admin/incidents">"Incident log"</A></li> })}
                    {can(Capability::ManageParentLinks).then(|| view! { <li><A href="/admin/parents">"Parent and carer invitations"</A></li> })}
                    {trust_admin.then(|| view! { <li><A href="/admin/audit">"Audit log"</A></li> })}
                </ul>
                <DueForReview/>
            }.into_any()
        }}
    }
}

/// Policies whose review date has passed or comes within [`DUE_SOON_DAYS`].
#[component]
fn DueForReview() -> impl IntoView {
    let status = use_sync_status();
    let policies = LocalResource::new(move || {
        status.data_version.track();
        async move { app_db().await?.latest_policies().await }
    });
    let soon = {
        let d = js_sys::Date::new_0();
        d.set_time(d.get_time() + DUE_SOON_DAYS * 86_400_000.0);
        format!(
            "{:04}-{:02}-{:02}",
            d.get_full_year(),
            d.get_month() + 1,
            d.get_date()
        )
    };
    view! {
        <h2>"Due for review"</h2>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || policies.get().map(|r| match r {
                Err(e) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                Ok(list) => {
                    let today = today();
                    let mut due: Vec<_> = list.into_iter().filter(|p| p.next_review_due <= soon).collect();
                    due.sort_by(|a, b| a.next_review_due.cmp(&b.next_review_due));
                    if due.is_empty() {
                        return view! { <p data-testid="none-due">"No policy is due for review in the next 60 days."</p> }.into_any();
                    }
                    view! {
                        <ul class="policy-list" data-testid="due-list">
                            {due.into_iter().map(|p| {
                                let overdue = p.next_review_due < today;
                                view! {
                                    <li>
                                        <A href=format!("/policies/{}", p.id)>{p.title.clone()}</A>
                                        <span class="meta">
                                            {if overdue { format!(" — overdue since {}", p.next_review_due) } else { format!(" — due {}", p.next_review_due) }}
                                        </span>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }
            })}
        </Transition>
    }
}
