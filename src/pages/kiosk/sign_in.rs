//! `/kiosk/sign-in`: a visitor's details, their agreement (or, for a
//! returning visitor who signed its current version, a "is this you?"; for
//! one who signed an earlier version, what changed since),
//! reception's ID and DBS checks, then the badge. Works offline: the visit
//! and the agreement are saved with their outbox entries in one transaction.

use super::{use_reception, KioskShell, Reception};
use crate::clock::{new_id, now_ms};
use crate::components::error_summary::{
    focus_by_id, invalid, ErrorSummary, FieldError, FieldErrors, SUMMARY_ID,
};
use crate::components::resign::{Resign, ResignNotice};
use crate::components::signature_pad::SignaturePad;
use crate::state::{app_db, request_sync};
use haven_core::agreement::AgreementRecord;
use haven_core::compliance::Signed;
use haven_core::policy::{text_hash, PolicyVersion};
use haven_core::render::render_policy;
use haven_core::signature::{SignatureMark, Stroke, TYPED_STATEMENT};
use haven_core::visit::{
    badge_code, earlier_agreement, returning_digest, DbsStatus, Host, Recognisable, VisitRecord,
    VisitorChecks, VisitorType,
};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Details,
    /// A returning visitor confirms it is them.
    Returning,
    Agreement,
    Checks,
}

#[component]
pub fn KioskSignIn() -> impl IntoView {
    let bump = RwSignal::new(0);
    let reception = use_reception(bump, false);
    view! {
        <KioskShell>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || reception.get().map(|r| match r {
                    Err(e) => view! { <p class="field-error" role="alert">{e}</p> }.into_any(),
                    Ok(r) if r.enrolment.is_none() => view! {
                        <p>"This device is not enrolled as a reception desk."</p>
                    }.into_any(),
                    Ok(r) => view! { <SignInForm reception=r/> }.into_any(),
                })}
            </Transition>
        </KioskShell>
    }
}

#[component]
fn SignInForm(reception: Reception) -> impl IntoView {
    let navigate = StoredValue::new_local(use_navigate());
    let hosts = reception.hosts();
    let settings = reception.settings();
    let reception = StoredValue::new(reception);
    let step = RwSignal::new(Step::Details);
    let name = RwSignal::new(String::new());
    let organisation = RwSignal::new(String::new());
    let visitor_type = RwSignal::new(VisitorType::Visitor);
    let host = RwSignal::new(String::new());
    let car = RwSignal::new(String::new());
    let strokes = RwSignal::new(Vec::<Stroke>::new());
    let typed = RwSignal::new(false);
    let agreed = RwSignal::new(false);
    let id_seen = RwSignal::new(false);
    let dbs = RwSignal::new(DbsStatus::NotChecked);
    let errors = RwSignal::new(FieldErrors::new());
    let save_error = RwSignal::new(None::<String>);
    // The agreement to sign, and an earlier signature that covers it.
    let agreement = RwSignal::new(None::<PolicyVersion>);
    // Known by the digest of the name and organisation typed now: this
    // desk keeps no earlier visitor's name.
    let earlier = RwSignal::new(None::<Recognisable>);
    // A returning visitor who signed an earlier version: what changed.
    let resign = RwSignal::new(None::<Resign>);
    let host_list = StoredValue::new(hosts);

    let show_errors = move |list: Vec<(&'static str, String)>| {
        let ok = list.is_empty();
        errors.set(list);
        if !ok {
            focus_by_id(SUMMARY_ID);
        }
        ok
    };

    let host_of = move || -> Host {
        let typed_name = host.get_untracked().trim().to_owned();
        host_list.with_value(|hosts| {
            hosts
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(&typed_name))
                .cloned()
                .unwrap_or(Host {
                    staff_id: None,
                    name: typed_name,
                })
        })
    };

    let details_done = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut found = Vec::new();
        let probe = |field: &'static str, value: String, required: bool, max: usize| {
            let value = value.trim().to_owned();
            if required && value.is_empty() {
                return Some((field, String::new()));
            }
            if value.chars().count() > max {
                return Some((field, format!("at most {max} characters")));
            }
            None
        };
        if let Some((f, m)) = probe("visitor-name", name.get_untracked(), true, 200) {
            found.push((
                f,
                if m.is_empty() {
                    "Enter your full name".into()
                } else {
                    format!("Your name: {m}")
                },
            ));
        }
        if let Some((f, m)) = probe("organisation", organisation.get_untracked(), false, 200) {
            found.push((f, format!("Organisation: {m}")));
        }
        if let Some((f, m)) = probe("host", host.get_untracked(), true, 200) {
            found.push((
                f,
                if m.is_empty() {
                    "Enter the name of the person you are visiting".into()
                } else {
                    format!("Visiting: {m}")
                },
            ));
        }
        if let Some((f, m)) = probe("car", car.get_untracked(), false, 12) {
            found.push((f, format!("Car registration: {m}")));
        }
        let version = reception.with_value(|r| r.agreement_for(visitor_type.get_untracked()));
        if version.is_none() {
            found.push((
                "visitor-type",
                format!(
                    "The {} is not on this device yet. It downloads the next time this device reaches the school's server; ask reception for help.",
                    visitor_type.get_untracked().agreement_kind().label().to_lowercase()
                ),
            ));
        }
        if !show_errors(found) {
            return;
        }
        let version = version.expect("checked above");
        let found_earlier = reception.with_value(|r| {
            let person = returning_digest(
                &r.visitor_key,
                &name.get_untracked(),
                &organisation.get_untracked(),
            );
            earlier_agreement(&r.returning, &person, version.id).cloned()
        });
        step.set(if found_earlier.is_some() {
            Step::Returning
        } else {
            Step::Agreement
        });
        resign.set(None);
        if found_earlier.is_none() {
            // Signed an earlier version here? Then say what changed.
            let theirs: Vec<EarlierSignature> = reception.with_value(|r| {
                let person = returning_digest(
                    &r.visitor_key,
                    &name.get_untracked(),
                    &organisation.get_untracked(),
                );
                r.returning
                    .iter()
                    .filter(|a| a.person == person)
                    .map(|a| (a.policy_version_id, a.agreed, a.signed_at))
                    .collect()
            });
            if !theirs.is_empty() {
                let current = version.clone();
                leptos::task::spawn_local(async move {
                    resign.set(resign_for(&current, &theirs).await);
                });
            }
        }
        earlier.set(found_earlier);
        agreement.set(Some(version));
        focus_by_id("step-heading");
    };

    let agreement_done = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut found = Vec::new();
        if !typed.get_untracked() && strokes.with_untracked(Vec::is_empty) {
            found.push((
                "signature",
                "Draw your signature in the box, or tick \"I cannot draw a signature\"".to_owned(),
            ));
        }
        if !agreed.get_untracked() {
            found.push(("agree", "Tick \"I agree\" to sign in".to_owned()));
        }
        if show_errors(found) {
            step.set(Step::Checks);
            focus_by_id("step-heading");
        }
    };

    let save = Action::new_local(move |_: &()| async move {
        let result = async {
            let db = app_db().await.map_err(|e| e.to_string())?;
            let device = db.device().await.map_err(|e| e.to_string())?;
            let academy_id = reception
                .with_value(|r| r.enrolment.as_ref().map(|e| e.academy_id))
                .ok_or("this device is not enrolled")?;
            let version = agreement.get_untracked().ok_or("no agreement chosen")?;
            let now = now_ms();
            let visitor_name = name.get_untracked().trim().to_owned();
            let org = organisation.get_untracked().trim().to_owned();
            let host = host_of();
            let signed = match earlier.get_untracked() {
                Some(_) => None,
                None => {
                    let mut answers = std::collections::BTreeMap::new();
                    if !org.is_empty() {
                        answers.insert("organisation".to_owned(), org.clone());
                    }
                    answers.insert("visiting".to_owned(), host.name.clone());
                    Some(AgreementRecord {
                        id: new_id(),
                        policy_version_id: version.id,
                        policy_text_sha256: text_hash(&version.title, &version.body_markdown),
                        signer_name: visitor_name.clone(),
                        agreed: true,
                        signed_at: now,
                        device_id: device.device_id,
                        role: Some(visitor_type.get_untracked().audience()),
                        answers,
                        mark: Some(if typed.get_untracked() {
                            SignatureMark::Typed {
                                typed_name: visitor_name.clone(),
                                statement: TYPED_STATEMENT.to_owned(),
                            }
                        } else {
                            SignatureMark::Drawn {
                                strokes: strokes.get_untracked(),
                            }
                        }),
                        ..Default::default()
                    })
                }
            };
            let agreement_id = signed
                .as_ref()
                .map(|a| a.id)
                .or_else(|| earlier.get_untracked().map(|a| a.agreement_id))
                .ok_or("no agreement")?;
            let checks = VisitorChecks {
                id_seen: id_seen.get_untracked(),
                dbs: dbs.get_untracked(),
            };
            let id = new_id();
            let car_registration =
                Some(car.get_untracked().trim().to_uppercase()).filter(|c| !c.is_empty());
            let visit = VisitRecord {
                id,
                academy_id,
                device_id: device.device_id,
                visitor_name,
                organisation: org,
                visitor_type: visitor_type.get_untracked(),
                host,
                car_registration,
                badge_code: badge_code(id),
                signed_in_at: now,
                checks,
                escort_required: settings.escort_rule.escort_required(checks),
                agreement_id,
                agreement_version_id: version.id,
            };
            visit.validate().map_err(|e| e.to_string())?;
            if let Some(signed) = &signed {
                signed.validate().map_err(|e| e.to_string())?;
            }
            db.sign_in_visitor(signed.as_ref(), &visit)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(id)
        }
        .await;
        match result {
            Ok(id) => {
                request_sync();
                navigate.with_value(|nav| nav(&format!("/kiosk/badge/{id}"), Default::default()));
            }
            Err(e) => save_error.set(Some(e)),
        }
    });

    let field_error = move |field: &'static str| view! { <FieldError errors field/> };

    view! {
        <ErrorSummary errors/>
        {move || save_error.get().map(|m| view! { <p class="field-error" role="alert" data-testid="save-error">{m}</p> })}
        {move || match step.get() {
            Step::Details => view! {
                <h1 id="step-heading" tabindex="-1">"Sign in"</h1>
                <form on:submit=details_done novalidate class="kiosk-form">
                    <div class="field" data-invalid=invalid(errors, "visitor-name")>
                        <label for="visitor-name">"Your full name"</label>
                        {field_error("visitor-name")}
                        <input type="text" id="visitor-name" autocomplete="name" spellcheck="false"
                            aria-invalid=invalid(errors, "visitor-name")
                            prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                    </div>
                    <div class="field" data-invalid=invalid(errors, "organisation")>
                        <label for="organisation">"Organisation (optional)"</label>
                        <p class="hint" id="organisation-hint">"The company, school or service you are here for."</p>
                        {field_error("organisation")}
                        <input type="text" id="organisation" autocomplete="organization" aria-describedby="organisation-hint"
                            prop:value=move || organisation.get() on:input=move |ev| organisation.set(event_target_value(&ev))/>
                    </div>
                    <div class="field" data-invalid=invalid(errors, "visitor-type")>
                        <label for="visitor-type">"You are a"</label>
                        {field_error("visitor-type")}
                        <select id="visitor-type" on:change=move |ev| {
                            if let Some(t) = VisitorType::from_wire(&event_target_value(&ev)) { visitor_type.set(t) }
                        }>
                            {VisitorType::ALL.into_iter().map(|t| view! {
                                <option value=t.wire_name() selected=move || visitor_type.get() == t>{t.label()}</option>
                            }).collect_view()}
                        </select>
                    </div>
                    <div class="field" data-invalid=invalid(errors, "host")>
                        <label for="host">"Who are you visiting?"</label>
                        <p class="hint" id="host-hint">"Start typing a name to search the staff list."</p>
                        {field_error("host")}
                        <input type="text" id="host" list="host-list" autocomplete="off" aria-describedby="host-hint"
                            prop:value=move || host.get() on:input=move |ev| host.set(event_target_value(&ev))/>
                        <datalist id="host-list">
                            {host_list.get_value().into_iter().map(|h| view! { <option value=h.name></option> }).collect_view()}
                        </datalist>
                    </div>
                    <div class="field" data-invalid=invalid(errors, "car")>
                        <label for="car">"Car registration (optional)"</label>
                        {field_error("car")}
                        <input type="text" id="car" class="input-short" autocomplete="off" autocapitalize="characters" spellcheck="false"
                            prop:value=move || car.get() on:input=move |ev| car.set(event_target_value(&ev))/>
                    </div>
                    <p class="button-row">
                        <button type="submit" class="button kiosk-button">"Continue"</button>
                        <A href="/kiosk" attr:class="button button-secondary kiosk-button">"Cancel"</A>
                    </p>
                </form>
            }.into_any(),
            Step::Returning => {
                let record = earlier.get().expect("set with the step");
                let title = agreement.with(|a| a.as_ref().map(|a| format!("{} (version {})", a.title, a.version))).unwrap_or_default();
                view! {
                    <h1 id="step-heading" tabindex="-1">"Welcome back"</h1>
                    <div class="panel" data-testid="returning-visitor">
                        <p>{move || {
                            let org = organisation.get().trim().to_owned();
                            format!("{}{}", name.get().trim(), if org.is_empty() { String::new() } else { format!(", {org}") })
                        }}</p>
                        <p>{format!("You signed the {title} on {}. You do not need to sign it again.", crate::clock::local_date(record.signed_at))}</p>
                    </div>
                    <p class="button-row">
                        <button type="button" class="button kiosk-button" data-testid="returning-yes"
                            on:click=move |_| { step.set(Step::Checks); focus_by_id("step-heading"); }>"Yes, this is me"</button>
                        <button type="button" class="button button-secondary kiosk-button"
                            on:click=move |_| { earlier.set(None); step.set(Step::Agreement); focus_by_id("step-heading"); }>"No, that is someone else"</button>
                    </p>
                }.into_any()
            }
            Step::Agreement => {
                let version = agreement.get().expect("set with the step");
                let html = render_policy(&version.body_markdown, None).html;
                view! {
                    <h1 id="step-heading" tabindex="-1">{version.title.clone()}</h1>
                    {move || resign.get().map(|resign| view! { <ResignNotice resign/> })}
                    <p class="hint">{format!("Version {}. Please read it, then sign below.", version.version)}</p>
                    <div class="kiosk-agreement policy-body" tabindex="0" role="region" aria-label="The agreement" data-testid="kiosk-agreement" inner_html=html></div>
                    <form on:submit=agreement_done novalidate>
                        <div class="field" data-invalid=invalid(errors, "signature")>
                            <p class="label" id="signature-label">"Your signature"</p>
                            {field_error("signature")}
                            <Show when=move || !typed.get()>
                                <p class="hint">"Draw it in the box with your finger or a stylus."</p>
                                <SignaturePad strokes labelled_by="signature-label"/>
                            </Show>
                            <div class="checkbox">
                                <input type="checkbox" id="signature" prop:checked=move || typed.get()
                                    on:change=move |ev| typed.set(event_target_checked(&ev))/>
                                <label for="signature">"I cannot draw a signature. " {TYPED_STATEMENT}</label>
                            </div>
                        </div>
                        <div class="field" data-invalid=invalid(errors, "agree")>
                            {field_error("agree")}
                            <div class="checkbox">
                                <input type="checkbox" id="agree" prop:checked=move || agreed.get()
                                    on:change=move |ev| agreed.set(event_target_checked(&ev))/>
                                <label for="agree">"I have read this agreement and I agree to follow it."</label>
                            </div>
                        </div>
                        <p class="button-row">
                            <button type="submit" class="button kiosk-button">"Continue"</button>
                            <A href="/kiosk" attr:class="button button-secondary kiosk-button">"Cancel"</A>
                        </p>
                    </form>
                }.into_any()
            }
            Step::Checks => view! {
                <h1 id="step-heading" tabindex="-1">"Reception checks"</h1>
                <p>"Please ask a member of reception staff to complete this part."</p>
                <form on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); save.dispatch(()); } novalidate>
                    <div class="checkbox">
                        <input type="checkbox" id="id-seen" prop:checked=move || id_seen.get()
                            on:change=move |ev| id_seen.set(event_target_checked(&ev))/>
                        <label for="id-seen">"Photo ID seen"</label>
                    </div>
                    <fieldset class="field">
                        <legend>"DBS check"</legend>
                        {[(DbsStatus::NotChecked, "dbs-not-checked", "Not checked"), (DbsStatus::Verified, "dbs-verified", "Verified on the single central record")]
                            .into_iter().map(|(value, id, label)| view! {
                                <div class="radio">
                                    <input type="radio" id=id name="dbs" prop:checked=move || dbs.get() == value
                                        on:change=move |_| dbs.set(value)/>
                                    <label for=id>{label}</label>
                                </div>
                            }).collect_view()}
                    </fieldset>
                    <p class="panel" data-testid="escort-preview">
                        {move || if settings.escort_rule.escort_required(VisitorChecks { id_seen: id_seen.get(), dbs: dbs.get() }) {
                            "This visitor must be escorted while on site."
                        } else {
                            "This visitor need not be escorted."
                        }}
                    </p>
                    <p class="button-row">
                        <button type="submit" class="button kiosk-button" disabled=move || save.pending().get()>"Sign in and print badge"</button>
                        <A href="/kiosk" attr:class="button button-secondary kiosk-button">"Cancel"</A>
                    </p>
                </form>
            }.into_any(),
        }}
    }
}

/// One of a returning visitor's signatures at this desk: the version, agreed
/// or not, when.
type EarlierSignature = (uuid::Uuid, bool, haven_core::Millis);

/// Why a returning visitor is asked to sign `current` again: `theirs` (their
/// signatures this desk knows of) holds an agreement to an earlier version.
/// The versions come from this device; `None` when it knows of none.
async fn resign_for(current: &PolicyVersion, theirs: &[EarlierSignature]) -> Option<Resign> {
    let db = app_db().await.ok()?;
    let known = db.versions_of(current.policy_id).await.ok()?;
    let records: Vec<Signed> = theirs
        .iter()
        .filter_map(|&(version_id, agreed, signed_at)| {
            let v = known.iter().find(|v| v.id == version_id)?;
            Some(Signed {
                policy_id: v.policy_id,
                version: v.version,
                agreed,
                signed_at,
            })
        })
        .collect();
    Resign::from_records(current, &records, &known)
}
