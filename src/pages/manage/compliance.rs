//! `/admin/compliance`: per academy, who has signed the staff agreements'
//! current versions, who signed an older one (due to re-sign), who declined
//! and who has not; new staff past the days allowed; filters, a CSV
//! download, a printable list of whom to chase, and reminders by email
//! ([`super::reminders`]).

use super::{academies, date_of as day, download, require_token};
use crate::api;
use haven_core::accounts::csv_export::to_csv;
use haven_core::api::accounts::ComplianceRow;
use haven_core::compliance::SignStatus;
use leptos::prelude::*;

#[component]
pub fn ComplianceAdmin() -> impl IntoView {
    view! {
        <h1>"Who has signed"</h1>
        {match require_token("/admin/compliance") {
            Err(prompt) => prompt,
            Ok(token) => view! { <CompliancePage token/> }.into_any(),
        }}
    }
}

#[component]
fn CompliancePage(token: String) -> impl IntoView {
    let token = StoredValue::new(token);
    let academies = academies();
    let academy = RwSignal::new(String::new());
    let filter = RwSignal::new("action".to_owned());
    let agreement = RwSignal::new(String::new());
    let role = RwSignal::new(String::new());
    let due_days = RwSignal::new("14".to_owned());
    let rows = LocalResource::new(move || {
        let academy = academy.get();
        let days = due_days.get();
        async move {
            if academy.is_empty() {
                return Ok(Vec::new());
            }
            let url = api::url(&format!(
                "/compliance?academy_id={academy}&due_days={}",
                days.trim()
            ));
            api::get_json::<Vec<ComplianceRow>>(&url, &token.get_value()).await
        }
    });
    let shown = move || -> Vec<ComplianceRow> {
        let f = filter.get();
        let (agreement, role) = (agreement.get(), role.get());
        rows.get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .filter(|r| agreement.is_empty() || r.policy_title == agreement)
            .filter(|r| role.is_empty() || r.roles.iter().any(|x| x.as_str() == role))
            .filter(|r| match f.as_str() {
                "all" => true,
                "action" => r.status.needs_action(),
                "overdue" => r.overdue,
                other => serde_json::to_value(r.status)
                    .ok()
                    .and_then(|v| v.as_str().map(|s| s == other))
                    .unwrap_or(false),
            })
            .collect()
    };
    let export = move |_| {
        let body: Vec<Vec<String>> = shown()
            .into_iter()
            .map(|r| {
                vec![
                    r.name,
                    r.email,
                    r.roles
                        .iter()
                        .map(|x| x.label())
                        .collect::<Vec<_>>()
                        .join("; "),
                    r.policy_title,
                    r.current_version.to_string(),
                    r.status.label().to_owned(),
                    r.signed_at.map(day).unwrap_or_default(),
                    day(r.due_by),
                    if r.overdue {
                        "yes".into()
                    } else {
                        String::new()
                    },
                ]
            })
            .collect();
        let csv = to_csv(
            &[
                "Name",
                "Email",
                "Roles",
                "Agreement",
                "Current version",
                "Status",
                "Signed",
                "Due by",
                "Overdue",
            ],
            &body,
        );
        download("compliance.csv", "text/csv", &csv);
    };
    view! {
        <div class="no-print">
            <div class="field"><label for="compliance-academy">"Academy"</label>
                <select id="compliance-academy" on:change=move |ev| academy.set(event_target_value(&ev))>
                    <option value="">"Choose an academy"</option>
                    {move || academies.get().unwrap_or_default().into_iter().map(|a| view! { <option value=a.id.to_string()>{a.name}</option> }).collect_view()}
                </select></div>
            <div class="field"><label for="compliance-filter">"Show"</label>
                <select id="compliance-filter" on:change=move |ev| filter.set(event_target_value(&ev))>
                    <option value="action" selected=true>"Everyone still to sign (to chase)"</option>
                    <option value="overdue">"New staff past their date"</option>
                    <option value="signed_older">"Due to re-sign"</option>
                    <option value="not_signed">"Not signed"</option>
                    <option value="declined">"Declined"</option>
                    <option value="signed_current">"Signed"</option>
                    <option value="all">"Everyone"</option>
                </select></div>
            <div class="field"><label for="compliance-agreement">"Agreement"</label>
                <select id="compliance-agreement" on:change=move |ev| agreement.set(event_target_value(&ev))>
                    <option value="">"All agreements"</option>
                    {move || {
                        let mut titles: Vec<String> = rows.get().and_then(Result::ok).unwrap_or_default()
                            .into_iter().map(|r| r.policy_title).collect();
                        titles.sort();
                        titles.dedup();
                        titles.into_iter().map(|t| view! { <option value=t.clone()>{t.clone()}</option> }).collect_view()
                    }}
                </select></div>
            <div class="field"><label for="compliance-role">"Role"</label>
                <select id="compliance-role" on:change=move |ev| role.set(event_target_value(&ev))>
                    <option value="">"All roles"</option>
                    {haven_core::accounts::roles::Role::ALL.into_iter().filter(|r| r.is_academy_role())
                        .map(|r| view! { <option value=r.as_str()>{r.label()}</option> }).collect_view()}
                </select></div>
            <div class="field"><label for="due-days">"New staff must sign within (days of joining)"</label>
                <input type="text" id="due-days" inputmode="numeric" class="input-short"
                    prop:value=move || due_days.get() on:change=move |ev| due_days.set(event_target_value(&ev))/></div>
            <p class="button-row">
                <button type="button" class="button" on:click=export>"Download as CSV"</button>
                <button type="button" class="button button-secondary" on:click=move |_| {
                    if let Some(w) = web_sys::window() { let _ = w.print(); }
                }>"Print this list"</button>
            </p>
        </div>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || match rows.get() {
                Some(Err(e)) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                _ if academy.get().is_empty() => view! { <p>"Choose an academy to see who has signed."</p> }.into_any(),
                _ => {
                    let list = shown();
                    if list.is_empty() {
                        return view! { <p data-testid="compliance-empty">"No one matches."</p> }.into_any();
                    }
                    view! {
                        <div class="table-scroll" tabindex="0" role="region" aria-label="Who has signed">
                        <table class="data-table" data-testid="compliance-table">
                            <thead><tr><th scope="col">"Name"</th><th scope="col">"Roles"</th><th scope="col">"Agreement"</th><th scope="col">"Status"</th><th scope="col">"Signed"</th><th scope="col">"Due by"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|r| view! {
                                    <tr class:overdue=r.overdue>
                                        <td>{r.name.clone()}</td>
                                        <td>{r.roles.iter().map(|x| x.label()).collect::<Vec<_>>().join(", ")}</td>
                                        <td>{format!("{} (v{})", r.policy_title, r.current_version)}</td>
                                        <td>{match (r.status, r.signed_version) {
                                            (SignStatus::SignedOlder, Some(v)) => format!("Due to re-sign (signed v{v})"),
                                            (s, _) => s.label().to_owned(),
                                        }}</td>
                                        <td>{r.signed_at.map(day).unwrap_or_default()}</td>
                                        <td>{if r.overdue { format!("{} — overdue", day(r.due_by)) } else { day(r.due_by) }}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                    }.into_any()
                }
            }}
        </Transition>
        {move || (!academy.get().is_empty()).then(|| view! {
            <super::reminders::ChaseByEmail token academy=academy.into()/>
        })}
    }
}
