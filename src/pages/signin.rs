//! `/signin`: staff sign in online — email and password, the authenticator
//! code when the account has one (or setting one up when the trust requires
//! it), then a PIN to unlock this device later, offline included.

use crate::api::{self, ApiClientError};
use crate::components::qr::QrCode;
use crate::state::session::{complete_sign_in, use_session};
use haven_core::accounts::pin::check_new_pin;
use haven_core::api::accounts::{SecondFactorState, TotpSetup};
use haven_core::api::LoginResponse;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};

/// The last step of every way in (sign-in, invitation, first set-up): choose a
/// PIN for this device, or not now, then finish signing in and go to `next`.
#[component]
pub fn ChoosePin(reply: LoginResponse, next: String) -> impl IntoView {
    let session = use_session();
    let navigate = StoredValue::new_local(use_navigate());
    let next = StoredValue::new(next);
    let reply = StoredValue::new(reply);
    let pin = RwSignal::new(String::new());
    let pin_again = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let finish = Action::new_local(move |with_pin: &bool| {
        let with_pin = *with_pin;
        async move {
            let chosen = pin.get_untracked();
            if with_pin {
                if let Err(e) = check_new_pin(&chosen) {
                    error.set(Some(e.to_string()));
                    return;
                }
                if chosen != pin_again.get_untracked() {
                    error.set(Some(
                        "The two PINs are different; type the same PIN twice.".into(),
                    ));
                    return;
                }
            }
            let pin_arg = with_pin.then_some(chosen.as_str());
            match complete_sign_in(session, &reply.get_value(), pin_arg).await {
                Ok(()) => {
                    pin.set(String::new());
                    pin_again.set(String::new());
                    navigate.with_value(|nav| next.with_value(|n| nav(n, Default::default())));
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });
    view! {
        <h2>"Choose a PIN for this device"</h2>
        {move || error.get().map(|m| view! {
            <div class="error-summary" role="alert">
                <h2>"There is a problem"</h2>
                <p data-testid="pin-error">{m}</p>
            </div>
        })}
        <p>"With a PIN you can unlock Haven on this device when there is no internet. \
            Use 6 digits or more, not 123456 or one digit repeated. \
            After 5 wrong PINs you will need to sign in online again."</p>
        <form on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); error.set(None); finish.dispatch(true); }>
            <div class="field">
                <label for="pin-new">"PIN"</label>
                <input type="password" id="pin-new" inputmode="numeric" autocomplete="new-password"
                    class="input-short" prop:value=move || pin.get()
                    on:input=move |ev| pin.set(event_target_value(&ev))/>
            </div>
            <div class="field">
                <label for="pin-again">"Type the PIN again"</label>
                <input type="password" id="pin-again" inputmode="numeric" autocomplete="new-password"
                    class="input-short" prop:value=move || pin_again.get()
                    on:input=move |ev| pin_again.set(event_target_value(&ev))/>
            </div>
            <p class="button-row">
                <button type="submit" class="button" disabled=move || finish.pending().get()>"Save PIN"</button>
                <button type="button" class="button button-secondary" disabled=move || finish.pending().get()
                    on:click=move |_| { error.set(None); finish.dispatch(false); }>"Not now"</button>
            </p>
        </form>
    }
}

#[derive(Clone, PartialEq)]
enum Step {
    Credentials,
    Code,
    EnrolSecondFactor(Box<LoginResponse>, Option<TotpSetup>),
    ChoosePin(Box<LoginResponse>),
}

/// Where to go after signing in: `?next=` if it is a path on this site.
pub fn next_path() -> String {
    let next = use_query_map().with_untracked(|q| q.get("next"));
    next.filter(|n| n.starts_with('/') && !n.starts_with("//"))
        .unwrap_or_else(|| "/".into())
}

#[component]
pub fn SignIn() -> impl IntoView {
    let next = next_path();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let step = RwSignal::new(Step::Credentials);
    let error = RwSignal::new(None::<String>);

    let after_password = move |result: Result<LoginResponse, ApiClientError>| match result {
        Ok(reply) if reply.second_factor == SecondFactorState::EnrolRequired => {
            step.set(Step::EnrolSecondFactor(Box::new(reply), None))
        }
        Ok(reply) => step.set(Step::ChoosePin(Box::new(reply))),
        Err(e) if e.code() == Some("second_factor_required") => step.set(Step::Code),
        Err(ApiClientError::Unreachable) => error.set(Some(
            "Haven cannot reach the school's server. Signing in for the first time on a \
             device needs the internet; if you have signed in here before, unlock with your PIN."
                .into(),
        )),
        Err(e) => error.set(Some(e.to_string())),
    };

    let sign_in = Action::new_local(move |with_code: &bool| {
        let with_code = *with_code;
        async move {
            let code = with_code.then(|| code.get_untracked());
            let result = api::login(
                email.get_untracked().trim(),
                &password.get_untracked(),
                code.as_deref(),
            )
            .await;
            after_password(result);
        }
    });

    let start_enrolment = Action::new_local(move |token: &String| {
        let token = token.clone();
        async move {
            match api::post_json::<_, TotpSetup>(
                &api::url("/auth/totp/setup"),
                Some(&token),
                &serde_json::json!({}),
            )
            .await
            {
                Ok(setup) => step.update(|s| {
                    if let Step::EnrolSecondFactor(_, slot) = s {
                        *slot = Some(setup);
                    }
                }),
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });

    let confirm_code = Action::new_local(move |reply: &LoginResponse| {
        let reply = reply.clone();
        async move {
            let result = api::post_empty_json(
                &api::url("/auth/totp/confirm"),
                &reply.token,
                &serde_json::json!({ "code": code.get_untracked().trim() }),
            )
            .await;
            match result {
                Ok(()) => {
                    let mut reply = reply;
                    reply.second_factor = SecondFactorState::Done;
                    reply.me.second_factor_enrolled = true;
                    code.set(String::new());
                    step.set(Step::ChoosePin(Box::new(reply)));
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        match step.get_untracked() {
            Step::Credentials => {
                if email.get_untracked().trim().is_empty() || password.get_untracked().is_empty() {
                    error.set(Some("Enter your email address and password.".into()));
                } else {
                    sign_in.dispatch(false);
                }
            }
            Step::Code => {
                sign_in.dispatch(true);
            }
            Step::EnrolSecondFactor(reply, Some(_)) => {
                confirm_code.dispatch(*reply);
            }
            Step::EnrolSecondFactor(reply, None) => {
                start_enrolment.dispatch(reply.token.clone());
            }
            Step::ChoosePin(_) => {}
        }
    };
    let busy = move || {
        sign_in.pending().get() || confirm_code.pending().get() || start_enrolment.pending().get()
    };

    view! {
        <h1>"Sign in"</h1>
        {move || error.get().map(|m| view! {
            <div class="error-summary" role="alert" tabindex="-1">
                <h2>"There is a problem"</h2>
                <p data-testid="signin-error">{m}</p>
            </div>
        })}
        {move || match step.get() {
            Step::ChoosePin(reply) => Some(view! { <ChoosePin reply=*reply next=next.clone()/> }),
            _ => None,
        }}
        <form on:submit=on_submit novalidate hidden=move || matches!(step.get(), Step::ChoosePin(_))>
            {move || match step.get() {
                Step::Credentials => view! {
                    <p>"Sign in with your school account. The first time on a device you need the internet."</p>
                    <div class="field">
                        <label for="signin-email">"Email address"</label>
                        <input type="email" id="signin-email" autocomplete="username" inputmode="email"
                            spellcheck="false" prop:value=move || email.get()
                            on:input=move |ev| email.set(event_target_value(&ev))/>
                    </div>
                    <div class="field">
                        <label for="signin-password">"Password"</label>
                        <input type="password" id="signin-password" autocomplete="current-password"
                            prop:value=move || password.get()
                            on:input=move |ev| password.set(event_target_value(&ev))/>
                    </div>
                    <button type="submit" class="button" disabled=busy>"Sign in"</button>
                }.into_any(),
                Step::Code => view! {
                    <div class="field">
                        <label for="signin-code">"Code from your authenticator app"</label>
                        <p class="hint" id="signin-code-hint">"The 6 digits it shows for Haven now."</p>
                        <input type="text" id="signin-code" autocomplete="one-time-code" inputmode="numeric"
                            aria-describedby="signin-code-hint" class="input-short"
                            prop:value=move || code.get() on:input=move |ev| code.set(event_target_value(&ev))/>
                    </div>
                    <button type="submit" class="button" disabled=busy>"Continue"</button>
                }.into_any(),
                Step::EnrolSecondFactor(_, None) => view! {
                    <p>"Your trust asks people in your role to use an authenticator app as well as a password."</p>
                    <button type="submit" class="button" disabled=busy>"Set up an authenticator app"</button>
                }.into_any(),
                Step::EnrolSecondFactor(_, Some(setup)) => view! {
                    <p>"Scan this code with your authenticator app, or type the key into it."</p>
                    <QrCode text=setup.otpauth_uri.clone() label="QR code for your authenticator app".to_owned()/>
                    <p>"Key: " <code data-testid="totp-secret">{setup.secret.clone()}</code></p>
                    <div class="field">
                        <label for="enrol-code">"Code from your authenticator app"</label>
                        <input type="text" id="enrol-code" autocomplete="one-time-code" inputmode="numeric"
                            class="input-short" prop:value=move || code.get()
                            on:input=move |ev| code.set(event_target_value(&ev))/>
                    </div>
                    <button type="submit" class="button" disabled=busy>"Confirm"</button>
                }.into_any(),
                Step::ChoosePin(_) => ().into_any(),
            }}
        </form>
    }
}
