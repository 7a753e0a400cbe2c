//! Staff pages of the kiosk, behind the PIN: the menu (`/kiosk/staff`, with
//! how to install Haven so the browser keeps its storage), the
//! fire roll call (`/kiosk/roll-call`) and the end of day
//! (`/kiosk/end-of-day`). The roll call reads only this device (its own
//! visitors and the last snapshot of the other desks'), so it works with the
//! network down, and says how fresh each desk's part of it is.

use super::sign_out::end_visit;
use super::{use_reception, KioskShell, Reception};
use crate::clock::{ago, local_date, local_time, now_ms, utc_offset_minutes};
use crate::components::storage::InstallHelp;
use crate::state::app_db;
use crate::state::session::use_session;
use crate::state::use_sync_status;
use haven_core::visit::{start_of_day, SignOutMethod, CLOCK_WRONG_NOTE};
use leptos::prelude::*;
use leptos_router::components::A;
use std::collections::BTreeSet;

/// Ticks on the roll call, kept on the device so a reload mid-call keeps them.
const MARKS_KEY: &str = "roll_call_marks";

/// Shows `children` to an unlocked staff member, and the way to the PIN to
/// anyone else.
#[component]
fn StaffOnly(next: &'static str, children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    view! {
        <Show
            when=move || session.user.get().is_some()
            fallback=move || view! {
                <h1>"Staff only"</h1>
                <p>"Unlock with your PIN to see this page."</p>
                <p><A href=format!("/unlock?next={next}") attr:class="button kiosk-button">"Unlock"</A></p>
            }
        >
            {children()}
        </Show>
    }
}

/// `/kiosk/staff`: what staff do at the desk.
#[component]
pub fn KioskStaff() -> impl IntoView {
    let session = use_session();
    view! {
        <KioskShell>
            <StaffOnly next="/kiosk/staff">
                <h1>"Reception staff"</h1>
                <ul class="kiosk-choices">
                    <li><A href="/kiosk/roll-call" attr:class="button kiosk-choice" attr:data-testid="open-roll-call">"Fire roll call"</A></li>
                    <li><A href="/kiosk/end-of-day" attr:class="button button-secondary kiosk-choice">"End of day"</A></li>
                    <li><A href="/sync" attr:class="button button-secondary kiosk-choice">"Sync status"</A></li>
                </ul>
                <InstallHelp enrolled=true/>
                <p><button type="button" class="button button-secondary" on:click=move |_| {
                    session.lock();
                    let _ = web_sys::window().map(|w| w.location().set_href("/kiosk"));
                }>"Lock and return to the welcome screen"</button></p>
            </StaffOnly>
        </KioskShell>
    }
}

/// How fresh each desk's part of the list is.
#[component]
fn Freshness(reception: Reception) -> impl IntoView {
    let status = use_sync_status();
    let this_device = reception.enrolment.as_ref().map(|e| e.sync_device_id);
    let others: Vec<_> = reception
        .snapshot
        .as_ref()
        .map(|k| {
            k.snapshot
                .devices
                .iter()
                .filter(|d| Some(d.device_id) != this_device)
                .map(|d| {
                    let seen = d.last_seen_at.map_or("never synced".to_owned(), |at| {
                        format!("last synced {}", ago(at))
                    });
                    format!(
                        "{}: {seen}; as the server had it {}",
                        d.label,
                        ago(k.fetched_at)
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    view! {
        <ul class="freshness" data-testid="freshness">
            <li>"This desk: up to the moment"
                {move || status.last_sync_at.get().map(|at| format!(" (last reached the server {})", ago(at)))}
            </li>
            {others.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
            {reception.snapshot.is_none().then(|| view! {
                <li>"Other desks: not yet fetched from the server; this list shows only this desk's visitors."</li>
            })}
        </ul>
    }
}

/// `/kiosk/roll-call`.
#[component]
pub fn RollCall() -> impl IntoView {
    let bump = RwSignal::new(0);
    let reception = use_reception(bump, true);
    // `marks` is what is stored and counted; `wanted`, what has been ticked,
    // stored or not yet. A tick is counted once it is stored, so a reload
    // straight after it (a tablet passed from hand to hand) keeps it.
    let marks = RwSignal::new(BTreeSet::<String>::new());
    let wanted = StoredValue::new(BTreeSet::<String>::new());
    leptos::task::spawn_local(async move {
        if let Ok(db) = app_db().await {
            if let Ok(Some(saved)) = db.get_meta::<BTreeSet<String>>(MARKS_KEY).await {
                wanted.set_value(saved.clone());
                marks.set(saved);
            }
        }
    });
    let save = move || {
        let next = wanted.get_value();
        leptos::task::spawn_local(async move {
            if let Ok(db) = app_db().await {
                let _ = db.put_meta(MARKS_KEY, &next).await;
            }
            // Writes to one store commit in order, so the last one here is
            // the latest set.
            marks.set(next);
        });
    };
    let toggle = move |id: String, on: bool| {
        wanted.update_value(|m| {
            if on {
                m.insert(id);
            } else {
                m.remove(&id);
            }
        });
        save();
    };
    let clear = move |_| {
        wanted.set_value(BTreeSet::new());
        save();
    };
    view! {
        <KioskShell>
            <StaffOnly next="/kiosk/roll-call">
                <h1>"Fire roll call"</h1>
                <p class="print-only">{format!("Printed {} {}", local_date(now_ms()), local_time(now_ms()))}</p>
                <Transition fallback=|| view! { <p>"Loading…"</p> }>
                    {move || reception.get().map(|r| match r {
                        Err(e) => view! { <p class="field-error" role="alert">{e}</p> }.into_any(),
                        Ok(r) => {
                            let people = r.on_site();
                            let total = people.len();
                            let ids: Vec<String> = people.iter().map(|v| v.record.id.to_string()).collect();
                            let approximate: Vec<bool> = people.iter().map(|v| r.times_approximate(&v.record)).collect();
                            view! {
                                <p class="roll-call-counts" role="status" data-testid="roll-call-counts">
                                    {move || {
                                        let done = ids.iter().filter(|id| marks.with(|m| m.contains(*id))).count();
                                        format!("{total} visitors on site · {done} accounted for · {} still to find", total - done)
                                    }}
                                </p>
                                <Freshness reception=r.clone()/>
                                <table class="roll-call" data-testid="roll-call">
                                    <caption class="visually-hidden">"Visitors on site"</caption>
                                    <thead><tr>
                                        <th scope="col">"Accounted for"</th><th scope="col">"Name"</th><th scope="col">"Organisation"</th>
                                        <th scope="col">"Visiting"</th><th scope="col">"In at"</th><th scope="col">"Escort"</th>
                                    </tr></thead>
                                    <tbody>
                                        {people.into_iter().zip(approximate).map(|(v, approximate)| {
                                            let id = v.record.id.to_string();
                                            let check_id = format!("accounted-{id}");
                                            let for_toggle = id.clone();
                                            let for_check = id.clone();
                                            view! {
                                                <tr data-testid="roll-call-row">
                                                    <td><input type="checkbox" id=check_id.clone() class="roll-call-check"
                                                        aria-label=format!("{} accounted for", v.record.visitor_name)
                                                        prop:checked=move || marks.with(|m| m.contains(&for_check))
                                                        on:change=move |ev| toggle(for_toggle.clone(), event_target_checked(&ev))/></td>
                                                    <td data-testid="roll-call-name">{v.record.visitor_name.clone()}</td>
                                                    <td>{v.record.organisation.clone()}</td>
                                                    <td>{v.record.host.name.clone()}</td>
                                                    <td>{local_time(v.record.signed_in_at)}
                                                        {approximate.then(|| view! { " " <strong class="tag-warn" data-testid="clock-wrong">{CLOCK_WRONG_NOTE}</strong> })}
                                                    </td>
                                                    <td>{if v.record.escort_required { "Escorted" } else { "—" }}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }
                    })}
                </Transition>
                <p class="button-row no-print">
                    <button type="button" class="button kiosk-button" on:click=|_| { let _ = web_sys::window().map(|w| w.print()); }>"Print"</button>
                    <button type="button" class="button button-secondary kiosk-button" on:click=clear>"Clear ticks"</button>
                    <A href="/kiosk/staff" attr:class="button button-secondary kiosk-button">"Back"</A>
                </p>
            </StaffOnly>
        </KioskShell>
    }
}

/// `/kiosk/end-of-day`: visitors never signed out, closed with a flag.
#[component]
pub fn EndOfDay() -> impl IntoView {
    let bump = RwSignal::new(0);
    let reception = use_reception(bump, true);
    let error = RwSignal::new(None::<String>);
    let close = Action::new_local(move |ids: &Vec<String>| {
        let ids = ids.clone();
        async move {
            let Some(Ok(r)) = reception.get_untracked() else {
                return;
            };
            for v in r
                .on_site()
                .iter()
                .filter(|v| ids.contains(&v.record.id.to_string()))
            {
                if let Err(e) = end_visit(v, SignOutMethod::EndOfDay).await {
                    error.set(Some(e));
                    break;
                }
            }
            bump.update(|n| *n += 1);
        }
    });
    view! {
        <KioskShell>
            <StaffOnly next="/kiosk/end-of-day">
                <h1>"End of day"</h1>
                <p>"These visitors have not signed out. Check they have left, then sign them out: the record will show that reception closed the visit."</p>
                {move || error.get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
                <Transition fallback=|| view! { <p>"Loading…"</p> }>
                    {move || reception.get().map(|r| match r {
                        Err(e) => view! { <p class="field-error" role="alert">{e}</p> }.into_any(),
                        Ok(r) => {
                            let today = start_of_day(now_ms(), utc_offset_minutes());
                            let people = r.on_site();
                            if people.is_empty() {
                                return view! { <p data-testid="end-of-day-empty">"Everyone has signed out."</p> }.into_any();
                            }
                            let all: Vec<String> = people.iter().map(|v| v.record.id.to_string()).collect();
                            let count = all.len();
                            view! {
                                <ul class="kiosk-list" data-testid="end-of-day">
                                    {people.into_iter().map(|v| {
                                        let id = vec![v.record.id.to_string()];
                                        let earlier = v.record.signed_in_at < today;
                                        let approximate = r.times_approximate(&v.record);
                                        view! {
                                            <li>
                                                <span>{format!("{} ({}), in at {} {}", v.record.visitor_name, v.record.host.name,
                                                    local_date(v.record.signed_in_at), local_time(v.record.signed_in_at))}</span>
                                                {earlier.then(|| view! { <strong class="tag-warn">" from an earlier day"</strong> })}
                                                {approximate.then(|| view! { " " <strong class="tag-warn" data-testid="clock-wrong">{CLOCK_WRONG_NOTE}</strong> })}
                                                " "
                                                <button type="button" class="button button-secondary button-small"
                                                    on:click=move |_| { close.dispatch(id.clone()); }>
                                                    {format!("Sign out {}", v.record.visitor_name)}
                                                </button>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                                <p><button type="button" class="button kiosk-button" data-testid="close-all"
                                    disabled=move || close.pending().get()
                                    on:click=move |_| { close.dispatch(all.clone()); }>
                                    {format!("Sign out all {count}, flagged")}
                                </button></p>
                            }.into_any()
                        }
                    })}
                </Transition>
                <p><A href="/kiosk/staff" attr:class="button button-secondary kiosk-button">"Back"</A></p>
            </StaffOnly>
        </KioskShell>
    }
}
