//! `/admin/devices`: enrol a reception kiosk or shared tablet with a short
//! code; see each device's last contact and unsynced changes; revoke one.

use super::{academies, academy_name, ago, require_token};
use crate::api;
use haven_core::api::accounts::{DeviceKind, DeviceView, EnrolmentCode, EnrolmentCodeRequest};
use leptos::prelude::*;

#[component]
pub fn DevicesAdmin() -> impl IntoView {
    view! {
        <h1>"Devices"</h1>
        {match require_token("/admin/devices") {
            Err(prompt) => prompt,
            Ok(token) => view! { <DevicesPage token/> }.into_any(),
        }}
    }
}

#[component]
fn DevicesPage(token: String) -> impl IntoView {
    let token = StoredValue::new(token);
    let version = RwSignal::new(0u32);
    let devices = LocalResource::new(move || {
        version.track();
        async move { api::get_json::<Vec<DeviceView>>(&api::url("/devices"), &token.get_value()).await }
    });
    let academies = academies();
    let academy = RwSignal::new(String::new());
    let kind = RwSignal::new("reception_kiosk".to_owned());
    let label = RwSignal::new(String::new());
    let code = RwSignal::new(None::<EnrolmentCode>);
    let error = RwSignal::new(None::<String>);

    let create = Action::new_local(move |_: &()| async move {
        let Ok(academy_id) = uuid::Uuid::parse_str(&academy.get_untracked()) else {
            error.set(Some("Choose the academy the device is at.".into()));
            return;
        };
        let kind = if kind.get_untracked() == "shared_tablet" {
            DeviceKind::SharedTablet
        } else {
            DeviceKind::ReceptionKiosk
        };
        let request = EnrolmentCodeRequest {
            academy_id,
            kind,
            label: label.get_untracked(),
        };
        match api::post_json::<_, EnrolmentCode>(
            &api::url("/devices/codes"),
            Some(&token.get_value()),
            &request,
        )
        .await
        {
            Ok(c) => code.set(Some(c)),
            Err(e) => error.set(Some(e.to_string())),
        }
    });
    let revoke = Action::new_local(move |id: &uuid::Uuid| {
        let id = *id;
        async move {
            match api::post_json::<_, DeviceView>(
                &api::url(&format!("/devices/{id}/revoke")),
                Some(&token.get_value()),
                &serde_json::json!({}),
            )
            .await
            {
                Ok(_) => version.update(|v| *v += 1),
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });

    view! {
        {move || error.get().map(|m| view! { <div class="error-summary" role="alert"><h2>"There is a problem"</h2><p>{m}</p></div> })}
        <h2>"Enrol a device"</h2>
        <form on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); error.set(None); create.dispatch(()); }>
            <div class="field"><label for="device-academy">"Academy"</label>
                <select id="device-academy" on:change=move |ev| academy.set(event_target_value(&ev))>
                    <option value="">"Choose an academy"</option>
                    {move || academies.get().unwrap_or_default().into_iter().map(|a| view! { <option value=a.id.to_string()>{a.name}</option> }).collect_view()}
                </select></div>
            <div class="field"><label for="device-kind">"Kind of device"</label>
                <select id="device-kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                    <option value="reception_kiosk">"Reception kiosk"</option>
                    <option value="shared_tablet">"Shared staff tablet"</option>
                </select></div>
            <div class="field"><label for="device-label">"Where it is"</label>
                <p class="hint" id="device-label-hint">"For example: Main reception, Year 3 classroom."</p>
                <input type="text" id="device-label" aria-describedby="device-label-hint" prop:value=move || label.get() on:input=move |ev| label.set(event_target_value(&ev))/></div>
            <button type="submit" class="button" disabled=move || create.pending().get()>"Make an enrolment code"</button>
        </form>
        {move || code.get().map(|c| view! {
            <div class="panel panel-ok" role="status">
                <p>"On the device, open Haven, go to " <code>"/enrol"</code> " and type this code within 15 minutes:"</p>
                <p class="big-code" data-testid="enrolment-code">{c.code}</p>
            </div>
        })}
        <h2>"Enrolled devices"</h2>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || devices.get().map(|r| match r {
                Err(e) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                Ok(list) if list.is_empty() => view! { <p>"No devices are enrolled yet."</p> }.into_any(),
                Ok(list) => {
                    let names = academies.get().unwrap_or_default();
                    view! {
                        <div class="table-scroll" tabindex="0" role="region" aria-label="Enrolled devices"><table class="data-table" data-testid="device-table">
                            <thead><tr><th scope="col">"Device"</th><th scope="col">"Academy"</th><th scope="col">"Last contact"</th><th scope="col">"Changes waiting"</th><th scope="col">"Status"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|d| {
                                    let id = d.id;
                                    let kind = match d.kind { DeviceKind::ReceptionKiosk => "reception kiosk", DeviceKind::SharedTablet => "shared tablet" };
                                    view! {
                                        <tr>
                                            <td>{format!("{} ({kind})", d.label)}</td>
                                            <td>{academy_name(&names, Some(d.academy_id))}</td>
                                            <td>{ago(d.last_contact_at)}</td>
                                            <td>{d.reported_backlog}</td>
                                            <td>{if d.revoked_at.is_some() { "Revoked" } else { "Enrolled" }}</td>
                                            <td>{d.revoked_at.is_none().then(|| view! {
                                                <button type="button" class="button button-secondary button-small"
                                                    on:click=move |_| { revoke.dispatch(id); }>{format!("Revoke {}", d.label)}</button>
                                            })}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table></div>
                    }.into_any()
                }
            })}
        </Transition>
    }
}
