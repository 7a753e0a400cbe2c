//! `/admin/reception`: an academy's reception rules — who must be escorted,
//! how long a reception device recognises a returning visitor, and how long
//! the server keeps visits. Trust admins and the academy's headteacher may
//! change them.

use super::{academies, require_token};
use crate::api;
use haven_core::visit::{EscortRule, ReceptionSettings, ReceptionSnapshot};
use leptos::prelude::*;

#[component]
pub fn ReceptionAdmin() -> impl IntoView {
    view! {
        <h1>"Reception rules"</h1>
        {match require_token("/admin/reception") {
            Err(prompt) => prompt,
            Ok(token) => view! { <ReceptionPage token/> }.into_any(),
        }}
    }
}

const RULES: [EscortRule; 3] = [
    EscortRule::UnlessIdAndDbsChecked,
    EscortRule::Always,
    EscortRule::Never,
];

fn rule_value(rule: EscortRule) -> &'static str {
    match rule {
        EscortRule::Always => "always",
        EscortRule::UnlessIdAndDbsChecked => "unless_id_and_dbs_checked",
        EscortRule::Never => "never",
    }
}

#[component]
fn ReceptionPage(token: String) -> impl IntoView {
    let token = StoredValue::new(token);
    let academies = academies();
    let academy = RwSignal::new(String::new());
    let rule = RwSignal::new(EscortRule::default());
    let device_days = RwSignal::new(String::new());
    let server_days = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    let loaded = RwSignal::new(false);

    let load = Action::new_local(move |id: &String| {
        let id = id.clone();
        async move {
            loaded.set(false);
            saved.set(false);
            error.set(None);
            match api::get_json::<ReceptionSnapshot>(
                &api::url(&format!("/reception/{id}")),
                &token.get_value(),
            )
            .await
            {
                Ok(s) => {
                    rule.set(s.settings.escort_rule);
                    device_days.set(s.settings.device_retention_days.to_string());
                    server_days.set(s.settings.server_retention_days.to_string());
                    loaded.set(true);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });
    let save = Action::new_local(move |_: &()| async move {
        saved.set(false);
        let days = |field: &str, value: String| {
            value
                .trim()
                .parse::<u32>()
                .map_err(|_| format!("{field}: enter a whole number of days"))
        };
        let settings = match (
            days("Days on reception devices", device_days.get_untracked()),
            days("Days on the server", server_days.get_untracked()),
        ) {
            (Ok(d), Ok(s)) => ReceptionSettings {
                escort_rule: rule.get_untracked(),
                device_retention_days: d,
                server_retention_days: s,
            },
            (Err(e), _) | (_, Err(e)) => {
                error.set(Some(e));
                return;
            }
        };
        if let Err(e) = settings.validate() {
            error.set(Some(e.to_string()));
            return;
        }
        let url = api::url(&format!("/academies/{}/reception", academy.get_untracked()));
        match api::put_json::<_, ReceptionSettings>(&url, &token.get_value(), &settings).await {
            Ok(_) => {
                error.set(None);
                saved.set(true);
            }
            Err(e) => error.set(Some(e.to_string())),
        }
    });

    view! {
        {move || error.get().map(|m| view! {
            <div class="error-summary" role="alert"><h2>"There is a problem"</h2><p data-testid="reception-error">{m}</p></div>
        })}
        {move || saved.get().then(|| view! {
            <div class="notice" role="status" data-testid="reception-saved"><p>"Saved. Reception desks use the new rules from their next sync."</p></div>
        })}
        <div class="field">
            <label for="reception-academy">"Academy"</label>
            <select id="reception-academy" on:change=move |ev| {
                let id = event_target_value(&ev);
                academy.set(id.clone());
                if !id.is_empty() { load.dispatch(id); }
            }>
                <option value="">"Choose an academy"</option>
                {move || academies.get().unwrap_or_default().into_iter().map(|a| view! {
                    <option value=a.id.to_string()>{a.name}</option>
                }).collect_view()}
            </select>
        </div>
        <Show when=move || loaded.get()>
            <form on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); save.dispatch(()); } novalidate>
                <fieldset class="field">
                    <legend>"Who must be escorted on site"</legend>
                    {RULES.into_iter().map(|r| {
                        let id = format!("escort-{}", rule_value(r));
                        view! {
                            <div class="radio">
                                <input type="radio" id=id.clone() name="escort-rule" prop:checked=move || rule.get() == r
                                    on:change=move |_| rule.set(r)/>
                                <label for=id>{r.label()}</label>
                            </div>
                        }
                    }).collect_view()}
                </fieldset>
                <div class="field">
                    <label for="device-days">"Days on reception devices"</label>
                    <p class="hint" id="device-days-hint">"How long a desk still recognises a returning visitor after their last visit, so they need not sign again (by a one-way code, never their name). A visit itself leaves the desk once the server has the sign-out. 0: visitors sign every time."</p>
                    <input type="text" inputmode="numeric" id="device-days" class="input-short" aria-describedby="device-days-hint"
                        prop:value=move || device_days.get() on:input=move |ev| device_days.set(event_target_value(&ev))/>
                </div>
                <div class="field">
                    <label for="server-days">"Days on the server"</label>
                    <p class="hint" id="server-days-hint">"After a visit has ended. 2192 days is six years."</p>
                    <input type="text" inputmode="numeric" id="server-days" class="input-short" aria-describedby="server-days-hint"
                        prop:value=move || server_days.get() on:input=move |ev| server_days.set(event_target_value(&ev))/>
                </div>
                <p><button type="submit" class="button" disabled=move || save.pending().get()>"Save reception rules"</button></p>
            </form>
        </Show>
    }
}
