//! Who is using the app on this device right now, and the locks around it.
//!
//! A staff member signs in online once ([`sign_in`]); after that the device
//! can be unlocked with their PIN, offline included (`lock`). Their key lives
//! only in memory, in [`Session::user`]: locking — by the button, "hide
//! screen", switching user, or [`idle_lock`] after the trust's idle time —
//! drops it, and with it every decrypted draft on screen.

use crate::api;
use crate::clock::now_ms;
use crate::db::{Credential, CredentialKind, Db};
use crate::lock::{self, LockError, SessionSecret, SignedInUser, Unlocked};
use crate::state::app_db;
use base64::Engine;
use haven_core::accounts::roles::Grants;
use haven_core::api::accounts::SecondFactorState;
use haven_core::api::LoginResponse;
use haven_core::sync::wire::{SyncCredential, SyncCredentialRequest};
use haven_core::Millis;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::rc::Rc;

/// Minutes of no use before the device locks, unless the trust says otherwise.
pub const DEFAULT_IDLE_LOCK_MINUTES: u32 = 5;
const IDLE_KEY: &str = "idle_lock_minutes";

/// The unlocked person: their key, and what they may do.
#[derive(Clone)]
pub struct CurrentUser {
    pub unlocked: Unlocked,
    pub grants: Grants,
    /// Their staff session, while it lasts (for calls that need one).
    pub token: Option<String>,
}

impl CurrentUser {
    pub fn name(&self) -> String {
        self.unlocked.user().name.clone()
    }

    pub fn user_id(&self) -> String {
        self.unlocked.user().user_id.clone()
    }
}

#[derive(Clone, Copy)]
pub struct Session {
    pub user: RwSignal<Option<CurrentUser>, LocalStorage>,
    /// When the screen was last used (ms).
    pub last_activity: RwSignal<Millis>,
}

impl Session {
    /// The staff session token of whoever is unlocked.
    pub fn token(&self) -> Option<String> {
        self.user.with(|u| u.as_ref().and_then(|u| u.token.clone()))
    }

    pub fn grants(&self) -> Grants {
        self.user
            .with(|u| u.as_ref().map(|u| u.grants.clone()))
            .unwrap_or_default()
    }

    /// Locks now: the key and everything decrypted leave memory.
    pub fn lock(&self) {
        self.user.set(None);
    }
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

/// Provides the session and starts the idle lock. Call once, from `App`.
pub fn provide_session() -> Session {
    let session = Session {
        user: RwSignal::new_local(None),
        last_activity: RwSignal::new(now_ms()),
    };
    provide_context(session);
    idle_lock(session);
    session
}

/// What a signed-in person's roles are, kept per person in the clear: roles
/// are not secret, and the app needs them offline to show the right pages.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredGrants {
    grants: Grants,
}

fn grants_key(user_id: &str) -> String {
    format!("grants:{user_id}")
}

/// Why signing in did not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    #[error("{0}")]
    Api(#[from] crate::api::ApiClientError),
    #[error("{0}")]
    Lock(#[from] LockError),
    #[error("{0}")]
    Db(#[from] crate::db::DbError),
    #[error("the server's sign-in reply could not be used: {0}")]
    Reply(String),
}

/// After the server accepted a sign-in: set up (or refresh) this person's
/// local key, with `pin` if given, store the credential sync pushes with
/// (unless the device is enrolled, whose own token stays in charge), and
/// unlock.
pub async fn complete_sign_in(
    session: Session,
    reply: &LoginResponse,
    pin: Option<&str>,
) -> Result<(), SignInError> {
    if let Some(pin) = pin {
        // The rule for the person's roles (lock checks only the general one).
        haven_core::accounts::pin::check_new_pin_for(pin, &reply.me.grants)
            .map_err(|p| LockError::WeakPin(p.to_string()))?;
    }
    let db = app_db().await?;
    let online_key = base64::engine::general_purpose::STANDARD
        .decode(&reply.online_key)
        .map_err(|e| SignInError::Reply(e.to_string()))?;
    let user = SignedInUser {
        user_id: reply.me.user_id.to_string(),
        name: reply.me.name.clone(),
        email: reply.me.email.clone(),
    };
    let secret = SessionSecret {
        token: reply.token.clone(),
        expires_at: reply.expires_at as f64,
    };
    let unlocked = lock::after_online_sign_in(&db, &user, &online_key, &secret, pin).await?;
    db.put_meta(
        &grants_key(&user.user_id),
        &StoredGrants {
            grants: reply.me.grants.clone(),
        },
    )
    .await?;
    let enrolled = matches!(
        db.credential().await?,
        Some(Credential {
            kind: CredentialKind::Device,
            refused: false,
            ..
        })
    );
    if !enrolled && reply.second_factor != SecondFactorState::EnrolRequired {
        // Sync pushes while the screen is locked, so what it pushes with is
        // kept readable: a credential that can do nothing but that, never
        // the session itself (sealed above, under the person's key).
        let credential = sync_credential(&db, &reply.token).await?;
        db.set_credential(Some(&Credential {
            kind: CredentialKind::Staff,
            token: credential.token,
            expires_at: Some(credential.expires_at),
            label: reply.me.name.clone(),
            refused: false,
            owner: Some(user.user_id.clone()),
        }))
        .await?;
    }
    refresh_idle_minutes(&db, &reply.token).await;
    session.user.set(Some(CurrentUser {
        unlocked,
        grants: reply.me.grants.clone(),
        token: Some(reply.token.clone()),
    }));
    session.last_activity.set(now_ms());
    crate::state::request_sync();
    Ok(())
}

/// A sync credential for this browser, made from the person's session.
pub async fn sync_credential(db: &Db, session_token: &str) -> Result<SyncCredential, SignInError> {
    let device = db.device().await?;
    let request = SyncCredentialRequest {
        device_secret: device
            .secret
            .ok_or_else(|| SignInError::Reply("this browser has no device secret".into()))?,
    };
    Ok(api::post_json(
        &api::url("/auth/sync-credential"),
        Some(session_token),
        &request,
    )
    .await?)
}

/// Unlocks with a PIN, offline included.
pub async fn unlock(session: Session, user_id: &str, pin: &str) -> Result<(), SignInError> {
    let db = app_db().await?;
    let unlocked = lock::unlock_with_pin(&db, user_id, pin).await?;
    let grants = db
        .get_meta::<StoredGrants>(&grants_key(user_id))
        .await?
        .map(|g| g.grants)
        .unwrap_or_default();
    let token = unlocked
        .session(&db)
        .await?
        .filter(|s| s.expires_at > now_ms() as f64)
        .map(|s| s.token);
    session.user.set(Some(CurrentUser {
        unlocked,
        grants,
        token,
    }));
    session.last_activity.set(now_ms());
    Ok(())
}

/// Signs out on the server (when reachable) and on this device: the session
/// is forgotten, the key and drafts stay sealed for the next sign-in.
pub async fn sign_out(session: Session, everywhere: bool) -> Result<(), SignInError> {
    let db = app_db().await?;
    let Some(user) = session.user.get_untracked() else {
        return Ok(());
    };
    if let Some(token) = &user.token {
        let path = if everywhere {
            "/auth/logout-everywhere"
        } else {
            "/auth/logout"
        };
        // Offline, the session simply expires on the server in time.
        let _ = api::post_empty(&api::url(path), token).await;
    }
    lock::forget_session(&db, &user.user_id()).await?;
    if let Some(credential) = db.credential().await? {
        if credential.kind == CredentialKind::Staff
            && credential.owner.as_deref() == Some(&user.user_id())
        {
            db.set_credential(None).await?;
        }
    }
    session.lock();
    Ok(())
}

/// Reads the trust's idle time from the server if it can, and keeps it.
async fn refresh_idle_minutes(db: &Db, token: &str) {
    if let Ok(settings) = api::get_json::<haven_core::api::accounts::AccountSettings>(
        &api::url("/settings/accounts"),
        token,
    )
    .await
    {
        let _ = db.put_meta(IDLE_KEY, &settings.idle_lock_minutes).await;
    }
}

pub async fn set_idle_minutes(db: &Db, minutes: u32) {
    let _ = db.put_meta(IDLE_KEY, &minutes).await;
}

/// Locks the device after the trust's idle time with no touch, click or key.
/// Checked every few seconds against the clock, so a sleeping tablet that
/// wakes after an hour locks at once.
fn idle_lock(session: Session) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    let Some(window) = web_sys::window() else {
        return;
    };
    let touch = Closure::<dyn Fn()>::new(move || session.last_activity.set(now_ms()));
    for event in ["pointerdown", "keydown", "wheel", "touchstart"] {
        let _ = window.add_event_listener_with_callback(event, touch.as_ref().unchecked_ref());
    }
    touch.forget();
    let idle_ms = Rc::new(Cell::new(Millis::from(DEFAULT_IDLE_LOCK_MINUTES) * 60_000));
    leptos::task::spawn_local(async move {
        loop {
            if let Ok(db) = app_db().await {
                if let Ok(Some(minutes)) = db.get_meta::<u32>(IDLE_KEY).await {
                    idle_ms.set(Millis::from(minutes.max(1)) * 60_000);
                }
            }
            gloo_timers::future::TimeoutFuture::new(5_000).await;
            let unlocked = session.user.with_untracked(Option::is_some);
            let idle_for = now_ms() - session.last_activity.get_untracked();
            if unlocked && idle_for >= idle_ms.get() {
                session.lock();
            }
        }
    });
}
