//! The DSL's incident log (online, at a desk): `/admin/incidents` lists
//! incidents with filters and an alert for each new one that must be dealt
//! with immediately; `/admin/incidents/:id` shows one with its chronology
//! and takes append-only follow-ups; `/admin/incidents/report` counts them
//! for governors (anonymised, SVG charts, print, CSV); `/admin/incidents/person`
//! prints one person's incidents (subject access, transfer to a new school).
//! Staff see only what they logged; the server decides, and audits every read.

use super::{download, require_token};
use crate::api;
use crate::clock::{local_date, local_time};
use haven_core::api::incidents::{
    IncidentAlert, IncidentDetail, IncidentReport, IncidentSummary, ReportCount,
};
use haven_core::incident::{FollowUpInput, FollowUpKind, IncidentStatus, InvestigationOutcome};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

fn when(at: i64) -> String {
    format!("{} {}", local_date(at), local_time(at))
}

fn status_class(s: IncidentStatus) -> &'static str {
    match s {
        IncidentStatus::New => "tag tag-new",
        IncidentStatus::Acknowledged | IncidentStatus::Investigating => "tag",
        IncidentStatus::Closed => "tag tag-done",
    }
}

#[component]
pub fn IncidentLog() -> impl IntoView {
    view! {
        <h1>"Incident log"</h1>
        {match require_token("/admin/incidents") {
            Err(prompt) => prompt,
            Ok(token) => view! { <IncidentLogPage token/> }.into_any(),
        }}
    }
}

#[component]
fn IncidentLogPage(token: String) -> impl IntoView {
    let token = StoredValue::new(token);
    let status = RwSignal::new(String::new());
    let group = RwSignal::new(String::new());
    let overdue = RwSignal::new(false);
    let search = RwSignal::new(String::new());
    let academy = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let academies = super::academies();
    let list = LocalResource::new(move || {
        let mut query = Vec::new();
        if !academy.get().is_empty() {
            query.push(format!("academy_id={}", academy.get()));
        }
        // Dates as typed (local midnight); `to` takes in the whole day.
        let day = |s: String| {
            let ms = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(&format!("{s}T00:00")))
                .get_time();
            (!ms.is_nan()).then_some(ms as i64)
        };
        if let Some(ms) = day(from.get()) {
            query.push(format!("from={ms}"));
        }
        if let Some(ms) = day(to.get()) {
            query.push(format!("to={}", ms + 86_400_000));
        }
        if !status.get().is_empty() {
            query.push(format!("status={}", status.get()));
        }
        if !group.get().is_empty() {
            query.push(format!("group={}", group.get()));
        }
        if overdue.get() {
            query.push("overdue=true".to_owned());
        }
        let url = api::url(&format!("/incidents?{}", query.join("&")));
        async move { api::get_json::<Vec<IncidentSummary>>(&url, &token.get_value()).await }
    });
    let alerts = LocalResource::new(move || async move {
        api::get_json::<Vec<IncidentAlert>>(&api::url("/incidents/alerts"), &token.get_value())
            .await
    });
    view! {
        {move || alerts.get().and_then(Result::ok).filter(|a| !a.is_empty()).map(|a| view! {
            <div class="alert-immediate" role="alert" data-testid="incident-alerts">
                <h2>{format!("{} new incident(s) to deal with immediately", a.len())}</h2>
                <ul>{a.into_iter().map(|x| view! {
                    <li><A href=format!("/admin/incidents/{}", x.id)>{x.incident_label}</A>{format!(" — received {}", when(x.received_at))}</li>
                }).collect_view()}</ul>
            </div>
        })}
        <p class="button-row">
            <A href="/admin/incidents/report" attr:class="button button-secondary">"Reports"</A>
            <A href="/admin/incidents/person" attr:class="button button-secondary">"One person's incidents"</A>
            <A href="/incidents/new" attr:class="button button-secondary">"Log an incident"</A>
        </p>
        <div class="filters">
            <div class="field">
                <label for="filter-academy">"Academy"</label>
                <select id="filter-academy" on:change=move |ev| academy.set(event_target_value(&ev))>
                    <option value="">"All of mine"</option>
                    {move || academies.get().unwrap_or_default().into_iter().map(|a| view! {
                        <option value=a.id.to_string()>{a.name}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="filter-from">"Happened from"</label>
                <input type="date" id="filter-from" on:change=move |ev| from.set(event_target_value(&ev))/>
            </div>
            <div class="field">
                <label for="filter-to">"to"</label>
                <input type="date" id="filter-to" on:change=move |ev| to.set(event_target_value(&ev))/>
            </div>
            <div class="field">
                <label for="filter-status">"Status"</label>
                <select id="filter-status" on:change=move |ev| status.set(event_target_value(&ev))>
                    <option value="">"Any"</option>
                    {[IncidentStatus::New, IncidentStatus::Acknowledged, IncidentStatus::Investigating, IncidentStatus::Closed]
                        .into_iter().map(|s| view! { <option value=format!("{s:?}").to_lowercase()>{s.label()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="filter-group">"About"</label>
                <select id="filter-group" on:change=move |ev| group.set(event_target_value(&ev))>
                    <option value="">"Anyone"</option>
                    <option value="pupil">"Pupils"</option>
                    <option value="staff">"Staff"</option>
                </select>
            </div>
            <div class="checkbox">
                <input type="checkbox" id="filter-overdue" prop:checked=move || overdue.get()
                    on:change=move |ev| overdue.set(event_target_checked(&ev))/>
                <label for="filter-overdue">"Overdue only"</label>
            </div>
            <div class="field">
                <label for="filter-type">"Type contains"</label>
                <input type="search" id="filter-type" prop:value=move || search.get() on:input=move |ev| search.set(event_target_value(&ev))/>
            </div>
        </div>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || list.get().map(|r| match r {
                Err(e) => view! { <p class="field-error" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(rows) => {
                    let wanted = search.get().to_lowercase();
                    let rows: Vec<_> = rows.into_iter().filter(|i| wanted.is_empty() || i.incident_label.to_lowercase().contains(&wanted)).collect();
                    if rows.is_empty() {
                        return view! { <p>"No incidents match."</p> }.into_any();
                    }
                    view! {
                        <table class="incident-log" data-testid="incident-log">
                            <thead><tr><th scope="col">"Received"</th><th scope="col">"What"</th><th scope="col">"Status"</th><th scope="col">"Logged by"</th></tr></thead>
                            <tbody>{rows.into_iter().map(|i| view! {
                                <tr data-testid="incident-row">
                                    <td>{when(i.received_at)}</td>
                                    <td>
                                        <A href=format!("/admin/incidents/{}", i.id)>{i.incident_label.clone()}</A>
                                        {i.immediate.then(|| view! { <strong class="tag tag-urgent" data-testid="immediate">" Immediate"</strong> })}
                                        {i.illegal.then(|| view! { <strong class="tag tag-urgent">" May be illegal"</strong> })}
                                        {i.overdue.then(|| view! { <strong class="tag tag-warn">" Overdue"</strong> })}
                                    </td>
                                    <td><span class=status_class(i.status)>{i.status.label()}</span></td>
                                    <td>{i.reported_by_name.clone()}</td>
                                </tr>
                            }).collect_view()}</tbody>
                        </table>
                    }.into_any()
                }
            })}
        </Transition>
    }
}

#[component]
pub fn IncidentView() -> impl IntoView {
    let params = use_params_map();
    let id = params.with_untracked(|p| p.get("id")).unwrap_or_default();
    view! {
        {match require_token("/admin/incidents") {
            Err(prompt) => prompt,
            Ok(token) => view! { <IncidentDetailPage token id/> }.into_any(),
        }}
    }
}

fn follow_up_words(kind: &FollowUpKind) -> String {
    match kind {
        FollowUpKind::ActionTaken => "Action taken".into(),
        FollowUpKind::ReferralMade { to } => format!("Referred to {to}"),
        FollowUpKind::ParentsInformed => "Parents or carers informed".into(),
        FollowUpKind::SecondInvestigator { name } => {
            format!("{name} investigating as second senior member of staff")
        }
        FollowUpKind::Outcome { outcome } => format!("Outcome: {}", outcome.label()),
        FollowUpKind::StatusChanged { status } => format!("Status: {}", status.label()),
    }
}

/// One attachment of the incident: the photo itself (or a link to open the
/// PDF) once the server has it, opened by the server and fetched with the
/// session's token (an `<img>` cannot send it), or why it is not here yet.
#[component]
fn AttachmentView(
    token: String,
    incident: uuid::Uuid,
    attachment: haven_core::incident::Attachment,
    arrived: bool,
) -> impl IntoView {
    let name = attachment.name.clone();
    if !arrived {
        return view! {
            <li data-testid="attachment">{name}" — still arriving from the device that logged it"</li>
        }
        .into_any();
    }
    let sha256 = attachment.sha256.clone();
    let file = LocalResource::new(move || {
        let (token, sha256) = (token.clone(), sha256.clone());
        async move {
            let blob = api::incident_attachment(incident, &sha256, &token).await?;
            web_sys::Url::create_object_url_with_blob(&blob)
                .map_err(|_| api::ApiClientError::Decode("the file could not be shown".into()))
        }
    });
    // The file stays in memory while its object URL exists.
    on_cleanup(move || {
        if let Some(Ok(url)) = file.get_untracked() {
            let _ = web_sys::Url::revoke_object_url(&url);
        }
    });
    let is_image = attachment.content_type.starts_with("image/");
    view! {
        <li data-testid="attachment">
            <Suspense fallback=|| view! { <span>"Opening…"</span> }>
                {move || {
                    let name = name.clone();
                    file.get().map(|r| match r {
                        Ok(url) if is_image => view! {
                            <figure>
                                <img src=url alt=format!("Attached photo: {name}") data-testid="attachment-image" class="attachment-image"/>
                                <figcaption>{name}</figcaption>
                            </figure>
                        }.into_any(),
                        Ok(url) => view! { <a href=url download=name.clone()>{format!("Open {name}")}</a> }.into_any(),
                        Err(e) => view! { <span>{format!("{name}: {e}")}</span> }.into_any(),
                    })
                }}
            </Suspense>
        </li>
    }
    .into_any()
}

#[component]
fn IncidentDetailPage(token: String, id: String) -> impl IntoView {
    let token = StoredValue::new(token);
    let version = RwSignal::new(0u32);
    let url = api::url(&format!("/incidents/{id}"));
    let follow_url = StoredValue::new(api::url(&format!("/incidents/{id}/follow-ups")));
    let detail = LocalResource::new(move || {
        version.track();
        let url = url.clone();
        async move { api::get_json::<IncidentDetail>(&url, &token.get_value()).await }
    });
    let kind = RwSignal::new("action_taken".to_owned());
    let detail_text = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let add = Action::new_local(move |_: &()| async move {
        let text = detail_text.get_untracked().trim().to_owned();
        let kind = match kind.get_untracked().as_str() {
            "referral_made" => FollowUpKind::ReferralMade { to: text },
            "parents_informed" => FollowUpKind::ParentsInformed,
            "second_investigator" => FollowUpKind::SecondInvestigator { name: text },
            "acknowledged" => FollowUpKind::StatusChanged {
                status: IncidentStatus::Acknowledged,
            },
            "investigating" => FollowUpKind::StatusChanged {
                status: IncidentStatus::Investigating,
            },
            "closed" => FollowUpKind::StatusChanged {
                status: IncidentStatus::Closed,
            },
            other => match InvestigationOutcome::ALL
                .into_iter()
                .find(|o| format!("outcome-{o:?}").to_lowercase() == other)
            {
                Some(outcome) => FollowUpKind::Outcome { outcome },
                None => FollowUpKind::ActionTaken,
            },
        };
        let input = FollowUpInput {
            kind,
            note: note.get_untracked(),
        };
        match api::post_json::<_, serde_json::Value>(
            &follow_url.get_value(),
            Some(&token.get_value()),
            &input,
        )
        .await
        {
            Ok(_) => {
                error.set(None);
                note.set(String::new());
                detail_text.set(String::new());
                version.update(|v| *v += 1);
            }
            Err(e) => error.set(Some(e.to_string())),
        }
    });
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || detail.get().map(|r| match r {
                Err(e) => view! { <h1>"Incident"</h1><p class="field-error" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(d) => {
                    let r = d.record.clone();
                    let s = d.summary.clone();
                    view! {
                        <h1>{s.incident_label.clone()}</h1>
                        <p>
                            <span class=status_class(s.status) data-testid="incident-status">{s.status.label()}</span>
                            {s.immediate.then(|| view! { <strong class="tag tag-urgent">" Immediate"</strong> })}
                            {s.illegal.then(|| view! { <strong class="tag tag-urgent">" May be illegal: police and DSL"</strong> })}
                        </p>
                        <dl class="summary-list" data-testid="incident-detail">
                            <div><dt>"Happened"</dt><dd>{when(r.occurred_at)}{format!(", {}", r.location)}</dd></div>
                            <div><dt>"About"</dt><dd>{r.involved.label()}</dd></div>
                            <div><dt>"People"</dt><dd>{r.people.iter().map(|p| format!("{} ({}{})", if p.name.is_empty() { "name not known" } else { &p.name }, p.kind.label(), p.class.as_ref().map(|c| format!(", {c}")).unwrap_or_default())).collect::<Vec<_>>().join("; ")}</dd></div>
                            <div><dt>"What happened"</dt><dd class="preserve-lines">{r.description.clone()}</dd></div>
                            <div><dt>"Web addresses"</dt><dd>{r.urls.join(", ")}</dd></div>
                            <div><dt>"Device"</dt><dd>{r.device_involved.clone()}</dd></div>
                            <div><dt>"Done straight away"</dt><dd>{r.immediate_action.clone()}</dd></div>
                            <div><dt>"Recommended"</dt><dd>{r.recommended.referrals.join(", ")}</dd></div>
                            <div><dt>"Done"</dt><dd>{r.actions_taken.join(", ")}{r.difference_reason.clone().map(|x| format!(" — why not all: {x}"))}</dd></div>
                            <div><dt>"DSL told in person"</dt><dd>{match r.told_dsl_in_person { Some(true) => "Yes", Some(false) => "Not when logged", None => "Not asked" }}</dd></div>
                            <div><dt>"Logged by"</dt><dd>{format!("{}, {}", s.reported_by_name, when(s.reported_at))}</dd></div>
                            <div><dt>"Attachments"</dt><dd>
                                {r.attachments.is_empty().then_some("None")}
                                <ul class="attachments">{r.attachments.iter().map(|a| {
                                    let arrived = d.arrived.contains(&a.sha256);
                                    view! { <AttachmentView token=token.get_value() incident=r.id attachment=a.clone() arrived/> }
                                }).collect_view()}</ul>
                            </dd></div>
                        </dl>
                        <h2>"Chronology"</h2>
                        <ol class="chronology" data-testid="chronology">
                            <li>{format!("{} — logged by {}", when(s.received_at), s.reported_by_name)}</li>
                            {d.follow_ups.into_iter().map(|f| view! {
                                <li>{format!("{} — {}: {}", when(f.at), f.by_name, follow_up_words(&f.kind))}
                                    {(!f.note.is_empty()).then(|| view! { <p class="preserve-lines">{f.note.clone()}</p> })}</li>
                            }).collect_view()}
                        </ol>
                    }.into_any()
                }
            })}
        </Transition>
        <h2>"Add to the record"</h2>
        {move || error.get().map(|m| view! { <div class="error-summary" role="alert"><h2>"There is a problem"</h2><p data-testid="follow-up-error">{m}</p></div> })}
        <form on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); add.dispatch(()); }>
            <div class="field">
                <label for="follow-kind">"What"</label>
                <select id="follow-kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                    <option value="action_taken">"Action taken"</option>
                    <option value="referral_made">"Referral made (to whom, below)"</option>
                    <option value="parents_informed">"Parents or carers informed"</option>
                    <option value="second_investigator">"Second senior member of staff (name below)"</option>
                    {InvestigationOutcome::ALL.into_iter().map(|o| view! { <option value=format!("outcome-{o:?}").to_lowercase()>{format!("Outcome: {}", o.label())}</option> }).collect_view()}
                    <option value="acknowledged">"Status: acknowledged"</option>
                    <option value="investigating">"Status: investigating"</option>
                    <option value="closed">"Status: closed"</option>
                </select>
            </div>
            <div class="field">
                <label for="follow-detail">"To whom, or who (for a referral or the second investigator)"</label>
                <input type="text" id="follow-detail" prop:value=move || detail_text.get() on:input=move |ev| detail_text.set(event_target_value(&ev))/>
            </div>
            <div class="field">
                <label for="follow-note">"Note"</label>
                <textarea id="follow-note" rows="3" prop:value=move || note.get() on:input=move |ev| note.set(event_target_value(&ev))></textarea>
            </div>
            <p><button type="submit" class="button" disabled=move || add.pending().get()>"Add"</button></p>
        </form>
        <p><A href="/admin/incidents">"Back to the incident log"</A></p>
    }
}

/// Horizontal bars as SVG: one per count, labelled, scaled to the largest.
#[component]
fn BarChart(title: &'static str, counts: Vec<ReportCount>) -> impl IntoView {
    let max = counts.iter().map(|c| c.count).max().unwrap_or(1).max(1);
    let row = 28;
    let height = (counts.len().max(1) * row) as u32;
    view! {
        <figure class="chart">
            <figcaption>{title}</figcaption>
            <svg viewBox=format!("0 0 600 {height}") width="100%" role="img" aria-label=format!("{title}: {}",
                counts.iter().map(|c| format!("{} {}", c.label, c.count)).collect::<Vec<_>>().join(", "))>
                {counts.iter().enumerate().map(|(i, c)| {
                    let y = (i * row) as u32;
                    let w = (c.count as f64 / max as f64 * 300.0).round() as u32;
                    let label: String = c.label.chars().take(40).collect();
                    view! {
                        <g>
                            <text x="0" y=y + 18 font-size="13">{label}</text>
                            <rect x="280" y=y + 5 width=w.max(1) height="18" fill="#17467d"></rect>
                            <text x=285 + w y=y + 18 font-size="13">{c.count.to_string()}</text>
                        </g>
                    }
                }).collect_view()}
            </svg>
        </figure>
    }
}

/// The monthly counts added up by school term.
fn terms(by_month: &[ReportCount]) -> Vec<ReportCount> {
    let mut terms: std::collections::BTreeMap<String, ReportCount> = Default::default();
    for month in by_month {
        if let Some((key, label)) = haven_core::incident::term_of_month(&month.key) {
            terms
                .entry(key.clone())
                .or_insert(ReportCount {
                    key,
                    label,
                    count: 0,
                })
                .count += month.count;
        }
    }
    terms.into_values().collect()
}

fn report_csv(r: &IncidentReport) -> String {
    let mut out = String::from("group,key,label,count\n");
    let quote = |s: &str| {
        // Spreadsheet formula injection: a leading =, +, - or @ is neutralised.
        let s = if s.starts_with(['=', '+', '-', '@']) {
            format!("'{s}")
        } else {
            s.to_owned()
        };
        format!("\"{}\"", s.replace('"', "\"\""))
    };
    for (group, list) in [
        ("type", &r.by_type),
        ("academy", &r.by_academy),
        ("month", &r.by_month),
        ("group", &r.by_group),
    ] {
        for c in list {
            out.push_str(&format!(
                "{group},{},{},{}\n",
                quote(&c.key),
                quote(&c.label),
                c.count
            ));
        }
    }
    out
}

#[component]
pub fn IncidentReportPage() -> impl IntoView {
    view! {
        <h1>"Incident report"</h1>
        {match require_token("/admin/incidents/report") {
            Err(prompt) => prompt,
            Ok(token) => {
                let report = LocalResource::new(move || {
                    let token = token.clone();
                    async move { api::get_json::<IncidentReport>(&api::url("/incidents/report"), &token).await }
                });
                view! {
                    <p>"Counts only: no names and no details, for governors and the online safety group."</p>
                    <Transition fallback=|| view! { <p>"Loading…"</p> }>
                        {move || report.get().map(|r| match r {
                            Err(e) => view! { <p class="field-error" role="alert">{e.to_string()}</p> }.into_any(),
                            Ok(r) => {
                                let csv = report_csv(&r);
                                let by_term = terms(&r.by_month);
                                view! {
                                    <p data-testid="report-total">{format!("{} incidents in all.", r.total)}</p>
                                    <BarChart title="By type" counts=r.by_type.clone()/>
                                    <BarChart title="By academy" counts=r.by_academy.clone()/>
                                    <BarChart title="By month" counts=r.by_month.clone()/>
                                    <BarChart title="By term" counts=by_term/>
                                    <BarChart title="Pupils and staff" counts=r.by_group.clone()/>
                                    <p class="button-row no-print">
                                        <button type="button" class="button" on:click=|_| { let _ = web_sys::window().map(|w| w.print()); }>"Print"</button>
                                        <button type="button" class="button button-secondary" on:click=move |_| download("incident-report.csv", "text/csv", &csv)>"Download CSV"</button>
                                    </p>
                                }.into_any()
                            }
                        })}
                    </Transition>
                }.into_any()
            }
        }}
    }
}

/// `/admin/incidents/person`: every incident naming one person, to print.
#[component]
pub fn PersonIncidents() -> impl IntoView {
    view! {
        <h1>"One person's incidents"</h1>
        {match require_token("/admin/incidents/person") {
            Err(prompt) => prompt,
            Ok(token) => {
                let token = StoredValue::new(token);
                let name = RwSignal::new(String::new());
                let found = RwSignal::new(None::<Result<Vec<IncidentDetail>, String>>);
                let look = Action::new_local(move |_: &()| async move {
                    let q = js_sys::encode_uri_component(name.get_untracked().trim());
                    let url = api::url(&format!("/incidents/person?name={q}"));
                    found.set(Some(api::get_json::<Vec<IncidentDetail>>(&url, &token.get_value()).await.map_err(|e| e.to_string())));
                });
                view! {
                    <p class="no-print">"For a subject access request, or when a pupil moves school. Every search is recorded in the audit log."</p>
                    <form class="no-print" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); look.dispatch(()); }>
                        <div class="field">
                            <label for="person-search">"Full name"</label>
                            <input type="text" id="person-search" autocomplete="off" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                        </div>
                        <p><button type="submit" class="button">"Find"</button></p>
                    </form>
                    {move || found.get().map(|r| match r {
                        Err(e) => view! { <p class="field-error" role="alert">{e}</p> }.into_any(),
                        Ok(list) => view! {
                            <h2>{format!("{} incident(s) naming {}", list.len(), name.get_untracked())}</h2>
                            {list.into_iter().map(|d| view! {
                                <article class="panel">
                                    <h3>{format!("{} — {}", when(d.record.occurred_at), d.summary.incident_label)}</h3>
                                    <p class="preserve-lines">{d.record.description.clone()}</p>
                                    <p>{format!("Status: {}. Done: {}.", d.summary.status.label(), d.record.actions_taken.join(", "))}</p>
                                    <ul>{d.follow_ups.into_iter().map(|f| view! { <li>{format!("{} — {}", when(f.at), follow_up_words(&f.kind))}</li> }).collect_view()}</ul>
                                </article>
                            }).collect_view()}
                            <p class="no-print"><button type="button" class="button" on:click=|_| { let _ = web_sys::window().map(|w| w.print()); }>"Print"</button></p>
                        }.into_any(),
                    })}
                }.into_any()
            }
        }}
    }
}
