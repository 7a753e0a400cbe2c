//! Which build of the PWA serves a page.
//!
//! Haven ships two builds of one app. The **reader** holds only what a parent,
//! carer or guest uses: the home page, policies, signing, the sync page,
//! joining by invitation and checking a receipt. The **full** app holds every
//! page, the staff, admin, DSL and kiosk ones too. A parent's phone over a weak
//! signal then downloads about half the code, and a staff device, once it has
//! opened any staff page, keeps the full app and stays in it.
//!
//! The server (which shell to send for a URL), the service worker (which cached
//! shell answers a navigation; `cargo xtask build` writes
//! [`READER_SECTIONS`] into it) and the reader itself (a link to a page it does
//! not have is a full page load) all decide by [`shell_for`].

/// The first path segments the reader build serves; `""` is the home page.
pub const READER_SECTIONS: &[&str] = &["", "policies", "sign", "sync", "join", "verify"];

/// Where the full app's files live in the built site: its shell is
/// `/app/index.html`, served for every page that is not the reader's.
pub const FULL_APP_DIR: &str = "app";

/// One of the two builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    Reader,
    Full,
}

/// The build that serves the page at URL path `path` (no query or fragment).
pub fn shell_for(path: &str) -> Shell {
    let section = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    if READER_SECTIONS.contains(&section) {
        Shell::Reader
    } else {
        Shell::Full
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_pages_are_the_readers() {
        for path in [
            "/",
            "",
            "/policies",
            "/policies/",
            "/policies/0190c5e0-0000-7000-8000-000000000001",
            "/sign/0190c5e0-0000-7000-8000-000000000001",
            "/sync",
            "/join/abc",
            "/verify/K7M2QX",
        ] {
            assert_eq!(shell_for(path), Shell::Reader, "{path}");
        }
    }

    #[test]
    fn staff_kiosk_and_unknown_pages_are_the_full_apps() {
        for path in [
            "/admin",
            "/admin/incidents/x",
            "/signin",
            "/unlock",
            "/account",
            "/enrol",
            "/drafts",
            "/incidents/new",
            "/kiosk",
            "/kiosk/sign-in",
            "/invite/t",
            "/setup/t",
            "/app/",
            "/no-such-page",
            // A section name only matches a whole segment.
            "/policiesx",
            "/signin/",
        ] {
            assert_eq!(shell_for(path), Shell::Full, "{path}");
        }
    }
}
