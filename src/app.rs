//! The root component: provides contexts, registers the service worker, routes.

use crate::components::header::SiteHeader;
use crate::pages::{
    admin::Admin, home::Home, not_found::NotFound, policies::PolicyList, publish::Publish,
    reader::Reader, sign::Sign, status::SyncStatusPage,
};
use crate::state::provide_sync_status;
use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

#[component]
pub fn App() -> impl IntoView {
    provide_sync_status();
    register_service_worker();
    crate::components::text_size::restore_text_size();
    view! {
        <Router>
            <a class="skip-link" href="#main">"Skip to main content"</a>
            <SiteHeader/>
            <main id="main" tabindex="-1">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=Home/>
                    <Route path=path!("/policies") view=PolicyList/>
                    <Route path=path!("/policies/:id") view=Reader/>
                    <Route path=path!("/sign/:id") view=Sign/>
                    <Route path=path!("/sync") view=SyncStatusPage/>
                    <Route path=path!("/admin") view=Admin/>
                    <Route path=path!("/admin/publish") view=Publish/>
                </Routes>
            </main>
        </Router>
    }
}

/// The service worker makes the app shell load with no network.
fn register_service_worker() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let container = window.navigator().service_worker();
    // Resolves later; failure (e.g. http on a LAN address) only loses offline start-up.
    let _ = container.register("/sw.js");
}
