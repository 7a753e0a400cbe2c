//! Publishing a new policy version: fill in or import the text, say what
//! changed since the latest version (required for a new version: it is
//! what people asked to sign again are told), preview it exactly as readers
//! will see it, then publish. A published version never changes, hence the
//! preview first.

use crate::api::{self, ApiClientError};
use crate::pages::policies::today;
use crate::state::session::use_session;
use crate::state::{app_db, request_sync};
use haven_core::import::import_document;
use haven_core::policy::{
    text_hash, Audience, PolicyKind, PolicyOwner, PolicyVersion, PublishPolicyVersion,
};
use haven_core::render::render_policy;
use leptos::prelude::*;
use leptos_router::components::A;
use uuid::Uuid;
use wasm_bindgen::JsCast;

/// The form, as a person fills it in.
#[derive(Clone, Default)]
struct Draft {
    policy_id: Option<Uuid>,
    title: String,
    kind: Option<PolicyKind>,
    owner: PolicyOwner,
    audiences: Vec<Audience>,
    body: String,
    approved_by: String,
    effective_date: String,
    last_reviewed: String,
    next_review_due: String,
    /// What changed since the latest version: required for a new version.
    change_summary: String,
}

impl Draft {
    /// A new version of `p`: everything carried over but the dates.
    fn from_version(p: &PolicyVersion) -> Self {
        Draft {
            policy_id: Some(p.policy_id),
            title: p.title.clone(),
            kind: Some(p.kind),
            owner: p.owner,
            audiences: p.audiences.clone(),
            body: p.body_markdown.clone(),
            approved_by: p.approved_by.clone(),
            effective_date: today(),
            last_reviewed: today(),
            next_review_due: String::new(),
            change_summary: String::new(),
        }
    }

    /// The request to send, checked as the server will check it; `library`
    /// holds the latest version of each policy.
    fn request(&self, library: &[PolicyVersion]) -> Result<PublishPolicyVersion, String> {
        let request = PublishPolicyVersion {
            policy_id: self.policy_id,
            title: self.title.trim().to_owned(),
            kind: self
                .kind
                .ok_or("kind: choose what kind of document this is")?,
            audiences: self.audiences.clone(),
            owner: self.owner,
            body_markdown: self.body.clone(),
            approved_by: self.approved_by.trim().to_owned(),
            effective_date: self.effective_date.clone(),
            last_reviewed: self.last_reviewed.clone(),
            next_review_due: self.next_review_due.clone(),
            change_summary: Some(self.change_summary.trim().to_owned()).filter(|s| !s.is_empty()),
        };
        request.validate().map_err(|e| e.to_string())?;
        let latest = self
            .policy_id
            .and_then(|id| library.iter().find(|p| p.policy_id == id));
        request
            .check_change_summary(latest)
            .map_err(|e| e.to_string())?;
        Ok(request)
    }
}

#[component]
pub fn Publish() -> impl IntoView {
    let session = use_session();
    let library = LocalResource::new(|| async {
        let db = app_db().await?;
        Ok::<_, crate::db::DbError>((db.latest_policies().await?, db.academies().await?))
    });
    view! {
        <h1>"Publish a new version"</h1>
        {move || (!session.grants().is_trust_admin()).then(|| view! {
            <p class="panel panel-warn">"You need to " <A href="/signin?next=/admin/publish">"sign in as a trust admin"</A> " first."</p>
        })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || library.get().map(|r| match r {
                Err(e) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                Ok((policies, academies)) => view! { <PublishForm policies academies/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn PublishForm(
    policies: Vec<PolicyVersion>,
    academies: Vec<haven_core::org::Academy>,
) -> impl IntoView {
    let session = use_session();
    let use_session_token = move || session.token();
    let draft = RwSignal::new(Draft {
        effective_date: today(),
        last_reviewed: today(),
        ..Draft::default()
    });
    let problem = RwSignal::new(None::<String>);
    let import_note = RwSignal::new(None::<String>);
    let preview = RwSignal::new(false);
    let published = RwSignal::new(None::<PolicyVersion>);
    let policies = StoredValue::new(policies);

    let choose_policy = move |value: String| {
        let chosen = Uuid::parse_str(&value).ok();
        let next = policies.with_value(|list| {
            chosen
                .and_then(|id| list.iter().find(|p| p.policy_id == id))
                .map(Draft::from_version)
                .unwrap_or_else(|| Draft {
                    effective_date: today(),
                    last_reviewed: today(),
                    ..Draft::default()
                })
        });
        draft.set(next);
        preview.set(false);
    };

    let on_file = move |ev: leptos::ev::Event| {
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = input.files().and_then(|f| f.get(0)) else {
            return;
        };
        leptos::task::spawn_local(async move {
            let name = file.name();
            let Ok(buffer) = wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await else {
                problem.set(Some(format!("{name} could not be read")));
                return;
            };
            let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
            match import_document(&name, &bytes) {
                Ok(imported) => {
                    import_note.set(Some(format!(
                        "Imported {name}: {} lines left out (contents, page numbers, running headers). Check the preview.",
                        imported.dropped.len()
                    )));
                    draft.update(|d| {
                        if d.title.trim().is_empty() {
                            d.title = imported.title.clone().unwrap_or_default();
                        }
                        d.body = imported.markdown;
                    });
                    preview.set(false);
                }
                Err(e) => problem.set(Some(e.to_string())),
            }
        });
    };

    let publish = Action::new_local(move |request: &PublishPolicyVersion| {
        let request = request.clone();
        async move {
            let Some(token) = use_session_token() else {
                problem.set(Some("your admin sign-in has ended; sign in again".into()));
                return;
            };
            match api::publish(&token, &request).await {
                Ok(version) => {
                    published.set(Some(version));
                    request_sync();
                }
                Err(ApiClientError::Unreachable) => problem.set(Some(
                    "Publishing needs a connection to the server; nothing was published. Try again when online.".into(),
                )),
                Err(e) => problem.set(Some(e.to_string())),
            }
        }
    });

    let set = move |f: fn(&mut Draft, String)| {
        move |ev: leptos::ev::Event| {
            let v = event_target_value(&ev);
            draft.update(|d| f(d, v));
            preview.set(false);
        }
    };

    view! {
        {move || published.get().map(|v| view! {
            <div class="panel panel-ok" role="status" data-testid="published">
                <h2>"Published"</h2>
                <p>{format!("“{}” version {} is published. Devices will pick it up on their next sync.", v.title, v.version)}</p>
                <p><A href=format!("/policies/{}", v.id)>"Read it"</A></p>
            </div>
        })}
        {move || problem.get().map(|m| view! {
            <div class="error-summary" role="alert" tabindex="-1"><h2>"There is a problem"</h2><p data-testid="publish-problem">{m}</p></div>
        })}
        <form on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            problem.set(None);
            match policies.with_value(|library| draft.with(|d| d.request(library))) {
                Err(e) => problem.set(Some(e)),
                Ok(_) if !preview.get_untracked() => preview.set(true),
                Ok(request) => { publish.dispatch(request); }
            }
        }>
            <div class="field">
                <label for="pub-policy">"Policy"</label>
                <select id="pub-policy" on:change=move |ev| choose_policy(event_target_value(&ev))>
                    <option value="new">"A new policy"</option>
                    {policies.with_value(|l| l.iter().map(|p| view! {
                        <option value=p.policy_id.to_string()>{format!("{} (now version {})", p.title, p.version)}</option>
                    }).collect_view())}
                </select>
            </div>
            <div class="field">
                <label for="pub-title">"Title"</label>
                <input type="text" id="pub-title" prop:value=move || draft.with(|d| d.title.clone()) on:input=set(|d, v| d.title = v)/>
            </div>
            <div class="field">
                <label for="pub-kind">"Kind"</label>
                <select id="pub-kind" disabled=move || draft.with(|d| d.policy_id.is_some()) on:change=move |ev| {
                    let v = event_target_value(&ev);
                    draft.update(|d| {
                        d.kind = PolicyKind::ALL.into_iter().find(|k| k.label() == v);
                        if let Some(k) = d.kind { d.audiences = k.default_audiences().to_vec(); }
                    });
                }>
                    <option value="" selected=move || draft.with(|d| d.kind.is_none())>"Choose…"</option>
                    {PolicyKind::ALL.into_iter().map(|k| view! {
                        <option value=k.label() selected=move || draft.with(|d| d.kind == Some(k))>{k.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="pub-owner">"Owned by"</label>
                <select id="pub-owner" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    draft.update(|d| d.owner = Uuid::parse_str(&v).map_or(PolicyOwner::Trust, |academy_id| PolicyOwner::Academy { academy_id }));
                }>
                    <option value="trust">"The trust (all academies)"</option>
                    {academies.into_iter().map(|a| {
                        let id = a.id;
                        view! {
                            <option value=id.to_string() selected=move || draft.with(|d| d.owner == PolicyOwner::Academy { academy_id: id })>{a.name}</option>
                        }
                    }).collect_view()}
                </select>
            </div>
            <fieldset class="field">
                <legend class="label">"Who it is for"</legend>
                <div class="checkbox-grid">
                    {Audience::ALL.into_iter().map(|a| {
                        let id = format!("aud-{}", a.label().to_lowercase().replace([' ', '/'], "-"));
                        view! {
                            <div class="checkbox">
                                <input type="checkbox" id=id.clone()
                                    prop:checked=move || draft.with(|d| d.audiences.contains(&a))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        draft.update(|d| {
                                            d.audiences.retain(|x| *x != a);
                                            if on { d.audiences.push(a); }
                                        });
                                    }/>
                                <label for=id>{a.label()}</label>
                            </div>
                        }
                    }).collect_view()}
                </div>
            </fieldset>
            <div class="field">
                <label for="pub-approved">"Approved by"</label>
                <input type="text" id="pub-approved" prop:value=move || draft.with(|d| d.approved_by.clone()) on:input=set(|d, v| d.approved_by = v)/>
            </div>
            <div class="date-fields">
                <div class="field">
                    <label for="pub-effective">"Effective from"</label>
                    <input type="date" id="pub-effective" prop:value=move || draft.with(|d| d.effective_date.clone()) on:input=set(|d, v| d.effective_date = v)/>
                </div>
                <div class="field">
                    <label for="pub-reviewed">"Last reviewed"</label>
                    <input type="date" id="pub-reviewed" prop:value=move || draft.with(|d| d.last_reviewed.clone()) on:input=set(|d, v| d.last_reviewed = v)/>
                </div>
                <div class="field">
                    <label for="pub-next">"Next review due"</label>
                    <input type="date" id="pub-next" prop:value=move || draft.with(|d| d.next_review_due.clone()) on:input=set(|d, v| d.next_review_due = v)/>
                </div>
            </div>
            {move || {
                let latest = draft.with(|d| d.policy_id).and_then(|id| {
                    policies.with_value(|l| l.iter().find(|p| p.policy_id == id).map(|p| p.version))
                })?;
                Some(view! {
                    <div class="field">
                        <label for="pub-changes">{format!("What changed since version {latest}")}</label>
                        <p class="hint" id="pub-changes-hint">"Required. Everyone who signed an earlier version is asked to sign again \
                            and is shown this, with the differences in the text. Say it plainly: \
                            “Section 4 now covers messaging apps.”"</p>
                        <textarea id="pub-changes" rows="3" aria-describedby="pub-changes-hint"
                            prop:value=move || draft.with(|d| d.change_summary.clone())
                            on:input=set(|d, v| d.change_summary = v)></textarea>
                    </div>
                })
            }}
            <div class="field">
                <label for="pub-file">"Import text from a file"</label>
                <p class="hint" id="pub-file-hint">"Markdown, or plain text saved from a word processor: numbered headings, tab-separated tables and bullets are converted."</p>
                <input type="file" id="pub-file" accept=".md,.markdown,.txt,text/plain,text/markdown" aria-describedby="pub-file-hint" on:change=on_file/>
                {move || import_note.get().map(|n| view! { <p class="hint" role="status">{n}</p> })}
            </div>
            <div class="field">
                <label for="pub-body">"Text (Markdown)"</label>
                <textarea id="pub-body" rows="16" prop:value=move || draft.with(|d| d.body.clone()) on:input=set(|d, v| d.body = v)></textarea>
            </div>
            <button type="submit" class="button" disabled=move || publish.pending().get()>
                {move || if preview.get() { "Publish this version" } else { "Preview" }}
            </button>
        </form>
        {move || preview.get().then(|| {
            let (title, body) = draft.with(|d| (d.title.clone(), d.body.clone()));
            let hash = text_hash(&title, &body);
            let html = render_policy(&body, None).html;
            view! {
                <section class="preview" aria-labelledby="preview-title" data-testid="preview">
                    <h2 id="preview-title">"Preview"</h2>
                    <p class="meta">{format!("Text fingerprint (SHA-256): {hash}")}</p>
                    <div class="preview-page">
                        <h1>{title}</h1>
                        <div class="policy-body" inner_html=html></div>
                    </div>
                </section>
            }
        })}
    }
}
