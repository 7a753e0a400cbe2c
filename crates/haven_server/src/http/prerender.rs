//! Content before code: the reader's pages a parent opens from a link (a
//! policy, signing it, an invitation, a receipt check) are sent with their
//! content already in the HTML, so a phone on a weak signal shows something to
//! read while the WebAssembly loads.
//!
//! The content goes in `<div id="prerendered">` at the top of the reader's
//! shell, marked up as the app marks up the same page (same elements, classes
//! and ids, no `data-testid`), with the header and footer of a first visit.
//! The app renders hidden behind it and takes over when its page is ready
//! (`src/prerender.rs`): one swap, nothing moves, anything typed is carried
//! across. The policy text comes from `haven_core::render`, the code the
//! device uses, so both show the same words.
//!
//! Nothing personal goes in: an invitation's page lists what there is to
//! sign in the trust, never who the child is or whether the link is valid
//! (a scanner following the link learns nothing, and no link is looked up).

use crate::store::policies;
use haven_core::accounts::class_list::INVITATION_ASK;
use haven_core::policy::PolicyKind;
use haven_core::render::{escape_html, render_policy};
use sqlx::AnyPool;
use std::fmt::Write;
use uuid::Uuid;

/// A page the server can send with its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// `/policies/{version id}`
    Policy(Uuid),
    /// `/sign/{version id}`
    Sign(Uuid),
    /// `/join/{link}`; the link itself is never used.
    Join,
    /// `/verify/{receipt code}`
    Verify(String),
}

impl Page {
    /// The page at URL path `path`, if it is one of these.
    pub fn at(path: &str) -> Option<Page> {
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        let (section, rest) = (parts.next()?, parts.next()?);
        if rest.is_empty() || rest.contains('/') {
            return None;
        }
        match section {
            "policies" => Uuid::parse_str(rest).ok().map(Page::Policy),
            "sign" => Uuid::parse_str(rest).ok().map(Page::Sign),
            "join" => Some(Page::Join),
            // Receipt codes are short letters and digits; anything else is
            // left for the app to refuse.
            "verify" if rest.len() <= 32 && rest.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                Some(Page::Verify(rest.to_owned()))
            }
            _ => None,
        }
    }

    /// Which page the copy is of (`data-page`), for whoever reads the HTML;
    /// the app takes over whichever page it is.
    fn name(&self) -> &'static str {
        match self {
            Page::Policy(_) => "policy",
            Page::Sign(_) => "sign",
            Page::Join => "join",
            Page::Verify(_) => "verify",
        }
    }
}

/// The reader's shell with `page`'s content in it, or `None` to send the
/// shell as it is (a version that does not exist, a database that does not
/// answer: the app says what is wrong).
pub async fn shell_with(pool: &AnyPool, shell: &str, page: &Page) -> Option<String> {
    let main = match page {
        Page::Policy(id) => policy(&policies::find_version(pool, *id).await.ok()??),
        Page::Sign(id) => sign(&policies::find_version(pool, *id).await.ok()??),
        Page::Join => join(&policies::latest_versions(pool).await.ok()?),
        Page::Verify(code) => verify(code),
    };
    let block = format!(
        "<div id=\"prerendered\" data-page=\"{}\">{}<main id=\"main\" tabindex=\"-1\">{main}</main>{FOOTER}</div>",
        page.name(),
        header(page)
    );
    let shell = without_wasm_preload(shell);
    let at = shell.find("<body>")? + "<body>".len();
    let mut html = String::with_capacity(shell.len() + block.len());
    html.push_str(&shell[..at]);
    html.push_str(&block);
    html.push_str(&shell[at..]);
    Some(html)
}

/// The shell without Trunk's `<link rel="preload">` of the WebAssembly. With
/// content to show, the stylesheet should have the connection to itself, so
/// the copy paints first; the WebAssembly is fetched once the small loader
/// script runs, a round trip later.
fn without_wasm_preload(shell: &str) -> String {
    let mut out = String::with_capacity(shell.len());
    let mut rest = shell;
    while let Some(start) = rest.find("<link ") {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        let tag = &rest[start..=start + len];
        out.push_str(&rest[..start]);
        if !(tag.contains("rel=\"preload\"") && tag.contains("application/wasm")) {
            out.push_str(tag);
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// The header and footer as the app draws them on a device that holds
/// neither a staff sign-in nor a parent's link (`src/components/header.rs`):
/// what a first visit sees, so the page does not move when the app takes
/// over. The Policies link is marked current on a policy's page, as the
/// router marks it.
fn header(page: &Page) -> String {
    let current = if matches!(page, Page::Policy(_)) {
        " aria-current=\"page\""
    } else {
        ""
    };
    format!(
        concat!(
            "<a class=\"skip-link\" href=\"#main\">Skip to main content</a>",
            "<header class=\"site-header\">",
            "<a href=\"/\" class=\"brand\">Haven</a>",
            "<nav class=\"site-nav\" aria-label=\"Main\"><a href=\"/policies\"{current}>Policies</a></nav>",
            "<div class=\"sync-status\" role=\"status\" aria-live=\"polite\">",
            "<span class=\"badge\" data-state=\"checking\">Connecting…</span>",
            "<a href=\"/sync\"><span>All changes synced</span></a></div>",
            "</header>",
        ),
        current = current
    )
}

const FOOTER: &str = "<footer class=\"site-footer\"><a href=\"/signin\" class=\"footer-link\">Staff sign in</a></footer>";

/// A policy as `src/pages/reader.rs` shows it.
fn policy(p: &haven_core::policy::PolicyVersion) -> String {
    let rendered = render_policy(&p.body_markdown, None);
    let mut html = String::new();
    let _ = write!(
        html,
        "<article><h1>{}</h1><p class=\"meta\">{}</p>",
        escape_html(&p.title),
        escape_html(&p.meta_line())
    );
    if let Some(audiences) = p.audiences_line() {
        let _ = write!(html, "<p class=\"meta\">{}</p>", escape_html(&audiences));
    }
    html.push_str(concat!(
        "<div class=\"reader-tools no-print\">",
        "<div class=\"text-size\" role=\"group\" aria-label=\"Text size\">",
        "<button type=\"button\" class=\"button button-secondary\">A−<span class=\"visually-hidden\"> smaller text</span></button>",
        "<span class=\"text-size-value\" aria-live=\"polite\">100%</span>",
        "<button type=\"button\" class=\"button button-secondary\">A+<span class=\"visually-hidden\"> larger text</span></button>",
        "</div>",
        "<div class=\"field reader-search\"><label for=\"doc-search\">Search this document</label>",
        "<input type=\"search\" id=\"doc-search\" autocomplete=\"off\" inputmode=\"search\">",
        "<p class=\"hint\" role=\"status\" aria-live=\"polite\"></p></div>",
        "</div>",
    ));
    let sign_button = p.kind.is_signable().then(|| {
        format!(
            "<p class=\"no-print\"><a href=\"/sign/{}\" class=\"button\">Sign this agreement</a></p>",
            p.id
        )
    });
    html.push_str(sign_button.as_deref().unwrap_or_default());
    if rendered.headings.len() > 1 {
        html.push_str("<nav class=\"contents\" aria-label=\"Contents\"><details><summary>Contents</summary><ol>");
        for h in &rendered.headings {
            let _ = write!(
                html,
                "<li class=\"contents-level-{}\"><a href=\"#{}\">{}</a></li>",
                h.level,
                escape_html(&h.id),
                escape_html(&h.text)
            );
        }
        html.push_str("</ol></details></nav>");
    }
    // Inert HTML from haven_core: raw HTML in the Markdown is shown as text.
    let _ = write!(html, "<div class=\"policy-body\">{}</div>", rendered.html);
    html.push_str(sign_button.as_deref().unwrap_or_default());
    html.push_str("</article>");
    html
}

/// The top of `src/pages/sign.rs`'s form: the title and the name field, so a
/// signer can start typing.
fn sign(p: &haven_core::policy::PolicyVersion) -> String {
    format!(
        concat!(
            "<h1>Sign: {title}</h1>",
            "<p>Read the agreement before you sign. <a href=\"/policies/{id}\">Read the agreement</a> (version {version}).</p>",
            "<form novalidate><div class=\"field\" data-invalid=\"false\">",
            "<label for=\"signer-name\">Your full name</label>",
            "<p class=\"hint\" id=\"signer-name-hint\">As it appears on school records.</p>",
            "<input type=\"text\" id=\"signer-name\" name=\"signer-name\" autocomplete=\"name\" spellcheck=\"false\" ",
            "aria-describedby=\"signer-name-hint\" aria-invalid=\"false\">",
            "</div></form>",
        ),
        title = escape_html(&p.title),
        id = p.id,
        version = p.version,
    )
}

/// What a parent is asked to sign in this trust, by title: the same for
/// every link, valid or not. Laid out as `src/pages/join.rs` lays out an
/// opened invitation (its greeting line is "Opening your invitation…" here),
/// so the page keeps its place when the app takes over.
fn join(latest: &[haven_core::policy::PolicySummary]) -> String {
    let mut html = format!(
        "<h1>Online safety agreements</h1><p>Opening your invitation…</p><p>{}</p><ul class=\"policy-list\">",
        escape_html(INVITATION_ASK)
    );
    for kind in [
        PolicyKind::ParentAua,
        PolicyKind::PupilAua,
        PolicyKind::PhotoConsent,
    ] {
        if let Some(p) = latest.iter().find(|p| p.kind == kind) {
            let _ = write!(html, "<li>{}</li>", escape_html(&p.title));
        }
    }
    html.push_str("</ul>");
    html
}

/// `src/pages/verify.rs` before its answer arrives.
fn verify(code: &str) -> String {
    format!(
        "<h1>Check receipt {}</h1><p>Checking…</p>",
        escape_html(code)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_link_pages_are_prerendered() {
        let id = "0190c5e0-0000-7000-8000-000000000001";
        let uuid = Uuid::parse_str(id).unwrap();
        assert_eq!(
            Page::at(&format!("/policies/{id}")),
            Some(Page::Policy(uuid))
        );
        assert_eq!(Page::at(&format!("/sign/{id}")), Some(Page::Sign(uuid)));
        assert_eq!(Page::at("/join/hl_abc"), Some(Page::Join));
        assert_eq!(
            Page::at("/verify/K7M2QX"),
            Some(Page::Verify("K7M2QX".into()))
        );
        for path in [
            "/",
            "/policies",
            "/policies/",
            "/policies/not-a-uuid",
            "/sign/x",
            "/join/",
            "/verify/<script>",
            "/verify/a/b",
            "/admin",
            "/sync",
        ] {
            assert_eq!(Page::at(path), None, "{path}");
        }
    }

    #[test]
    fn the_webassembly_preload_alone_is_taken_out() {
        let shell = concat!(
            "<head><link rel=\"stylesheet\" href=\"/main.css\"/>",
            "<link rel=\"modulepreload\" href=\"/r.js\">",
            "<link rel=\"preload\" href=\"/r_bg.wasm\" crossorigin=\"anonymous\" as=\"fetch\" type=\"application/wasm\"></head>",
            "<body></body>"
        );
        assert_eq!(
            without_wasm_preload(shell),
            concat!(
                "<head><link rel=\"stylesheet\" href=\"/main.css\"/>",
                "<link rel=\"modulepreload\" href=\"/r.js\"></head>",
                "<body></body>"
            )
        );
    }

    #[test]
    fn a_receipt_code_is_escaped() {
        assert!(!verify("<b>").contains("<b>"));
    }
}
