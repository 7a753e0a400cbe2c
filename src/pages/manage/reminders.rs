//! Reminders to sign (`haven_core::reminders`): the chase list and its
//! button on `/admin/compliance`, and the trust's rules on `/account`.

use super::date_of as day;
use crate::api;
use haven_core::reminders::{ChaseKind, ChaseRow, ReminderReport, ReminderSettings, SendReminders};
use leptos::prelude::*;
use uuid::Uuid;

/// What a round did, in a sentence or three.
fn describe(report: &ReminderReport) -> String {
    let people = |n: u32| {
        if n == 1 {
            "1 person".to_owned()
        } else {
            format!("{n} people")
        }
    };
    let mut parts = vec![match report.sent {
        0 => "No reminders were sent.".to_owned(),
        1 => "Sent 1 reminder.".to_owned(),
        n => format!("Sent {n} reminders."),
    }];
    if report.reminded_recently > 0 {
        parts.push(format!(
            "{} had a reminder recently and will not get another yet.",
            people(report.reminded_recently)
        ));
    }
    if report.without_email > 0 {
        parts.push(format!(
            "{} {} no email address: chase them another way.",
            people(report.without_email),
            if report.without_email == 1 {
                "has"
            } else {
                "have"
            }
        ));
    }
    if report.failed > 0 {
        parts.push(format!(
            "{} could not be emailed (the mail relay refused); try again later.",
            people(report.failed)
        ));
    }
    parts.join(" ")
}

/// Who at the academy is due to sign, when each was last reminded, and the
/// button that emails them.
#[component]
pub fn ChaseByEmail(token: StoredValue<String>, academy: Signal<String>) -> impl IntoView {
    let sent = RwSignal::new(None::<Result<ReminderReport, String>>);
    let list = LocalResource::new(move || {
        let academy = academy.get();
        // Read again after a round, for the new dates.
        sent.track();
        async move {
            if academy.is_empty() {
                return Ok(Vec::new());
            }
            let url = api::url(&format!("/compliance/chase?academy_id={academy}"));
            api::get_json::<Vec<ChaseRow>>(&url, &token.get_value()).await
        }
    });
    let send = Action::new_local(move |_: &()| async move {
        let Ok(academy_id) = academy.get_untracked().parse::<Uuid>() else {
            return;
        };
        sent.set(Some(
            api::post_json::<_, ReminderReport>(
                &api::url("/compliance/reminders"),
                Some(&token.get_value()),
                &SendReminders { academy_id },
            )
            .await
            .map_err(|e| e.to_string()),
        ));
    });
    view! {
        <section class="no-print" aria-labelledby="chase-title" data-testid="chase">
            <h2 id="chase-title">"Remind by email"</h2>
            <p class="hint">"One email each to staff still to sign and parents/carers who have not opened their link: the link to sign and nothing about the person. No one is reminded twice within the trust's interval (set on the Account page)."</p>
            {move || sent.get().map(|r| match r {
                Ok(report) => view! { <div class="panel panel-ok" role="status" data-testid="chase-result">{describe(&report)}</div> }.into_any(),
                Err(m) => view! { <div class="error-summary" role="alert"><h2>"There is a problem"</h2><p>{m}</p></div> }.into_any(),
            })}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || match list.get() {
                    Some(Err(e)) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                    Some(Ok(rows)) if rows.is_empty() => view! { <p data-testid="chase-empty">"Everyone has signed or opened their link."</p> }.into_any(),
                    Some(Ok(rows)) => view! {
                        <p class="button-row">
                            <button type="button" class="button" disabled=move || send.pending().get()
                                on:click=move |_| { send.dispatch(()); }>"Email a reminder to everyone due"</button>
                        </p>
                        <div class="table-scroll" tabindex="0" role="region" aria-label="Whom to remind">
                        <table class="data-table" data-testid="chase-table">
                            <thead><tr><th scope="col">"Name"</th><th scope="col">"Who"</th><th scope="col">"To do"</th><th scope="col">"Last reminded"</th><th scope="col">"Next reminder"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|r| view! {
                                    <tr>
                                        <td>{r.name.clone()}</td>
                                        <td>{match r.kind { ChaseKind::Staff => "Staff", ChaseKind::Parent => "Parent/carer" }}</td>
                                        <td>{r.due.join(", ")}</td>
                                        <td>{r.last_reminded_at.map(day).unwrap_or_else(|| "Never".into())}</td>
                                        <td>{if !r.has_email { "No email address".to_owned() } else {
                                            r.next_reminder_from.map(|at| format!("From {}", day(at))).unwrap_or_else(|| "Now".into())
                                        }}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                    }.into_any(),
                    None => view! { <p>"Loading…"</p> }.into_any(),
                }}
            </Transition>
        </section>
    }
}

/// The trust's reminder rules: the interval, and the weekly run.
#[component]
pub fn ReminderRules(token: String) -> impl IntoView {
    let token = StoredValue::new(token);
    let settings = LocalResource::new(move || async move {
        api::get_json::<ReminderSettings>(&api::url("/settings/reminders"), &token.get_value())
            .await
    });
    let days = RwSignal::new(String::new());
    let weekly = RwSignal::new(false);
    let saved = RwSignal::new(None::<Result<(), String>>);
    Effect::new(move |_| {
        if let Some(Ok(s)) = settings.get() {
            days.set(s.interval_days.to_string());
            weekly.set(s.weekly);
        }
    });
    let save = Action::new_local(move |_: &()| async move {
        let Ok(interval_days) = days.get_untracked().trim().parse::<u32>() else {
            saved.set(Some(Err(
                "Reminders: enter a number of days from 1 to 90.".into()
            )));
            return;
        };
        let body = ReminderSettings {
            interval_days,
            weekly: weekly.get_untracked(),
        };
        if let Some(problem) = body.problem() {
            saved.set(Some(Err(format!("Reminders: {problem}."))));
            return;
        }
        saved.set(Some(
            api::put_json::<_, ReminderSettings>(
                &api::url("/settings/reminders"),
                &token.get_value(),
                &body,
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        ));
    });
    view! {
        <h2>"Reminders to sign"</h2>
        {move || saved.get().map(|r| match r {
            Ok(()) => view! { <div class="panel panel-ok" role="status">"Saved."</div> }.into_any(),
            Err(m) => view! { <div class="error-summary" role="alert"><h2>"There is a problem"</h2><p>{m}</p></div> }.into_any(),
        })}
        <form on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); save.dispatch(()); }>
            <div class="field">
                <label for="reminder-days">"Remind one person at most once every this many days"</label>
                <input type="text" id="reminder-days" inputmode="numeric" class="input-short"
                    prop:value=move || days.get() on:input=move |ev| days.set(event_target_value(&ev))/>
            </div>
            <div class="checkbox">
                <input type="checkbox" id="reminder-weekly" prop:checked=move || weekly.get()
                    on:change=move |ev| weekly.set(event_target_checked(&ev))/>
                <label for="reminder-weekly">"Send reminders every week without being asked"</label>
            </div>
            <button type="submit" class="button">"Save reminder rules"</button>
        </form>
    }
}
