//! Online or offline, and how many changes are waiting: always in view, and a
//! link to the full sync status.

use crate::state::use_sync_status;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn SyncBadge() -> impl IntoView {
    let status = use_sync_status();
    let label = move || status.connection.get().label();
    let state = move || status.connection.get().state();
    let waiting = move || match (status.pending.get(), status.rejected.get()) {
        (0, 0) => "All changes synced".to_owned(),
        (0, r) => format!("{r} refused by the server"),
        (1, _) => "1 change waiting to sync".to_owned(),
        (n, _) => format!("{n} changes waiting to sync"),
    };
    let stale = move || status.is_stale(crate::clock::now_ms());
    view! {
        <div class="sync-status" role="status" aria-live="polite" data-testid="sync-status">
            <span class="badge" data-state=state data-testid="connection">{label}</span>
            <A href="/sync">
                <span data-testid="pending" data-count=move || status.pending.get().to_string()>
                    {waiting}
                </span>
                {move || stale().then(|| view! { <span class="badge" data-state="offline">" · waiting over a day"</span> })}
            </A>
            {move || status.progress.get().map(|p| view! {
                <progress class="sync-progress" aria-label="Sync progress" max=p.total.to_string() value=p.done.to_string()></progress>
            })}
        </div>
    }
}
