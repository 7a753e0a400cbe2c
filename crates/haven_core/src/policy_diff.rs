//! What changed between two versions of a policy, for someone asked to sign
//! it again: the places where the texts differ, each with the words removed
//! and added, and the section it is in.
//!
//! The device computes it from the two versions it holds (published versions
//! never change, so nothing is sent for it). The texts compared are the
//! canonical texts a signature binds to ([`canonical_text`]): title and
//! Markdown, as the publisher wrote them.
//!
//! The diffing is the `similar` crate's algorithms (see `Cargo.toml` for why
//! that crate): lines first, with patience, which lines up a document's
//! unchanged paragraphs well; then, for each run of replaced lines, words
//! with Myers (bounded work on hard inputs), so a changed sentence shows the
//! words that changed rather than two whole paragraphs. They are called
//! directly on token slices rather than through `similar::TextDiff`, which
//! picks its algorithm at run time and so brings all six into the reader's
//! bundle. No deadline is set (that would read the clock); instead a run of
//! replaced lines longer than [`MAX_WORD_DIFF_BYTES`] is shown as removed and
//! added whole, which keeps a rewritten 50 KB policy quick to compare on a
//! phone.

use crate::policy::{canonical_text, PolicyVersion};
use similar::algorithms::{myers, patience, Capture, Compact, Replace};
use similar::{group_diff_ops, DiffOp, DiffTag};
use uuid::Uuid;

/// Replaced lines are compared word by word only while each side is at most
/// this many bytes; longer runs are shown removed and added whole.
pub const MAX_WORD_DIFF_BYTES: usize = 20_000;

/// One run of text, as it reads in the newer version or the older one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// In both versions.
    Same(String),
    /// Only in the newer version.
    Added(String),
    /// Only in the older version.
    Removed(String),
}

/// One place where the texts differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// The heading of the section the change is in: the nearest Markdown
    /// heading at or above it in the newer text, without its `#`s.
    pub section: Option<String>,
    /// The changed lines in reading order, line breaks included: what was
    /// removed comes just before what replaced it.
    pub pieces: Vec<Piece>,
}

/// Every difference between two texts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyDiff {
    pub hunks: Vec<Hunk>,
    pub words_added: usize,
    pub words_removed: usize,
}

impl PolicyDiff {
    /// No visible difference (the texts may still differ in blank lines).
    pub fn is_empty(&self) -> bool {
        self.hunks.is_empty()
    }

    /// "12 words added, 3 words removed", for a heading.
    pub fn counts(&self) -> String {
        let words = |n: usize| if n == 1 { "word" } else { "words" };
        format!(
            "{} {} added, {} {} removed",
            self.words_added,
            words(self.words_added),
            self.words_removed,
            words(self.words_removed)
        )
    }
}

/// What changed from `old` to `new` (two versions of one policy), in the
/// text a signature binds to.
pub fn diff_versions(old: &PolicyVersion, new: &PolicyVersion) -> PolicyDiff {
    diff_texts(
        &canonical_text(&old.title, &old.body_markdown),
        &canonical_text(&new.title, &new.body_markdown),
    )
}

/// What changed from `old` to `new`.
pub fn diff_texts(old: &str, new: &str) -> PolicyDiff {
    let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
    let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
    let ops = ops(Algorithm::Patience, &old_lines, &new_lines);
    let mut diff = PolicyDiff::default();
    // No lines of context: a Markdown paragraph is one line, so a changed
    // line already shows its unchanged words, and the section says where.
    for group in group_diff_ops(ops, 0) {
        let mut raw = Vec::new();
        let mut first_new_line = None;
        for op in group {
            let (tag, old_range, new_range) = op.as_tag_tuple();
            first_new_line.get_or_insert(new_range.start);
            let old_text = old_lines[old_range].concat();
            let new_text = new_lines[new_range].concat();
            match tag {
                DiffTag::Equal => raw.push(Piece::Same(new_text)),
                DiffTag::Delete => raw.push(Piece::Removed(old_text)),
                DiffTag::Insert => raw.push(Piece::Added(new_text)),
                DiffTag::Replace
                    if old_text.len() <= MAX_WORD_DIFF_BYTES
                        && new_text.len() <= MAX_WORD_DIFF_BYTES =>
                {
                    raw.extend(word_pieces(&old_text, &new_text));
                }
                DiffTag::Replace => {
                    raw.push(Piece::Removed(old_text));
                    raw.push(Piece::Added(new_text));
                }
            }
        }
        let mut pieces = tidy(raw);
        if !pieces.iter().any(is_visible_change) {
            continue;
        }
        trim_last_line_break(&mut pieces);
        for piece in &pieces {
            match piece {
                Piece::Added(s) => diff.words_added += s.split_whitespace().count(),
                Piece::Removed(s) => diff.words_removed += s.split_whitespace().count(),
                Piece::Same(_) => {}
            }
        }
        diff.hunks.push(Hunk {
            section: section_at(&new_lines, first_new_line.unwrap_or_default()),
            pieces,
        });
    }
    diff
}

/// The summaries of changes a person who signed version `signed` of
/// `policy_id` is shown to sign version `current`: each version after
/// theirs up to `current` that is among `known`, oldest first, with its
/// summary (`None` when its publisher gave none).
pub fn summaries_since(
    known: &[PolicyVersion],
    policy_id: Uuid,
    signed: u32,
    current: u32,
) -> Vec<(u32, Option<&str>)> {
    let mut list: Vec<(u32, Option<&str>)> = known
        .iter()
        .filter(|v| v.policy_id == policy_id && v.version > signed && v.version <= current)
        .map(|v| (v.version, v.change_summary.as_deref()))
        .collect();
    list.sort_by_key(|(n, _)| *n);
    list.dedup_by_key(|(n, _)| *n);
    list
}

/// The two ways texts are compared here.
#[derive(Clone, Copy)]
enum Algorithm {
    Patience,
    Myers,
}

/// The steps from `old` to `new`, a delete and an insert side by side
/// becoming one replace, and runs slid to where they read best (what
/// `similar::TextDiff` does).
fn ops(algorithm: Algorithm, old: &[&str], new: &[&str]) -> Vec<DiffOp> {
    let mut hook = Compact::new(Replace::new(Capture::new()), old, new);
    let (old_range, new_range) = (0..old.len(), 0..new.len());
    let done = match algorithm {
        Algorithm::Patience => patience::diff(&mut hook, old, old_range, new, new_range),
        Algorithm::Myers => myers::diff(&mut hook, old, old_range, new, new_range),
    };
    // Capturing cannot fail: its error type has no values.
    let Ok(()) = done;
    hook.into_inner().into_inner().into_ops()
}

/// Runs of white space and of everything else, in order: what words are
/// told apart by.
fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if in_space.is_some_and(|was| was != space) {
            out.push(&text[start..i]);
            start = i;
        }
        in_space = Some(space);
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The words of one run of replaced lines.
fn word_pieces(old: &str, new: &str) -> Vec<Piece> {
    let (old_words, new_words) = (words(old), words(new));
    let mut pieces = Vec::new();
    for op in ops(Algorithm::Myers, &old_words, &new_words) {
        let (tag, old_range, new_range) = op.as_tag_tuple();
        let removed = old_words[old_range].concat();
        let added = new_words[new_range].concat();
        match tag {
            DiffTag::Equal => pieces.push(Piece::Same(added)),
            DiffTag::Delete => pieces.push(Piece::Removed(removed)),
            DiffTag::Insert => pieces.push(Piece::Added(added)),
            DiffTag::Replace => {
                pieces.push(Piece::Removed(removed));
                pieces.push(Piece::Added(added));
            }
        }
    }
    pieces
}

fn is_blank(s: &str) -> bool {
    s.chars().all(char::is_whitespace)
}

fn is_visible_change(piece: &Piece) -> bool {
    match piece {
        Piece::Added(s) | Piece::Removed(s) => !is_blank(s),
        Piece::Same(_) => false,
    }
}

/// Reads better: within a run of changes, the spaces the two versions
/// happen to share go to both sides, so "~~a b~~ c d" is one removal and
/// one addition rather than "~~a~~ c ~~b~~ d"; then neighbours of one kind
/// are joined, and each run reads removed first, then added.
fn tidy(raw: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        if let Piece::Same(s) = &raw[i] {
            push(&mut out, Piece::Same(s.clone()));
            i += 1;
            continue;
        }
        let (mut removed, mut added) = (String::new(), String::new());
        let (mut any_removed, mut any_added) = (false, false);
        while let Some(piece) = raw.get(i) {
            match piece {
                Piece::Removed(s) => {
                    removed.push_str(s);
                    any_removed = true;
                }
                Piece::Added(s) => {
                    added.push_str(s);
                    any_added = true;
                }
                Piece::Same(s)
                    if is_blank(s)
                        && raw.get(i + 1).is_some_and(|p| !matches!(p, Piece::Same(_))) =>
                {
                    removed.push_str(s);
                    added.push_str(s);
                }
                Piece::Same(_) => break,
            }
            i += 1;
        }
        if any_removed {
            push(&mut out, Piece::Removed(removed));
        }
        if any_added {
            push(&mut out, Piece::Added(added));
        }
    }
    out
}

/// Appends `piece`, joined to the last one when they are of one kind.
fn push(out: &mut Vec<Piece>, piece: Piece) {
    match (out.last_mut(), piece) {
        (Some(Piece::Same(a)), Piece::Same(b))
        | (Some(Piece::Added(a)), Piece::Added(b))
        | (Some(Piece::Removed(a)), Piece::Removed(b)) => a.push_str(&b),
        (_, piece) => out.push(piece),
    }
}

/// Drops the line break that ends a hunk's last line (and a last piece
/// left empty by it).
fn trim_last_line_break(pieces: &mut Vec<Piece>) {
    if let Some(Piece::Same(s) | Piece::Added(s) | Piece::Removed(s)) = pieces.last_mut() {
        let kept = s.trim_end_matches(['\n', '\r']).len();
        s.truncate(kept);
        if s.is_empty() {
            pieces.pop();
        }
    }
}

/// The nearest Markdown heading at or above line `at` of `lines`.
fn section_at(lines: &[&str], at: usize) -> Option<String> {
    let end = (at + 1).min(lines.len());
    lines[..end].iter().rev().find_map(|line| {
        let line = line.trim();
        let text = line.strip_prefix('#')?.trim_start_matches('#');
        (text.starts_with(' ') || text.is_empty())
            .then(|| text.trim().to_owned())
            .filter(|t| !t.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pieces: &[Piece], keep: fn(&Piece) -> Option<&str>) -> String {
        pieces.iter().filter_map(keep).collect()
    }

    fn new_side(p: &Piece) -> Option<&str> {
        match p {
            Piece::Same(s) | Piece::Added(s) => Some(s),
            Piece::Removed(_) => None,
        }
    }

    fn old_side(p: &Piece) -> Option<&str> {
        match p {
            Piece::Same(s) | Piece::Removed(s) => Some(s),
            Piece::Added(_) => None,
        }
    }

    const V1: &str = "Staff AUA\n\n## 1. Passwords\n\nKeep your password to yourself.\n\n\
                      ## 2. Email\n\nUse school email for school work.\n";

    #[test]
    fn a_changed_sentence_shows_the_words_that_changed_in_their_section() {
        let v2 = V1.replace(
            "Keep your password to yourself.",
            "Keep your password secret and lock your screen.",
        );
        let diff = diff_texts(V1, &v2);
        assert_eq!(diff.hunks.len(), 1, "{diff:#?}");
        let hunk = &diff.hunks[0];
        assert_eq!(hunk.section.as_deref(), Some("1. Passwords"));
        assert_eq!(
            hunk.pieces,
            [
                Piece::Same("Keep your password ".into()),
                Piece::Removed("to yourself.".into()),
                Piece::Added("secret and lock your screen.".into()),
            ]
        );
        assert_eq!((diff.words_removed, diff.words_added), (2, 5));
        assert_eq!(diff.counts(), "5 words added, 2 words removed");
    }

    #[test]
    fn an_added_paragraph_and_a_removed_one_are_shown_whole() {
        let v2 = V1
            .replace("Use school email for school work.\n", "")
            .replace(
                "yourself.\n",
                "yourself.\n\nTell IT at once if you think someone knows it.\n",
            );
        let diff = diff_texts(V1, &v2);
        let added: Vec<&Piece> = diff
            .hunks
            .iter()
            .flat_map(|h| &h.pieces)
            .filter(|p| matches!(p, Piece::Added(_)))
            .collect();
        assert!(
            added.iter().any(|p| matches!(p, Piece::Added(s) if s.contains("Tell IT at once if you think someone knows it."))),
            "{diff:#?}"
        );
        assert!(diff.hunks.iter().flat_map(|h| &h.pieces).any(
            |p| matches!(p, Piece::Removed(s) if s.contains("Use school email for school work."))
        ));
        assert_eq!(diff.words_added, 10);
        assert_eq!(diff.words_removed, 6);
        let sections: Vec<_> = diff.hunks.iter().map(|h| h.section.as_deref()).collect();
        assert_eq!(sections, [Some("1. Passwords"), Some("2. Email")]);
    }

    #[test]
    fn each_hunk_reads_as_the_new_text_one_way_and_the_old_text_the_other() {
        let v2 = "Staff AUA\n\n## 1. Passwords\n\nNever share your password or your PIN.\n\n\
                  ## 2. Email and messages\n\nUse school email for school work.\n";
        let diff = diff_texts(V1, v2);
        let new: String = diff
            .hunks
            .iter()
            .map(|h| read(&h.pieces, new_side))
            .collect();
        let old: String = diff
            .hunks
            .iter()
            .map(|h| read(&h.pieces, old_side))
            .collect();
        assert_eq!(
            new,
            "Never share your password or your PIN.## 2. Email and messages"
        );
        assert_eq!(old, "Keep your password to yourself.## 2. Email");
    }

    #[test]
    fn shared_spaces_inside_a_change_do_not_split_it() {
        let diff = diff_texts(
            "Be kind to others online.\n",
            "Be polite with everyone online.\n",
        );
        assert_eq!(
            diff.hunks[0].pieces,
            [
                Piece::Same("Be ".into()),
                Piece::Removed("kind to others".into()),
                Piece::Added("polite with everyone".into()),
                Piece::Same(" online.".into()),
            ]
        );
        // A shared word still splits it: that word did not change.
        let diff = diff_texts("Be kind and careful.\n", "Be polite and safe.\n");
        assert_eq!(
            diff.hunks[0].pieces,
            [
                Piece::Same("Be ".into()),
                Piece::Removed("kind".into()),
                Piece::Added("polite".into()),
                Piece::Same(" and ".into()),
                Piece::Removed("careful.".into()),
                Piece::Added("safe.".into()),
            ]
        );
    }

    #[test]
    fn the_same_text_has_no_differences_and_blank_lines_alone_show_none() {
        assert!(diff_texts(V1, V1).is_empty());
        let spaced = V1.replace("\n\n## 2.", "\n\n\n## 2.");
        let diff = diff_texts(V1, &spaced);
        assert!(diff.is_empty(), "{diff:#?}");
        assert_eq!(diff.counts(), "0 words added, 0 words removed");
    }

    #[test]
    fn a_changed_title_is_a_change_with_no_section() {
        let diff = diff_texts(V1, &V1.replace("Staff AUA", "Staff Agreement"));
        assert_eq!(diff.hunks.len(), 1);
        assert_eq!(diff.hunks[0].section, None);
    }

    #[test]
    fn versions_are_compared_in_the_text_their_signatures_bind_to() {
        let mut v1 = PolicyVersion {
            id: Uuid::from_u128(1),
            policy_id: Uuid::from_u128(9),
            version: 1,
            title: "Visitor AUA".into(),
            kind: crate::policy::PolicyKind::VisitorAua,
            audiences: vec![],
            owner: crate::policy::PolicyOwner::Trust,
            body_markdown: "Use the guest Wi-Fi.\r\n".into(),
            approved_by: String::new(),
            effective_date: String::new(),
            last_reviewed: String::new(),
            next_review_due: String::new(),
            published_at: 0,
            text_sha256: crate::hash::Sha256Hex::default(),
            change_summary: None,
        };
        let mut v2 = v1.clone();
        v2.body_markdown = "Use the guest Wi-Fi only.\n".into();
        let diff = diff_versions(&v1, &v2);
        // "Wi-Fi." became "Wi-Fi only.": words are told apart by spaces.
        assert_eq!((diff.words_removed, diff.words_added), (1, 2));
        v1.body_markdown = "Use the guest Wi-Fi only.  \r\n".into();
        assert!(diff_versions(&v1, &v2).is_empty(), "as canonical text");
    }

    #[test]
    fn a_rewrite_too_long_to_compare_by_word_is_shown_removed_and_added_whole() {
        let old = format!("{}\n", "old words here ".repeat(2000));
        let new = format!("{}\n", "new words there ".repeat(2000));
        assert!(old.len() > MAX_WORD_DIFF_BYTES);
        let diff = diff_texts(&old, &new);
        assert_eq!(diff.hunks.len(), 1);
        assert_eq!(diff.hunks[0].pieces.len(), 2);
        assert_eq!((diff.words_removed, diff.words_added), (6000, 6000));
    }

    #[test]
    fn a_long_policy_rewritten_throughout_is_removed_and_added_whole() {
        let old: String = (0..1000)
            .map(|i| format!("Rule {i}: keep to the old way of working online.\n"))
            .collect();
        let new: String = (0..1000)
            .map(|i| format!("Clause {}: follow the new guidance.\n", i * 7))
            .collect();
        assert!(old.len() > 40_000);
        let diff = diff_texts(&old, &new);
        assert_eq!(diff.words_removed, 10_000);
        assert_eq!(diff.words_added, 6_000);
    }

    #[test]
    fn a_long_policy_with_scattered_edits_is_compared_quickly_and_exactly() {
        let old: String = (0..1500)
            .map(|i| format!("## Section {i}\n\nParagraph {i} says what to do online.\n\n"))
            .collect();
        let new = old
            .replace("Paragraph 10 says", "Paragraph 10 now says")
            .replace(
                "Paragraph 900 says what to do online.",
                "Paragraph 900 is gone.",
            );
        let diff = diff_texts(&old, &new);
        let sections: Vec<_> = diff
            .hunks
            .iter()
            .map(|h| h.section.clone().unwrap())
            .collect();
        assert_eq!(sections, ["Section 10", "Section 900"]);
        assert_eq!(diff.words_added, 3);
        assert_eq!(diff.words_removed, 5);
    }

    #[test]
    fn summaries_run_from_the_version_after_the_one_signed_to_the_current_one() {
        let version = |n: u32, summary: Option<&str>| PolicyVersion {
            id: Uuid::from_u128(u128::from(n)),
            policy_id: Uuid::from_u128(9),
            version: n,
            title: "T".into(),
            kind: crate::policy::PolicyKind::StaffAua,
            audiences: vec![],
            owner: crate::policy::PolicyOwner::Trust,
            body_markdown: String::new(),
            approved_by: String::new(),
            effective_date: String::new(),
            last_reviewed: String::new(),
            next_review_due: String::new(),
            published_at: 0,
            text_sha256: crate::hash::Sha256Hex::default(),
            change_summary: summary.map(str::to_owned),
        };
        let mut other = version(3, Some("Another policy"));
        other.policy_id = Uuid::from_u128(10);
        let known = [
            version(4, Some("Four")),
            version(1, None),
            version(2, Some("Two")),
            other,
            version(3, None),
        ];
        assert_eq!(
            summaries_since(&known, Uuid::from_u128(9), 1, 3),
            [(2, Some("Two")), (3, None)]
        );
        assert!(summaries_since(&known, Uuid::from_u128(9), 4, 4).is_empty());
    }
}
