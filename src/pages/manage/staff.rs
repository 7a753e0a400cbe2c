//! `/admin/staff`: staff and their roles; invite one person or import a CSV;
//! reset the second factor of someone who lost their authenticator app.

use super::{academies, academy_name, full_link, read_file, require_token};
use crate::api;
use crate::components::error_summary::focus_by_id;
use haven_core::accounts::permissions::Capability;
use haven_core::accounts::roles::{Role, RoleGrant};
use haven_core::api::accounts::{
    CsvUpload, InviteStaffRequest, InvitedStaff, SetActiveRequest, StaffImportReport, StaffMember,
};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

#[component]
pub fn StaffAdmin() -> impl IntoView {
    view! {
        <h1>"Staff and roles"</h1>
        {match require_token("/admin/staff") {
            Err(prompt) => prompt,
            Ok(token) => view! { <StaffPage token/> }.into_any(),
        }}
    }
}

#[component]
fn StaffPage(token: String) -> impl IntoView {
    let token = StoredValue::new(token);
    let version = RwSignal::new(0u32);
    let staff = LocalResource::new(move || {
        version.track();
        async move { api::get_json::<Vec<StaffMember>>(&api::url("/staff"), &token.get_value()).await }
    });
    let academies = academies();
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let academy = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Staff.as_str().to_owned());
    let message = RwSignal::new(None::<Result<String, String>>);
    let links = RwSignal::new(Vec::<InvitedStaff>::new());
    let report = RwSignal::new(None::<StaffImportReport>);

    let invite = Action::new_local(move |_: &()| async move {
        let academy_id = uuid::Uuid::parse_str(&academy.get_untracked()).ok();
        let Some(role) = Role::parse(&role.get_untracked()) else {
            return;
        };
        let request = InviteStaffRequest {
            name: name.get_untracked(),
            email: email.get_untracked(),
            grants: vec![RoleGrant {
                role,
                academy_id: if role.is_academy_role() {
                    academy_id
                } else {
                    None
                },
            }],
        };
        match api::post_json::<_, InvitedStaff>(
            &api::url("/staff"),
            Some(&token.get_value()),
            &request,
        )
        .await
        {
            Ok(invited) => {
                message.set(Some(Ok(format!(
                    "{} is invited. Send them their link below.",
                    invited.staff.name
                ))));
                links.update(|l| l.insert(0, invited));
                name.set(String::new());
                email.set(String::new());
                version.update(|v| *v += 1);
            }
            Err(e) => message.set(Some(Err(e.to_string()))),
        }
    });
    let import = Action::new_local(move |input: &web_sys::HtmlInputElement| {
        let input = input.clone();
        async move {
            let Some(csv) = read_file(&input).await else {
                message.set(Some(Err(
                    "That file could not be read; save it as CSV (UTF-8) and try again.".into(),
                )));
                return;
            };
            match api::post_json::<_, StaffImportReport>(
                &api::url("/staff/import"),
                Some(&token.get_value()),
                &CsvUpload { csv },
            )
            .await
            {
                Ok(r) => {
                    links.update(|l| l.splice(0..0, r.invited.clone()).for_each(drop));
                    report.set(Some(r));
                    version.update(|v| *v += 1);
                }
                Err(e) => message.set(Some(Err(e.to_string()))),
            }
        }
    });
    // The person whose roles are being changed, with the roles as edited.
    let editing = RwSignal::new(None::<(StaffMember, Vec<RoleGrant>)>);
    let new_role = RwSignal::new(Role::Staff.as_str().to_owned());
    let new_academy = RwSignal::new(String::new());
    let session = crate::state::session::use_session();
    // A trust admin edits every role; a headteacher those at their academies.
    let editable = move |g: &RoleGrant| session.grants().scope(Capability::ManageStaff).covers(g);
    // Whom the caller may change at all: everyone whose every role is within
    // their academies (the server refuses the rest).
    let changeable = move |m: &StaffMember| {
        session
            .grants()
            .scope(Capability::ManageStaff)
            .may_change(&m.grants)
    };
    let save_roles = Action::new_local(move |_: &()| async move {
        let Some((member, grants)) = editing.get_untracked() else {
            return;
        };
        let grants: Vec<RoleGrant> = grants.into_iter().filter(|g| editable(g)).collect();
        let url = api::url(&format!("/staff/{}/roles", member.id));
        let body = haven_core::api::accounts::PutRolesRequest { grants };
        match api::put_json::<_, StaffMember>(&url, &token.get_value(), &body).await {
            Ok(updated) => {
                message.set(Some(Ok(format!("{}'s roles are saved.", updated.name))));
                editing.set(None);
                version.update(|v| *v += 1);
            }
            Err(e) => message.set(Some(Err(e.to_string()))),
        }
    });
    // The person whose second factor is about to be reset, until confirmed.
    let resetting = RwSignal::new(None::<StaffMember>);
    let my_id = move || {
        session
            .user
            .with(|u| u.as_ref().map(|u| u.user_id()))
            .unwrap_or_default()
    };
    let reset = Action::new_local(move |member: &StaffMember| {
        let member = member.clone();
        async move {
            let url = api::url(&format!("/staff/{}/second-factor/reset", member.id));
            match api::post_empty(&url, &token.get_value()).await {
                Ok(()) => {
                    message.set(Some(Ok(format!(
                        "{}'s second factor is reset and they are signed out on every device. \
                         They can now sign in with their password and set up a new authenticator app.",
                        member.name
                    ))));
                    resetting.set(None);
                    version.update(|v| *v += 1);
                }
                Err(e) => message.set(Some(Err(e.to_string()))),
            }
        }
    });
    let set_active = Action::new_local(move |(id, active): &(uuid::Uuid, bool)| {
        let (id, active) = (*id, *active);
        async move {
            let url = api::url(&format!("/staff/{id}/active"));
            match api::put_json::<_, StaffMember>(
                &url,
                &token.get_value(),
                &SetActiveRequest { active },
            )
            .await
            {
                Ok(_) => version.update(|v| *v += 1),
                Err(e) => message.set(Some(Err(e.to_string()))),
            }
        }
    });

    view! {
        {move || message.get().map(|m| match m {
            Ok(text) => view! { <div class="panel panel-ok" role="status">{text}</div> }.into_any(),
            Err(text) => view! { <div class="error-summary" role="alert"><h2>"There is a problem"</h2><p>{text}</p></div> }.into_any(),
        })}
        <h2>"Invite someone"</h2>
        <form on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); message.set(None); invite.dispatch(()); }>
            <div class="field"><label for="invite-name">"Full name"</label>
                <input type="text" id="invite-name" autocomplete="off" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></div>
            <div class="field"><label for="invite-email">"Email address"</label>
                <input type="email" id="invite-email" autocomplete="off" inputmode="email" spellcheck="false" prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev))/></div>
            <div class="field"><label for="invite-role">"Role"</label>
                <select id="invite-role" on:change=move |ev| role.set(event_target_value(&ev))>
                    {Role::ALL.iter().rev().map(|r| view! { <option value=r.as_str() selected=*r == Role::Staff>{r.label()}</option> }).collect_view()}
                </select></div>
            <div class="field"><label for="invite-academy">"Academy"</label>
                <select id="invite-academy" on:change=move |ev| academy.set(event_target_value(&ev))>
                    <option value="">"Choose an academy"</option>
                    {move || academies.get().unwrap_or_default().into_iter().map(|a| view! { <option value=a.id.to_string()>{a.name}</option> }).collect_view()}
                </select></div>
            <button type="submit" class="button" disabled=move || invite.pending().get()>"Invite"</button>
        </form>

        <h2>"Import staff from a spreadsheet"</h2>
        <p class="hint">"A CSV file with the columns name, email, academy and role; one row per role."</p>
        <div class="field"><label for="staff-csv">"CSV file"</label>
            <input type="file" id="staff-csv" accept=".csv,text/csv" on:change=move |ev| {
                if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                    message.set(None);
                    import.dispatch(input);
                }
            }/></div>
        {move || report.get().map(|r| view! {
            <div class="panel" role="status" data-testid="staff-import-report">
                <p>{format!("{} invited, {} given new roles, {} rows not imported.", r.invited.len(), r.updated.len(), r.problems.len())}</p>
                <ul>{r.problems.into_iter().map(|p| view! { <li>{format!("Line {}: {}", p.line, p.message)}</li> }).collect_view()}</ul>
            </div>
        })}
        {move || (!links.get().is_empty()).then(|| view! {
            <h2>"Invitation links"</h2>
            <p class="hint">"Each works once, for 14 days. Send each person their own link."</p>
            <ul class="link-list">
                {links.get().into_iter().map(|i| view! {
                    <li>{format!("{} <{}>: ", i.staff.name, i.staff.email)}<code>{full_link(&i.link_path)}</code></li>
                }).collect_view()}
            </ul>
        })}

        {move || editing.get().map(|(member, grants)| {
            let names = academies.get().unwrap_or_default();
            view! {
                <section class="panel" data-testid="role-editor" aria-labelledby="role-editor-title">
                    <h2 id="role-editor-title">{format!("Roles of {}", member.name)}</h2>
                    <ul>
                        {grants.iter().copied().map(|g| {
                            let label = format!("{} ({})", g.role.label(), academy_name(&names, g.academy_id));
                            let can = editable(&g);
                            view! {
                                <li>
                                    {label.clone()}
                                    {can.then(|| view! {
                                        " "
                                        <button type="button" class="button button-secondary button-small"
                                            on:click=move |_| editing.update(|e| if let Some((_, gs)) = e { gs.retain(|x| *x != g); })>
                                            {format!("Remove {label}")}
                                        </button>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    <div class="field"><label for="add-role">"Add a role"</label>
                        <select id="add-role" on:change=move |ev| new_role.set(event_target_value(&ev))>
                            {Role::ALL.iter().filter(|r| r.is_academy_role()).map(|r| view! { <option value=r.as_str() selected=*r == Role::Staff>{r.label()}</option> }).collect_view()}
                        </select></div>
                    <div class="field"><label for="add-role-academy">"At academy"</label>
                        <select id="add-role-academy" on:change=move |ev| new_academy.set(event_target_value(&ev))>
                            <option value="">"Choose an academy"</option>
                            {names.iter().map(|a| view! { <option value=a.id.to_string()>{a.name.clone()}</option> }).collect_view()}
                        </select></div>
                    <p class="button-row">
                        <button type="button" class="button button-secondary" on:click=move |_| {
                            let (Some(role), Ok(academy)) = (Role::parse(&new_role.get_untracked()), uuid::Uuid::parse_str(&new_academy.get_untracked())) else {
                                message.set(Some(Err("Choose a role and an academy to add.".into())));
                                return;
                            };
                            let grant = RoleGrant { role, academy_id: Some(academy) };
                            editing.update(|e| if let Some((_, gs)) = e { if !gs.contains(&grant) { gs.push(grant); } });
                        }>"Add"</button>
                        <button type="button" class="button" on:click=move |_| { message.set(None); save_roles.dispatch(()); }>"Save roles"</button>
                        <button type="button" class="button button-secondary" on:click=move |_| editing.set(None)>"Cancel"</button>
                    </p>
                </section>
            }
        })}
        {move || resetting.get().map(|member| {
            let name = member.name.clone();
            view! {
                <section class="panel panel-warn" id="second-factor-reset" tabindex="-1" data-testid="second-factor-reset" aria-labelledby="second-factor-reset-title">
                    <h2 id="second-factor-reset-title">{format!("Reset the second factor of {name}?")}</h2>
                    <p>{format!("This removes {name}'s authenticator app and signs them out on every device. \
                        Next time they sign in with their password only, and then set up a new app.")}</p>
                    <p>"Only do this when you are sure it is them asking, for example in person: whoever signs in next with their password can set up the new app."</p>
                    <p class="button-row">
                        <button type="button" class="button" disabled=move || reset.pending().get()
                            on:click={
                                let member = member.clone();
                                move |_| { message.set(None); reset.dispatch(member.clone()); }
                            }>
                            {format!("Yes, reset {name}'s second factor")}
                        </button>
                        <button type="button" class="button button-secondary" on:click=move |_| resetting.set(None)>"Cancel"</button>
                    </p>
                </section>
            }
        })}
        <h2>"Staff"</h2>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || staff.get().map(|r| match r {
                Err(e) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                Ok(list) => {
                    let names = academies.get().unwrap_or_default();
                    view! {
                        <div class="table-scroll" tabindex="0" role="region" aria-label="Staff"><table class="data-table" data-testid="staff-table">
                            <thead><tr><th scope="col">"Name"</th><th scope="col">"Email"</th><th scope="col">"Roles"</th><th scope="col">"Status"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|m| {
                                    let roles = m.grants.0.iter().map(|g| format!("{} ({})", g.role.label(), academy_name(&names, g.academy_id))).collect::<Vec<_>>().join(", ");
                                    let status = if !m.active { "Deactivated" } else if m.invitation_pending { "Invited" } else { "Active" };
                                    let (id, active) = (m.id, m.active);
                                    if !changeable(&m) {
                                        return view! {
                                            <tr>
                                                <td>{m.name.clone()}</td><td>{m.email.clone()}</td><td>{roles}</td><td>{status}</td>
                                                <td>"Also works at another academy: ask your trust admin to change them"</td>
                                            </tr>
                                        }.into_any();
                                    }
                                    view! {
                                        <tr>
                                            <td>{m.name.clone()}</td><td>{m.email.clone()}</td><td>{roles}</td><td>{status}</td>
                                            <td><button type="button" class="button button-secondary button-small"
                                                on:click=move |_| { set_active.dispatch((id, !active)); }>
                                                {if active { format!("Deactivate {}", m.name) } else { format!("Reactivate {}", m.name) }}
                                            </button>
                                            " "
                                            <button type="button" class="button button-secondary button-small"
                                                on:click={
                                                    let member = m.clone();
                                                    move |_| editing.set(Some((member.clone(), member.grants.0.clone())))
                                                }>
                                                {format!("Change roles of {}", m.name)}
                                            </button>
                                            {(m.second_factor_enrolled && m.id.to_string() != my_id()).then(|| view! {
                                                " "
                                                <button type="button" class="button button-secondary button-small"
                                                    on:click={
                                                        let member = m.clone();
                                                        move |_| {
                                                            message.set(None);
                                                            resetting.set(Some(member.clone()));
                                                            focus_by_id("second-factor-reset");
                                                        }
                                                    }>
                                                    {format!("Reset second factor of {}", m.name)}
                                                </button>
                                            })}</td>
                                        </tr>
                                    }.into_any()
                                }).collect_view()}
                            </tbody>
                        </table></div>
                    }.into_any()
                }
            })}
        </Transition>
    }
}
