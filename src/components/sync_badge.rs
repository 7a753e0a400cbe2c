//! Online or offline, and how many changes are waiting: always in view.

use crate::state::use_sync_status;
use leptos::prelude::*;

#[component]
pub fn SyncBadge() -> impl IntoView {
    let status = use_sync_status();
    let label = move || {
        if status.reachable.get() {
            "Online"
        } else {
            "Offline"
        }
    };
    let state = move || {
        if status.reachable.get() {
            "online"
        } else {
            "offline"
        }
    };
    let waiting = move || match status.pending.get() {
        0 => "All changes synced".to_owned(),
        1 => "1 change waiting to sync".to_owned(),
        n => format!("{n} changes waiting to sync"),
    };
    view! {
        <div class="sync-status" role="status" aria-live="polite" data-testid="sync-status">
            <span class="badge" data-state=state data-testid="connection">{label}</span>
            <span data-testid="pending" data-count=move || status.pending.get().to_string()>
                {waiting}
            </span>
        </div>
    }
}
