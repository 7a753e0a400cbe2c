//! Sync status for people: what is waiting, how far a sync has got, when the
//! last one finished, and every record the server refused (signatures,
//! visitors' sign-ins and sign-outs, incidents), with its reason.

use crate::db::SyncState;
use crate::state::{app_db, request_sync, use_sync_status, Connection};
use haven_core::sync::outbox::EntryState;
use haven_core::sync::wire::Change;
use haven_core::Millis;
use leptos::prelude::*;

/// A local date and time a person can read.
pub fn format_time(ms: Millis) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    String::from(date.to_locale_string("en-GB", &wasm_bindgen::JsValue::UNDEFINED))
}

/// A record the server refused, as the list shows it.
#[derive(Clone)]
struct Refused {
    what: String,
    detail: String,
    reason: String,
}

#[component]
pub fn SyncStatusPage() -> impl IntoView {
    let status = use_sync_status();
    let rejected = LocalResource::new(move || {
        status.data_version.track();
        async move {
            let db = app_db().await?;
            let mut rows = Vec::new();
            for a in db.agreements().await? {
                if let SyncState::Rejected { reason, .. } = &a.sync {
                    let title = db
                        .policy(a.record.policy_version_id)
                        .await?
                        .map(|p| p.title)
                        .unwrap_or_else(|| "an agreement".into());
                    rows.push(Refused {
                        what: format!("Signature by {}", a.record.signer_name),
                        detail: format!(" on {} — {title}", format_time(a.record.signed_at)),
                        reason: reason.clone(),
                    });
                }
            }
            // Visits, their ends and incidents keep their refusal on the
            // outbox entry; agreements are listed above with their title.
            for entry in db.outbox().await? {
                let EntryState::Rejected { reason, .. } = entry.state else {
                    continue;
                };
                let (what, detail) = match &entry.mutation.change {
                    Change::CreateAgreement(_) | Change::Unreadable(_) => continue,
                    Change::CreateVisit(v) => (
                        format!("Visitor sign-in: {}", v.visitor_name),
                        format!(" at {}", format_time(v.signed_in_at)),
                    ),
                    Change::EndVisit(e) => (
                        "Visitor sign-out".to_owned(),
                        format!(" at {}", format_time(e.signed_out_at)),
                    ),
                    Change::CreateIncident(_) => (
                        "An incident logged on this device".to_owned(),
                        " (sealed: its author sees it under Incidents)".to_owned(),
                    ),
                };
                rows.push(Refused {
                    what,
                    detail,
                    reason,
                });
            }
            Ok::<_, crate::db::DbError>(rows)
        }
    });
    let now = move || {
        status.data_version.track();
        crate::clock::now_ms()
    };
    view! {
        <h1>"Sync status"</h1>
        <dl class="summary-list">
            <div>
                <dt>"Connection"</dt>
                <dd data-testid="status-connection">
                    {move || match status.connection.get() {
                    Connection::Online => "Connected to the school's server",
                    Connection::Checking => "Connecting to the school's server…",
                    Connection::Unreachable => "The school's server is not answering: changes are kept on this device and sent when it does",
                    Connection::Offline => "Offline: changes are kept on this device",
                }}
                </dd>
            </div>
            <div>
                <dt>"Waiting to sync"</dt>
                <dd data-testid="status-pending">{move || status.pending.get()}</dd>
            </div>
            <div>
                <dt>"Last successful sync"</dt>
                <dd data-testid="status-last-sync">
                    {move || status.last_sync_at.get().map(format_time).unwrap_or_else(|| "Never on this device".into())}
                </dd>
            </div>
        </dl>
        <crate::components::storage::StorageStatus/>
        {move || status.progress.get().map(|p| view! {
            <div class="field">
                <label for="sync-progress">{format!("Sending {} of {} changes", p.done, p.total)}</label>
                <progress id="sync-progress" max=p.total.to_string() value=p.done.to_string()></progress>
            </div>
        })}
        {move || status.is_stale(now()).then(|| view! {
            <div class="panel panel-warn" role="alert" data-testid="stale-warning">
                <h2>"Some changes have waited more than a day"</h2>
                <p>"Connect this device to the school network so they reach the school's records."</p>
            </div>
        })}
        {move || status.identity_notice.get().map(|_| view! {
            <div class="panel panel-warn" role="status" data-testid="identity-notice">
                <h2>"This device has a new identity"</h2>
                <p>"This device found another device using its identity (a copy of this browser or \
                    tablet). It has taken a new one and sent its records again; nothing was lost."</p>
                <p>"If this tablet or browser was copied on purpose, ask the person who manages Haven \
                    at your school to enrol each copy on its own."</p>
                <p><button type="button" class="button button-secondary" data-testid="dismiss-identity-notice"
                    on:click=move |_| {
                        status.identity_notice.set(None);
                        leptos::task::spawn_local(async move {
                            if let Ok(db) = app_db().await {
                                let _ = db.dismiss_identity_notice().await;
                            }
                        });
                    }>"Dismiss"</button></p>
            </div>
        })}
        {move || status.problem.get().map(|p| view! {
            <div class="panel panel-warn" role="alert"><p>{p}</p></div>
        })}
        <p><button type="button" class="button button-secondary" on:click=move |_| request_sync()>"Sync now"</button></p>
        <h2>"Refused by the server"</h2>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || rejected.get().map(|rows| match rows {
                Err(e) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                Ok(rows) if rows.is_empty() => view! {
                    <p data-testid="no-rejections">"None. Everything sent has been accepted."</p>
                }.into_any(),
                Ok(rows) => view! {
                    <p>"These stay on this device. Tell the person who manages Haven at your school."</p>
                    <ul class="rejected-list" data-testid="rejected-list">
                        {rows.into_iter().map(|row| view! {
                            <li>
                                <strong>{row.what}</strong>
                                {row.detail}
                                <p class="field-error">{row.reason}</p>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
            })}
        </Transition>
    }
}
