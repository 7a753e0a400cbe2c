//! `/incidents/new`: a member of staff logs an e-safety incident the moment
//! it happens, offline included. The choice of what happened comes first,
//! and with it the trust's guidance: for a suspected illegal incident, a
//! stop screen (tell the DSL and the police now; no screenshots; leave the
//! device as it is) and no attachments; otherwise the recommended referrals,
//! what may follow, the reporting routes with their timescales and the
//! named people at the academy. The record keeps what was recommended, what
//! was done, and why they differ.
//!
//! `/incidents`: what this person logged on this device: waiting ("not yet
//! received by the DSL") or received (a stub: time, type, "received").
//!
//! While typing, the form is saved as an encrypted draft (`lock::save_draft`).
//! On submit the incident is sealed for the server and for its author, and
//! nothing readable reaches IndexedDB.

use crate::clock::{new_id, now_ms};
use crate::components::error_summary::{
    described_by, focus_by_id, invalid, ErrorSummary, FieldError, SUMMARY_ID,
};
use crate::db::{StoredAttachment, StoredIncident, SyncState};
use crate::lock::{delete_draft, drafts, save_draft};
use crate::photo::Prepared;
use crate::state::session::use_session;
use crate::state::{app_db, request_sync, use_sync_status};
use haven_core::incident::{
    attachment_refusal, megabytes, IncidentRecord, PersonInvolved, PersonKind, Recommended,
    ATTACHMENT_TYPES, MAX_ATTACHMENTS, MAX_ATTACHMENTS_TOTAL_BYTES, MAX_ATTACHMENT_BYTES,
    MAX_IMAGE_SIDE_PX,
};
use haven_core::org::Academy;
use haven_core::rules::guidance::ILLEGAL_INCIDENT_STEPS;
use haven_core::rules::{Guidance, Involved, RulesVersion, Timescale};
use haven_core::slug::Slug;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const DRAFT_KIND: &str = "incident";

/// The form as typed: what the encrypted draft holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Form {
    academy_id: String,
    involved: Option<Involved>,
    incident_type: String,
    acknowledged_stop: bool,
    occurred_at: String,
    location: String,
    person_kind: Option<PersonKind>,
    person_name: String,
    person_class: String,
    /// Everyone after the first person named.
    #[serde(default)]
    more_people: Vec<PersonRow>,
    description: String,
    urls: String,
    device_involved: String,
    immediate_action: String,
    actions_taken: Vec<String>,
    difference_reason: String,
    told_dsl: Option<bool>,
}

/// Another person involved, as typed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct PersonRow {
    kind: Option<PersonKind>,
    name: String,
    class: String,
}

impl PersonRow {
    fn to_person(&self) -> Option<PersonInvolved> {
        self.kind.map(|kind| PersonInvolved {
            kind,
            name: self.name.trim().to_owned(),
            class: Some(self.class.trim().to_owned()).filter(|c| !c.is_empty()),
        })
    }
}

#[derive(Clone)]
struct Loaded {
    rules: Option<RulesVersion>,
    academies: Vec<Academy>,
    has_key: bool,
    draft: Option<(String, Form)>,
}

#[component]
pub fn NewIncident() -> impl IntoView {
    let session = use_session();
    view! {
        <h1>"Log an e-safety incident"</h1>
        <Show
            when=move || session.user.get().is_some()
            fallback=|| view! {
                <p>"Incidents are logged by staff. Unlock with your PIN (it works offline)."</p>
                <p><A href="/unlock?next=/incidents/new" attr:class="button">"Unlock"</A></p>
            }
        >
            <IncidentLoader/>
        </Show>
    }
}

#[component]
fn IncidentLoader() -> impl IntoView {
    let session = use_session();
    let status = use_sync_status();
    // Until the rules and the key are here (a device opened on this page
    // straight after its first sign-in may not have them yet), read again
    // after each sync that changed something; once the form shows, never, so
    // a sync cannot redraw it under someone typing.
    let ready = StoredValue::new(false);
    let loaded = LocalResource::new(move || async move {
        if !ready.get_value() {
            status.data_version.track();
        }
        let db = app_db().await.map_err(|e| e.to_string())?;
        let who = session
            .user
            .with_untracked(|u| u.as_ref().map(|u| u.unlocked.clone()))
            .ok_or("locked")?;
        let draft = drafts(&db, &who)
            .await
            .ok()
            .and_then(|list| list.into_iter().find(|d| d.kind == DRAFT_KIND))
            .and_then(|d| {
                serde_json::from_slice::<Form>(&d.body)
                    .ok()
                    .map(|f| (d.id, f))
            });
        let loaded = Loaded {
            rules: db.rules().await.map_err(|e| e.to_string())?,
            academies: db.academies().await.map_err(|e| e.to_string())?,
            has_key: db
                .incident_key()
                .await
                .map_err(|e| e.to_string())?
                .is_some(),
            draft,
        };
        ready.set_value(loaded.rules.is_some() && loaded.has_key);
        Ok::<_, String>(loaded)
    });
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || loaded.get().map(|r| match r {
                Err(e) => view! { <p class="field-error" role="alert">{e}</p> }.into_any(),
                Ok(Loaded { rules: None, .. }) | Ok(Loaded { has_key: false, .. }) => view! {
                    <p class="panel panel-warn" role="alert">
                        "This device has not yet downloaded the trust's incident rules. Connect it to the \
                         school network once; after that, incidents can be logged with no network. \
                         Meanwhile tell the DSL in person."
                    </p>
                }.into_any(),
                Ok(Loaded { rules: Some(rules), academies, draft, .. }) => view! {
                    <IncidentForm rules academies draft/>
                }.into_any(),
            })}
        </Transition>
    }
}

fn person_kinds() -> [PersonKind; 4] {
    [
        PersonKind::Pupil,
        PersonKind::StaffMember,
        PersonKind::Visitor,
        PersonKind::Unknown,
    ]
}

/// The table rows for `involved`: (id, words, illegal).
fn types_for(rules: &RulesVersion, involved: Involved) -> Vec<(String, String, bool)> {
    if involved.is_pupil() {
        rules
            .tables
            .pupil_sanctions
            .iter()
            .map(|r| (r.id.to_string(), r.incident.clone(), r.illegal))
            .collect()
    } else {
        rules
            .tables
            .staff_sanctions
            .iter()
            .map(|r| (r.id.to_string(), r.incident.clone(), r.illegal))
            .collect()
    }
}

/// `YYYY-MM-DDTHH:MM` in local time, for a `datetime-local` input.
fn local_input_value(at: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at as f64));
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

fn parse_local_input(value: &str) -> Option<i64> {
    let ms = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(value)).get_time();
    (!ms.is_nan()).then_some(ms as i64)
}

#[component]
fn IncidentForm(
    rules: RulesVersion,
    academies: Vec<Academy>,
    draft: Option<(String, Form)>,
) -> impl IntoView {
    let session = use_session();
    let navigate = StoredValue::new_local(use_navigate());
    let grants = session.grants();
    let my_academies: Vec<Academy> = academies
        .iter()
        .filter(|a| {
            grants
                .0
                .iter()
                .any(|g| g.academy_id.is_none() || g.academy_id == Some(a.id))
        })
        .cloned()
        .collect();
    let (draft_id, initial) = draft.unwrap_or_else(|| {
        let form = Form {
            academy_id: my_academies
                .first()
                .map(|a| a.id.to_string())
                .unwrap_or_default(),
            occurred_at: local_input_value(now_ms()),
            ..Default::default()
        };
        (new_id().to_string(), form)
    });
    let draft_id = StoredValue::new(draft_id);
    let form = RwSignal::new(initial);
    let rules = StoredValue::new(rules);
    let academies = StoredValue::new(my_academies);
    let search = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::<(&'static str, String)>::new());
    let attaching = RwSignal::new(false);
    let save_error = RwSignal::new(None::<String>);
    let draft_state = RwSignal::new("");
    // Kept out of the draft (drafts stay small); sealed with the incident.
    // Shared, not copied, each time the list is drawn.
    let attachments = RwSignal::new(Vec::<Arc<Prepared>>::new());
    // A file that could never be sent is refused the moment it is picked,
    // with the reason, in the error summary and beside the field.
    let refuse_file = move |message: String| {
        errors.update(|list| {
            list.retain(|(f, _)| *f != ATTACHMENTS_FIELD);
            list.push((ATTACHMENTS_FIELD, message));
        });
        focus_by_id(SUMMARY_ID);
    };
    let on_files = move |ev: leptos::ev::Event| {
        use wasm_bindgen::JsCast;
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(files) = input.files() else { return };
        let files: Vec<web_sys::File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
        input.set_value("");
        errors.update(|list| list.retain(|(f, _)| *f != ATTACHMENTS_FIELD));
        attaching.set(true);
        leptos::task::spawn_local(async move {
            for file in files {
                let sizes = || {
                    attachments.with_untracked(|l| {
                        l.iter().map(|a| a.bytes.len() as u64).collect::<Vec<_>>()
                    })
                };
                // The kind and the count first: no need to read the file.
                if let Some(why) = attachment_refusal(&file.name(), &file.type_(), 0, &sizes()) {
                    refuse_file(why);
                    continue;
                }
                match crate::photo::prepare(&file).await {
                    Ok(p) => match attachment_refusal(
                        &p.name,
                        &p.content_type,
                        p.bytes.len() as u64,
                        &sizes(),
                    ) {
                        Some(why) => refuse_file(why),
                        None => attachments.update(|list| list.push(Arc::new(p))),
                    },
                    Err(why) => refuse_file(why),
                }
            }
            attaching.set(false);
        });
    };

    // Drafts save as you type, encrypted under the author's key.
    Effect::new(move |first: Option<()>| {
        let body = form.with(|f| serde_json::to_vec(f).unwrap_or_default());
        if first.is_none() {
            return;
        }
        let who = session
            .user
            .with_untracked(|u| u.as_ref().map(|u| u.unlocked.clone()));
        leptos::task::spawn_local(async move {
            let (Some(who), Ok(db)) = (who, app_db().await) else {
                return;
            };
            let saved = save_draft(
                &db,
                &who,
                &draft_id.get_value(),
                DRAFT_KIND,
                &body,
                now_ms() as f64,
            )
            .await;
            draft_state.set(if saved.is_ok() {
                "Draft saved on this device, encrypted"
            } else {
                "The draft could not be saved"
            });
        });
    });

    let guidance = Memo::new(move |_| {
        let f = form.get();
        let involved = f.involved?;
        rules.with_value(|r| r.tables.guidance(involved, &f.incident_type).ok())
    });
    let recommended = move || guidance.get().map(|g| Recommended::from_guidance(&g));

    let submit = Action::new_local(move |_: &()| async move {
        let result = async {
            let who = session
                .user
                .with_untracked(|u| u.as_ref().map(|u| u.unlocked.clone()))
                .ok_or("Haven locked before the incident was saved; unlock and submit again (your draft is kept)")?;
            let db = app_db().await.map_err(|e| e.to_string())?;
            let device = db.device().await.map_err(|e| e.to_string())?;
            let key = db.incident_key().await.map_err(|e| e.to_string())?.ok_or("no incident key on this device")?;
            let f = form.get_untracked();
            let g = guidance.get_untracked().ok_or("choose what happened")?;
            let id = new_id();
            // Each file under a key of its own; the keys go in the sealed
            // record, the ciphertexts travel apart (crate::attachments).
            let picked = if g.illegal { vec![] } else { attachments.get_untracked() };
            let mut sealed_files = Vec::with_capacity(picked.len());
            let mut kept = Vec::with_capacity(picked.len());
            for p in &picked {
                let (a, ciphertext) = crate::lock::seal_attachment(&p.name, &p.content_type, &p.bytes)
                    .await
                    .map_err(|e| e.to_string())?;
                kept.push(StoredAttachment { sha256: a.sha256.clone(), incident_id: id, ciphertext });
                sealed_files.push(a);
            }
            let record = IncidentRecord {
                id,
                academy_id: uuid::Uuid::parse_str(&f.academy_id).map_err(|_| "choose the academy")?,
                device_id: device.device_id,
                reported_by: uuid::Uuid::parse_str(&who.user().user_id).map_err(|e| e.to_string())?,
                reported_at: now_ms(),
                occurred_at: parse_local_input(&f.occurred_at).unwrap_or_else(now_ms),
                location: f.location.trim().to_owned(),
                involved: f.involved.ok_or("say who was involved")?,
                people: std::iter::once(PersonRow {
                    kind: f.person_kind,
                    name: f.person_name.clone(),
                    class: f.person_class.clone(),
                })
                .chain(f.more_people.iter().cloned())
                .filter_map(|p| p.to_person())
                .collect(),
                incident_type: Slug::parse(&f.incident_type).map_err(|e| e.to_string())?,
                description: f.description.trim().to_owned(),
                urls: f.urls.lines().map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect(),
                device_involved: f.device_involved.trim().to_owned(),
                immediate_action: f.immediate_action.trim().to_owned(),
                recommended: Recommended::from_guidance(&g),
                actions_taken: f.actions_taken.clone(),
                difference_reason: Some(f.difference_reason.trim().to_owned()).filter(|r| !r.is_empty()),
                told_dsl_in_person: f.told_dsl,
                second_senior_staff: None,
                outcome: None,
                attachments: sealed_files,
            };
            record.validate_against(&rules.with_value(|r| r.tables.clone())).map_err(|e| e.to_string())?;
            let json = serde_json::to_vec(&record).map_err(|e| e.to_string())?;
            let sealed = crate::lock::seal_incident(&key, &record).await.map_err(|e| e.to_string())?;
            // The author's proof, made now while they are unlocked: before
            // anything is stored, so a device that cannot make one (an old
            // profile on an enrolled tablet) saves nothing the server would refuse.
            let change = haven_core::sync::wire::Change::CreateIncident(sealed.clone());
            let proof = crate::lock::proof_for(&db, &who, &change).await.map_err(|e| e.to_string())?;
            let author_copy = who.seal(&json).await.map_err(|e| e.to_string())?;
            let stored = StoredIncident {
                id: record.id,
                author: who.user().user_id.clone(),
                academy_id: record.academy_id,
                incident_type: record.incident_type.clone(),
                submitted_at: record.reported_at,
                immediate: record.recommended.immediate,
                sync: SyncState::Pending,
                author_copy: Some(author_copy),
            };
            // The files first: an incident here never names one that is not.
            db.store_attachments(&kept).await.map_err(|e| e.to_string())?;
            db.record_incident(&stored, sealed, proof).await.map_err(|e| e.to_string())?;
            let _ = delete_draft(&db, &who, &draft_id.get_value()).await;
            Ok::<_, String>(())
        }
        .await;
        match result {
            Ok(()) => {
                request_sync();
                navigate.with_value(|nav| nav("/incidents?logged=1", Default::default()));
            }
            Err(e) => save_error.set(Some(e)),
        }
    });

    let check_and_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let f = form.get_untracked();
        let mut found = Vec::new();
        if f.involved.is_none() || guidance.get_untracked().is_none() {
            found.push(("incident-type", "Choose what happened".to_owned()));
        }
        if f.location.trim().is_empty() {
            found.push(("location", "Say where it happened".to_owned()));
        }
        if f.description.trim().is_empty() {
            found.push(("description", "Describe what happened".to_owned()));
        }
        if f.person_kind.is_some_and(|k| k != PersonKind::Unknown)
            && f.person_name.trim().is_empty()
        {
            found.push((
                "person-name",
                "Enter the person's name, or choose \"not known\"".to_owned(),
            ));
        }
        if f.more_people
            .iter()
            .any(|p| p.kind.is_some_and(|k| k != PersonKind::Unknown) && p.name.trim().is_empty())
        {
            found.push((
                "more-people",
                "Enter the name of each other person, or choose \"not known\"".to_owned(),
            ));
        }
        if let Some(r) = recommended() {
            if r.immediate && f.told_dsl.is_none() {
                found.push((
                    "told-dsl-yes",
                    "Say whether you have told the DSL in person".to_owned(),
                ));
            }
            let all_done = r.referrals.iter().all(|x| f.actions_taken.contains(x));
            if !all_done && f.difference_reason.trim().is_empty() {
                found.push((
                    "difference-reason",
                    "Say why not everything recommended was done".to_owned(),
                ));
            }
        }
        let ok = found.is_empty();
        errors.set(found);
        if ok {
            submit.dispatch(());
        } else {
            focus_by_id(SUMMARY_ID);
        }
    };

    let field_error = move |field: &'static str| view! { <FieldError errors field/> };
    let set = move |apply: fn(&mut Form, String)| {
        move |ev: leptos::ev::Event| {
            let v = event_target_value(&ev);
            form.update(|f| apply(f, v));
        }
    };

    let academy_contacts = move || {
        let id = form.with(|f| f.academy_id.clone());
        academies.with_value(|list| list.iter().find(|a| a.id.to_string() == id).cloned())
    };

    view! {
        <ErrorSummary errors/>
        {move || save_error.get().map(|m| view! { <p class="field-error" role="alert" data-testid="incident-error">{m}</p> })}
        <p class="hint" role="status" data-testid="draft-state">{move || draft_state.get()}</p>
        <form on:submit=check_and_submit novalidate>
            {(academies.with_value(Vec::len) > 1).then(|| view! {
                <div class="field">
                    <label for="incident-academy">"Academy"</label>
                    <select id="incident-academy" on:change=set(|f, v| f.academy_id = v)>
                        {academies.get_value().into_iter().map(|a| {
                            let id = a.id.to_string();
                            let selected = form.with_untracked(|f| f.academy_id == id);
                            view! { <option value=id selected=selected>{a.name}</option> }
                        }).collect_view()}
                    </select>
                </div>
            })}
            <fieldset class="field">
                <legend>"Whose conduct is it about?"</legend>
                {Involved::ALL.into_iter().map(|i| {
                    let id = format!("involved-{i:?}").to_lowercase();
                    view! {
                        <div class="radio">
                            <input type="radio" id=id.clone() name="involved" prop:checked=move || form.with(|f| f.involved == Some(i))
                                on:change=move |_| form.update(|f| { f.involved = Some(i); f.incident_type.clear(); f.acknowledged_stop = false; f.actions_taken.clear(); })/>
                            <label for=id>{i.label()}</label>
                        </div>
                    }
                }).collect_view()}
            </fieldset>
            {move || form.with(|f| f.involved).map(|involved| {
                let rows = rules.with_value(|r| types_for(r, involved));
                view! {
                    <fieldset class="field" id="incident-type" tabindex="-1">
                        <legend>"What happened?"</legend>
                        {field_error("incident-type")}
                        <label for="type-search">"Search"</label>
                        <input type="search" id="type-search" autocomplete="off" prop:value=move || search.get()
                            on:input=move |ev| search.set(event_target_value(&ev))/>
                        <div class="incident-types" data-testid="incident-types">
                            {move || {
                                let words: Vec<String> = search.get().to_lowercase().split_whitespace().map(str::to_owned).collect();
                                rows.iter().filter(|(_, text, _)| {
                                    let text = text.to_lowercase();
                                    words.iter().all(|w| text.contains(w.as_str()))
                                }).map(|(id, text, illegal)| {
                                    let value = id.clone();
                                    let input_id = format!("type-{id}");
                                    let checked_id = id.clone();
                                    view! {
                                        <div class="radio">
                                            <input type="radio" id=input_id.clone() name="incident-type"
                                                prop:checked=move || form.with(|f| f.incident_type == checked_id)
                                                on:change=move |_| form.update(|f| { f.incident_type = value.clone(); f.acknowledged_stop = false; f.actions_taken.clear(); })/>
                                            <label for=input_id>{text.clone()}{illegal.then_some(" (may be illegal)")}</label>
                                        </div>
                                    }
                                }).collect_view()
                            }}
                        </div>
                    </fieldset>
                }
            })}
            {move || guidance.get().map(|g| view! { <GuidancePanel guidance=g academy=academy_contacts() form/> })}
            <Show when=move || guidance.get().is_some() && (guidance.get().is_some_and(|g| !g.illegal) || form.with(|f| f.acknowledged_stop))>
                <div class="field">
                    <label for="occurred-at">"When did it happen?"</label>
                    <input type="datetime-local" id="occurred-at" prop:value=move || form.with(|f| f.occurred_at.clone()) on:input=set(|f, v| f.occurred_at = v)/>
                </div>
                <div class="field">
                    <label for="location">"Where?"</label>
                    <p class="hint" id="location-hint">"A room, or \"online, at home\"."</p>
                    {field_error("location")}
                    <input type="text" id="location" aria-describedby="location-hint" prop:value=move || form.with(|f| f.location.clone()) on:input=set(|f, v| f.location = v)/>
                </div>
                <fieldset class="field">
                    <legend>"Who was involved?"</legend>
                    {person_kinds().into_iter().map(|k| {
                        let id = format!("person-{k:?}").to_lowercase();
                        view! {
                            <div class="radio">
                                <input type="radio" id=id.clone() name="person-kind" prop:checked=move || form.with(|f| f.person_kind == Some(k))
                                    on:change=move |_| form.update(|f| f.person_kind = Some(k))/>
                                <label for=id>{k.label()}</label>
                            </div>
                        }
                    }).collect_view()}
                    <label for="person-name">"Their name"</label>
                    {field_error("person-name")}
                    <input type="text" id="person-name" autocomplete="off" prop:value=move || form.with(|f| f.person_name.clone()) on:input=set(|f, v| f.person_name = v)/>
                    <label for="person-class">"Class or year (pupils)"</label>
                    <input type="text" id="person-class" class="input-short" autocomplete="off" prop:value=move || form.with(|f| f.person_class.clone()) on:input=set(|f, v| f.person_class = v)/>
                </fieldset>
                <div id="more-people" tabindex="-1">
                    {field_error("more-people")}
                    {move || (0..form.with(|f| f.more_people.len())).map(|i| {
                        let n = i + 2;
                        view! {
                            <fieldset class="field">
                                <legend>{format!("Person {n}")}</legend>
                                {person_kinds().into_iter().map(|k| {
                                    let id = format!("person{n}-{k:?}").to_lowercase();
                                    view! {
                                        <div class="radio">
                                            <input type="radio" id=id.clone() name=format!("person{n}-kind")
                                                prop:checked=move || form.with(|f| f.more_people.get(i).is_some_and(|p| p.kind == Some(k)))
                                                on:change=move |_| form.update(|f| if let Some(p) = f.more_people.get_mut(i) { p.kind = Some(k) })/>
                                            <label for=id>{k.label()}</label>
                                        </div>
                                    }
                                }).collect_view()}
                                <label for=format!("person{n}-name")>{format!("Person {n}: name")}</label>
                                <input type="text" id=format!("person{n}-name") autocomplete="off"
                                    prop:value=move || form.with(|f| f.more_people.get(i).map(|p| p.name.clone()).unwrap_or_default())
                                    on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| if let Some(p) = f.more_people.get_mut(i) { p.name = v }) }/>
                                <label for=format!("person{n}-class")>{format!("Person {n}: class or year")}</label>
                                <input type="text" id=format!("person{n}-class") class="input-short" autocomplete="off"
                                    prop:value=move || form.with(|f| f.more_people.get(i).map(|p| p.class.clone()).unwrap_or_default())
                                    on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| if let Some(p) = f.more_people.get_mut(i) { p.class = v }) }/>
                                <p><button type="button" class="button button-secondary button-small"
                                    on:click=move |_| form.update(|f| { if i < f.more_people.len() { f.more_people.remove(i); } })>{format!("Remove person {n}")}</button></p>
                            </fieldset>
                        }
                    }).collect_view()}
                    <p><button type="button" class="button button-secondary" data-testid="add-person"
                        on:click=move |_| form.update(|f| f.more_people.push(PersonRow::default()))>"Add another person"</button></p>
                </div>
                <div class="field">
                    <label for="description">"What happened"</label>
                    {field_error("description")}
                    <textarea id="description" rows="6" prop:value=move || form.with(|f| f.description.clone()) on:input=set(|f, v| f.description = v)></textarea>
                </div>
                <div class="field">
                    <label for="urls">"Web addresses involved (one a line)"</label>
                    <textarea id="urls" rows="3" spellcheck="false" prop:value=move || form.with(|f| f.urls.clone()) on:input=set(|f, v| f.urls = v)></textarea>
                </div>
                <div class="field">
                    <label for="device-involved">"Device involved"</label>
                    <input type="text" id="device-involved" autocomplete="off" prop:value=move || form.with(|f| f.device_involved.clone()) on:input=set(|f, v| f.device_involved = v)/>
                </div>
                <div class="field">
                    <label for="immediate-action">"What did you do straight away?"</label>
                    <textarea id="immediate-action" rows="3" prop:value=move || form.with(|f| f.immediate_action.clone()) on:input=set(|f, v| f.immediate_action = v)></textarea>
                </div>
                {move || recommended().map(|r| view! {
                    <fieldset class="field" id="actions-taken">
                        <legend>"Which of the recommended referrals have been made?"</legend>
                        {r.referrals.iter().map(|label| {
                            let label = label.clone();
                            let id = format!("taken-{}", label.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
                            let for_check = label.clone();
                            let shown = label.clone();
                            view! {
                                <div class="checkbox">
                                    <input type="checkbox" id=id.clone() prop:checked=move || form.with(|f| f.actions_taken.contains(&for_check))
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            let label = label.clone();
                                            form.update(|f| { f.actions_taken.retain(|x| *x != label); if on { f.actions_taken.push(label); } });
                                        }/>
                                    <label for=id>{shown}</label>
                                </div>
                            }
                        }).collect_view()}
                        <label for="difference-reason">"If not all, why?"</label>
                        {field_error("difference-reason")}
                        <textarea id="difference-reason" rows="2" prop:value=move || form.with(|f| f.difference_reason.clone()) on:input=set(|f, v| f.difference_reason = v)></textarea>
                    </fieldset>
                    {r.immediate.then(|| view! {
                        <fieldset class="field">
                            <legend>"Have you told the DSL in person?"</legend>
                            {field_error("told-dsl-yes")}
                            <div class="radio">
                                <input type="radio" id="told-dsl-yes" name="told-dsl" prop:checked=move || form.with(|f| f.told_dsl == Some(true))
                                    on:change=move |_| form.update(|f| f.told_dsl = Some(true))/>
                                <label for="told-dsl-yes">"Yes"</label>
                            </div>
                            <div class="radio">
                                <input type="radio" id="told-dsl-no" name="told-dsl" prop:checked=move || form.with(|f| f.told_dsl == Some(false))
                                    on:change=move |_| form.update(|f| f.told_dsl = Some(false))/>
                                <label for="told-dsl-no">"Not yet: I will now"</label>
                            </div>
                        </fieldset>
                    })}
                    {(!r.illegal).then(|| view! {
                        <div class="field" data-testid="attachments" data-invalid=invalid(errors, ATTACHMENTS_FIELD)>
                            <label for="attachments">"Screenshots or photos of evidence (optional)"</label>
                            <p class="hint" id="attachments-hint">{format!(
                                "Photos (JPEG, PNG, WebP) or PDF; up to {MAX_ATTACHMENTS} files, each at most {}, {} together. \
                                 Large photos are made smaller ({MAX_IMAGE_SIDE_PX} pixels on the longest side). \
                                 They are encrypted, and sent after the incident.",
                                megabytes(MAX_ATTACHMENT_BYTES as u64),
                                megabytes(MAX_ATTACHMENTS_TOTAL_BYTES as u64),
                            )}</p>
                            {field_error(ATTACHMENTS_FIELD)}
                            <input type="file" id="attachments" multiple accept=ATTACHMENT_TYPES.join(",")
                                aria-invalid=invalid(errors, ATTACHMENTS_FIELD)
                                aria-describedby=described_by(errors, ATTACHMENTS_FIELD, Some("attachments-hint"))
                                on:change=on_files/>
                            {move || attaching.get().then(|| view! { <p class="hint" role="status">"Preparing the files…"</p> })}
                            <ul data-testid="attached-files">{move || attachments.get().into_iter().enumerate().map(|(i, a)| view! {
                                <li>{describe_file(&a)}" "
                                    <button type="button" class="button button-secondary button-small"
                                        on:click=move |_| attachments.update(|l| { if i < l.len() { l.remove(i); } })>{format!("Remove {}", a.name)}</button>
                                </li>
                            }).collect_view()}</ul>
                        </div>
                    })}
                })}
                <p class="button-row">
                    <button type="submit" class="button" disabled=move || submit.pending().get() || attaching.get()>"Submit incident"</button>
                </p>
            </Show>
        </form>
    }
}

/// The field the attachment errors belong to.
const ATTACHMENTS_FIELD: &str = "attachments";

/// "IMG_2041.jpg (1.1 MB, made smaller from 4.6 MB)".
fn describe_file(p: &Prepared) -> String {
    let size = megabytes(p.bytes.len() as u64);
    match p.shrunk_from {
        Some(from) => format!("{} ({size}, made smaller from {})", p.name, megabytes(from)),
        None => format!("{} ({size})", p.name),
    }
}

/// The guidance for the chosen type: the stop screen for a suspected
/// illegal incident, or the recommended referrals, what may follow, the
/// reporting routes and the named people.
#[component]
fn GuidancePanel(
    guidance: Guidance,
    academy: Option<Academy>,
    form: RwSignal<Form>,
) -> impl IntoView {
    let people = academy.map(|a| {
        let k = a.key_personnel;
        view! {
            <ul class="contacts" data-testid="named-people">
                <li>{format!("Designated Safeguarding Lead: {}", k.dsl.name)}{k.dsl.phone.map(|p| format!(", {p}"))}</li>
                <li>{format!("Online safety lead: {}", k.esafety_lead.name)}</li>
                <li>{format!("Headteacher: {}", k.headteacher.name)}</li>
            </ul>
        }
    });
    let routes = guidance
        .routes
        .iter()
        .map(|r| {
            let to: Vec<&str> = r.report_to.iter().map(|x| x.label()).collect();
            let how: Vec<&str> = r.how.iter().map(|x| x.label()).collect();
            let urgent = r.timescale == Timescale::Immediately;
            view! {
                <li class=if urgent { "route route-immediate" } else { "route" } data-testid="route">
                    <strong>{r.timescale.label()}</strong>
                    {format!(": tell {} ({})", to.join(", "), how.join(", ").to_lowercase())}
                </li>
            }
        })
        .collect_view();
    if guidance.illegal {
        view! {
            <section class="stop-screen" role="alert" aria-labelledby="stop-title" data-testid="stop-screen">
                <h2 id="stop-title">"Stop. This may be illegal."</h2>
                <ol>{ILLEGAL_INCIDENT_STEPS.iter().map(|s| view! { <li>{*s}</li> }).collect_view()}</ol>
                <ul class="routes">{routes}</ul>
                {people}
                <Show when=move || !form.with(|f| f.acknowledged_stop)>
                    <p><button type="button" class="button" data-testid="stop-understood"
                        on:click=move |_| form.update(|f| f.acknowledged_stop = true)>"I have done this: record the incident"</button></p>
                </Show>
            </section>
        }
        .into_any()
    } else {
        let referrals = guidance.actions.referral_labels();
        let follow = guidance.actions.outcome_labels();
        view! {
            <section class="panel guidance" data-testid="guidance" aria-labelledby="guidance-title">
                <h2 id="guidance-title">"What the trust's rules say"</h2>
                <p>{guidance.incident.clone()}</p>
                <h3>"Refer to"</h3>
                <ul data-testid="referrals">{referrals.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}</ul>
                <h3>"What may follow"</h3>
                <ul data-testid="may-follow">{follow.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}</ul>
                <h3>"Whom to tell, and how fast"</h3>
                <ul class="routes">{routes}</ul>
                {people}
            </section>
        }
        .into_any()
    }
}

/// `/incidents`: this person's incidents on this device.
#[component]
pub fn MyIncidents() -> impl IntoView {
    let session = use_session();
    let status = use_sync_status();
    let logged =
        leptos_router::hooks::use_query_map().with_untracked(|q| q.get("logged").is_some());
    let bump = RwSignal::new(0u32);
    let resend_error = RwSignal::new(None::<String>);
    let resend = Action::new_local(move |stored: &StoredIncident| {
        let stored = stored.clone();
        async move {
            let result = async {
                let who = session
                    .user
                    .with_untracked(|u| u.as_ref().map(|u| u.unlocked.clone()))
                    .ok_or("unlock first")?;
                let db = app_db().await.map_err(|e| e.to_string())?;
                // The server's key as it is now (it may have changed).
                if let Ok(key) = crate::api::get_public(&crate::api::url("/incidents/key")).await {
                    db.set_incident_key(&key).await.map_err(|e| e.to_string())?;
                }
                let key = db
                    .incident_key()
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or("no incident key on this device")?;
                let copy = stored
                    .author_copy
                    .as_ref()
                    .ok_or("this device no longer has your copy")?;
                let json = who.open(copy).await.map_err(|e| e.to_string())?;
                let record: IncidentRecord =
                    serde_json::from_slice(&json).map_err(|e| e.to_string())?;
                let sealed = crate::lock::seal_incident(&key, &record)
                    .await
                    .map_err(|e| e.to_string())?;
                // Sealed anew is a new change: it needs a proof of its own.
                let change = haven_core::sync::wire::Change::CreateIncident(sealed.clone());
                let proof = crate::lock::proof_for(&db, &who, &change)
                    .await
                    .map_err(|e| e.to_string())?;
                db.resend_incident(&stored, sealed, proof)
                    .await
                    .map_err(|e| e.to_string())
            }
            .await;
            match result {
                Ok(()) => {
                    resend_error.set(None);
                    request_sync();
                    bump.update(|n| *n += 1);
                }
                Err(e) => resend_error.set(Some(e)),
            }
        }
    });
    let list = LocalResource::new(move || {
        status.data_version.track();
        bump.track();
        let me = session.user.with(|u| u.as_ref().map(|u| u.user_id()));
        async move {
            let db = app_db().await.map_err(|e| e.to_string())?;
            let rules = db.rules().await.map_err(|e| e.to_string())?;
            let mine: Vec<_> = db
                .incidents()
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|i| Some(&i.author) == me.as_ref())
                .collect();
            Ok::<_, String>((mine, rules))
        }
    });
    // Attachments go after their incident: until they have, the device must
    // not be wiped or left offline for good.
    let files_waiting = LocalResource::new(move || {
        status.data_version.track();
        bump.track();
        async move {
            match app_db().await {
                Ok(db) => db.waiting_attachment_count().await.unwrap_or(0),
                Err(_) => 0,
            }
        }
    });
    view! {
        <h1>"My incidents"</h1>
        {logged.then(|| view! {
            <div class="notice" role="status" data-testid="incident-logged">
                <p>"Incident saved on this device, encrypted. It goes to the DSL as soon as there is a connection."</p>
            </div>
        })}
        <p><A href="/incidents/new" attr:class="button">"Log an incident"</A></p>
        {move || files_waiting.get().filter(|n| *n > 0).map(|n| view! {
            <p class="notice" role="status" data-testid="files-waiting">{format!(
                "{n} attached {} still to be sent from this device. They go on their own once it is online: keep the device, and do not reset it until this goes.",
                if n == 1 { "file is" } else { "files are" }
            )}</p>
        })}
        {move || resend_error.get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
        <Show when=move || session.user.get().is_some() fallback=|| view! {
            <p><A href="/unlock?next=/incidents">"Unlock"</A>" to see what you have logged on this device."</p>
        }>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || list.get().map(|r| match r {
                    Err(e) => view! { <p class="field-error">{e}</p> }.into_any(),
                    Ok((list, _)) if list.is_empty() => view! { <p>"Nothing logged on this device."</p> }.into_any(),
                    Ok((list, rules)) => view! {
                        <ul class="incident-stubs" data-testid="my-incidents">
                            {list.into_iter().map(|i| {
                                let words = rules.as_ref()
                                    .and_then(|r| r.tables.pupil_row(i.incident_type.as_str()).map(|x| x.incident.clone())
                                        .or_else(|| r.tables.staff_row(i.incident_type.as_str()).map(|x| x.incident.clone())))
                                    .unwrap_or_else(|| i.incident_type.to_string());
                                let can_resend = matches!(i.sync, SyncState::Rejected { .. }) && i.author_copy.is_some();
                                let for_resend = i.clone();
                                let state = match &i.sync {
                                    SyncState::Pending => "Not yet received by the DSL".to_owned(),
                                    SyncState::Synced => "Received".to_owned(),
                                    SyncState::Rejected { reason, .. } => format!("Refused by the server: {reason}"),
                                };
                                view! {
                                    <li data-testid="incident-stub">
                                        <span>{crate::clock::local_date(i.submitted_at)}" "{crate::clock::local_time(i.submitted_at)}</span>
                                        " · " {words} " · "
                                        <strong data-testid="incident-state">{state}</strong>
                                        {(i.immediate && i.sync == SyncState::Pending).then(|| view! { <span class="tag-warn">" Immediate: tell the DSL in person"</span> })}
                                        {can_resend.then(|| view! {
                                            " " <button type="button" class="button button-secondary button-small"
                                                on:click=move |_| { resend.dispatch(for_resend.clone()); }>"Seal again and send"</button>
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                })}
            </Transition>
        </Show>
    }
}
