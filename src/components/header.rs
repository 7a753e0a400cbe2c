use crate::components::sync_badge::SyncBadge;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn SiteHeader() -> impl IntoView {
    view! {
        <header class="site-header">
            <A href="/" attr:class="brand">"Haven"</A>
            <nav class="site-nav" aria-label="Main">
                <A href="/policies">"Policies"</A>
                <A href="/admin">"Admin"</A>
            </nav>
            <SyncBadge/>
        </header>
    }
}
