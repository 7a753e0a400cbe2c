use crate::components::storage::StorageRisk;
use crate::components::sync_badge::SyncBadge;
use crate::state::session::{sign_out, use_session};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

#[component]
pub fn SiteHeader() -> impl IntoView {
    let session = use_session();
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
    // The kiosk has its own bar, with no way into the app but the staff PIN.
    let location = leptos_router::hooks::use_location();
    // The PIN screen reached from the kiosk hides it too, so a visitor who
    // taps "Staff" finds no way on.
    let in_kiosk = move || {
        let kiosk = |p: &str| p == "/kiosk" || p.starts_with("/kiosk/");
        location.pathname.with(|p| kiosk(p))
            || (location.pathname.with(|p| p == "/unlock")
                && location
                    .query
                    .with(|q| q.get("next").is_some_and(|n| kiosk(&n))))
    };
    view! {
        <header class="site-header" hidden=in_kiosk>
            <A href="/" attr:class="brand">"Haven"</A>
            <nav class="site-nav" aria-label="Main">
                <A href="/policies">"Policies"</A>
                <A href="/admin">"Admin"</A>
                {move || session.user.get().is_some().then(|| view! { <A href="/incidents">"Incidents"</A> <A href="/drafts">"My drafts"</A> })}
            </nav>
            <SyncBadge/>
            <StorageRisk/>
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
        </header>
    }
}
