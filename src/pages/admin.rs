//! Admin home: sign in (the demo admin until accounts arrive), policies due
//! for review, and the way to publish a new version.

use crate::api;
use crate::pages::policies::today;
use crate::state::admin::{admin_token, forget_admin, remember_admin};
use crate::state::{app_db, use_sync_status};
use leptos::prelude::*;
use leptos_router::components::A;

/// Days ahead that count as "due soon".
const DUE_SOON_DAYS: f64 = 60.0;

#[component]
pub fn Admin() -> impl IntoView {
    let signed_in = RwSignal::new(admin_token().is_some());
    view! {
        <h1>"Admin"</h1>
        <Show when=move || signed_in.get() fallback=move || view! { <SignIn signed_in=signed_in/> }>
            <p>
                <A href="/admin/publish" attr:class="button">"Publish a new version"</A>
                " "
                <button type="button" class="button button-secondary" on:click=move |_| {
                    forget_admin();
                    signed_in.set(false);
                }>"Sign out"</button>
            </p>
            <DueForReview/>
        </Show>
    }
}

#[component]
fn SignIn(signed_in: RwSignal<bool>) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let sign_in = Action::new_local(move |_: &()| async move {
        match api::login(&email.get_untracked(), &password.get_untracked()).await {
            Ok(session) => {
                remember_admin(&session);
                password.set(String::new());
                signed_in.set(true);
            }
            Err(e) => error.set(Some(e.to_string())),
        }
    });
    view! {
        <p>"Sign in to publish policies and see which are due for review."</p>
        {move || error.get().map(|m| view! {
            <div class="error-summary" role="alert"><h2>"There is a problem"</h2><p>{m}</p></div>
        })}
        <form on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            error.set(None);
            sign_in.dispatch(());
        }>
            <div class="field">
                <label for="admin-email">"Email address"</label>
                <input type="email" id="admin-email" autocomplete="username" inputmode="email" spellcheck="false"
                    prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev))/>
            </div>
            <div class="field">
                <label for="admin-password">"Password"</label>
                <input type="password" id="admin-password" autocomplete="current-password"
                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
            </div>
            <button type="submit" class="button" disabled=move || sign_in.pending().get()>"Sign in"</button>
        </form>
    }
}

/// Policies whose review date has passed or comes within [`DUE_SOON_DAYS`].
#[component]
fn DueForReview() -> impl IntoView {
    let status = use_sync_status();
    let policies = LocalResource::new(move || {
        status.data_version.track();
        async move { app_db().await?.latest_policies().await }
    });
    let soon = {
        let d = js_sys::Date::new_0();
        d.set_time(d.get_time() + DUE_SOON_DAYS * 86_400_000.0);
        format!(
            "{:04}-{:02}-{:02}",
            d.get_full_year(),
            d.get_month() + 1,
            d.get_date()
        )
    };
    view! {
        <h2>"Due for review"</h2>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || policies.get().map(|r| match r {
                Err(e) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                Ok(list) => {
                    let today = today();
                    let mut due: Vec<_> = list.into_iter().filter(|p| p.next_review_due <= soon).collect();
                    due.sort_by(|a, b| a.next_review_due.cmp(&b.next_review_due));
                    if due.is_empty() {
                        return view! { <p data-testid="none-due">"No policy is due for review in the next 60 days."</p> }.into_any();
                    }
                    view! {
                        <ul class="policy-list" data-testid="due-list">
                            {due.into_iter().map(|p| {
                                let overdue = p.next_review_due < today;
                                view! {
                                    <li>
                                        <A href=format!("/policies/{}", p.id)>{p.title.clone()}</A>
                                        <span class="meta">
                                            {if overdue { format!(" — overdue since {}", p.next_review_due) } else { format!(" — due {}", p.next_review_due) }}
                                        </span>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }
            })}
        </Transition>
    }
}
