//! `/unlock`: the lock screen. Shows who has signed in on this device (names
//! only), and unlocks the chosen person with their PIN, offline included.
//! Also where "switch user" and "hide screen" land.

use crate::lock::{local_users, LocalUserSummary, LockError};
use crate::pages::signin::next_path;
use crate::state::app_db;
use crate::state::session::{unlock, use_session, SignInError};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

#[component]
pub fn Unlock() -> impl IntoView {
    let session = use_session();
    // Arriving here locks: nothing of the previous person stays on screen.
    session.lock();
    let navigate = StoredValue::new_local(use_navigate());
    let next = StoredValue::new(next_path());
    let reload = RwSignal::new(0u32);
    let users = LocalResource::new(move || {
        reload.track();
        async move { local_users(&app_db().await?).await }
    });
    let chosen = RwSignal::new(None::<LocalUserSummary>);
    let pin = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);

    let try_pin = Action::new_local(move |user_id: &String| {
        let user_id = user_id.clone();
        async move {
            let entered = pin.get_untracked();
            pin.set(String::new());
            match unlock(session, &user_id, &entered).await {
                Ok(()) => {
                    navigate.with_value(|nav| next.with_value(|n| nav(n, Default::default())))
                }
                Err(SignInError::Lock(LockError::Wiped)) => {
                    error.set(Some(LockError::Wiped.to_string()));
                    chosen.set(None);
                    reload.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });

    view! {
        <h1>"Haven is locked"</h1>
        {move || error.get().map(|m| view! {
            <div class="error-summary" role="alert">
                <h2>"There is a problem"</h2>
                <p data-testid="unlock-error">{m}</p>
            </div>
        })}
        {move || match chosen.get() {
            None => view! {
                <Transition fallback=|| view! { <p>"Loading…"</p> }>
                    {move || users.get().map(|r| match r {
                        Err(e) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p>"No one has signed in on this device yet."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <h2>"Who are you?"</h2>
                            <ul class="user-list" data-testid="local-users">
                                {list.into_iter().map(|u| {
                                    let name = u.name.clone();
                                    if u.can_unlock_offline {
                                        view! {
                                            <li><button type="button" class="button button-secondary user-choice"
                                                on:click=move |_| { error.set(None); chosen.set(Some(u.clone())); }>
                                                {name}
                                            </button></li>
                                        }.into_any()
                                    } else {
                                        view! {
                                            <li><span class="user-choice-off">{name}</span>
                                            " — sign in online to use Haven on this device again"</li>
                                        }.into_any()
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                    })}
                </Transition>
            }.into_any(),
            Some(user) => {
                let user_id = StoredValue::new(user.user_id.clone());
                view! {
                    <form on:submit=move |ev: leptos::ev::SubmitEvent| {
                        ev.prevent_default();
                        error.set(None);
                        try_pin.dispatch(user_id.get_value());
                    }>
                        <div class="field">
                            <label for="unlock-pin">{format!("PIN for {}", user.name)}</label>
                            <input type="password" id="unlock-pin" inputmode="numeric" autocomplete="off"
                                class="input-short" autofocus prop:value=move || pin.get()
                                on:input=move |ev| pin.set(event_target_value(&ev))/>
                        </div>
                        <p class="button-row">
                            <button type="submit" class="button" disabled=move || try_pin.pending().get()>"Unlock"</button>
                            <button type="button" class="button button-secondary"
                                on:click=move |_| { error.set(None); chosen.set(None); }>"Someone else"</button>
                        </p>
                    </form>
                }.into_any()
            }
        }}
        {move || if next.with_value(|n| n.starts_with("/kiosk")) {
            view! { <p><A href="/kiosk" attr:class="button button-secondary">"Back to reception"</A></p> }.into_any()
        } else {
            view! { <p><A href="/signin">"Sign in online instead"</A></p> }.into_any()
        }}
    }
}
