//! `/kiosk/sign-out`: a visitor leaves by tapping their name (the public
//! list shows first name and initial only), by typing their badge code, or
//! by scanning the badge's QR code where the browser can (the code arrives
//! as `?code=` when a camera app opens the QR's link).

use super::{use_reception, KioskShell};
use crate::clock::{local_time, new_id, now_ms};
use crate::components::badge_scanner::BadgeScanner;
use crate::components::error_summary::focus_by_id;
use crate::db::StoredVisit;
use crate::state::{app_db, request_sync};
use haven_core::visit::{badge_code_from_scan, public_name, SignOutMethod, VisitEnd};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

/// Saves the end of `visit` on this device (the outbox takes it to the server).
pub async fn end_visit(visit: &StoredVisit, method: SignOutMethod) -> Result<(), String> {
    let db = app_db().await.map_err(|e| e.to_string())?;
    let device = db.device().await.map_err(|e| e.to_string())?;
    let end = VisitEnd {
        id: new_id(),
        visit_id: visit.record.id,
        device_id: device.device_id,
        // This desk's clock as it is, even if earlier than the sign-in (a
        // desk's clock is wrong): the server keeps it and marks the visit's
        // times as approximate, where a made-up time would hide the fault.
        signed_out_at: now_ms(),
        method,
    };
    end.validate().map_err(|e| e.to_string())?;
    db.sign_out_visitor(visit, &end)
        .await
        .map_err(|e| e.to_string())?;
    request_sync();
    Ok(())
}

#[component]
pub fn KioskSignOut() -> impl IntoView {
    let bump = RwSignal::new(0);
    let reception = use_reception(bump, true);
    let search = RwSignal::new(String::new());
    let code = RwSignal::new(
        use_query_map()
            .with_untracked(|q| q.get("code"))
            .unwrap_or_default(),
    );
    let code_error = RwSignal::new(None::<String>);
    let confirm = RwSignal::new(None::<(StoredVisit, SignOutMethod)>);
    let done = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);

    let sign_out = Action::new_local(move |_: &()| async move {
        let Some((visit, method)) = confirm.get_untracked() else {
            return;
        };
        match end_visit(&visit, method).await {
            Ok(()) => {
                confirm.set(None);
                code.set(String::new());
                search.set(String::new());
                done.set(Some(public_name(&visit.record.visitor_name)));
                bump.update(|n| *n += 1);
            }
            Err(e) => error.set(Some(e)),
        }
    });

    let on_site = move || {
        reception
            .get()
            .and_then(Result::ok)
            .map(|r| r.on_site())
            .unwrap_or_default()
    };
    // The question appears above the form: take the focus to it, so a keyboard
    // or screen-reader user knows it is there and tabs straight to the answer.
    let ask = move |visit: StoredVisit, method: SignOutMethod| {
        confirm.set(Some((visit, method)));
        focus_by_id("confirm-title");
    };
    let by_code = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        done.set(None);
        let Some(wanted) = badge_code_from_scan(&code.get_untracked()) else {
            code_error.set(Some("Enter the 6 letters and numbers printed under the QR code on your badge, for example K7M-2QX".into()));
            return;
        };
        match on_site()
            .into_iter()
            .find(|v| v.record.badge_code == wanted)
        {
            Some(v) => {
                code_error.set(None);
                ask(v, SignOutMethod::BadgeCode);
            }
            None => code_error.set(Some(format!(
                "No one on site has badge {wanted}. Check the code, or find your name in the list."
            ))),
        }
    };

    let scanned = Callback::new(move |raw: String| {
        done.set(None);
        let found = badge_code_from_scan(&raw).and_then(|wanted| {
            on_site()
                .into_iter()
                .find(|v| v.record.badge_code == wanted)
        });
        match found {
            Some(v) => {
                code_error.set(None);
                ask(v, SignOutMethod::BadgeScan);
            }
            None => code_error.set(Some(
                "That QR code is not the badge of anyone on site. Type the code, or find your name in the list.".into(),
            )),
        }
    });
    view! {
        <KioskShell>
            <h1>"Sign out"</h1>
            <BadgeScanner on_code=scanned/>
            {move || done.get().map(|who| view! {
                <div class="notice" role="status" data-testid="signed-out">
                    <p>{format!("Goodbye, {who}. You are signed out. Please leave your badge at reception.")}</p>
                    <p><A href="/kiosk" attr:class="button kiosk-button">"Done"</A></p>
                </div>
            })}
            {move || error.get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
            {move || confirm.get().map(|(visit, _)| view! {
                <div class="panel kiosk-confirm" role="dialog" aria-modal="false" aria-labelledby="confirm-title" data-testid="confirm-sign-out">
                    <h2 id="confirm-title" tabindex="-1">{format!("Sign out {}?", public_name(&visit.record.visitor_name))}</h2>
                    <p>{format!("Signed in at {}.", local_time(visit.record.signed_in_at))}</p>
                    <p class="button-row">
                        <button type="button" class="button kiosk-button" data-testid="confirm-yes"
                            disabled=move || sign_out.pending().get()
                            on:click=move |_| { sign_out.dispatch(()); }>"Yes, sign me out"</button>
                        <button type="button" class="button button-secondary kiosk-button"
                            on:click=move |_| confirm.set(None)>"No"</button>
                    </p>
                </div>
            })}
            <form on:submit=by_code novalidate class="kiosk-form">
                <div class="field" data-invalid=move || code_error.get().is_some().to_string()>
                    <label for="badge-code">"Badge code"</label>
                    <p class="hint" id="badge-code-hint">"Printed under the QR code on your badge."</p>
                    {move || code_error.get().map(|m| view! {
                        <p class="field-error" id="badge-code-error" data-testid="badge-code-error"><span class="visually-hidden">"Error: "</span>{m}</p>
                    })}
                    <input type="text" id="badge-code" class="input-short" autocomplete="off" autocapitalize="characters" spellcheck="false"
                        aria-describedby="badge-code-hint"
                        prop:value=move || code.get() on:input=move |ev| code.set(event_target_value(&ev))/>
                </div>
                <p><button type="submit" class="button kiosk-button">"Sign out with this code"</button></p>
            </form>
            <h2>"Or find your name"</h2>
            <div class="field">
                <label for="visitor-search">"Search"</label>
                <input type="search" id="visitor-search" autocomplete="off"
                    prop:value=move || search.get() on:input=move |ev| search.set(event_target_value(&ev))/>
            </div>
            <ul class="kiosk-list" data-testid="sign-out-list">
                {move || {
                    let wanted = search.get().trim().to_lowercase();
                    on_site().into_iter()
                        .map(|v| (public_name(&v.record.visitor_name), v))
                        .filter(|(shown, _)| wanted.is_empty() || shown.to_lowercase().contains(&wanted))
                        .map(|(shown, v)| {
                            let at = local_time(v.record.signed_in_at);
                            view! {
                                <li><button type="button" class="button button-secondary kiosk-person"
                                    on:click=move |_| { done.set(None); ask(v.clone(), SignOutMethod::List); }>
                                    {shown}<span class="kiosk-person-time">{format!(" in at {at}")}</span>
                                </button></li>
                            }
                        }).collect_view()
                }}
            </ul>
        </KioskShell>
    }
}
