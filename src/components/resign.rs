//! Why someone is asked to sign an agreement again, said plainly: "This
//! agreement changed on 7 March 2027. You signed version 1; please read and
//! sign version 2." Then what changed: the publisher's summary of each newer
//! version, and (unless compact) the differences between the two texts,
//! worked out on this device by `haven_core::policy_diff` from the versions
//! it holds. Shown on the parents' invitation page, the staff "to sign" list
//! (compact) and the kiosk for a returning visitor.

use haven_core::compliance::{self, SignStatus, Signed};
use haven_core::policy::PolicyVersion;
use haven_core::policy_diff::{diff_versions, summaries_since, Hunk, Piece};
use leptos::prelude::*;

/// What the notice says, from the device's copies of the policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Resign {
    /// The version the person agreed to last.
    pub signed: u32,
    /// The version to sign now.
    pub current: PolicyVersion,
    /// The version they signed, when this device still holds its text.
    pub previous: Option<PolicyVersion>,
    /// Each version after theirs up to the current one that this device
    /// holds, with its summary of changes (none for versions published
    /// before summaries were asked for).
    pub summaries: Vec<(u32, Option<String>)>,
}

impl Resign {
    /// The notice for someone who signed version `signed` and is asked to
    /// sign `current`; `known` is every version of the policy the device
    /// holds (with or without `current`).
    pub fn new(signed: u32, current: PolicyVersion, known: &[PolicyVersion]) -> Resign {
        let mut with_current = known.to_vec();
        with_current.push(current.clone());
        let summaries = summaries_since(&with_current, current.policy_id, signed, current.version)
            .into_iter()
            .map(|(n, s)| (n, s.map(str::to_owned)))
            .collect();
        let previous = known
            .iter()
            .find(|v| v.policy_id == current.policy_id && v.version == signed)
            .cloned();
        Resign {
            signed,
            current,
            previous,
            summaries,
        }
    }

    /// The notice for someone whose `records` (their own, for this
    /// policy or others) show they agreed only to an earlier version of
    /// `current`; `None` when they signed or declined the current one, or
    /// never signed.
    pub fn from_records(
        current: &PolicyVersion,
        records: &[Signed],
        known: &[PolicyVersion],
    ) -> Option<Resign> {
        match compliance::status(current, records) {
            (SignStatus::SignedOlder, Some(older)) => {
                Some(Resign::new(older.version, current.clone(), known))
            }
            _ => None,
        }
    }
}

/// The sentence that opens the notice.
fn lede(resign: &Resign) -> String {
    format!(
        "This agreement changed on {}. You signed version {}; please read and sign version {}.",
        crate::clock::long_date(resign.current.published_at),
        resign.signed,
        resign.current.version
    )
}

/// The notice. `compact` leaves out the differences between the texts (the
/// staff "to sign" list, where each line links to the agreement).
#[component]
pub fn ResignNotice(resign: Resign, #[prop(optional)] compact: bool) -> impl IntoView {
    let lede = lede(&resign);
    let given: Vec<(u32, String)> = resign
        .summaries
        .iter()
        .filter_map(|(n, s)| s.clone().map(|s| (*n, s)))
        .collect();
    let summaries = match given.as_slice() {
        [] => view! {
            <p class="meta" data-testid="no-change-summary">"The school did not say what changed."</p>
        }
        .into_any(),
        [(_, only)] if resign.summaries.len() == 1 => view! {
            <p class="resign-label">"What changed, in the school's words:"</p>
            <p class="change-summary" data-testid="change-summary">{only.clone()}</p>
        }
        .into_any(),
        several => view! {
            <p class="resign-label">"What changed, in the school's words:"</p>
            <ul class="change-summaries" data-testid="change-summary">
                {several.iter().map(|(n, s)| view! {
                    <li><strong>{format!("Version {n}: ")}</strong><span class="change-summary">{s.clone()}</span></li>
                }).collect_view()}
            </ul>
        }
        .into_any(),
    };
    let differences = (!compact).then(|| differences(&resign));
    view! {
        <div class="resign" data-testid="resign-notice">
            <p class="resign-lede"><strong>{lede}</strong></p>
            {summaries}
            {differences}
        </div>
    }
}

/// The differences between the version signed and the current one, folded
/// away behind their counts; or why they cannot be shown.
fn differences(resign: &Resign) -> AnyView {
    let Some(previous) = &resign.previous else {
        return view! {
            <p class="meta" data-testid="diff-unavailable">{format!(
                "This device does not hold the text of version {}, so it cannot show the changes \
                 word by word. Read version {} in full before you sign.",
                resign.signed, resign.current.version
            )}</p>
        }
        .into_any();
    };
    let diff = diff_versions(previous, &resign.current);
    if diff.is_empty() {
        return view! {
            <p class="meta" data-testid="diff-empty">"The wording is the same as the version you signed; only its layout or details changed."</p>
        }
        .into_any();
    }
    let counts = diff.counts();
    view! {
        <details class="policy-diff" data-testid="policy-diff">
            <summary>{format!("Show the changes to the text ({counts})")}</summary>
            <p class="hint">"Removed words are struck through, added words are underlined. \
                Each change shows the section it is in."</p>
            {diff.hunks.into_iter().map(hunk).collect_view()}
        </details>
    }
    .into_any()
}

fn hunk(h: Hunk) -> impl IntoView {
    let mut runs: Vec<AnyView> = Vec::new();
    let mut pieces = h.pieces.into_iter().peekable();
    while let Some(p) = pieces.next() {
        // "~~login.~~ login or device.": a space between what was removed
        // and what replaced it, for the eye only.
        let gap = matches!(
            (&p, pieces.peek()),
            (Piece::Removed(_), Some(Piece::Added(_)))
        );
        runs.push(piece(p));
        if gap {
            runs.push(" ".into_any());
        }
    }
    view! {
        <div class="diff-hunk" data-testid="diff-hunk">
            {h.section.map(|s| view! { <p class="diff-section">{format!("In “{s}”")}</p> })}
            <p class="diff-text">{runs}</p>
        </div>
    }
}

/// One run of text: `ins` and `del` say what they are in words too, for
/// screen readers (which do not announce them) and for anyone who cannot
/// tell the colours apart. Spaces at either end are left outside them, so
/// no blank is underlined or struck through.
fn piece(p: Piece) -> AnyView {
    let (text, added) = match p {
        Piece::Same(text) => return text.into_any(),
        Piece::Added(text) => (text, true),
        Piece::Removed(text) => (text, false),
    };
    let core = text.trim();
    let start = text.len() - text.trim_start().len();
    let before = text[..start].to_owned();
    let after = text[start + core.len()..].to_owned();
    let core = core.to_owned();
    let marked = if added {
        view! {
            <ins><span class="visually-hidden">"[added: "</span>{core}<span class="visually-hidden">"]"</span></ins>
        }
        .into_any()
    } else {
        view! {
            <del><span class="visually-hidden">"[removed: "</span>{core}<span class="visually-hidden">"]"</span></del>
        }
        .into_any()
    };
    view! { {before}{marked}{after} }.into_any()
}
