//! The admin's sign-in for this tab. The token lives in sessionStorage, so it
//! goes when the tab closes and is never shared with the next person on a
//! shared device. (Accounts and roles proper arrive with issue [4/8].)

use crate::clock::now_ms;
use haven_core::api::LoginResponse;

const KEY: &str = "haven.adminSession";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// The bearer token, if signed in and not expired.
pub fn admin_token() -> Option<String> {
    let raw = storage()?.get_item(KEY).ok()??;
    let session: LoginResponse = serde_json::from_str(&raw).ok()?;
    (session.expires_at > now_ms()).then_some(session.token)
}

pub fn remember_admin(session: &LoginResponse) {
    if let (Some(s), Ok(raw)) = (storage(), serde_json::to_string(session)) {
        let _ = s.set_item(KEY, &raw);
    }
}

pub fn forget_admin() {
    if let Some(s) = storage() {
        let _ = s.remove_item(KEY);
    }
}
