//! `/account`: the signed-in person — their roles, an authenticator app
//! (second factor: add one; replace or remove it with a code from the one in
//! use), signing out everywhere — and, for trust admins, the trust's account
//! rules.

use crate::api::{self, ApiClientError};
use crate::components::error_summary::{
    described_by, focus_by_id, invalid, ErrorSummary, FieldError, FieldErrors, SUMMARY_ID,
};
use crate::components::qr::QrCode;
use crate::pages::manage::{academies, academy_name, require_token};
use crate::state::session::{sign_out, use_session};
use haven_core::accounts::roles::Role;
use haven_core::api::accounts::{AccountSettings, Me, TotpConfirm, TotpRemove, TotpSetup};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

/// The code from the new authenticator app (adding or replacing one).
const NEW_CODE: &str = "account-code";
/// The code from the app in use, to replace it.
const CURRENT_CODE: &str = "account-current-code";
/// The code from the app in use, to remove it.
const REMOVE_CODE: &str = "account-remove-code";

#[component]
pub fn Account() -> impl IntoView {
    view! {
        <h1>"Your account"</h1>
        {match require_token("/account") {
            Err(prompt) => prompt,
            Ok(token) => view! { <AccountPage token/> }.into_any(),
        }}
    }
}

/// A problem with a typed code (`what` names the app), before anything is sent.
fn code_problem(value: &str, field: &'static str, what: &str) -> Option<(&'static str, String)> {
    let code: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    if code.is_empty() {
        Some((field, format!("Enter the 6-digit code from {what}")))
    } else if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        Some((
            field,
            format!("The code from {what} is 6 digits, like 123456"),
        ))
    } else {
        None
    }
}

/// The server's refusal of a new app's code (and, replacing one, the code
/// from the app in use), beside the field it is about.
fn confirm_problem(e: &ApiClientError, replacing: bool) -> FieldErrors {
    match e.code() {
        Some("current_code_required") => vec![(
            CURRENT_CODE,
            "Enter the 6-digit code from the authenticator app you use now".into(),
        )],
        // The server does not say which of the two codes it refused.
        Some("second_factor_wrong") if replacing => vec![(
            CURRENT_CODE,
            "A code is not right or was already used. Enter the newest code from the app you \
             use now, and the newest code from your new app"
                .into(),
        )],
        Some("second_factor_wrong") => vec![(
            NEW_CODE,
            "That code is not right. Enter the newest code your authenticator app shows for Haven"
                .into(),
        )],
        Some("no_totp_setup") => vec![(
            "",
            "Your set-up was cancelled (perhaps from another device). Cancel, then start again."
                .into(),
        )],
        _ => vec![("", e.to_string())],
    }
}

#[component]
fn AccountPage(token: String) -> impl IntoView {
    let session = use_session();
    let navigate = StoredValue::new_local(use_navigate());
    let token = StoredValue::new(token);
    let version = RwSignal::new(0u32);
    let me = LocalResource::new(move || {
        version.track();
        async move { api::get_json::<Me>(&api::url("/auth/me"), &token.get_value()).await }
    });
    // Which roles the trust requires an app for: removing one is offered
    // only to people who hold none of them.
    let settings = LocalResource::new(move || {
        version.track();
        async move {
            api::get_json::<AccountSettings>(&api::url("/settings/accounts"), &token.get_value())
                .await
        }
    });
    let academies = academies();
    let setup = RwSignal::new(None::<TotpSetup>);
    let code = RwSignal::new(String::new());
    let current_code = RwSignal::new(String::new());
    let remove_code = RwSignal::new(String::new());
    let removing = RwSignal::new(false);
    let message = RwSignal::new(None::<String>);
    let errors = RwSignal::new(FieldErrors::new());
    let fail = move |list: FieldErrors| {
        errors.set(list);
        focus_by_id(SUMMARY_ID);
    };
    let clear = move || {
        message.set(None);
        errors.set(Vec::new());
    };

    let start = Action::new_local(move |_: &()| async move {
        match api::post_json::<_, TotpSetup>(
            &api::url("/auth/totp/setup"),
            Some(&token.get_value()),
            &serde_json::json!({}),
        )
        .await
        {
            Ok(s) => {
                removing.set(false);
                setup.set(Some(s));
                focus_by_id(NEW_CODE);
            }
            Err(e) => fail(vec![("", e.to_string())]),
        }
    });
    // `true` when replacing the app in use: its code goes too.
    let confirm = Action::new_local(move |replacing: &bool| {
        let replacing = *replacing;
        async move {
            let body = TotpConfirm {
                code: code.get_untracked().trim().to_owned(),
                current_code: replacing.then(|| current_code.get_untracked().trim().to_owned()),
            };
            match api::post_empty_json(&api::url("/auth/totp/confirm"), &token.get_value(), &body)
                .await
            {
                Ok(()) => {
                    setup.set(None);
                    code.set(String::new());
                    current_code.set(String::new());
                    message.set(Some(if replacing {
                        "Your new authenticator app is set up. Sign in with a code from it from now on: the old one no longer works.".into()
                    } else {
                        "Your authenticator app is set up. You will need a code from it when you sign in.".into()
                    }));
                    version.update(|v| *v += 1);
                }
                Err(e) => fail(confirm_problem(&e, replacing)),
            }
        }
    });
    let on_confirm = move |replacing: bool| {
        clear();
        let mut problems = FieldErrors::new();
        problems.extend(code_problem(
            &code.get_untracked(),
            NEW_CODE,
            if replacing {
                "your new authenticator app"
            } else {
                "your authenticator app"
            },
        ));
        if replacing {
            problems.extend(code_problem(
                &current_code.get_untracked(),
                CURRENT_CODE,
                "the authenticator app you use now",
            ));
        }
        if problems.is_empty() {
            confirm.dispatch(replacing);
        } else {
            fail(problems);
        }
    };
    let remove = Action::new_local(move |_: &()| async move {
        let body = TotpRemove {
            current_code: remove_code.get_untracked().trim().to_owned(),
        };
        match api::post_empty_json(&api::url("/auth/totp/remove"), &token.get_value(), &body).await
        {
            Ok(()) => {
                removing.set(false);
                remove_code.set(String::new());
                message.set(Some(
                    "Your authenticator app is removed. You sign in with your password only now."
                        .into(),
                ));
                version.update(|v| *v += 1);
            }
            Err(e) if e.code() == Some("second_factor_wrong") => fail(vec![(
                REMOVE_CODE,
                "That code is not right or was already used. Enter the newest code your \
                 authenticator app shows for Haven"
                    .into(),
            )]),
            Err(e) => fail(vec![("", e.to_string())]),
        }
    });
    let on_remove = move || {
        clear();
        match code_problem(
            &remove_code.get_untracked(),
            REMOVE_CODE,
            "your authenticator app",
        ) {
            Some(problem) => fail(vec![problem]),
            None => {
                remove.dispatch(());
            }
        }
    };
    let cancel = move || {
        clear();
        setup.set(None);
        removing.set(false);
        code.set(String::new());
        current_code.set(String::new());
        remove_code.set(String::new());
    };
    let busy = move || start.pending().get() || confirm.pending().get() || remove.pending().get();
    let everywhere = Action::new_local(move |_: &()| async move {
        let _ = sign_out(session, true).await;
        navigate.with_value(|nav| nav("/", Default::default()));
    });

    // A code field: its label, an optional hint, its error and the input.
    let code_field = move |id: &'static str,
                           label: &'static str,
                           hint: Option<(&'static str, &'static str)>,
                           value: RwSignal<String>| {
        view! {
            <div class="field" data-invalid=invalid(errors, id)>
                <label for=id>{label}</label>
                {hint.map(|(hint_id, text)| view! { <p class="hint" id=hint_id>{text}</p> })}
                <FieldError errors field=id/>
                <input type="text" id=id inputmode="numeric" autocomplete="one-time-code" class="input-short"
                    aria-invalid=invalid(errors, id) aria-describedby=described_by(errors, id, hint.map(|(h, _)| h))
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
            </div>
        }
    };

    view! {
        {move || message.get().map(|text| view! { <div class="panel panel-ok" role="status">{text}</div> })}
        <ErrorSummary errors/>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || me.get().map(|r| match r {
                Err(e) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                Ok(me) => {
                    let names = academies.get().unwrap_or_default();
                    let trust_admin = me.grants.is_trust_admin();
                    let enrolled = me.second_factor_enrolled;
                    let grants = me.grants.clone();
                    // `Some(true)` when the trust requires an app for one of
                    // their roles; `None` until the rules are read.
                    let required = Signal::derive_local(move || {
                        settings
                            .get()
                            .and_then(Result::ok)
                            .map(|s| grants.needs_second_factor(&s.second_factor_required))
                    });
                    view! {
                        <dl class="summary-list">
                            <div><dt>"Name"</dt><dd>{me.name.clone()}</dd></div>
                            <div><dt>"Email"</dt><dd>{me.email.clone()}</dd></div>
                            <div><dt>"Roles"</dt>
                            <dd>{me.grants.0.iter().map(|g| format!("{} ({})", g.role.label(), academy_name(&names, g.academy_id))).collect::<Vec<_>>().join(", ")}</dd></div>
                            <div><dt>"Authenticator app"</dt>
                            <dd data-testid="second-factor">{if enrolled { "Set up" } else { "Not set up" }}</dd></div>
                        </dl>
                        {if enrolled {
                            view! {
                                <h2>"Your authenticator app"</h2>
                                {move || match (setup.get(), removing.get()) {
                                    (Some(s), _) => view! {
                                        <h3>"Replace your authenticator app"</h3>
                                        <p>"Scan this code with the new app, or type the key into it."</p>
                                        <QrCode text=s.otpauth_uri.clone() label="QR code for your new authenticator app".to_owned()/>
                                        <p>"Key: " <code data-testid="totp-secret">{s.secret.clone()}</code></p>
                                        <form novalidate on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); on_confirm(true); }>
                                            {code_field(NEW_CODE, "Code from your new authenticator app", None, code)}
                                            {code_field(CURRENT_CODE, "Code from the authenticator app you use now",
                                                Some(("account-current-code-hint", "The app you are replacing, to show it is you. If you no longer have it, ask your trust admin or headteacher to reset your second factor.")),
                                                current_code)}
                                            <p class="button-row">
                                                <button type="submit" class="button" disabled=busy>"Replace the app"</button>
                                                <button type="button" class="button button-secondary" on:click=move |_| cancel()>"Cancel"</button>
                                            </p>
                                        </form>
                                    }.into_any(),
                                    (None, true) => view! {
                                        <h3>"Remove your authenticator app"</h3>
                                        <p>"You will sign in with your password only. Your account is safer with an app."</p>
                                        <form novalidate on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); on_remove(); }>
                                            {code_field(REMOVE_CODE, "Code from your authenticator app", None, remove_code)}
                                            <p class="button-row">
                                                <button type="submit" class="button" disabled=busy>"Remove the app"</button>
                                                <button type="button" class="button button-secondary" on:click=move |_| cancel()>"Cancel"</button>
                                            </p>
                                        </form>
                                    }.into_any(),
                                    (None, false) => view! {
                                        <p>"Got a new phone? Replace the app with a code from the one you use now. Lost it? Ask your trust admin or headteacher to reset your second factor."</p>
                                        <p class="button-row">
                                            <button type="button" class="button button-secondary" disabled=busy
                                                on:click=move |_| { clear(); start.dispatch(()); }>"Replace your authenticator app"</button>
                                            {move || (required.get() == Some(false)).then(|| view! {
                                                <button type="button" class="button button-secondary"
                                                    on:click=move |_| { clear(); removing.set(true); focus_by_id(REMOVE_CODE); }>"Remove your authenticator app"</button>
                                            })}
                                        </p>
                                        {move || (required.get() == Some(true)).then(|| view! {
                                            <p class="hint">"Your trust requires an authenticator app for your role, so you can replace it but not remove it."</p>
                                        })}
                                    }.into_any(),
                                }}
                            }.into_any()
                        } else {
                            view! {
                                <h2>"Add an authenticator app"</h2>
                                <p>"A code from an app on your phone, as well as your password, keeps your account safe if your password leaks."</p>
                                {move || match setup.get() {
                                    None => view! {
                                        <button type="button" class="button" disabled=busy on:click=move |_| { clear(); start.dispatch(()); }>"Set up an authenticator app"</button>
                                    }.into_any(),
                                    Some(s) => view! {
                                        <QrCode text=s.otpauth_uri.clone() label="QR code for your authenticator app".to_owned()/>
                                        <p>"Key: " <code data-testid="totp-secret">{s.secret.clone()}</code></p>
                                        <form novalidate on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); on_confirm(false); }>
                                            {code_field(NEW_CODE, "Code from your authenticator app", None, code)}
                                            <button type="submit" class="button" disabled=busy>"Confirm"</button>
                                        </form>
                                    }.into_any(),
                                }}
                            }.into_any()
                        }}
                        <h2>"Sign out everywhere"</h2>
                        <p>"Ends your sessions on every device, for example if you lost a phone. Your drafts on this device stay encrypted."</p>
                        <button type="button" class="button button-secondary" on:click=move |_| { everywhere.dispatch(()); }>"Sign out everywhere"</button>
                        {trust_admin.then(|| view! {
                            <AccountRules token=token.get_value()/>
                            <crate::pages::manage::reminders::ReminderRules token=token.get_value()/>
                        })}
                    }.into_any()
                }
            })}
        </Transition>
    }
}

/// The trust's rules: which roles must use a second factor; the idle lock.
#[component]
fn AccountRules(token: String) -> impl IntoView {
    let token = StoredValue::new(token);
    let settings = LocalResource::new(move || async move {
        api::get_json::<AccountSettings>(&api::url("/settings/accounts"), &token.get_value()).await
    });
    let required = RwSignal::new(Vec::<Role>::new());
    let idle = RwSignal::new(String::new());
    let saved = RwSignal::new(None::<Result<(), String>>);
    Effect::new(move |_| {
        if let Some(Ok(s)) = settings.get() {
            required.set(s.second_factor_required.clone());
            idle.set(s.idle_lock_minutes.to_string());
        }
    });
    let save = Action::new_local(move |_: &()| async move {
        let Ok(minutes) = idle.get_untracked().trim().parse::<u32>() else {
            saved.set(Some(Err(
                "Idle lock: enter a number of minutes from 1 to 120.".into(),
            )));
            return;
        };
        let body = AccountSettings {
            second_factor_required: required.get_untracked(),
            idle_lock_minutes: minutes,
        };
        saved.set(Some(
            api::put_json::<_, AccountSettings>(
                &api::url("/settings/accounts"),
                &token.get_value(),
                &body,
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        ));
    });
    view! {
        <h2>"Trust account rules"</h2>
        {move || saved.get().map(|r| match r {
            Ok(()) => view! { <div class="panel panel-ok" role="status">"Saved."</div> }.into_any(),
            Err(m) => view! { <div class="error-summary" role="alert"><h2>"There is a problem"</h2><p>{m}</p></div> }.into_any(),
        })}
        <form on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); save.dispatch(()); }>
            <fieldset class="field">
                <legend>"Require an authenticator app for"</legend>
                {[Role::TrustAdmin, Role::Dsl, Role::EsafetyLead].into_iter().map(|role| {
                    let id = format!("require-{}", role.as_str());
                    view! {
                        <div class="checkbox">
                            <input type="checkbox" id=id.clone() prop:checked=move || required.get().contains(&role)
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    required.update(|r| { r.retain(|x| *x != role); if on { r.push(role); } });
                                }/>
                            <label for=id>{role.label()}</label>
                        </div>
                    }
                }).collect_view()}
            </fieldset>
            <div class="field">
                <label for="idle-minutes">"Lock shared devices after this many idle minutes"</label>
                <input type="text" id="idle-minutes" inputmode="numeric" class="input-short"
                    prop:value=move || idle.get() on:input=move |ev| idle.set(event_target_value(&ev))/>
            </div>
            <button type="submit" class="button">"Save rules"</button>
        </form>
    }
}
