//! `/enrol`: makes this device a reception kiosk or shared staff tablet of an
//! academy, with the short code an admin made for it; then shows how to
//! install Haven, so the browser keeps this device's storage (on an iPhone
//! or iPad, before enrolling: the Home Screen icon has storage of its own).

use crate::api;
use crate::components::error_summary::{
    described_by, focus_by_id, invalid, ErrorSummary, FieldError, FieldErrors, SUMMARY_ID,
};
use crate::components::storage::{is_apple_mobile, is_installed, InstallHelp};
use crate::db::{Credential, CredentialKind};
use crate::state::app_db;
use crate::state::session::set_idle_minutes;
use haven_core::api::accounts::{DeviceKind, EnrolRequest, Enrolled};
use leptos::prelude::*;

#[component]
pub fn Enrol() -> impl IntoView {
    let code = RwSignal::new(String::new());
    let errors = RwSignal::new(FieldErrors::new());
    // Every refusal (unknown, used or expired code) is about the code.
    let fail = move |message: String| {
        errors.set(vec![("enrol-code", message)]);
        focus_by_id(SUMMARY_ID);
    };
    let done = RwSignal::new(None::<String>);
    let current = LocalResource::new(move || {
        done.track();
        async move { app_db().await?.credential().await }
    });
    let device = crate::state::device_role::use_device_role();
    let enrol = Action::new_local(move |_: &()| async move {
        let result = async {
            let db = app_db().await.map_err(|e| e.to_string())?;
            let device = db.device().await.map_err(|e| e.to_string())?;
            let request = EnrolRequest {
                code: code.get_untracked(),
                sync_device_id: device.device_id,
            };
            let enrolled: Enrolled = api::post_json(&api::url("/devices/enrol"), None, &request)
                .await
                .map_err(|e| e.to_string())?;
            let kind = match enrolled.device.kind {
                DeviceKind::ReceptionKiosk => "reception kiosk",
                DeviceKind::SharedTablet => "shared staff tablet",
            };
            let label = format!("{} ({kind})", enrolled.device.label);
            db.set_credential(Some(&Credential {
                kind: CredentialKind::Device,
                token: enrolled.token,
                expires_at: None,
                label: label.clone(),
                refused: false,
                owner: None,
            }))
            .await
            .map_err(|e| e.to_string())?;
            db.set_enrolment(&enrolled.device)
                .await
                .map_err(|e| e.to_string())?;
            set_idle_minutes(&db, enrolled.idle_lock_minutes).await;
            Ok::<_, String>(label)
        }
        .await;
        match result {
            Ok(label) => {
                code.set(String::new());
                done.set(Some(label));
                // The header now offers the staff controls.
                device.changed();
                crate::state::request_sync();
            }
            Err(e) => fail(e),
        }
    });
    view! {
        <h1>"Enrol this device"</h1>
        {move || done.get().map(|label| view! {
            <div class="notice" role="status" data-testid="enrolled">
                <p>{format!("This device is enrolled as {label}.")}</p>
            </div>
            <InstallHelp enrolled=true/>
        })}
        {move || current.get().and_then(Result::ok).flatten()
            .filter(|c| c.kind == CredentialKind::Device && done.get().is_none())
            .map(|c| view! {
                <p data-testid="already-enrolled">
                    {if c.refused {
                        format!("This device was enrolled as {}, but an admin withdrew it. Enter a new code below.", c.label)
                    } else {
                        format!("This device is enrolled as {}.", c.label)
                    }}
                </p>
                {(!c.refused).then(|| view! { <InstallHelp enrolled=true/> })}
            })}
        // On an iPhone or iPad, install first: the Home Screen icon does not
        // share Safari's storage, so an enrolment made in Safari stays there.
        {move || (done.get().is_none() && is_apple_mobile() && !is_installed()
            && !current.get().and_then(Result::ok).flatten().is_some_and(|c| c.kind == CredentialKind::Device && !c.refused))
            .then(|| view! { <InstallHelp enrolled=false/> })}
        <ErrorSummary errors/>
        <form novalidate on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            errors.set(Vec::new());
            if code.get_untracked().trim().is_empty() {
                fail("Enter the enrolment code an admin gave you".into());
            } else {
                enrol.dispatch(());
            }
        }>
            <div class="field" data-invalid=invalid(errors, "enrol-code")>
                <label for="enrol-code">"Enrolment code"</label>
                <p class="hint" id="enrol-code-hint">"8 letters and digits, like ABCD-2345. It works once, for 15 minutes."</p>
                <FieldError errors field="enrol-code"/>
                <input type="text" id="enrol-code" autocomplete="off" spellcheck="false" autocapitalize="characters"
                    aria-describedby=described_by(errors, "enrol-code", Some("enrol-code-hint"))
                    aria-invalid=invalid(errors, "enrol-code") class="input-short"
                    prop:value=move || code.get() on:input=move |ev| code.set(event_target_value(&ev))/>
            </div>
            <button type="submit" class="button" disabled=move || enrol.pending().get()>"Enrol"</button>
        </form>
    }
}
