//! `/account`: the signed-in person — their roles, an authenticator app
//! (second factor), signing out everywhere — and, for trust admins, the
//! trust's account rules.

use crate::api;
use crate::components::qr::QrCode;
use crate::pages::manage::{academies, academy_name, require_token};
use crate::state::session::{sign_out, use_session};
use haven_core::accounts::roles::Role;
use haven_core::api::accounts::{AccountSettings, Me, TotpSetup};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

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
    let academies = academies();
    let setup = RwSignal::new(None::<TotpSetup>);
    let code = RwSignal::new(String::new());
    let message = RwSignal::new(None::<Result<String, String>>);

    let start = Action::new_local(move |_: &()| async move {
        match api::post_json::<_, TotpSetup>(
            &api::url("/auth/totp/setup"),
            Some(&token.get_value()),
            &serde_json::json!({}),
        )
        .await
        {
            Ok(s) => setup.set(Some(s)),
            Err(e) => message.set(Some(Err(e.to_string()))),
        }
    });
    let confirm = Action::new_local(move |_: &()| async move {
        let body = serde_json::json!({ "code": code.get_untracked().trim() });
        match api::post_empty_json(&api::url("/auth/totp/confirm"), &token.get_value(), &body).await
        {
            Ok(()) => {
                setup.set(None);
                code.set(String::new());
                message.set(Some(Ok("Your authenticator app is set up. You will need a code from it when you sign in.".into())));
                version.update(|v| *v += 1);
            }
            Err(e) => message.set(Some(Err(e.to_string()))),
        }
    });
    let everywhere = Action::new_local(move |_: &()| async move {
        let _ = sign_out(session, true).await;
        navigate.with_value(|nav| nav("/", Default::default()));
    });

    view! {
        {move || message.get().map(|m| match m {
            Ok(text) => view! { <div class="panel panel-ok" role="status">{text}</div> }.into_any(),
            Err(text) => view! { <div class="error-summary" role="alert"><h2>"There is a problem"</h2><p>{text}</p></div> }.into_any(),
        })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || me.get().map(|r| match r {
                Err(e) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                Ok(me) => {
                    let names = academies.get().unwrap_or_default();
                    let trust_admin = me.grants.is_trust_admin();
                    view! {
                        <dl class="summary-list">
                            <div><dt>"Name"</dt><dd>{me.name.clone()}</dd></div>
                            <div><dt>"Email"</dt><dd>{me.email.clone()}</dd></div>
                            <div><dt>"Roles"</dt>
                            <dd>{me.grants.0.iter().map(|g| format!("{} ({})", g.role.label(), academy_name(&names, g.academy_id))).collect::<Vec<_>>().join(", ")}</dd></div>
                            <div><dt>"Authenticator app"</dt>
                            <dd data-testid="second-factor">{if me.second_factor_enrolled { "Set up" } else { "Not set up" }}</dd></div>
                        </dl>
                        {(!me.second_factor_enrolled).then(|| view! {
                            <h2>"Add an authenticator app"</h2>
                            <p>"A code from an app on your phone, as well as your password, keeps your account safe if your password leaks."</p>
                            {move || match setup.get() {
                                None => view! {
                                    <button type="button" class="button" on:click=move |_| { message.set(None); start.dispatch(()); }>"Set up an authenticator app"</button>
                                }.into_any(),
                                Some(s) => view! {
                                    <QrCode text=s.otpauth_uri.clone() label="QR code for your authenticator app".to_owned()/>
                                    <p>"Key: " <code data-testid="totp-secret">{s.secret.clone()}</code></p>
                                    <form on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); message.set(None); confirm.dispatch(()); }>
                                        <div class="field">
                                            <label for="account-code">"Code from your authenticator app"</label>
                                            <input type="text" id="account-code" inputmode="numeric" autocomplete="one-time-code" class="input-short"
                                                prop:value=move || code.get() on:input=move |ev| code.set(event_target_value(&ev))/>
                                        </div>
                                        <button type="submit" class="button">"Confirm"</button>
                                    </form>
                                }.into_any(),
                            }}
                        })}
                        <h2>"Sign out everywhere"</h2>
                        <p>"Ends your sessions on every device, for example if you lost a phone. Your drafts on this device stay encrypted."</p>
                        <button type="button" class="button button-secondary" on:click=move |_| { everywhere.dispatch(()); }>"Sign out everywhere"</button>
                        {trust_admin.then(|| view! { <AccountRules token=token.get_value()/> })}
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
