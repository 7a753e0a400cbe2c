use crate::api;
use crate::components::resign::{Resign, ResignNotice};
use crate::state::session::use_session;
use crate::state::{app_db, use_sync_status};
use haven_core::api::accounts::ComplianceRow;
use haven_core::compliance::SignStatus;
use leptos::prelude::*;
use leptos_router::components::A;

/// A signed-in staff member's agreements still to sign (current versions
/// not yet signed), from the server; offline, a note instead. One whose
/// newer version replaced the one they signed says so, with the summary of
/// what changed, from the versions this device holds.
#[component]
fn ToSign(token: String) -> impl IntoView {
    let status = use_sync_status();
    let rows = LocalResource::new(move || {
        // Again after a sync brings something, such as the new version.
        status.data_version.track();
        let token = token.clone();
        async move {
            let list =
                api::get_json::<Vec<ComplianceRow>>(&api::url("/compliance/mine"), &token).await?;
            let mut due: Vec<ComplianceRow> = list
                .into_iter()
                .filter(|r| r.status.needs_action())
                .collect();
            due.dedup_by(|a, b| a.version_id == b.version_id);
            let mut shown = Vec::new();
            for row in due {
                let resign = resign_for(&row).await;
                shown.push((row, resign));
            }
            Ok::<_, api::ApiClientError>(shown)
        }
    });
    view! {
        <h2>"To sign"</h2>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || rows.get().map(|r| match r {
                Err(e) if e.is_unreachable() => view! {
                    <p class="meta">"Your list of agreements to sign shows when this device is online."</p>
                }.into_any(),
                Err(e) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                Ok(due) => {
                    if due.is_empty() {
                        return view! { <p data-testid="nothing-to-sign">"You have signed everything you are asked to. Thank you."</p> }.into_any();
                    }
                    view! {
                        <ul class="policy-list" data-testid="to-sign">
                            {due.into_iter().map(|(r, resign)| view! {
                                <li>
                                    <A href=format!("/sign/{}", r.version_id)>{r.policy_title.clone()}</A>
                                    <span class="meta">{format!(" — {} (version {})", r.status.label(), r.current_version)}</span>
                                    {match (resign, r.signed_version) {
                                        (Some(resign), _) => view! { <ResignNotice resign compact=true/> }.into_any(),
                                        // The new version has not reached this device yet.
                                        (None, Some(signed)) if r.status == SignStatus::SignedOlder => view! {
                                            <p class="resign-lede" data-testid="resign-notice"><strong>{format!(
                                                "This agreement has changed. You signed version {signed}; please read and sign version {}.",
                                                r.current_version
                                            )}</strong></p>
                                        }.into_any(),
                                        _ => ().into_any(),
                                    }}
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }
            })}
        </Transition>
    }
}

/// Why `row` is to be signed again, from the versions this device holds;
/// `None` when it is not a re-signing or the new version is not here yet.
async fn resign_for(row: &ComplianceRow) -> Option<Resign> {
    let signed = row
        .signed_version
        .filter(|_| row.status == SignStatus::SignedOlder)?;
    let db = app_db().await.ok()?;
    let current = db.policy(row.version_id).await.ok()??;
    let known = db.versions_of(row.policy_id).await.ok()?;
    Some(Resign::new(signed, current, &known))
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
