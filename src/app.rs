//! The root components of the two builds (see [`haven_core::shell`]): the
//! full app and the reader. Both provide the same contexts, header and
//! footer.

use crate::components::header::{SiteFooter, SiteHeader};
use crate::pages::incident::{MyIncidents, NewIncident};
use crate::pages::kiosk::{
    badge::KioskBadge,
    roll_call::{EndOfDay, KioskStaff, RollCall},
    sign_in::KioskSignIn,
    sign_out::KioskSignOut,
    KioskWelcome,
};
use crate::pages::manage::incidents::{
    IncidentLog, IncidentReportPage, IncidentView, PersonIncidents,
};
use crate::pages::manage::{
    audit::AuditAdmin, compliance::ComplianceAdmin, devices::DevicesAdmin, parents::ParentsAdmin,
    reception::ReceptionAdmin, roster::RosterAdmin, staff::StaffAdmin,
};
use crate::pages::{
    account::Account, admin::Admin, drafts::Drafts, enrol::Enrol, home::Home,
    invite::AcceptInvitation, invite::FirstSetup, join::Join, not_found::NotFound,
    policies::PolicyList, publish::Publish, reader::Reader, sign::Sign, signin::SignIn,
    status::SyncStatusPage, unlock::Unlock, verify::Verify,
};
use crate::state::device_role::provide_device_role;
use crate::state::provide_sync_status;
use crate::state::session::provide_session;
use haven_core::shell::{shell_for, Shell};
use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

/// The full app: every page. Served for staff, admin, DSL and kiosk pages
/// (see [`haven_core::shell`]); once it is running, every link stays in it.
#[component]
pub fn App() -> impl IntoView {
    // Kiosks and tablets offer the browser's install prompt (enrolment, the
    // kiosk's staff menu): keep it from the start, when the browser sends it.
    crate::components::storage::capture_install_prompt();
    view! {
        <Frame>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=Home/>
                <Route path=path!("/policies") view=PolicyList/>
                <Route path=path!("/policies/:id") view=Reader/>
                <Route path=path!("/sign/:id") view=Sign/>
                <Route path=path!("/sync") view=SyncStatusPage/>
                <Route path=path!("/join/:token") view=Join/>
                <Route path=path!("/verify/:code") view=Verify/>
                <Route path=path!("/admin") view=Admin/>
                <Route path=path!("/admin/publish") view=Publish/>
                <Route path=path!("/admin/staff") view=StaffAdmin/>
                <Route path=path!("/admin/roster") view=RosterAdmin/>
                <Route path=path!("/admin/devices") view=DevicesAdmin/>
                <Route path=path!("/admin/parents") view=ParentsAdmin/>
                <Route path=path!("/admin/audit") view=AuditAdmin/>
                <Route path=path!("/admin/compliance") view=ComplianceAdmin/>
                <Route path=path!("/admin/reception") view=ReceptionAdmin/>
                <Route path=path!("/admin/incidents") view=IncidentLog/>
                <Route path=path!("/admin/incidents/report") view=IncidentReportPage/>
                <Route path=path!("/admin/incidents/person") view=PersonIncidents/>
                <Route path=path!("/admin/incidents/:id") view=IncidentView/>
                <Route path=path!("/signin") view=SignIn/>
                <Route path=path!("/account") view=Account/>
                <Route path=path!("/invite/:token") view=AcceptInvitation/>
                <Route path=path!("/setup/:token") view=FirstSetup/>
                <Route path=path!("/unlock") view=Unlock/>
                <Route path=path!("/enrol") view=Enrol/>
                <Route path=path!("/drafts") view=Drafts/>
                <Route path=path!("/incidents") view=MyIncidents/>
                <Route path=path!("/incidents/new") view=NewIncident/>
                <Route path=path!("/kiosk") view=KioskWelcome/>
                <Route path=path!("/kiosk/sign-in") view=KioskSignIn/>
                <Route path=path!("/kiosk/sign-out") view=KioskSignOut/>
                <Route path=path!("/kiosk/badge/:id") view=KioskBadge/>
                <Route path=path!("/kiosk/staff") view=KioskStaff/>
                <Route path=path!("/kiosk/roll-call") view=RollCall/>
                <Route path=path!("/kiosk/end-of-day") view=EndOfDay/>
            </Routes>
        </Frame>
    }
}

/// The reader: only the pages of [`haven_core::shell::READER_SECTIONS`], the
/// first load of a parent's or guest's phone. Any other page is the full app's.
#[component]
pub fn ReaderApp() -> impl IntoView {
    let loaded_at = web_sys::window()
        .and_then(|w| w.location().pathname().ok())
        .unwrap_or_default();
    provide_context(LoadedAt(loaded_at));
    view! {
        <Frame>
            <Routes fallback=ToFullApp>
                <Route path=path!("/") view=Home/>
                <Route path=path!("/policies") view=PolicyList/>
                <Route path=path!("/policies/:id") view=Reader/>
                <Route path=path!("/sign/:id") view=Sign/>
                <Route path=path!("/sync") view=SyncStatusPage/>
                <Route path=path!("/join/:token") view=Join/>
                <Route path=path!("/verify/:code") view=Verify/>
            </Routes>
        </Frame>
    }
}

/// What both builds share: contexts, the service worker, the header and
/// footer.
#[component]
fn Frame(children: Children) -> impl IntoView {
    provide_sync_status();
    provide_session();
    provide_device_role();
    register_service_worker();
    crate::components::text_size::restore_text_size();
    if crate::prerender::showing() {
        set_timeout(crate::prerender::ready, crate::prerender::TAKE_OVER_AFTER);
    }
    view! {
        <Router>
            <a class="skip-link" href="#main">"Skip to main content"</a>
            <SiteHeader/>
            <main id="main" tabindex="-1">{children()}</main>
            <SiteFooter/>
        </Router>
    }
}

/// The path the reader's page was loaded at.
#[derive(Clone)]
struct LoadedAt(String);

/// The reader's fallback. A page the reader does not have but the full app
/// does is loaded afresh, and the server or service worker answers with the
/// full app.
///
/// The router puts the new URL in the address bar only after the fallback has
/// rendered, so the load waits a tick for it (reloading at once would reload
/// the page being left). A page the reader itself was loaded at is not
/// reloaded: the full app is not there to serve it (under `trunk serve`, say),
/// and reloading would only loop.
#[component]
fn ToFullApp() -> impl IntoView {
    let path = leptos_router::hooks::use_location()
        .pathname
        .get_untracked();
    let loaded_here = use_context::<LoadedAt>().is_some_and(|at| at.0 == path);
    if shell_for(&path) == Shell::Full && !loaded_here {
        set_timeout(
            move || {
                let Some(location) = web_sys::window().map(|w| w.location()) else {
                    return;
                };
                if location.pathname().ok().as_deref() == Some(path.as_str()) {
                    let _ = location.reload();
                } else {
                    let _ = location.assign(&path);
                }
            },
            std::time::Duration::ZERO,
        );
        return view! { <p class="loading" role="status">"Loading…"</p> }.into_any();
    }
    view! { <NotFound/> }.into_any()
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
