//! `/invite/TOKEN` (a staff invitation: choose a password) and `/setup/TOKEN`
//! (the first trust admin, from the link the server prints at first start).
//! Both end like a sign-in: choose a PIN for this device.

use crate::api;
use crate::pages::signin::ChoosePin;
use haven_core::api::accounts::{AcceptInvitationRequest, SetupRequest};
use haven_core::api::LoginResponse;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

fn token() -> String {
    use_params_map().with_untracked(|p| p.get("token").unwrap_or_default())
}

/// Password rules, said before anyone gets them wrong.
const PASSWORD_HINT: &str = "At least 10 characters. A few unrelated words make a good one; \
     common passwords and your own name are refused.";

#[component]
pub fn AcceptInvitation() -> impl IntoView {
    let token = StoredValue::new(token());
    let password = RwSignal::new(String::new());
    let again = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<LoginResponse>);
    let accept = Action::new_local(move |_: &()| async move {
        let request = AcceptInvitationRequest {
            token: token.get_value(),
            password: password.get_untracked(),
        };
        match api::post_json::<_, LoginResponse>(
            &api::url("/auth/invitations/accept"),
            None,
            &request,
        )
        .await
        {
            Ok(reply) => done.set(Some(reply)),
            Err(e) => error.set(Some(e.to_string())),
        }
    });
    view! {
        <h1>"Welcome to Haven"</h1>
        {move || match done.get() {
            Some(reply) => view! { <ChoosePin reply next="/".to_owned()/> }.into_any(),
            None => view! {
                {move || error.get().map(|m| view! {
                    <div class="error-summary" role="alert"><h2>"There is a problem"</h2><p data-testid="invite-error">{m}</p></div>
                })}
                <p>"Your school has invited you. Choose a password to finish setting up your account."</p>
                <form on:submit=move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    error.set(None);
                    if password.get_untracked() != again.get_untracked() {
                        error.set(Some("The two passwords are different; type the same password twice.".into()));
                    } else {
                        accept.dispatch(());
                    }
                }>
                    <PasswordFields password again/>
                    <button type="submit" class="button" disabled=move || accept.pending().get()>"Set my password"</button>
                </form>
            }.into_any(),
        }}
    }
}

#[component]
fn PasswordFields(password: RwSignal<String>, again: RwSignal<String>) -> impl IntoView {
    view! {
        <div class="field">
            <label for="new-password">"New password"</label>
            <p class="hint" id="new-password-hint">{PASSWORD_HINT}</p>
            <input type="password" id="new-password" autocomplete="new-password" aria-describedby="new-password-hint"
                prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
        </div>
        <div class="field">
            <label for="new-password-again">"Type the password again"</label>
            <input type="password" id="new-password-again" autocomplete="new-password"
                prop:value=move || again.get() on:input=move |ev| again.set(event_target_value(&ev))/>
        </div>
    }
}

#[component]
pub fn FirstSetup() -> impl IntoView {
    let token = StoredValue::new(token());
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let again = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<LoginResponse>);
    let setup = Action::new_local(move |_: &()| async move {
        let request = SetupRequest {
            token: token.get_value(),
            name: name.get_untracked(),
            email: email.get_untracked(),
            password: password.get_untracked(),
        };
        match api::post_json::<_, LoginResponse>(&api::url("/auth/setup"), None, &request).await {
            Ok(reply) => done.set(Some(reply)),
            Err(e) => error.set(Some(e.to_string())),
        }
    });
    view! {
        <h1>"Set up Haven"</h1>
        {move || match done.get() {
            Some(reply) => view! { <ChoosePin reply next="/admin".to_owned()/> }.into_any(),
            None => view! {
                {move || error.get().map(|m| view! {
                    <div class="error-summary" role="alert"><h2>"There is a problem"</h2><p>{m}</p></div>
                })}
                <p>"You are the trust's first admin. After this, you invite everyone else."</p>
                <form on:submit=move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    error.set(None);
                    if password.get_untracked() != again.get_untracked() {
                        error.set(Some("The two passwords are different; type the same password twice.".into()));
                    } else {
                        setup.dispatch(());
                    }
                }>
                    <div class="field"><label for="setup-name">"Your full name"</label>
                        <input type="text" id="setup-name" autocomplete="name" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></div>
                    <div class="field"><label for="setup-email">"Email address"</label>
                        <input type="email" id="setup-email" autocomplete="username" inputmode="email" spellcheck="false" prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev))/></div>
                    <PasswordFields password again/>
                    <button type="submit" class="button" disabled=move || setup.pending().get()>"Create my account"</button>
                </form>
            }.into_any(),
        }}
    }
}
