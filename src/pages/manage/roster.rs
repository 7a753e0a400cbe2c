//! `/admin/roster`: the trust's OneRoster export from its MIS (through Wonde
//! or Groupcall Xporter). Choose the files, check what importing would change
//! (nothing is written), then import: new staff and families get links,
//! changes are made in place, leavers are deactivated and families who left
//! have their links closed. Trust admins only.

use super::{academies, download, parents::links_csv, read_file, require_token};
use crate::api;
use haven_core::accounts::csv_export::to_csv;
use haven_core::api::accounts::{RosterImport, RosterUpload};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

#[component]
pub fn RosterAdmin() -> impl IntoView {
    view! {
        <h1>"Import from the MIS"</h1>
        {match require_token("/admin/roster") {
            Err(prompt) => prompt,
            Ok(token) => view! { <RosterPage token/> }.into_any(),
        }}
    }
}

/// The four files of an export, as chosen.
#[derive(Clone, Copy)]
struct Files {
    orgs: RwSignal<Option<String>>,
    users: RwSignal<Option<String>>,
    classes: RwSignal<Option<String>>,
    enrollments: RwSignal<Option<String>>,
}

impl Files {
    fn upload(&self, apply: bool) -> Result<RosterUpload, String> {
        let need = |s: RwSignal<Option<String>>, name: &str| {
            s.get_untracked()
                .ok_or_else(|| format!("Choose the export's {name} first."))
        };
        Ok(RosterUpload {
            orgs: need(self.orgs, "orgs.csv")?,
            users: need(self.users, "users.csv")?,
            classes: self.classes.get_untracked(),
            enrollments: self.enrollments.get_untracked(),
            apply,
        })
    }
}

/// A file input whose text goes into `into`.
#[component]
fn FileField(
    id: &'static str,
    label: &'static str,
    into: RwSignal<Option<String>>,
) -> impl IntoView {
    let read = Action::new_local(move |input: &web_sys::HtmlInputElement| {
        let input = input.clone();
        async move { into.set(read_file(&input).await) }
    });
    view! {
        <div class="field"><label for=id>{label}</label>
            <input type="file" id=id accept=".csv,text/csv" on:change=move |ev| {
                if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                    read.dispatch(input);
                }
            }/></div>
    }
}

#[component]
fn RosterPage(token: String) -> impl IntoView {
    let token = StoredValue::new(token);
    let academies = academies();
    let files = Files {
        orgs: RwSignal::new(None),
        users: RwSignal::new(None),
        classes: RwSignal::new(None),
        enrollments: RwSignal::new(None),
    };
    let result = RwSignal::new(None::<RosterImport>);
    let error = RwSignal::new(None::<String>);
    let send = Action::new_local(move |apply: &bool| {
        let apply = *apply;
        async move {
            error.set(None);
            let upload = match files.upload(apply) {
                Ok(upload) => upload,
                Err(e) => return error.set(Some(e)),
            };
            match api::post_json::<_, RosterImport>(
                &api::url("/roster/import"),
                Some(&token.get_value()),
                &upload,
            )
            .await
            {
                Ok(done) => result.set(Some(done)),
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });
    view! {
        <p class="hint">"Export OneRoster 1.1 CSV from the MIS (Wonde and Groupcall Xporter both make it) and choose its files. Checking shows what importing would change and changes nothing. Importing adds new staff (with the staff role at their academies) and families (one link per parent or carer per academy), updates people in place, deactivates staff who have left and closes the links of families who have left. Nothing is deleted: what anyone signed stays."</p>
        {move || error.get().map(|m| view! { <div class="error-summary" role="alert"><h2>"There is a problem"</h2><p>{m}</p></div> })}
        <FileField id="roster-orgs" label="orgs.csv" into=files.orgs/>
        <FileField id="roster-users" label="users.csv" into=files.users/>
        <FileField id="roster-classes" label="classes.csv (optional: gives each pupil's class)" into=files.classes/>
        <FileField id="roster-enrollments" label="enrollments.csv (optional, with classes.csv)" into=files.enrollments/>
        <p class="button-row">
            <button type="button" class="button button-secondary" disabled=move || send.pending().get()
                on:click=move |_| { send.dispatch(false); }>"Check what would change"</button>
            <button type="button" class="button" disabled=move || send.pending().get() || !result.get().is_some_and(|r| !r.applied && r.plan.has_changes())
                on:click=move |_| { send.dispatch(true); }>"Import"</button>
        </p>
        {move || result.get().map(|r| {
            let s = r.plan.summary;
            let names = academies.get().unwrap_or_default();
            let links = StoredValue::new(links_csv(&r.invitations, &names));
            let staff_links = StoredValue::new(to_csv(
                &["Name", "Email", "Link"],
                &r.invited.iter().map(|i| vec![i.staff.name.clone(), i.staff.email.clone(), super::full_link(&i.link_path)]).collect::<Vec<_>>(),
            ));
            view! {
                <div class="panel panel-ok" role="status" data-testid="roster-result">
                    {if r.applied { "Imported." } else if r.plan.has_changes() { "Checked: nothing has changed yet. Import to make these changes." } else { "Checked: Haven already matches this export." }}
                </div>
                <div class="table-scroll" tabindex="0" role="region" aria-label="What importing changes">
                <table class="data-table" data-testid="roster-summary">
                    <thead><tr><td></td><th scope="col">"To add"</th><th scope="col">"To update"</th><th scope="col">"To deactivate or close"</th><th scope="col">"Unchanged"</th></tr></thead>
                    <tbody>
                        <tr><th scope="row">"Staff"</th><td>{s.staff_to_add}</td><td>{s.staff_to_update}</td><td>{s.staff_to_deactivate}</td><td>{s.staff_unchanged}</td></tr>
                        <tr><th scope="row">"Families"</th><td>{s.families_to_add}</td><td>{s.families_to_update}</td><td>{s.families_to_close}</td><td>{s.families_unchanged}</td></tr>
                    </tbody>
                </table>
                </div>
                {(!r.plan.staff_to_deactivate.is_empty()).then(|| view! {
                    <h2>"Staff who have left"</h2>
                    <ul data-testid="roster-leavers">{r.plan.staff_to_deactivate.iter().map(|l| view! { <li>{l.name.clone()}</li> }).collect_view()}</ul>
                })}
                {(!r.problems.is_empty()).then(|| view! {
                    <div class="panel panel-warn" data-testid="roster-problems">
                        <p>"These rows were not used (the people in them are left as they are):"</p>
                        <ul>{r.problems.iter().map(|p| view! { <li>{format!("{} line {}: {}", p.file, p.line, p.message)}</li> }).collect_view()}</ul>
                    </div>
                })}
                {r.applied.then(|| view! {
                    <p class="hint">"New links are shown only now: download them for the school's messaging system."</p>
                    <p class="button-row">
                        <button type="button" class="button" on:click=move |_| staff_links.with_value(|c| download("staff-links.csv", "text/csv", c))>{format!("Download {} staff links", r.invited.len())}</button>
                        <button type="button" class="button" on:click=move |_| links.with_value(|c| download("family-links.csv", "text/csv", c))>{format!("Download {} family links", r.invitations.len())}</button>
                    </p>
                })}
            }
        })}
    }
}
