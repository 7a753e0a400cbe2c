//! The header and footer of every page but the kiosk's.
//!
//! What the header offers depends on whom the device serves
//! (`haven_core::device_role`): on a staff device, the staff controls (Admin,
//! Unlock, Sign in, or who is signed in); on a parent's phone, their academy's
//! name and nothing staff use; on a device that holds neither, a plain header.
//! Where the header leaves the staff controls out, the footer has a plain
//! "Staff sign in" link.

use crate::components::storage::StorageRisk;
use crate::components::sync_badge::SyncBadge;
use crate::state::device_role::{use_device_role, DeviceRoleHandle};
use crate::state::session::{sign_out, use_session};
use haven_core::device_role::DeviceRole;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::location::Location;

/// Whether the page is the kiosk's, which has its own bar with no way into
/// the app but the staff PIN. The PIN screen reached from the kiosk counts
/// too, so a visitor who taps "Staff" finds no way on.
fn in_kiosk(location: &Location) -> bool {
    let kiosk = |p: &str| p == "/kiosk" || p.starts_with("/kiosk/");
    location.pathname.with(|p| kiosk(p))
        || (location.pathname.with(|p| p == "/unlock")
            && location
                .query
                .with(|q| q.get("next").is_some_and(|n| kiosk(&n))))
}

/// Whether the header shows the staff controls: not until the device's
/// storage has been read, so a parent's phone never flashes them.
fn staff_controls(device: DeviceRoleHandle) -> bool {
    device.get().is_some_and(|this| this.role.staff_controls())
}

#[component]
pub fn SiteHeader() -> impl IntoView {
    let session = use_session();
    let device = use_device_role();
    let staff = move || staff_controls(device);
    // A parent's phone names their academy, and leads back to their
    // invitation; every other device is Haven's. (The trust has no crest
    // or logo to show: `haven_core::org` holds none.)
    let parent = move || device.get().filter(|s| s.role == DeviceRole::Parent);
    let brand_name = move || {
        parent()
            .and_then(|s| s.academy)
            .unwrap_or_else(|| "Haven".to_owned())
    };
    let brand_href = move || {
        parent()
            .and_then(|s| s.link_token)
            .map_or_else(|| "/".to_owned(), |t| crate::pages::join::join_path(&t))
    };
    let navigate = StoredValue::new_local(use_navigate());
    let hide = move |_| {
        // Locks at once and shows only the lock screen.
        session.lock();
        navigate.with_value(|nav| nav("/unlock", Default::default()));
    };
    let signing_out = Action::new_local(move |_: &()| async move {
        // Incidents not yet at the server stay sealed on the device; say so,
        // and that without this device's enrolment they wait for a sign-in.
        let me = session
            .user
            .with_untracked(|u| u.as_ref().map(|u| u.user_id()));
        let waiting = match crate::state::app_db().await {
            Ok(db) => db
                .incidents()
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|i| {
                    Some(&i.author) == me.as_ref() && i.sync == crate::db::SyncState::Pending
                })
                .count(),
            Err(_) => 0,
        };
        if waiting > 0 {
            let message = format!(
                "{waiting} incident(s) you logged have not reached the DSL yet. They stay on this \
                 device, encrypted, and are sent when it is online (on a device that is not \
                 enrolled, when you next sign in). Tell the DSL in person if it is urgent. Sign out?"
            );
            let go = web_sys::window()
                .and_then(|w| w.confirm_with_message(&message).ok())
                .unwrap_or(true);
            if !go {
                return;
            }
        }
        let _ = sign_out(session, false).await;
        navigate.with_value(|nav| nav("/", Default::default()));
    });
    let location = use_location();
    view! {
        <header class="site-header" hidden=move || in_kiosk(&location)>
            <A href=brand_href attr:class="brand" attr:data-testid="brand">{brand_name}</A>
            <nav class="site-nav" aria-label="Main">
                <A href="/policies">"Policies"</A>
                {move || staff().then(|| view! { <A href="/admin">"Admin"</A> })}
                {move || session.user.get().is_some().then(|| view! { <A href="/incidents">"Incidents"</A> <A href="/drafts">"My drafts"</A> })}
            </nav>
            <SyncBadge/>
            <StorageRisk/>
            {move || staff().then(|| view! {
            <div class="session-bar">
                {move || match session.user.get() {
                    Some(user) => {
                        let name = user.name();
                        view! {
                        <A href="/account" attr:class="session-name" attr:data-testid="signed-in-as">{name}</A>
                        <button type="button" class="button button-small" data-testid="hide-screen" on:click=hide>"Hide screen"</button>
                        <A href="/unlock" attr:class="button button-secondary button-small">"Switch user"</A>
                        <button type="button" class="button button-secondary button-small"
                            on:click=move |_| { signing_out.dispatch(()); }>"Sign out"</button>
                        }.into_any()
                    }
                    None => view! {
                        <A href="/unlock" attr:class="button button-secondary button-small">"Unlock"</A>
                        <A href="/signin" attr:class="button button-small">"Sign in"</A>
                    }.into_any(),
                }}
            </div>
            })}
        </header>
    }
}

/// Where the header leaves out what only staff use: staff reach the sign-in
/// page from here (not on the kiosk, whose only way in is the staff PIN).
#[component]
pub fn SiteFooter() -> impl IntoView {
    let device = use_device_role();
    let location = use_location();
    let shown = move || device.get().is_some() && !staff_controls(device) && !in_kiosk(&location);
    view! {
        {move || shown().then(|| view! {
            <footer class="site-footer">
                <A href="/signin" attr:class="footer-link">"Staff sign in"</A>
            </footer>
        })}
    }
}
