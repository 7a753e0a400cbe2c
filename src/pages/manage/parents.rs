//! `/admin/parents`: invitations for parents and carers from a class list:
//! one single-use link per family (siblings together), shown with QR codes
//! and downloadable as CSV for the school's own messaging system. Links are
//! shown only when made; a lost one is replaced with "New link".

use super::{academies, academy_name, date_of, download, full_link, read_file, require_token};
use crate::api;
use crate::components::qr::QrCode;
use haven_core::accounts::csv_export::to_csv;
use haven_core::api::accounts::{
    ClassListReport, ClassListUpload, IssuedParentInvitation, ParentInvitation,
};
use haven_core::org::Academy;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

#[component]
pub fn ParentsAdmin() -> impl IntoView {
    view! {
        <h1>"Parent and carer invitations"</h1>
        {match require_token("/admin/parents") {
            Err(prompt) => prompt,
            Ok(token) => view! { <ParentsPage token/> }.into_any(),
        }}
    }
}

fn children_text(i: &ParentInvitation) -> String {
    i.children
        .iter()
        .map(|c| format!("{} ({})", c.pupil_name, c.class))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The CSV the school's messaging system imports: one row per family.
pub(super) fn links_csv(issued: &[IssuedParentInvitation], names: &[Academy]) -> String {
    let rows: Vec<Vec<String>> = issued
        .iter()
        .map(|i| {
            vec![
                i.invitation.parent_name.clone(),
                i.invitation.parent_email.clone().unwrap_or_default(),
                children_text(&i.invitation),
                academy_name(names, Some(i.invitation.academy_id)),
                full_link(&i.link_path),
                date_of(i.invitation.expires_at),
            ]
        })
        .collect();
    to_csv(
        &[
            "Parent/carer",
            "Email",
            "Children",
            "Academy",
            "Link",
            "Expires",
        ],
        &rows,
    )
}

#[component]
fn ParentsPage(token: String) -> impl IntoView {
    let token = StoredValue::new(token);
    let version = RwSignal::new(0u32);
    let list = LocalResource::new(move || {
        version.track();
        async move {
            api::get_json::<Vec<ParentInvitation>>(
                &api::url("/parent-invitations"),
                &token.get_value(),
            )
            .await
        }
    });
    let academies = academies();
    let issued = RwSignal::new(Vec::<IssuedParentInvitation>::new());
    let problems = RwSignal::new(Vec::<haven_core::accounts::RowProblem>::new());
    let error = RwSignal::new(None::<String>);
    let valid_days = RwSignal::new("28".to_owned());

    let import = Action::new_local(move |input: &web_sys::HtmlInputElement| {
        let input = input.clone();
        async move {
            let Some(csv) = read_file(&input).await else {
                error.set(Some(
                    "That file could not be read; save it as CSV (UTF-8) and try again.".into(),
                ));
                return;
            };
            let valid_days = valid_days.get_untracked().trim().parse().ok();
            match api::post_json::<_, ClassListReport>(
                &api::url("/parent-invitations/import"),
                Some(&token.get_value()),
                &ClassListUpload { csv, valid_days },
            )
            .await
            {
                Ok(report) => {
                    issued.set(report.invitations);
                    problems.set(report.problems);
                    version.update(|v| *v += 1);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });
    let reissue = Action::new_local(move |id: &uuid::Uuid| {
        let id = *id;
        async move {
            match api::post_json::<_, IssuedParentInvitation>(
                &api::url(&format!("/parent-invitations/{id}/link")),
                Some(&token.get_value()),
                &serde_json::json!({}),
            )
            .await
            {
                Ok(one) => {
                    issued.update(|l| {
                        l.retain(|i| i.invitation.id != id);
                        l.insert(0, one);
                    });
                    version.update(|v| *v += 1);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });

    view! {
        {move || error.get().map(|m| view! { <div class="error-summary" role="alert"><h2>"There is a problem"</h2><p>{m}</p></div> })}
        <h2>"Make invitations from a class list"</h2>
        <p class="hint">"A CSV file with the columns pupil name, class, academy, parent/carer name and (optional) email. Brothers and sisters with the same parent share one link."</p>
        <div class="field"><label for="valid-days">"Links work for (days)"</label>
            <input type="text" id="valid-days" inputmode="numeric" class="input-short" prop:value=move || valid_days.get() on:input=move |ev| valid_days.set(event_target_value(&ev))/></div>
        <div class="field"><label for="class-list">"Class list (CSV)"</label>
            <input type="file" id="class-list" accept=".csv,text/csv" on:change=move |ev| {
                if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                    error.set(None);
                    import.dispatch(input);
                }
            }/></div>
        {move || (!problems.get().is_empty()).then(|| view! {
            <div class="panel panel-warn" data-testid="class-list-problems">
                <p>"These rows were not used:"</p>
                <ul>{problems.get().into_iter().map(|p| view! { <li>{format!("Line {}: {}", p.line, p.message)}</li> }).collect_view()}</ul>
            </div>
        })}
        {move || (!issued.get().is_empty()).then(|| {
            let names = academies.get().unwrap_or_default();
            let csv = StoredValue::new(links_csv(&issued.get(), &names));
            view! {
                <h2>"New links"</h2>
                <p class="hint">"Shown only now: download them, or print this page. Each link works once."</p>
                <p><button type="button" class="button" on:click=move |_| csv.with_value(|c| download("parent-links.csv", "text/csv", c))>"Download links as CSV"</button></p>
                <ul class="invitation-cards" data-testid="issued-links">
                    {issued.get().into_iter().map(|i| {
                        let link = full_link(&i.link_path);
                        view! {
                            <li class="invitation-card">
                                <QrCode text=link.clone() label=format!("QR code of the link for {}", i.invitation.parent_name)/>
                                <div>
                                    <p><strong>{i.invitation.parent_name.clone()}</strong>{format!(" — {}", children_text(&i.invitation))}</p>
                                    <p><code class="link">{link}</code></p>
                                    <p class="meta">{format!("Expires {}", date_of(i.invitation.expires_at))}</p>
                                </div>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }
        })}
        <h2>"All invitations"</h2>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || list.get().map(|r| match r {
                Err(e) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                Ok(items) if items.is_empty() => view! { <p>"No invitations yet."</p> }.into_any(),
                Ok(items) => view! {
                    <div class="table-scroll" tabindex="0" role="region" aria-label="Invitations"><table class="data-table" data-testid="invitation-table">
                        <thead><tr><th scope="col">"Parent/carer"</th><th scope="col">"Children"</th><th scope="col">"Status"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                        <tbody>
                            {items.into_iter().map(|i| {
                                let id = i.id;
                                let status = match i.redeemed_at {
                                    Some(at) => format!("Opened {}", date_of(at)),
                                    None if i.expires_at < crate::clock::now_ms() => "Expired".into(),
                                    None => format!("Not opened yet (expires {})", date_of(i.expires_at)),
                                };
                                view! {
                                    <tr>
                                        <td>{i.parent_name.clone()}</td><td>{children_text(&i)}</td><td>{status}</td>
                                        <td><button type="button" class="button button-secondary button-small"
                                            on:click=move |_| { reissue.dispatch(id); }>{format!("New link for {}", i.parent_name)}</button></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any(),
            })}
        </Transition>
    }
}
