//! Signing an agreement: typed full name and "I agree" (the signature pad comes later).

use crate::clock::{new_id, now_ms};
use crate::pages::reader::use_route_policy;
use crate::state::{app_db, request_sync, use_sync_status};
use haven_core::agreement::{validate_signer_name, AgreementError, AgreementRecord};
use haven_core::policy::{text_hash, PolicyVersion};
use leptos::prelude::*;
use leptos_router::components::A;

/// Problems with the form, each tied to the field it is about.
#[derive(Clone, Default, PartialEq)]
struct FormErrors {
    name: Option<String>,
    agree: Option<String>,
}

impl FormErrors {
    fn is_empty(&self) -> bool {
        self.name.is_none() && self.agree.is_none()
    }
}

#[component]
pub fn Sign() -> impl IntoView {
    let status = use_sync_status();
    let policy = use_route_policy();
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || policy.get().map(|result| match result {
                Err(e) => view! { <p class="field-error" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(None) => view! {
                    <h1>"Agreement not on this device"</h1>
                    <p>"It will download the next time Haven reaches the server."</p>
                }.into_any(),
                Ok(Some(p)) => view! { <SignForm policy=p status=status/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn SignForm(policy: PolicyVersion, status: crate::state::SyncStatus) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let agreed = RwSignal::new(false);
    let errors = RwSignal::new(FormErrors::default());
    let saved = RwSignal::new(None::<String>);
    let save_error = RwSignal::new(None::<String>);
    let reader_href = format!("/policies/{}", policy.id);
    let policy = StoredValue::new(policy);

    let save = Action::new_local(move |signer_name: &String| {
        let signer_name = signer_name.clone();
        async move {
            let result = async {
                let db = app_db().await?;
                let device = db.device().await?;
                let record = policy.with_value(|p| AgreementRecord {
                    id: new_id(),
                    policy_version_id: p.id,
                    // Hash the text this device shows, not the digest the server sent.
                    policy_text_sha256: text_hash(&p.title, &p.body_markdown),
                    signer_name: signer_name.clone(),
                    agreed: true,
                    signed_at: now_ms(),
                    device_id: device.device_id,
                });
                db.record_signature(&record).await
            }
            .await;
            match result {
                Ok(_) => {
                    saved.set(Some(signer_name));
                    status.pending.update(|n| *n += 1);
                    request_sync();
                }
                Err(e) => save_error.set(Some(format!("Your signature was not saved: {e}"))),
            }
        }
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut found = FormErrors::default();
        if let Err(e) = validate_signer_name(&name.get_untracked()) {
            found.name = Some(e.to_string());
        }
        if !agreed.get_untracked() {
            found.agree = Some(AgreementError::NotAgreed.to_string());
        }
        let ok = found.is_empty();
        errors.set(found);
        if !ok {
            focus_by_id("error-summary");
            return;
        }
        save.dispatch(name.get_untracked().trim().to_owned());
    };

    view! {
        <Show
            when=move || saved.get().is_none()
            fallback=move || view! {
                <div class="panel panel-ok" role="status" data-testid="signed">
                    <h1>"Signed"</h1>
                    <p>{move || format!("{} signed “{}”.", saved.get().unwrap_or_default(), policy.with_value(|p| p.title.clone()))}</p>
                    <p>
                        {move || if status.pending.get() == 0 {
                            "It has reached the school's records.".to_owned()
                        } else {
                            "It is saved on this device and will be sent to the school as soon as \
                             there is a connection. You can close this page.".to_owned()
                        }}
                    </p>
                    <p><A href="/policies">"Back to policies"</A></p>
                </div>
            }
        >
            <h1>{format!("Sign: {}", policy.with_value(|p| p.title.clone()))}</h1>
            <p>
                "Read the agreement before you sign. "
                <A href=reader_href.clone()>"Read the agreement"</A>
                {move || format!(" (version {}).", policy.with_value(|p| p.version))}
            </p>
            <Show when=move || !errors.get().is_empty()>
                <div class="error-summary" id="error-summary" tabindex="-1" role="alert" aria-labelledby="error-summary-title">
                    <h2 id="error-summary-title">"There is a problem"</h2>
                    <ul>
                        {move || errors.get().name.map(|m| view! { <li><a href="#signer-name" on:click=focus_field("signer-name")>{m}</a></li> })}
                        {move || errors.get().agree.map(|m| view! { <li><a href="#agree" on:click=focus_field("agree")>{m}</a></li> })}
                    </ul>
                </div>
            </Show>
            {move || save_error.get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
            <form on:submit=on_submit novalidate>
                <div class="field" data-invalid=move || errors.get().name.is_some().to_string()>
                    <label for="signer-name">"Your full name"</label>
                    <p class="hint" id="signer-name-hint">"As it appears on school records."</p>
                    {move || errors.get().name.map(|m| view! {
                        <p class="field-error" id="signer-name-error"><span class="visually-hidden">"Error: "</span>{m}</p>
                    })}
                    <input
                        type="text"
                        id="signer-name"
                        name="signer-name"
                        autocomplete="name"
                        spellcheck="false"
                        aria-describedby=move || if errors.get().name.is_some() { "signer-name-hint signer-name-error" } else { "signer-name-hint" }
                        aria-invalid=move || errors.get().name.is_some().to_string()
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                </div>
                <div class="field" data-invalid=move || errors.get().agree.is_some().to_string()>
                    {move || errors.get().agree.map(|m| view! {
                        <p class="field-error" id="agree-error"><span class="visually-hidden">"Error: "</span>{m}</p>
                    })}
                    <div class="checkbox">
                        <input
                            type="checkbox"
                            id="agree"
                            name="agree"
                            prop:checked=move || agreed.get()
                            on:change=move |ev| agreed.set(event_target_checked(&ev))
                        />
                        <label for="agree">"I have read this agreement and I agree to follow it."</label>
                    </div>
                </div>
                <button type="submit" class="button" disabled=move || save.pending().get()>"Sign"</button>
            </form>
        </Show>
    }
}

/// A summary link's click: focus its field rather than let the router navigate.
fn focus_field(id: &'static str) -> impl Fn(leptos::ev::MouseEvent) + 'static {
    move |ev| {
        ev.prevent_default();
        focus_by_id(id);
    }
}

fn focus_by_id(id: &str) {
    let id = id.to_owned();
    // After the summary has rendered.
    request_animation_frame(move || {
        use wasm_bindgen::JsCast;
        if let Some(el) = document().get_element_by_id(&id) {
            if let Ok(el) = el.dyn_into::<web_sys::HtmlElement>() {
                let _ = el.focus();
            }
        }
    });
}
