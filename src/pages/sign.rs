//! Signing an agreement: full name, the role signed in, a drawn signature (or
//! a typed name with a statement of intent), "I agree" — or "I do not agree",
//! which is recorded too — then a receipt with a code anyone can check.

use crate::clock::{new_id, now_ms};
use crate::components::error_summary::{focus_by_id, focus_field};
use crate::components::qr::QrCode;
use crate::components::signature_pad::SignaturePad;
use crate::pages::reader::use_route_policy;
use crate::state::session::use_session;
use crate::state::{app_db, request_sync, use_sync_status};
use haven_core::agreement::{
    validate_signer_name, AgreementError, AgreementRecord, Capacity, PHOTO_USES,
};
use haven_core::policy::{text_hash, Audience, PolicyVersion};
use haven_core::signature::{to_svg, SignatureError, SignatureMark, Stroke, TYPED_STATEMENT};
use haven_core::sync::wire::Change;
use leptos::prelude::*;
use leptos_router::components::A;

/// Problems with the form, each tied to the field it is about.
#[derive(Clone, Default, PartialEq)]
struct FormErrors {
    name: Option<String>,
    relationship: Option<String>,
    answers: Option<String>,
    signature: Option<String>,
    agree: Option<String>,
}

impl FormErrors {
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.relationship.is_none()
            && self.answers.is_none()
            && self.signature.is_none()
            && self.agree.is_none()
    }
}

#[component]
pub fn Sign() -> impl IntoView {
    let status = use_sync_status();
    let policy = use_route_policy();
    crate::pages::reader::take_over_unless_found(policy);
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || policy.get().map(|result| match result {
                Err(e) => view! { <p class="field-error" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(None) => view! {
                    <h1>"Agreement not on this device"</h1>
                    <p>"It will download the next time Haven reaches the server."</p>
                }.into_any(),
                Ok(Some(p)) => view! { <SignFor policy=p status=status/> }.into_any(),
            })}
        </Transition>
    }
}

/// Who the form is for: a parent with an invitation on this phone signs for
/// a named child (`?child=`) or for themselves (`?parent=1`).
#[derive(Clone, Default, PartialEq)]
struct Invited {
    parent_name: String,
    child: Option<String>,
    back: String,
}

#[component]
fn SignFor(policy: PolicyVersion, status: crate::state::SyncStatus) -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let child = query.with_untracked(|q| q.get("child"));
    let for_parent = query.with_untracked(|q| q.get("parent")).is_some();
    let invited = LocalResource::new(move || {
        let child = child.clone();
        async move {
            if child.is_none() && !for_parent {
                return None;
            }
            let invitation = crate::pages::join::kept_invitation().await?;
            let back = crate::pages::join::invitation_path()
                .await
                .unwrap_or_else(|| "/".into());
            Some(Invited {
                parent_name: invitation.parent_name,
                child,
                back,
            })
        }
    });
    let policy = StoredValue::new(policy);
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || invited.get().map(|invited| view! {
                <SignForm policy=policy.get_value() status invited/>
            })}
        </Transition>
    }
}

#[component]
fn SignForm(
    policy: PolicyVersion,
    status: crate::state::SyncStatus,
    invited: Option<Invited>,
) -> impl IntoView {
    let child = invited.as_ref().and_then(|i| i.child.clone());
    let relationship = RwSignal::new(String::new());
    // Mounted, the form is where the server's copy had it: take over, and
    // keep what was typed there (`crate::prerender`).
    Effect::new(|_| crate::prerender::ready());
    let photo = policy.kind == haven_core::policy::PolicyKind::PhotoConsent;
    let answers = RwSignal::new(std::collections::BTreeMap::<String, String>::new());
    let invited = StoredValue::new(invited);
    // A staff member unlocked on this device signs as themselves, by account.
    let session = use_session();
    let me = session.user.get_untracked();
    let account = me
        .as_ref()
        .and_then(|u| uuid::Uuid::parse_str(&u.user_id()).ok());
    // Whom their roles sign as (staff, governor, volunteer...), if this
    // agreement is written for one of them.
    let my_audiences: Vec<Audience> = use_session()
        .grants()
        .0
        .iter()
        .filter_map(|g| g.role.audience())
        .collect();
    let my_role = policy
        .audiences
        .iter()
        .copied()
        .find(|a| my_audiences.contains(a));
    let staff_signing = account.is_some() && my_role.is_some();
    let name = RwSignal::new(if staff_signing {
        me.as_ref().map(|u| u.name()).unwrap_or_default()
    } else {
        invited
            .with_value(|i| i.as_ref().map(|i| i.parent_name.clone()))
            .unwrap_or_default()
    });
    let role = RwSignal::new(if staff_signing {
        my_role
    } else if invited.with_value(Option::is_some) {
        Some(Audience::ParentCarer)
    } else {
        policy.audiences.first().copied()
    });
    let child = StoredValue::new(child);
    let job_title = RwSignal::new(String::new());
    let strokes = RwSignal::new(Vec::<Stroke>::new());
    let typed = RwSignal::new(false);
    let agreed = RwSignal::new(false);
    let errors = RwSignal::new(FormErrors::default());
    let saved = RwSignal::new(None::<AgreementRecord>);
    let save_error = RwSignal::new(None::<String>);
    let reader_href = format!("/policies/{}", policy.id);
    let audiences = policy.audiences.clone();
    let policy = StoredValue::new(policy);

    // `true`: sign; `false`: decline (recorded, with no signature).
    let save = Action::new_local(move |agree: &bool| {
        let agree = *agree;
        let signer_name = name.get_untracked().trim().to_owned();
        async move {
            let result = async {
                let db = app_db().await.map_err(|e| e.to_string())?;
                let device = db.device().await.map_err(|e| e.to_string())?;
                let mark = agree.then(|| {
                    if typed.get_untracked() {
                        SignatureMark::Typed {
                            typed_name: signer_name.clone(),
                            statement: TYPED_STATEMENT.to_owned(),
                        }
                    } else {
                        SignatureMark::Drawn {
                            strokes: strokes.get_untracked(),
                        }
                    }
                });
                let title = job_title.get_untracked().trim().to_owned();
                let record = policy.with_value(|p| AgreementRecord {
                    id: new_id(),
                    policy_version_id: p.id,
                    // Hash the text this device shows, not the digest the server sent.
                    policy_text_sha256: text_hash(&p.title, &p.body_markdown),
                    signer_name: signer_name.clone(),
                    agreed: agree,
                    signed_at: now_ms(),
                    device_id: device.device_id,
                    role: role.get_untracked(),
                    signer_account: account
                        .filter(|_| staff_signing && role.get_untracked() == my_role),
                    capacity: match child.get_value() {
                        Some(child_name) => Capacity::OnBehalfOf {
                            child_name,
                            relationship: relationship.get_untracked().trim().to_owned(),
                        },
                        None => Capacity::Myself,
                    },
                    answers: if photo && agree {
                        answers.get_untracked()
                    } else {
                        Default::default()
                    },
                    job_title: (role.get_untracked() == Some(Audience::Staff) && !title.is_empty())
                        .then_some(title),
                    mark,
                });
                // Signed as a member of staff: the proof that they, unlocked
                // here now, made it (a shared device's push needs it). Read
                // at the tap, so a lock since the form opened is noticed.
                let proof = match record.signer_account {
                    None => None,
                    Some(account) => {
                        let who = session
                            .user
                            .with_untracked(|u| u.as_ref().map(|u| u.unlocked.clone()))
                            .filter(|u| u.user().user_id == account.to_string())
                            .ok_or("Haven locked before this was signed; unlock and sign again")?;
                        let change = Change::CreateAgreement(record.clone());
                        crate::lock::proof_for(&db, &who, &change)
                            .await
                            .map_err(|e| e.to_string())?
                    }
                };
                db.record_staff_signature(&record, proof)
                    .await
                    .map(|_| record)
                    .map_err(|e| e.to_string())
            }
            .await;
            match result {
                Ok(record) => {
                    // Tap to durable commit, for the sign-latency bench and devtools.
                    performance_measure(STORED_MEASURE, TAP_MARK);
                    saved.set(Some(record));
                    status.pending.update(|n| *n += 1);
                    request_sync();
                }
                Err(e) => save_error.set(Some(format!("Nothing was saved: {e}"))),
            }
        }
    });

    let check = move |agree: bool| {
        let mut found = FormErrors::default();
        if let Err(e) = validate_signer_name(&name.get_untracked()) {
            found.name = Some(e.to_string());
        }
        if child.with_value(Option::is_some) && relationship.get_untracked().trim().is_empty() {
            found.relationship = Some(AgreementError::RelationshipMissing.to_string());
        }
        if agree && photo {
            let probe = AgreementRecord {
                answers: answers.get_untracked(),
                ..Default::default()
            };
            if let Err(e) = probe.photo_answers_complete() {
                found.answers = Some(e.to_string());
            }
        }
        if agree {
            if !typed.get_untracked() && strokes.with_untracked(Vec::is_empty) {
                found.signature = Some(SignatureError::Blank.to_string());
            }
            if !agreed.get_untracked() {
                found.agree = Some(AgreementError::NotAgreed.to_string());
            }
        }
        let ok = found.is_empty();
        errors.set(found);
        if !ok {
            focus_by_id("error-summary");
        }
        ok
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        performance_mark(TAP_MARK);
        if check(true) {
            save.dispatch(true);
        }
    };
    let on_decline = move |_| {
        if check(false) {
            save.dispatch(false);
        }
    };

    view! {
        <Show
            when=move || saved.get().is_none()
            fallback=move || saved.get().map(|record| view! {
                <Receipt record policy=policy.get_value() status back=invited.with_value(|i| i.as_ref().map(|i| i.back.clone()))/>
            })
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
                        {move || errors.get().relationship.map(|m| view! { <li><a href="#relationship" on:click=focus_field("relationship")>{m}</a></li> })}
                        {move || errors.get().answers.map(|m| view! { <li><a href="#photo-uses" on:click=focus_field("photo-uses")>{m}</a></li> })}
                        {move || errors.get().signature.map(|m| view! { <li><a href="#type-instead" on:click=focus_field("type-instead")>{m}</a></li> })}
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
                {(audiences.len() > 1).then(|| {
                    let options = audiences.clone();
                    view! {
                        <div class="field">
                            <label for="signer-role">"You are signing as"</label>
                            <select id="signer-role" on:change=move |ev| role.set(Audience::from_wire(&event_target_value(&ev)))>
                                {options.into_iter().map(|a| view! { <option value=a.wire_name() selected=move || role.get() == Some(a)>{a.singular()}</option> }).collect_view()}
                            </select>
                        </div>
                    }
                })}
                {move || (role.get() == Some(Audience::Staff)).then(|| view! {
                    <div class="field">
                        <label for="job-title">"Job title"</label>
                        <input type="text" id="job-title" autocomplete="organization-title"
                            prop:value=move || job_title.get() on:input=move |ev| job_title.set(event_target_value(&ev))/>
                    </div>
                })}
                {move || child.get_value().map(|c| view! {
                    <div class="field" data-invalid=move || errors.get().relationship.is_some().to_string()>
                        <p class="panel">{format!("You are signing for {c}.")}</p>
                        <label for="relationship">{format!("Your relationship to {c}")}</label>
                        <p class="hint" id="relationship-hint">"For example mother, father, grandparent, foster carer."</p>
                        {move || errors.get().relationship.map(|m| view! { <p class="field-error"><span class="visually-hidden">"Error: "</span>{m}</p> })}
                        <input type="text" id="relationship" aria-describedby="relationship-hint" autocomplete="off"
                            prop:value=move || relationship.get() on:input=move |ev| relationship.set(event_target_value(&ev))/>
                    </div>
                })}
                {photo.then(|| view! {
                    <div class="field" id="photo-uses" tabindex="-1" data-invalid=move || errors.get().answers.is_some().to_string()>
                        <p class="label">"May the academy use photographs and video of your child for:"</p>
                        {move || errors.get().answers.map(|m| view! { <p class="field-error"><span class="visually-hidden">"Error: "</span>{m}</p> })}
                        {PHOTO_USES.iter().map(|(key, label)| {
                            let key = *key;
                            view! {
                                <fieldset class="photo-use">
                                    <legend>{*label}</legend>
                                    {["yes", "no"].into_iter().map(|answer| {
                                        let id = format!("photo-{key}-{answer}");
                                        view! {
                                            <div class="radio">
                                                <input type="radio" id=id.clone() name=format!("photo-{key}")
                                                    prop:checked=move || answers.with(|a| a.get(key).map(String::as_str) == Some(answer))
                                                    on:change=move |_| answers.update(|a| { a.insert(key.to_owned(), answer.to_owned()); })/>
                                                <label for=id>{if answer == "yes" { "Yes" } else { "No" }}</label>
                                            </div>
                                        }
                                    }).collect_view()}
                                </fieldset>
                            }
                        }).collect_view()}
                    </div>
                })}
                <div class="field" data-invalid=move || errors.get().signature.is_some().to_string()>
                    <p class="label" id="signature-label">"Your signature"</p>
                    {move || errors.get().signature.map(|m| view! {
                        <p class="field-error" id="signature-error"><span class="visually-hidden">"Error: "</span>{m}</p>
                    })}
                    <Show when=move || !typed.get()>
                        <p class="hint">"Draw it in the box with your finger, a stylus or the mouse."</p>
                        <SignaturePad strokes labelled_by="signature-label"/>
                    </Show>
                    <div class="checkbox">
                        <input type="checkbox" id="type-instead" prop:checked=move || typed.get()
                            on:change=move |ev| typed.set(event_target_checked(&ev))/>
                        <label for="type-instead">
                            "I cannot draw a signature. " {TYPED_STATEMENT}
                        </label>
                    </div>
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
                <p class="button-row">
                    <button type="submit" class="button" disabled=move || save.pending().get()>"Sign"</button>
                    <button type="button" class="button button-secondary" disabled=move || save.pending().get()
                        on:click=on_decline>"I do not agree"</button>
                </p>
            </form>
        </Show>
    }
}

/// After signing (or declining): a receipt to print or save as PDF, with the
/// short code and a QR code of the page anyone can check it on.
#[component]
fn Receipt(
    record: AgreementRecord,
    policy: PolicyVersion,
    status: crate::state::SyncStatus,
    back: Option<String>,
) -> impl IntoView {
    let code = record.receipt_code();
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    let verify_url = format!("{origin}/verify/{code}");
    let when = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(record.signed_at as f64))
        .to_locale_string("en-GB", &wasm_bindgen::JsValue::UNDEFINED)
        .as_string()
        .unwrap_or_default();
    let role = record.role.map(|r| r.singular().to_owned());
    let decision = if record.agreed { "Signed" } else { "Declined" };
    view! {
        <div class="receipt" data-testid="signed">
            <h1>{format!("{decision}: {}", policy.title)}</h1>
            <dl class="summary-list">
                <div><dt>"Agreement"</dt><dd>{format!("{} (version {})", policy.title, policy.version)}</dd></div>
                <div><dt>{if record.agreed { "Signed by" } else { "Declined by" }}</dt><dd data-testid="receipt-signer">{record.signer_name.clone()}</dd></div>
                {role.map(|r| view! { <div><dt>"As"</dt><dd>{r}</dd></div> })}
                {match &record.capacity {
                    Capacity::OnBehalfOf { child_name, relationship } => Some(view! {
                        <div><dt>"For"</dt><dd>{format!("{child_name} ({relationship})")}</dd></div>
                    }),
                    Capacity::Myself => None,
                }}
                {(!record.answers.is_empty()).then(|| view! {
                    <div><dt>"Answers"</dt><dd>{PHOTO_USES.iter().filter_map(|(k, label)| record.answers.get(*k).map(|a| format!("{label}: {a}"))).collect::<Vec<_>>().join("; ")}</dd></div>
                })}
                {record.job_title.clone().map(|t| view! { <div><dt>"Job title"</dt><dd>{t}</dd></div> })}
                <div><dt>"When"</dt><dd>{when}</dd></div>
                <div><dt>"How"</dt><dd>{match &record.mark {
                    Some(SignatureMark::Drawn { .. }) => "Drawn signature",
                    Some(SignatureMark::Typed { .. }) => "Typed name with a statement of intent",
                    None if record.agreed => "Typed name",
                    None => "Declined: no signature",
                }}</dd></div>
                <div><dt>"Receipt code"</dt><dd class="receipt-code" data-testid="receipt-code">{code.clone()}</dd></div>
            </dl>
            {match &record.mark {
                Some(SignatureMark::Drawn { strokes }) => Some(view! {
                    <div class="receipt-signature" role="img" aria-label="The signature as drawn" inner_html=to_svg(strokes)></div>
                }),
                _ => None,
            }}
            <QrCode text=verify_url.clone() label=format!("QR code to check receipt {code}")/>
            <p>"Anyone can check this receipt at " <A href=format!("/verify/{code}")>{verify_url}</A></p>
            <p class="no-print">
                {move || if status.pending.get() == 0 {
                    "It has reached the school's records.".to_owned()
                } else {
                    "It is saved on this device and will be sent to the school as soon as \
                     there is a connection. You can close this page.".to_owned()
                }}
            </p>
            <p class="button-row no-print">
                <button type="button" class="button" on:click=move |_| {
                    if let Some(w) = web_sys::window() { let _ = w.print(); }
                }>"Print or save as PDF"</button>
                {match back {
                    Some(path) => view! { <A href=path attr:class="button button-secondary">"Back to your invitation"</A> }.into_any(),
                    None => view! { <A href="/policies" attr:class="button button-secondary">"Back to policies"</A> }.into_any(),
                }}
            </p>
        </div>
    }
}

/// The User Timing names `bench/sign_latency.mjs` reads.
const TAP_MARK: &str = "haven-sign-tap";
const STORED_MEASURE: &str = "haven-sign-stored";

fn performance_mark(name: &str) {
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark(name);
    }
}

fn performance_measure(name: &str, since: &str) {
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.measure_with_start_mark(name, since);
    }
}
