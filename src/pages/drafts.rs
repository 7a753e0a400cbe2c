//! `/drafts`: the unlocked person's own drafts on this device, encrypted with
//! their key (see `lock`). A private note saves as you type; incident drafts
//! will appear here too. No one else unlocking this device can read them.

use crate::clock::{new_id, now_ms};
use crate::lock::{delete_draft, drafts, save_draft, Draft};
use crate::state::app_db;
use crate::state::session::{use_session, CurrentUser};
use leptos::prelude::*;
use leptos_router::components::A;

const NOTE: &str = "note";

#[component]
pub fn Drafts() -> impl IntoView {
    let session = use_session();
    view! {
        <h1>"My drafts"</h1>
        {move || match session.user.get() {
            None => view! {
                <p>"Unlock Haven to see your drafts. "<A href="/unlock?next=/drafts">"Unlock"</A></p>
            }.into_any(),
            Some(user) => view! { <DraftList user=user/> }.into_any(),
        }}
    }
}

#[component]
fn DraftList(user: CurrentUser) -> impl IntoView {
    let user = StoredValue::new_local(user);
    let version = RwSignal::new(0u32);
    let list = LocalResource::new(move || {
        version.track();
        let who = user.get_value().unlocked;
        async move { drafts(&app_db().await?, &who).await }
    });
    let note = RwSignal::new(String::new());
    let note_id = RwSignal::new(new_id().to_string());
    let status = RwSignal::new(String::new());
    let edits = RwSignal::new(0u64);
    let save = Action::new_local(move |text: &String| {
        let text = text.clone();
        async move {
            let who = user.get_value().unlocked;
            let result = async {
                let db = app_db().await?;
                save_draft(
                    &db,
                    &who,
                    &note_id.get_untracked(),
                    NOTE,
                    text.as_bytes(),
                    now_ms() as f64,
                )
                .await
            }
            .await;
            match result {
                Ok(()) => {
                    status.set("Saved on this device, encrypted".into());
                    version.update(|n| *n += 1);
                }
                Err(e) => status.set(format!("Not saved: {e}")),
            }
        }
    });
    let remove = Action::new_local(move |id: &String| {
        let id = id.clone();
        async move {
            let who = user.get_value().unlocked;
            if let Ok(db) = app_db().await {
                let _ = delete_draft(&db, &who, &id).await;
            }
            if id == note_id.get_untracked() {
                note.set(String::new());
                note_id.set(new_id().to_string());
            }
            version.update(|n| *n += 1);
        }
    });
    view! {
        <div class="field">
            <label for="draft-note">"Private note"</label>
            <p class="hint" id="draft-note-hint">"Only you can read it. It saves as you type."</p>
            <textarea id="draft-note" rows="5" aria-describedby="draft-note-hint"
                prop:value=move || note.get()
                on:input=move |ev| {
                    note.set(event_target_value(&ev));
                    // Save once typing pauses, so saves cannot land out of order.
                    let mine = edits.get_untracked() + 1;
                    edits.set(mine);
                    leptos::task::spawn_local(async move {
                        gloo_timers::future::TimeoutFuture::new(300).await;
                        if edits.get_untracked() == mine {
                            save.dispatch(note.get_untracked());
                        }
                    });
                }></textarea>
            <p class="meta" role="status" data-testid="draft-status">{move || status.get()}</p>
        </div>
        <h2>"Saved drafts"</h2>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || list.get().map(|r| match r {
                Err(e) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                Ok(items) if items.is_empty() => view! { <p data-testid="no-drafts">"No drafts."</p> }.into_any(),
                Ok(items) => view! {
                    <ul class="draft-list" data-testid="draft-list">
                        {items.into_iter().map(|d: Draft| {
                            let text = String::from_utf8_lossy(&d.body).into_owned();
                            let id = d.id.clone();
                            let edit_id = d.id.clone();
                            let edit_text = text.clone();
                            view! {
                                <li>
                                    <span class="draft-text">{text}</span>
                                    " "
                                    <button type="button" class="button button-secondary button-small"
                                        on:click=move |_| { note_id.set(edit_id.clone()); note.set(edit_text.clone()); }>"Edit"</button>
                                    " "
                                    <button type="button" class="button button-secondary button-small"
                                        on:click=move |_| { remove.dispatch(id.clone()); }>"Delete"</button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            })}
        </Transition>
    }
}
