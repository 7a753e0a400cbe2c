//! Whom this device serves (`haven_core::device_role`), read from what it holds
//! and read again whenever that may have changed: someone signs in or out, a
//! sync brings something (the academies, another tab's change), or this phone
//! redeems a parent's link or is enrolled ([`DeviceRoleHandle::changed`]).

use crate::db::CredentialKind;
use crate::state::session::use_session;
use crate::state::{app_db, use_sync_status};
use haven_core::device_role::{DeviceRole, DeviceUse};
use leptos::prelude::*;

/// What the header shows of the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThisDevice {
    pub role: DeviceRole,
    /// On a parent's phone: their academy's name, once a sync has brought
    /// the academies (the invitation names only its id).
    pub academy: Option<String>,
    /// On a parent's phone: the token of the link it redeemed, the way back
    /// to their invitation page.
    pub link_token: Option<String>,
}

/// The handle on it, from context.
#[derive(Clone, Copy)]
pub struct DeviceRoleHandle {
    changed: RwSignal<u64>,
    seen: Memo<Option<ThisDevice>>,
}

impl DeviceRoleHandle {
    /// Whom the device serves; `None` until its storage has been read.
    pub fn get(&self) -> Option<ThisDevice> {
        self.seen.get()
    }

    /// Says that what the device holds changed (a parent's link redeemed,
    /// the device enrolled), so it is read again.
    pub fn changed(&self) {
        self.changed.update(|n| *n += 1);
    }
}

pub fn use_device_role() -> DeviceRoleHandle {
    expect_context::<DeviceRoleHandle>()
}

/// Provides the handle. Call once, after the sync status and the session.
pub fn provide_device_role() -> DeviceRoleHandle {
    let session = use_session();
    let status = use_sync_status();
    let changed = RwSignal::new(0u64);
    let unlocked = Memo::new(move |_| session.user.with(Option::is_some));
    let held = LocalResource::new(move || {
        let unlocked = unlocked.get();
        status.data_version.track();
        changed.track();
        read(unlocked)
    });
    // Someone unlocked is staff at once, without waiting for storage. A memo,
    // so the header is redrawn only when this changes, not after every sync.
    let seen = Memo::new(move |_| {
        if unlocked.get() {
            Some(ThisDevice {
                role: DeviceRole::Staff,
                academy: None,
                link_token: None,
            })
        } else {
            held.get()
        }
    });
    let handle = DeviceRoleHandle { changed, seen };
    provide_context(handle);
    handle
}

/// Reads what the device holds. Storage that cannot be read holds nothing:
/// the plain header, and staff sign in from the footer.
async fn read(staff_unlocked: bool) -> ThisDevice {
    let mut held = DeviceUse {
        staff_unlocked,
        ..DeviceUse::default()
    };
    let Ok(db) = app_db().await else {
        return this_device(held, None, None);
    };
    let credential = db.credential().await.ok().flatten().map(|c| c.kind);
    let invitation = db.parent_invitation().await.ok().flatten();
    held.enrolled = credential == Some(CredentialKind::Device);
    held.staff_profiles = credential == Some(CredentialKind::Staff)
        || crate::lock::local_users(&db)
            .await
            .is_ok_and(|users| !users.is_empty());
    held.parent_link = invitation.is_some() || credential == Some(CredentialKind::Parent);
    let Some((token, invitation)) = invitation else {
        return this_device(held, None, None);
    };
    let academy = db
        .academies()
        .await
        .ok()
        .and_then(|all| all.into_iter().find(|a| a.id == invitation.academy_id))
        .map(|a| a.name);
    this_device(held, academy, Some(token))
}

fn this_device(held: DeviceUse, academy: Option<String>, link_token: Option<String>) -> ThisDevice {
    let role = DeviceRole::of(held);
    // A parent's academy and link are shown only on a parent's phone.
    let parent = role == DeviceRole::Parent;
    ThisDevice {
        role,
        academy: academy.filter(|_| parent),
        link_token: link_token.filter(|_| parent),
    }
}
