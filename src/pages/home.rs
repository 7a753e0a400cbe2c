use crate::api;
use crate::state::session::use_session;
use crate::state::use_sync_status;
use haven_core::api::accounts::ComplianceRow;
use leptos::prelude::*;
use leptos_router::components::A;

/// A signed-in staff member's agreements still to sign (current versions
/// not yet signed), from the server; offline, a note instead.
#[component]
fn ToSign(token: String) -> impl IntoView {
    let rows = LocalResource::new(move || {
        let token = token.clone();
        async move { api::get_json::<Vec<ComplianceRow>>(&api::url("/compliance/mine"), &token).await }
    });
    view! {
        <h2>"To sign"</h2>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || rows.get().map(|r| match r {
                Err(e) if e.is_unreachable() => view! {
                    <p class="meta">"Your list of agreements to sign shows when this device is online."</p>
                }.into_any(),
                Err(e) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                Ok(list) => {
                    let mut due: Vec<ComplianceRow> = list.into_iter().filter(|r| r.status.needs_action()).collect();
                    due.dedup_by(|a, b| a.version_id == b.version_id);
                    if due.is_empty() {
                        return view! { <p data-testid="nothing-to-sign">"You have signed everything you are asked to. Thank you."</p> }.into_any();
                    }
                    view! {
                        <ul class="policy-list" data-testid="to-sign">
                            {due.into_iter().map(|r| view! {
                                <li>
                                    <A href=format!("/sign/{}", r.version_id)>{r.policy_title.clone()}</A>
                                    <span class="meta">{format!(" — {} (version {})", r.status.label(), r.current_version)}</span>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }
            })}
        </Transition>
    }
}

#[component]
pub fn Home() -> impl IntoView {
    let status = use_sync_status();
    let session = use_session();
    let last_sync = move || {
        status
            .last_sync_at
            .get()
            .map(crate::pages::status::format_time)
    };
    view! {
        <h1>"Online safety at Riverside"</h1>
        <p class="lede">
            "Read the trust's online-safety policies and sign its acceptable use agreements. \
             Everything works on this device without a connection, and is sent on as soon as \
             there is one."
        </p>
        <p><A href="/policies" attr:class="button">"Read and sign policies"</A></p>
        {move || session.token().map(|token| view! { <ToSign token/> })}
        <p class="meta" data-testid="last-sync">
            {move || match last_sync() {
                Some(t) => format!("Last synced {t}."),
                None => "Not synced yet on this device.".to_owned(),
            }}
        </p>
    }
}
