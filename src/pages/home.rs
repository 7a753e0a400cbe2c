use crate::state::use_sync_status;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn Home() -> impl IntoView {
    let status = use_sync_status();
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
        <p class="meta" data-testid="last-sync">
            {move || match last_sync() {
                Some(t) => format!("Last synced {t}."),
                None => "Not synced yet on this device.".to_owned(),
            }}
        </p>
    }
}
