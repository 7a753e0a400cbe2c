//! Whether this browser keeps Haven's storage, and how to make it.
//!
//! Browsers may clear a site's storage: under pressure for space, and Safari
//! on iPhone and iPad after seven days without use unless the site was added
//! to the Home Screen. Records not yet sent would go with it. So the sync
//! page says whether storage is persistent (`navigator.storage.persisted()`,
//! which some engines lack entirely: then "unknown"), a person with unsent
//! records on a browser that has not promised to keep them is told, gently,
//! there and in the header; and enrolled kiosks and tablets are shown how to
//! install Haven (Add to Home Screen on iPhone and iPad, the browser's own
//! install prompt where it offers one).
//!
//! Every browser API here is looked up by name first and its absence is an
//! answer, not an error (WebKitGTK has no `navigator.storage`; only Chromium
//! has `beforeinstallprompt`).

use crate::state::use_sync_status;
use js_sys::{Function, Promise, Reflect};
use leptos::prelude::*;
use leptos_router::components::A;
use std::cell::RefCell;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// What the browser says of Haven's storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// The browser will not clear it on its own.
    Persistent,
    /// The browser may clear it (for space, or after days without use).
    NotPersistent,
    /// The browser does not say.
    Unknown,
}

impl Persistence {
    /// For the sync page.
    pub fn describe(self) -> &'static str {
        match self {
            Persistence::Persistent => {
                "Kept: this browser has promised not to clear Haven's storage on its own"
            }
            Persistence::NotPersistent => {
                "Not guaranteed: this browser may clear Haven's storage, for example when space \
                 runs low or, on an iPhone or iPad, after seven days without use"
            }
            Persistence::Unknown => "Unknown: this browser does not say whether it keeps it",
        }
    }

    /// The word tests and styles read.
    pub fn state(self) -> &'static str {
        match self {
            Persistence::Persistent => "persistent",
            Persistence::NotPersistent => "not-persistent",
            Persistence::Unknown => "unknown",
        }
    }
}

/// `navigator.storage[method]`, when the browser has it.
fn storage_method(method: &str) -> Option<(JsValue, Function)> {
    let navigator: JsValue = web_sys::window()?.navigator().into();
    let storage = Reflect::get(&navigator, &"storage".into())
        .ok()
        .filter(JsValue::is_object)?;
    let f = Reflect::get(&storage, &method.into())
        .ok()?
        .dyn_into::<Function>()
        .ok()?;
    Some((storage, f))
}

/// Calls `navigator.storage[method]()` and reads its answer as a yes or no.
async fn ask_storage(method: &str) -> Persistence {
    let Some((storage, f)) = storage_method(method) else {
        return Persistence::Unknown;
    };
    let Some(promise) = f
        .call0(&storage)
        .ok()
        .and_then(|p| p.dyn_into::<Promise>().ok())
    else {
        return Persistence::Unknown;
    };
    match JsFuture::from(promise).await.ok().and_then(|v| v.as_bool()) {
        Some(true) => Persistence::Persistent,
        Some(false) => Persistence::NotPersistent,
        None => Persistence::Unknown,
    }
}

/// Whether this browser keeps Haven's storage: `navigator.storage.persisted()`.
pub async fn persistence() -> Persistence {
    ask_storage("persisted").await
}

/// Asks the browser to keep Haven's storage (`navigator.storage.persist()`)
/// and says what it answered.
pub async fn ask_to_persist() -> Persistence {
    ask_storage("persist").await
}

/// Whether the browser can be asked at all.
fn can_ask() -> bool {
    storage_method("persist").is_some()
}

/// An iPhone, iPad or iPod, where Safari clears storage after seven days
/// without use and installing means Add to Home Screen. iPadOS says it is a
/// Mac, but a Mac has no touch screen.
pub fn is_apple_mobile() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let navigator = window.navigator();
    let agent = navigator.user_agent().unwrap_or_default();
    ["iPhone", "iPad", "iPod"].iter().any(|d| agent.contains(d))
        || (agent.contains("Macintosh") && navigator.max_touch_points() > 1)
}

/// Whether Haven is running installed (from the Home Screen or as an app
/// window) rather than in a browser tab.
pub fn is_installed() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    // matchMedia by name: web-sys would need one more feature for it.
    let standalone = Reflect::get(&window, &"matchMedia".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .and_then(|f| f.call1(&window, &"(display-mode: standalone)".into()).ok())
        .and_then(|list| Reflect::get(&list, &"matches".into()).ok())
        .and_then(|m| m.as_bool())
        .unwrap_or(false);
    let navigator: JsValue = window.navigator().into();
    let apple_standalone = Reflect::get(&navigator, &"standalone".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    standalone || apple_standalone
}

thread_local! {
    /// The browser's install prompt (`beforeinstallprompt`), kept until used.
    static INSTALL_PROMPT: RefCell<Option<JsValue>> = const { RefCell::new(None) };
    /// Bumped when the prompt arrives or is used, so the page redraws.
    static PROMPT_CHANGED: ArcRwSignal<u32> = ArcRwSignal::new(0);
}

/// Keeps the browser's install prompt for the install help, which shows its
/// own button instead. Call once at start-up: the event comes soon after
/// the page loads, before any page that offers it is open.
pub fn capture_install_prompt() {
    use wasm_bindgen::closure::Closure;
    let Some(window) = web_sys::window() else {
        return;
    };
    let keep = Closure::<dyn Fn(web_sys::Event)>::new(|event: web_sys::Event| {
        event.prevent_default();
        INSTALL_PROMPT.with(|p| *p.borrow_mut() = Some(event.into()));
        PROMPT_CHANGED.with(|c| c.update(|n| *n += 1));
    });
    let _ = window
        .add_event_listener_with_callback("beforeinstallprompt", keep.as_ref().unchecked_ref());
    // Lives as long as the page.
    keep.forget();
}

fn install_prompt() -> Option<JsValue> {
    PROMPT_CHANGED.with(|c| c.track());
    INSTALL_PROMPT.with(|p| p.borrow().clone())
}

/// Shows the browser's install prompt; true if the person installed.
async fn prompt_install(event: JsValue) -> bool {
    INSTALL_PROMPT.with(|p| p.borrow_mut().take());
    PROMPT_CHANGED.with(|c| c.update(|n| *n += 1));
    let call = |name: &str| -> Option<JsValue> {
        let f = Reflect::get(&event, &name.into())
            .ok()?
            .dyn_into::<Function>()
            .ok()?;
        f.call0(&event).ok()
    };
    if let Some(shown) = call("prompt").and_then(|p| p.dyn_into::<Promise>().ok()) {
        let _ = JsFuture::from(shown).await;
    }
    let Some(choice) = Reflect::get(&event, &"userChoice".into())
        .ok()
        .and_then(|p| p.dyn_into::<Promise>().ok())
    else {
        return false;
    };
    JsFuture::from(choice)
        .await
        .ok()
        .and_then(|c| Reflect::get(&c, &"outcome".into()).ok())
        .and_then(|o| o.as_string())
        .is_some_and(|o| o == "accepted")
}

/// The sync page's line on storage, and what to do when records are at
/// risk.
#[component]
pub fn StorageStatus() -> impl IntoView {
    let status = use_sync_status();
    let state = RwSignal::new(None::<Persistence>);
    leptos::task::spawn_local(async move { state.set(Some(persistence().await)) });
    let ask = Action::new_local(move |_: &()| async move {
        ask_to_persist().await;
        // Read it back: the answer to persist() and persisted() agree, but
        // a browser that shows a prompt may take its time.
        state.set(Some(persistence().await));
    });
    let at_risk =
        move || status.pending.get() > 0 && state.get() == Some(Persistence::NotPersistent);
    view! {
        <dl class="summary-list">
            <div>
                <dt>"Storage on this device"</dt>
                <dd data-testid="status-storage" data-state=move || state.get().map(Persistence::state)>
                    {move || state.get().map_or("Checking…", Persistence::describe)}
                </dd>
            </div>
        </dl>
        {move || at_risk().then(|| {
            let waiting = status.pending.get();
            let records = if waiting == 1 { "1 change on this device has".to_owned() } else { format!("{waiting} changes on this device have") };
            view! {
                <div class="panel panel-warn" role="status" data-testid="storage-risk">
                    <h2>"Send your changes soon"</h2>
                    <p>{format!(
                        "{records} not reached the school yet, and this browser \
                         has not promised to keep Haven's storage. They are safe for now, and go \
                         to the school at the next successful sync."
                    )}</p>
                    <p>"Open Haven with a connection in the next few days. On an iPhone or iPad, \
                        Safari clears a website's storage after seven days without use unless it \
                        was added to the Home Screen."</p>
                    {can_ask().then(|| view! {
                        <p><button type="button" class="button button-secondary" data-testid="ask-persist"
                            disabled=move || ask.pending().get()
                            on:click=move |_| { ask.dispatch(()); }>"Ask this browser to keep Haven's storage"</button></p>
                    })}
                </div>
            }
        })}
    }
}

/// Beside the sync badge: a short word when unsent records sit in storage
/// the browser has not promised to keep, linking to the sync page.
#[component]
pub fn StorageRisk() -> impl IntoView {
    let status = use_sync_status();
    let state = RwSignal::new(None::<Persistence>);
    leptos::task::spawn_local(async move { state.set(Some(persistence().await)) });
    move || {
        (status.pending.get() > 0 && state.get() == Some(Persistence::NotPersistent)).then(|| {
            view! {
                <A href="/sync" attr:class="storage-risk" attr:data-testid="storage-risk-badge">
                    "Storage not guaranteed: send soon"
                </A>
            }
        })
    }
}

/// How to install Haven on this device, for an enrolled kiosk or tablet
/// (`enrolled`), or one about to be enrolled.
#[component]
pub fn InstallHelp(enrolled: bool) -> impl IntoView {
    let state = RwSignal::new(None::<Persistence>);
    leptos::task::spawn_local(async move { state.set(Some(persistence().await)) });
    let installed = RwSignal::new(is_installed());
    let install = Action::new_local(move |event: &JsValue| {
        let event = event.clone();
        async move {
            if prompt_install(event).await {
                installed.set(true);
            }
        }
    });
    let apple = is_apple_mobile();
    view! {
        <section class="install-help" aria-labelledby="install-heading" data-testid="install-help">
            <h2 id="install-heading">"Keep Haven on this device"</h2>
            {move || if installed.get() {
                view! { <p data-testid="install-done">"Haven is installed on this device. Open it from its icon."</p> }.into_any()
            } else if apple {
                view! {
                    <p>"Safari on iPhone and iPad clears a website's storage after seven days \
                        without use, and with it this device's enrolment and anything not yet sent. \
                        Added to the Home Screen, Haven keeps it."</p>
                    <ol class="install-steps" data-testid="install-steps-apple">
                        <li>"In Safari, tap the Share button (a square with an arrow pointing up: at the \
                            top of the screen on an iPad; on an iPhone at the bottom, or under the “•••” button)."</li>
                        <li>"Scroll down and tap “Add to Home Screen”."</li>
                        <li>"If “Open as Web App” is shown, leave it on. Tap “Add”."</li>
                        <li>"From now on, open Haven from its icon on the Home Screen, not from Safari."</li>
                    </ol>
                    <p class="panel panel-warn">{if enrolled {
                        "The Home Screen icon has its own storage, separate from Safari's: enrol it \
                         again there with a new code from an admin. Check first that nothing is \
                         waiting on the Sync status page in Safari."
                    } else {
                        "The Home Screen icon has its own storage, separate from Safari's: add Haven \
                         first, then open it from the icon and enrol it there."
                    }}</p>
                }.into_any()
            } else {
                view! {
                    {move || install_prompt().map(|event| view! {
                        <p><button type="button" class="button" data-testid="install-button"
                            disabled=move || install.pending().get()
                            on:click=move |_| { install.dispatch(event.clone()); }>"Install Haven on this device"</button></p>
                    })}
                    <p>"Installed, Haven opens from its own icon and the browser is more likely to \
                        keep its storage. If there is no install button here, look in the browser's \
                        menu for “Install app” or “Add to Home screen”."</p>
                }.into_any()
            }}
            <p class="meta" data-testid="install-storage">{move || state.get().map(|s| format!("Storage on this device: {}.", s.describe()))}</p>
        </section>
    }
}
