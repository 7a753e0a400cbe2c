//! `/signin`: staff sign in online — email and password, the authenticator
//! code when the account has one (or setting one up when the trust requires
//! it), then a PIN to unlock this device later, offline included.

use crate::api::{self, ApiClientError};
use crate::components::error_summary::{
    described_by, focus_by_id, invalid, ErrorSummary, FieldError, FieldErrors, SUMMARY_ID,
};
use crate::components::qr::QrCode;
use crate::state::session::{complete_sign_in, use_session};
use haven_core::accounts::pin::{
    check_new_pin_for, min_pin_digits, MAX_WRONG_PINS, MIN_PIN_DIGITS,
};
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
    // Those who can read incidents choose a longer PIN (haven_core's rule).
    let min_digits = min_pin_digits(&reply.me.grants);
    let reply = StoredValue::new(reply);
    let pin = RwSignal::new(String::new());
    let pin_again = RwSignal::new(String::new());
    let errors = RwSignal::new(FieldErrors::new());
    let fail = move |field: &'static str, message: String| {
        errors.set(vec![(field, message)]);
        focus_by_id(SUMMARY_ID);
    };
    let finish = Action::new_local(move |with_pin: &bool| {
        let with_pin = *with_pin;
        async move {
            let chosen = pin.get_untracked();
            if with_pin {
                let grants = reply.with_value(|r| r.me.grants.clone());
                if let Err(e) = check_new_pin_for(&chosen, &grants) {
                    fail("pin-new", e.to_string());
                    return;
                }
                if chosen != pin_again.get_untracked() {
                    fail(
                        "pin-again",
                        "The two PINs are different; type the same PIN twice.".into(),
                    );
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
                Err(e) => fail("", e.to_string()),
            }
        }
    });
    view! {
        <h2>"Choose a PIN for this device"</h2>
        <ErrorSummary errors/>
        <p>{format!("With a PIN you can unlock Haven on this device when there is no internet. \
            Use {min_digits} digits or more, not 123456 or one digit repeated. \
            After {MAX_WRONG_PINS} wrong PINs you will need to sign in online again.")}</p>
        {(min_digits > MIN_PIN_DIGITS).then(|| view! {
            <p>"Your role can read incidents, so your PIN must be longer: \
                it keeps them safe if this device is lost or its files are copied."</p>
        })}
        <form novalidate on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); errors.set(Vec::new()); finish.dispatch(true); }>
            <div class="field" data-invalid=invalid(errors, "pin-new")>
                <label for="pin-new">"PIN"</label>
                <FieldError errors field="pin-new"/>
                <input type="password" id="pin-new" inputmode="numeric" autocomplete="new-password"
                    class="input-short" aria-invalid=invalid(errors, "pin-new") aria-describedby=described_by(errors, "pin-new", None)
                    prop:value=move || pin.get()
                    on:input=move |ev| pin.set(event_target_value(&ev))/>
            </div>
            <div class="field" data-invalid=invalid(errors, "pin-again")>
                <label for="pin-again">"Type the PIN again"</label>
                <FieldError errors field="pin-again"/>
                <input type="password" id="pin-again" inputmode="numeric" autocomplete="new-password"
                    class="input-short" aria-invalid=invalid(errors, "pin-again") aria-describedby=described_by(errors, "pin-again", None)
                    prop:value=move || pin_again.get()
                    on:input=move |ev| pin_again.set(event_target_value(&ev))/>
            </div>
            <p class="button-row">
                <button type="submit" class="button" disabled=move || finish.pending().get()>"Save PIN"</button>
                <button type="button" class="button button-secondary" disabled=move || finish.pending().get()
                    on:click=move |_| { errors.set(Vec::new()); finish.dispatch(false); }>"Not now"</button>
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
    let errors = RwSignal::new(FieldErrors::new());
    // A refusal from the server belongs to the step's first field (GOV.UK:
    // "Enter a correct email address and password" links to the email).
    let fail = move |message: String| {
        let field = match step.get_untracked() {
            Step::Credentials => "signin-email",
            Step::Code => "signin-code",
            Step::EnrolSecondFactor(_, Some(_)) => "enrol-code",
            Step::EnrolSecondFactor(_, None) | Step::ChoosePin(_) => "",
        };
        errors.set(vec![(field, message)]);
        focus_by_id(SUMMARY_ID);
    };

    let after_password = move |result: Result<LoginResponse, ApiClientError>| match result {
        Ok(reply) if reply.second_factor == SecondFactorState::EnrolRequired => {
            step.set(Step::EnrolSecondFactor(Box::new(reply), None))
        }
        Ok(reply) => step.set(Step::ChoosePin(Box::new(reply))),
        Err(e) if e.code() == Some("second_factor_required") => step.set(Step::Code),
        Err(ApiClientError::Unreachable) => {
            errors.set(vec![(
                "",
                "Haven cannot reach the school's server. Signing in for the first time on a \
                 device needs the internet; if you have signed in here before, unlock with your PIN."
                    .into(),
            )]);
            focus_by_id(SUMMARY_ID);
        }
        Err(e) => fail(e.to_string()),
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
                Err(e) => fail(e.to_string()),
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
                Err(e) => fail(e.to_string()),
            }
        }
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.set(Vec::new());
        match step.get_untracked() {
            Step::Credentials => {
                let mut missing = FieldErrors::new();
                if email.get_untracked().trim().is_empty() {
                    missing.push(("signin-email", "Enter your email address".into()));
                }
                if password.get_untracked().is_empty() {
                    missing.push(("signin-password", "Enter your password".into()));
                }
                if missing.is_empty() {
                    sign_in.dispatch(false);
                } else {
                    errors.set(missing);
                    focus_by_id(SUMMARY_ID);
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
        <ErrorSummary errors/>
        {move || match step.get() {
            Step::ChoosePin(reply) => Some(view! { <ChoosePin reply=*reply next=next.clone()/> }),
            _ => None,
        }}
        <form on:submit=on_submit novalidate hidden=move || matches!(step.get(), Step::ChoosePin(_))>
            {move || match step.get() {
                Step::Credentials => view! {
                    <p>"Sign in with your school account. The first time on a device you need the internet."</p>
                    <div class="field" data-invalid=invalid(errors, "signin-email")>
                        <label for="signin-email">"Email address"</label>
                        <FieldError errors field="signin-email"/>
                        <input type="email" id="signin-email" autocomplete="username" inputmode="email"
                            spellcheck="false" aria-invalid=invalid(errors, "signin-email") aria-describedby=described_by(errors, "signin-email", None)
                            prop:value=move || email.get()
                            on:input=move |ev| email.set(event_target_value(&ev))/>
                    </div>
                    <div class="field" data-invalid=invalid(errors, "signin-password")>
                        <label for="signin-password">"Password"</label>
                        <FieldError errors field="signin-password"/>
                        <input type="password" id="signin-password" autocomplete="current-password"
                            aria-invalid=invalid(errors, "signin-password") aria-describedby=described_by(errors, "signin-password", None)
                            prop:value=move || password.get()
                            on:input=move |ev| password.set(event_target_value(&ev))/>
                    </div>
                    <button type="submit" class="button" disabled=busy>"Sign in"</button>
                }.into_any(),
                Step::Code => view! {
                    <div class="field" data-invalid=invalid(errors, "signin-code")>
                        <label for="signin-code">"Code from your authenticator app"</label>
                        <p class="hint" id="signin-code-hint">"The 6 digits it shows for Haven now."</p>
                        <FieldError errors field="signin-code"/>
                        <input type="text" id="signin-code" autocomplete="one-time-code" inputmode="numeric"
                            aria-describedby=described_by(errors, "signin-code", Some("signin-code-hint")) aria-invalid=invalid(errors, "signin-code") class="input-short"
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
                    <div class="field" data-invalid=invalid(errors, "enrol-code")>
                        <label for="enrol-code">"Code from your authenticator app"</label>
                        <FieldError errors field="enrol-code"/>
                        <input type="text" id="enrol-code" autocomplete="one-time-code" inputmode="numeric"
                            aria-invalid=invalid(errors, "enrol-code") aria-describedby=described_by(errors, "enrol-code", None) class="input-short" prop:value=move || code.get()
                            on:input=move |ev| code.set(event_target_value(&ev))/>
                    </div>
                    <button type="submit" class="button" disabled=busy>"Confirm"</button>
                }.into_any(),
                Step::ChoosePin(_) => ().into_any(),
            }}
        </form>
    }
}
