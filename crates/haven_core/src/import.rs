//! Policy documents from files: Markdown passes through, plain text exported
//! from a word processor becomes reasonable Markdown.
//!
//! Word processors' "save as plain text" keeps the words but loses the
//! structure: headings are numbered lines, tables are tab-separated rows,
//! bullets are symbol characters, and the contents page survives as lines with
//! dot leaders and page numbers. [`text_to_markdown`] puts the structure back:
//!
//! - the contents page (a "Contents" line and the entries under it, and any
//!   line with a dot leader and a page number) is dropped; so are page numbers
//!   standing alone (`3`, `Page 3 of 12`) and running headers (a line from the
//!   top of the document repeated three or more times);
//! - numbered headings (`1`, `1.`, `2.3`, `Section 5`, `Appendix A`), short
//!   ALL-CAPS lines and underlined lines become headings, keeping their number;
//!   a title-like first line becomes `#`. The policy's title is shown above its
//!   body as the page's `<h1>`, so sections start at `##` (`1.` → `##`,
//!   `1.1` → `###`, `1.1.1` → `####`), as in the demo policies;
//! - consecutive tab-separated rows become a table (header row, ragged rows
//!   padded, columns empty in every row dropped, `|` escaped);
//! - bullet characters (`•`, `◦`, `▪`, `●`, `-`, `*`, `o`, ``, `–`, `✓`, ...)
//!   and `a)`/`(b)`/`iv.` items become `- ` list items, nested by indentation
//!   or by the bullet (`◦`/`o` second level, `▪` third);
//! - a line that starts lowercase continues the line before it unless that one
//!   ended a sentence, and an indented line continues a list item; every other
//!   line stays its own paragraph, since word processors write one line per
//!   paragraph;
//! - what Markdown would misread at the start of a line (`#`, `>`, `1.`, `1)`,
//!   fences, link definitions, rules) is escaped so it shows as written.
//!
//! The converter never drops words except those of the lines above; a file
//! that already uses `#` headings (two or more) keeps them.
//!
//! Pure: no IO. The shells read the file and pass its bytes to
//! [`import_document`].

use thiserror::Error;

/// How a file was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// `.md` / `.markdown`: passed through, line endings normalised.
    Markdown,
    /// Anything else: converted by [`text_to_markdown`].
    PlainText,
}

/// Why the converter left a line out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// A contents page: its heading, entries, dot leaders and page numbers.
    Contents,
    /// A page number standing alone, or `Page 3 of 12`.
    PageNumber,
    /// A repeat of a line from the top of the document (a page header).
    RunningHeader,
}

/// A line of the source that is not in the Markdown, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedLine {
    /// 1-based line number in the source.
    pub line: usize,
    pub text: String,
    pub reason: DropReason,
}

/// A document read from a file, ready to publish as a policy body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedText {
    pub markdown: String,
    pub format: SourceFormat,
    /// The document's own title (its first `#` heading), a suggestion for the
    /// policy title.
    pub title: Option<String>,
    /// Lines left out of the Markdown, for the person importing to check.
    pub dropped: Vec<DroppedLine>,
}

/// Why a file cannot be imported: what the person must do differently.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ImportError {
    #[error(
        "{file_name} is not UTF-8 text (first bad byte on line {line}): \
         save it as plain text (UTF-8) or Markdown"
    )]
    NotUtf8 { file_name: String, line: usize },
    #[error("{file_name} is UTF-16 text: save it as plain text (UTF-8) or Markdown")]
    Utf16 { file_name: String },
    #[error(
        "{file_name} looks like {looks_like}, not text: \
         save it as plain text (UTF-8) or Markdown"
    )]
    NotText {
        file_name: String,
        looks_like: &'static str,
    },
    #[error("{file_name} has no text to import")]
    Empty { file_name: String },
}

/// Reads a file's bytes as a policy body: Markdown (`.md`, `.markdown`) as it
/// is, anything else through [`text_to_markdown`]. A UTF-8 byte order mark is
/// dropped and line endings become `\n`.
pub fn import_document(file_name: &str, bytes: &[u8]) -> Result<ImportedText, ImportError> {
    let name = || file_name.to_owned();
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(ImportError::Utf16 { file_name: name() });
    }
    let looks_like = if bytes.starts_with(b"%PDF") {
        Some("a PDF")
    } else if bytes.starts_with(b"PK\x03\x04") {
        Some("a Word (.docx) or other zipped document")
    } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        Some("an old Word (.doc) document")
    } else if bytes.starts_with(b"{\\rtf") {
        Some("a rich text (.rtf) document")
    } else {
        None
    };
    if let Some(looks_like) = looks_like {
        return Err(ImportError::NotText {
            file_name: name(),
            looks_like,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| ImportError::NotUtf8 {
        file_name: name(),
        line: bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1,
    })?;
    if text.contains('\0') {
        return Err(ImportError::NotText {
            file_name: name(),
            looks_like: "binary data",
        });
    }
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(ImportError::Empty { file_name: name() });
    }
    let lower = file_name.to_lowercase();
    let imported = if lower.ends_with(".md") || lower.ends_with(".markdown") {
        let markdown = normalise_line_endings(text);
        ImportedText {
            title: markdown.lines().find_map(|l| {
                l.strip_prefix("# ")
                    .map(|t| t.trim().trim_end_matches('#').trim().to_owned())
            }),
            markdown,
            format: SourceFormat::Markdown,
            dropped: Vec::new(),
        }
    } else {
        let converted = convert(text);
        ImportedText {
            markdown: converted.markdown,
            format: SourceFormat::PlainText,
            title: converted.title,
            dropped: converted.dropped,
        }
    };
    if imported.markdown.trim().is_empty() {
        return Err(ImportError::Empty { file_name: name() });
    }
    Ok(imported)
}

/// Plain text (as a word processor exports it) to Markdown; see the module
/// documentation for the rules.
pub fn text_to_markdown(input: &str) -> String {
    convert(input).markdown
}

fn normalise_line_endings(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

struct Converted {
    markdown: String,
    title: Option<String>,
    dropped: Vec<DroppedLine>,
}

fn convert(input: &str) -> Converted {
    let text = input.strip_prefix('\u{FEFF}').unwrap_or(input);
    // Form feeds are page breaks and vertical tabs are Word's manual line
    // breaks: both end a line.
    let text = normalise_line_endings(text).replace(['\u{000C}', '\u{000B}'], "\n");
    let lines: Vec<&str> = text.split('\n').collect();
    let md_headings = lines.iter().filter(|l| atx_heading(l).is_some()).count() >= 2;

    let dropped = find_dropped(&lines);
    let mut kept: Vec<Slot<&str>> = lines.iter().map(|l| Slot::Line(*l)).collect();
    for d in &dropped {
        // Page furniture marks a page break, which a table or sentence may
        // run across; a contents page is just gone.
        kept[d.line - 1] = match d.reason {
            DropReason::Contents => Slot::Blank,
            DropReason::PageNumber | DropReason::RunningHeader => Slot::PageBreak,
        };
    }
    let logical = join_continuations(&kept, md_headings);
    let items = classify(&logical, md_headings);
    let title = items.iter().find_map(|item| match item {
        Item::Heading { level: 1, text } => Some(strip_emphasis(text).to_owned()),
        _ => None,
    });
    Converted {
        markdown: emit(&items),
        title,
        dropped,
    }
}

// ---------------------------------------------------------------------------
// Lines left out: the contents page, page numbers, running headers.

fn find_dropped(lines: &[&str]) -> Vec<DroppedLine> {
    let mut reasons: Vec<Option<DropReason>> = vec![None; lines.len()];
    let is_blank_at = |i: usize| lines.get(i).is_none_or(|l| l.trim().is_empty());

    let mut in_contents = false;
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if is_contents_heading(line) {
            in_contents = true;
            reasons[i] = Some(DropReason::Contents);
            continue;
        }
        if in_contents && (is_contents_entry(line) || is_page_column_header(line)) {
            reasons[i] = Some(DropReason::Contents);
            continue;
        }
        in_contents = false;
        if has_dot_leader(line) {
            reasons[i] = Some(DropReason::Contents);
        } else if let Some(always) = page_number(line) {
            let standalone = (i == 0 || is_blank_at(i - 1)) && is_blank_at(i + 1);
            if always || standalone {
                reasons[i] = Some(DropReason::PageNumber);
            }
        }
    }

    // Running headers: one of the first two lines of the document (its title
    // or the trust's name) that comes back three or more times. The first
    // stays.
    let tops: Vec<String> = lines
        .iter()
        .enumerate()
        .filter(|(i, l)| reasons[*i].is_none() && !l.trim().is_empty())
        .take(2)
        .map(|(_, l)| header_key(l))
        .filter(|k| (3..=80).contains(&k.chars().count()) && k.chars().any(char::is_alphabetic))
        .collect();
    for top in &tops {
        let at: Vec<usize> = (0..lines.len())
            .filter(|&i| reasons[i].is_none() && header_key(lines[i]) == *top)
            .collect();
        if at.len() >= 3 {
            for &i in &at[1..] {
                reasons[i] = Some(DropReason::RunningHeader);
            }
        }
    }

    reasons
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.map(|reason| DroppedLine {
                line: i + 1,
                text: lines[i].to_owned(),
                reason,
            })
        })
        .collect()
}

/// A line reduced to its words for comparing: no `#`, `*`, `_` or case.
fn header_key(line: &str) -> String {
    line.trim()
        .trim_start_matches('#')
        .trim_matches(|c: char| c.is_whitespace() || c == '*' || c == '_')
        .to_lowercase()
}

/// The non-empty cells of a line, split at tabs.
fn cells(line: &str) -> Vec<&str> {
    line.split('\t')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

fn is_page_word(cell: &str) -> bool {
    matches!(
        cell.to_lowercase().trim_end_matches(['.', ':']),
        "page" | "pages" | "page no" | "page number" | "pg" | "p"
    )
}

/// `Contents`, `Table of Contents`, `## Contents`, `CONTENTS\tPage`.
fn is_contents_heading(line: &str) -> bool {
    let cells = cells(line);
    let Some((first, rest)) = cells.split_first() else {
        return false;
    };
    let key = header_key(first);
    let key = key.trim_end_matches(':').trim();
    matches!(
        key,
        "contents" | "table of contents" | "contents page" | "list of contents"
    ) && rest.iter().all(|c| is_page_word(c))
}

/// The column header of a contents table: `\t\tPage`, `Section\tPage`.
fn is_page_column_header(line: &str) -> bool {
    let cells = cells(line);
    !cells.is_empty()
        && cells.iter().any(|c| is_page_word(c))
        && cells.iter().all(|c| {
            is_page_word(c)
                || matches!(
                    c.to_lowercase().trim_end_matches(['.', ':']),
                    "section" | "no" | "number" | "title" | "heading"
                )
        })
}

/// A page number: `12`, or roman `iv`.
fn is_page_token(s: &str) -> bool {
    (!s.is_empty() && s.len() <= 3 && s.chars().all(|c| c.is_ascii_digit()))
        || (!s.is_empty() && s.len() <= 5 && s.chars().all(|c| "ivxlc".contains(c)))
}

/// The last word of a line and what comes before it (with the gap).
fn last_word(line: &str) -> (&str, &str) {
    let t = line.trim_end();
    match t.char_indices().rev().find(|(_, c)| c.is_whitespace()) {
        Some((i, c)) => (&t[..i + c.len_utf8()], &t[i + c.len_utf8()..]),
        None => ("", t),
    }
}

/// A contents entry: text, then a tab or a wide gap, then a page number
/// (`Roles and Responsibilities\t4`, `1\tRationale\t3`), or a dot leader.
fn is_contents_entry(line: &str) -> bool {
    if has_dot_leader(line) {
        return true;
    }
    let (before, page) = last_word(line);
    let text = before.trim_end();
    let gap = &before[text.len()..];
    (gap.contains('\t') || gap.chars().count() >= 2)
        && is_page_token(page)
        && text.chars().any(char::is_alphabetic)
}

/// Text, then a leader of dots (`.....`, `. . . .`, `……`) and a page number;
/// or text and a long leader with no number.
fn has_dot_leader(line: &str) -> bool {
    let t = line.trim_end();
    let page_at = t
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric())
        .last()
        .map(|(i, _)| i);
    let (mut rest, had_page) = match page_at {
        Some(i) if is_page_token(&t[i..]) => (&t[..i], true),
        _ => (t, false),
    };
    let mut dots = 0;
    while let Some(c) = rest.chars().next_back() {
        match c {
            '.' | '·' => dots += 1,
            '…' => dots += 3,
            ' ' | '\t' => {}
            _ => break,
        }
        rest = &rest[..rest.len() - c.len_utf8()];
    }
    rest.chars().any(char::is_alphanumeric) && ((had_page && dots >= 4) || dots >= 5)
}

/// A page number line: `Some(true)` for ones that are always page furniture
/// (`Page 3`, `Page 3 of 12`, `- 3 -`), `Some(false)` for a bare number, which
/// is dropped only when it stands alone between blank lines.
fn page_number(line: &str) -> Option<bool> {
    let t = line
        .trim()
        .trim_matches(|c: char| c.is_whitespace() || matches!(c, '-' | '–' | '—' | '|'))
        .to_lowercase();
    let dashed = line.trim().starts_with(['-', '–', '—']) && line.trim().ends_with(['-', '–', '—']);
    let words: Vec<&str> = t
        .split(|c: char| c.is_whitespace() || c == '|' || c == '/')
        .filter(|w| !w.is_empty())
        .collect();
    let is_num = |w: &str| !w.is_empty() && w.len() <= 4 && w.chars().all(|c| c.is_ascii_digit());
    match words.as_slice() {
        [n] if is_num(n) && dashed => Some(true),
        [n] if is_num(n) && line.trim() == *n => Some(false),
        ["page", n] | [n, "page"] if is_num(n) => Some(true),
        ["page", n, "of", m] if is_num(n) && is_num(m) => Some(true),
        ["page", n, m] if is_num(n) && is_num(m) => Some(true),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Continuation lines joined into the line they continue.

/// A line of the document, or the gap where one was.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot<T> {
    Line(T),
    Blank,
    /// A dropped page number or running header.
    PageBreak,
}

/// A line as the converter sees it after joining.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Logical {
    text: String,
    /// Leading whitespace of the first line, in columns (a tab is 4).
    indent: usize,
}

fn indent_of(line: &str) -> usize {
    line.chars()
        .take_while(|c| c.is_whitespace())
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum()
}

/// What kind of line this is, before headings are decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Row,
    Pipe,
    Bullet,
    Lettered,
    Numbered,
    Heading,
    Rule,
    Text,
}

fn shape(line: &str, md_headings: bool) -> Shape {
    if md_headings && atx_heading(line).is_some() {
        Shape::Heading
    } else if is_table_row(line) {
        Shape::Row
    } else if line.trim_start().starts_with('|') {
        Shape::Pipe
    } else if rule_line(line).is_some() {
        Shape::Rule
    } else if bullet(line).is_some() {
        Shape::Bullet
    } else if lettered(line).is_some() {
        Shape::Lettered
    } else if numbered(line).is_some() || named_section(line.trim()) {
        Shape::Numbered
    } else {
        Shape::Text
    }
}

/// Whether the text ends a sentence (or introduces what follows).
fn ends_sentence(text: &str) -> bool {
    let t = text
        .trim_end()
        .trim_end_matches(['"', '\'', '”', '’', ')', ']', '*', '_']);
    t.ends_with(['.', '!', '?', ':', ';'])
}

fn join_continuations(lines: &[Slot<&str>], md_headings: bool) -> Vec<Slot<Logical>> {
    let mut out: Vec<Slot<Logical>> = Vec::with_capacity(lines.len());
    // The shape of the line the last logical line started with.
    let mut last_shape = Shape::Text;
    for slot in lines {
        let line = match slot {
            Slot::Line(l) if !l.trim().is_empty() => *l,
            Slot::PageBreak => {
                out.push(Slot::PageBreak);
                continue;
            }
            _ => {
                out.push(Slot::Blank);
                continue;
            }
        };
        let this_shape = shape(line, md_headings);
        let last_line = out.iter().rposition(|s| matches!(s, Slot::Line(_)));
        if let Some(j) = last_line {
            let Slot::Line(prev) = &out[j] else {
                unreachable!("rposition found a line")
            };
            let adjacent = j + 1 == out.len();
            // Only blank lines and page furniture between: a page break.
            let over_page_break = out[j + 1..].contains(&Slot::PageBreak);
            let prev_can_continue = matches!(
                last_shape,
                Shape::Bullet | Shape::Lettered | Shape::Numbered | Shape::Text
            );
            let next = line.trim();
            let lowercase_start = next.chars().next().is_some_and(char::is_lowercase);
            let wraps = lowercase_start && !ends_sentence(&prev.text);
            let item_continues = matches!(last_shape, Shape::Bullet | Shape::Lettered)
                && indent_of(line) > prev.indent;
            // `**Informative\nTable of the\nActions**`: bold over several lines.
            let bold_open = prev.text.matches("**").count() % 2 == 1;
            let joins = if adjacent {
                wraps || item_continues || bold_open
            } else {
                over_page_break && wraps
            };
            if prev_can_continue && this_shape == Shape::Text && joins {
                out.truncate(j + 1);
                let Some(Slot::Line(prev)) = out.last_mut() else {
                    unreachable!("truncated to the line")
                };
                let hyphenated = prev.text.ends_with('-')
                    && prev.text[..prev.text.len() - 1]
                        .chars()
                        .next_back()
                        .is_some_and(char::is_alphabetic);
                if !hyphenated {
                    prev.text.push(' ');
                }
                prev.text.push_str(next);
                continue;
            }
        }
        last_shape = this_shape;
        out.push(Slot::Line(Logical {
            text: trim_end_keep_tabs(line).to_owned(),
            indent: indent_of(line),
        }));
    }
    out
}

// ---------------------------------------------------------------------------
// Line shapes.

/// `## Heading` (Markdown the file already has): its level and text.
fn atx_heading(line: &str) -> Option<(usize, &str)> {
    let t = line.trim_start_matches(' ');
    if line.len() - t.len() > 3 {
        return None;
    }
    let level = t.chars().take_while(|&c| c == '#').count();
    let rest = &t[level..];
    ((1..=6).contains(&level) && rest.starts_with([' ', '\t']) && !rest.trim().is_empty())
        .then(|| (level, rest.trim()))
}

/// Splits a list marker from the tab after it (`•\tText`, `1.\tText`),
/// which word processors write: the marker and the rest; `None` if the line
/// has no marker-tab.
fn after_marker_tab(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start();
    let tab = t.find('\t')?;
    let marker = t[..tab].trim_end();
    let is_marker = (bullet_char(marker).is_some() && marker.chars().count() == 1)
        || (marker.ends_with(['.', ')'])
            && marker.len() <= 8
            && marker[..marker.len() - 1]
                .trim_start_matches('(')
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.'));
    is_marker.then(|| (marker, &t[tab + 1..]))
}

/// Trailing spaces go, trailing tabs stay: they are a table's empty cells.
fn trim_end_keep_tabs(line: &str) -> &str {
    line.trim_end_matches(|c: char| c.is_whitespace() && c != '\t')
}

/// A row of a tab-separated table: a line with a tab that is not only the
/// tab after a list marker.
fn is_table_row(line: &str) -> bool {
    let line = trim_end_keep_tabs(line);
    if !line.contains('\t') || line.trim().is_empty() {
        return false;
    }
    match after_marker_tab(line) {
        Some((_, rest)) => rest.contains('\t'),
        None => true,
    }
}

/// Bullet characters, with the list level they usually stand for.
fn bullet_char(s: &str) -> Option<usize> {
    let mut chars = s.chars();
    let c = chars.next()?;
    let level = match c {
        '•' | '●' | '·' | '∙' | '‣' | '⁃' | '►' | '▶' | '➢' | '➤' | '✓' | '✔' | '❖' | '◆' | '♦' => {
            0
        }
        '◦' | '○' | 'o' => 1,
        '▪' | '■' | '□' | '▫' | '◇' => 2,
        '-' | '*' | '+' | '–' | '—' => 0,
        // Symbol and Wingdings bullets land in the Private Use Area.
        '\u{F020}'..='\u{F0FF}' => 0,
        _ => return None,
    };
    Some(level)
}

/// A bulleted line: indentation (columns), the level its bullet suggests,
/// and the text.
fn bullet(line: &str) -> Option<(usize, usize, &str)> {
    let t = line.trim_start();
    let c = t.chars().next()?;
    let hint = bullet_char(&t[..c.len_utf8()])?;
    let rest = &t[c.len_utf8()..];
    // Letters and dashes are bullets only when a space follows; symbols may
    // touch the text.
    let needs_space = c.is_ascii() || matches!(c, '–' | '—');
    if needs_space && !rest.starts_with([' ', '\t']) {
        return None;
    }
    let text = rest.trim();
    if text.is_empty() {
        return None;
    }
    Some((indent_of(line), hint, text))
}

const ROMAN: [&str; 12] = [
    "i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii",
];

/// `a)`, `(b)`, `c.`, `iv.`, `(ii)`, `A)`: indentation, the label, the text.
fn lettered(line: &str) -> Option<(usize, &str, &str)> {
    let t = line.trim_start();
    let end = t.find([' ', '\t'])?;
    let label = &t[..end];
    let text = t[end..].trim();
    if text.is_empty() {
        return None;
    }
    let (open, inner, close) = if let Some(inner) = label.strip_prefix('(') {
        (true, inner.strip_suffix(')')?, ')')
    } else if let Some(inner) = label.strip_suffix(')') {
        (false, inner, ')')
    } else {
        (false, label.strip_suffix('.')?, '.')
    };
    let is_letter = inner.len() == 1 && inner.chars().all(|c| c.is_ascii_lowercase());
    let is_capital =
        inner.len() == 1 && inner.chars().all(|c| c.is_ascii_uppercase()) && (close == ')' || open);
    let is_roman = ROMAN.contains(&inner);
    (is_letter || is_capital || is_roman).then_some((indent_of(line), label, text))
}

/// A numbered line: `1 Scope`, `1. Scope`, `2.3 Roles`, `3.1.2. Data`,
/// `4) Item`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Numbered<'a> {
    /// How many numbers: `2.3` is 2.
    depth: usize,
    /// The number as written, with its `.` or `)`.
    label: &'a str,
    /// Whether it ends with `)` (a list item, never a heading).
    paren: bool,
    text: &'a str,
}

fn numbered(line: &str) -> Option<Numbered<'_>> {
    let t = line.trim_start();
    let end = t.find(|c: char| c.is_whitespace())?;
    let label = &t[..end];
    let text = t[end..].trim();
    if text.is_empty() {
        return None;
    }
    let (number, paren) = match label.strip_suffix(')') {
        Some(n) => (n, true),
        None => (label.strip_suffix('.').unwrap_or(label), false),
    };
    let groups: Vec<&str> = number.split('.').collect();
    let ok = groups
        .iter()
        .all(|g| (1..=3).contains(&g.len()) && g.chars().all(|c| c.is_ascii_digit()));
    (ok && groups.len() <= 6).then_some(Numbered {
        depth: groups.len(),
        label,
        paren,
        text,
    })
}

/// `Section 5`, `Part 2: Roles`, `Appendix A – Flowchart`, `Annex B`.
fn named_section(text: &str) -> bool {
    let mut words = text.split_whitespace();
    let (Some(name), Some(id)) = (words.next(), words.next()) else {
        return false;
    };
    let named = matches!(
        name.to_lowercase().as_str(),
        "section" | "part" | "appendix" | "annex" | "annexe" | "schedule" | "chapter"
    ) && name.starts_with(|c: char| c.is_uppercase());
    let id = id.trim_end_matches([':', '.', ')']);
    let is_id = (!id.is_empty() && id.len() <= 3 && id.chars().all(|c| c.is_ascii_digit()))
        || (id.len() == 1 && id.chars().all(|c| c.is_ascii_uppercase()))
        || (!id.is_empty() && id.chars().all(|c| "IVX".contains(c)));
    named && is_id && heading_like(text)
}

/// A rule line: `-----` (`Some('-')`), `=====`, `_____`, `*****`.
fn rule_line(line: &str) -> Option<char> {
    let t: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    let c = t.chars().next()?;
    (t.len() >= 3 && matches!(c, '-' | '=' | '_' | '*') && t.chars().all(|x| x == c)).then_some(c)
}

/// Short, starts with a capital or digit, and does not end a sentence.
fn heading_like(text: &str) -> bool {
    let t = strip_emphasis(text);
    let first = t
        .chars()
        .find(|c| !matches!(c, '"' | '\'' | '“' | '‘' | '('));
    t.chars().count() <= 100
        && t.split_whitespace().count() <= 14
        && first.is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
        && !t
            .trim_end_matches(['"', '\'', '”', '’', ')'])
            .ends_with(['.', ',', ';', ':'])
}

/// A short line in capitals: `POLICY REVIEW AND RATIFICATION`.
fn all_caps(text: &str) -> bool {
    let t = strip_emphasis(text);
    let letters = t.chars().filter(|c| c.is_alphabetic()).count();
    letters >= 4
        && !t.chars().any(char::is_lowercase)
        && t.split_whitespace().count() <= 10
        && t.chars().count() <= 80
        && !t.ends_with(['.', ',', ';'])
}

/// Text without `**`/`*`/`_` around it, and without an unmatched trailing
/// `**` (a bold run that began on another line).
fn strip_emphasis(text: &str) -> &str {
    let t = text.trim();
    let stripped = t.trim_matches(|c| c == '*' || c == '_').trim();
    if stripped.contains("**") || stripped.contains('*') {
        // Emphasis inside the text: keep the text as written, only drop an
        // unmatched `**` at the end.
        if t.matches("**").count() % 2 == 1 {
            return t.strip_suffix("**").unwrap_or(t).trim_end();
        }
        return t;
    }
    stripped
}

// ---------------------------------------------------------------------------
// Lines to items.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Blank,
    PageBreak,
    Heading {
        level: usize,
        text: String,
    },
    Row(Vec<String>),
    /// A line of a Markdown pipe table the file already has.
    Pipe(String),
    Bullet {
        indent: usize,
        hint: usize,
        text: String,
    },
    Rule,
    Text(String),
}

impl Item {
    /// Blank lines and page breaks: what separates blocks.
    fn is_gap(&self) -> bool {
        matches!(self, Item::Blank | Item::PageBreak)
    }
}

fn classify(lines: &[Slot<Logical>], md_headings: bool) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::with_capacity(lines.len());
    for slot in lines {
        let line = match slot {
            Slot::Line(line) => line,
            Slot::Blank => {
                items.push(Item::Blank);
                continue;
            }
            Slot::PageBreak => {
                items.push(Item::PageBreak);
                continue;
            }
        };
        let raw = line.text.as_str();
        let t = raw.trim();
        let item = if let Some((level, text)) = atx_heading(raw).filter(|_| md_headings) {
            Item::Heading {
                level,
                text: text.to_owned(),
            }
        } else if is_table_row(raw) {
            Item::Row(raw.split('\t').map(|c| c.trim().to_owned()).collect())
        } else if t.starts_with('|') {
            Item::Pipe(t.to_owned())
        } else if let Some(c) = rule_line(t) {
            match (c, items.last_mut()) {
                // Text underlined with `===` or `---` is a heading.
                ('=' | '-', Some(Item::Text(prev))) if heading_like(prev) || all_caps(prev) => {
                    let text = std::mem::take(prev);
                    items.pop();
                    Item::Heading {
                        level: if c == '=' { 2 } else { 3 },
                        text,
                    }
                }
                // `___` is a line to write on; `===` is nothing Markdown knows.
                ('=' | '_', _) => Item::Text(t.to_owned()),
                _ => Item::Rule,
            }
        } else if let Some((indent, hint, text)) = bullet(raw) {
            match numbered(text) {
                // `- 2.3 Staff` is a numbered heading a converter bulleted.
                Some(n) if n.depth >= 2 && !n.paren && heading_like(n.text) => Item::Heading {
                    level: numbered_level(n.depth),
                    text: format!("{} {}", n.label, strip_emphasis(n.text)),
                },
                _ => Item::Bullet {
                    indent: line.indent.max(indent),
                    hint,
                    text: text.to_owned(),
                },
            }
        } else if let Some((label, rest)) = after_marker_tab(raw) {
            // `1.\tIntroduction`: the tab is the word processor's, not a cell.
            Item::Text(format!("{label} {}", rest.trim()).trim_end().to_owned())
        } else {
            Item::Text(t.to_owned())
        };
        items.push(item);
    }
    decide_headings(&mut items);
    decide_lettered(&mut items);
    items
}

fn numbered_level(depth: usize) -> usize {
    (depth + 1).min(6)
}

fn neighbours(items: &[Item], i: usize) -> (Option<&Item>, Option<&Item>) {
    let prev = items[..i].iter().rev().find(|x| !x.is_gap());
    let next = items[i + 1..].iter().find(|x| !x.is_gap());
    (prev, next)
}

/// Numbered, named-section and capitals lines become headings; the first
/// line becomes the title if it looks like one.
fn decide_headings(items: &mut [Item]) {
    let depth_of = |item: Option<&Item>| match item {
        Some(Item::Text(t)) => numbered(t).map(|n| n.depth),
        _ => None,
    };
    let mut headings: Vec<(usize, Item)> = Vec::new();
    for i in 0..items.len() {
        let Item::Text(text) = &items[i] else {
            continue;
        };
        if let Some(n) = numbered(text) {
            // A run of same-depth numbered lines is a list, not headings.
            let (prev, next) = neighbours(items, i);
            let in_run = depth_of(prev) == Some(n.depth) || depth_of(next) == Some(n.depth);
            let first_number_ok = n
                .label
                .split('.')
                .next()
                .and_then(|g| g.trim_end_matches(')').parse::<u32>().ok())
                .is_some_and(|g| g <= 99);
            if !n.paren && !in_run && first_number_ok && heading_like(n.text) {
                headings.push((
                    i,
                    Item::Heading {
                        level: numbered_level(n.depth),
                        text: format!("{} {}", n.label, strip_emphasis(n.text)),
                    },
                ));
            }
        } else if named_section(text) || all_caps(text) {
            headings.push((
                i,
                Item::Heading {
                    level: 2,
                    text: strip_emphasis(text).to_owned(),
                },
            ));
        }
    }
    for (i, heading) in headings {
        items[i] = heading;
    }
    // The title: a first line that looks like one.
    if let Some(first) = items.iter_mut().find(|x| !x.is_gap()) {
        match first {
            Item::Text(text) if heading_like(text) => {
                *first = Item::Heading {
                    level: 1,
                    text: strip_emphasis(text).to_owned(),
                };
            }
            Item::Heading { level: 2, text } if all_caps(text) && numbered(text).is_none() => {
                *first = Item::Heading {
                    level: 1,
                    text: std::mem::take(text),
                };
            }
            _ => {}
        }
    }
}

/// `a)`, `(ii)` lines become list items when they sit next to another item.
fn decide_lettered(items: &mut [Item]) {
    let is_item = |item: Option<&Item>| match item {
        Some(Item::Text(t)) => lettered(t).is_some(),
        Some(Item::Bullet { .. }) => true,
        _ => false,
    };
    let mut found: Vec<usize> = Vec::new();
    for i in 0..items.len() {
        if let Item::Text(t) = &items[i] {
            let (prev, next) = neighbours(items, i);
            if lettered(t).is_some() && (is_item(prev) || is_item(next)) {
                found.push(i);
            }
        }
    }
    for i in found {
        if let Item::Text(t) = &items[i] {
            if let Some((indent, label, text)) = lettered(t) {
                items[i] = Item::Bullet {
                    indent,
                    hint: 0,
                    text: format!("{label} {text}"),
                };
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Items to Markdown.

fn emit(items: &[Item]) -> String {
    let mut blocks: Vec<String> = Vec::new();
    let mut i = 0;
    while i < items.len() {
        match &items[i] {
            Item::Blank | Item::PageBreak => i += 1,
            Item::Heading { level, text } => {
                blocks.push(format!("{} {}", "#".repeat(*level), escape_heading(text)));
                i += 1;
            }
            Item::Rule => {
                blocks.push("---".to_owned());
                i += 1;
            }
            Item::Text(text) => {
                blocks.push(escape_line_start(&collapse_tabs(text)));
                i += 1;
            }
            Item::Row(_) => {
                let mut rows: Vec<&Vec<String>> = Vec::new();
                loop {
                    while let Some(Item::Row(row)) = items.get(i) {
                        rows.push(row);
                        i += 1;
                    }
                    // A table carries on over a page break; a header row
                    // the word processor repeated on the new page goes.
                    let gap = items[i..].iter().take_while(|x| x.is_gap()).count();
                    let broken = items[i..i + gap].contains(&Item::PageBreak);
                    match items.get(i + gap) {
                        Some(Item::Row(row)) if broken => {
                            i += gap;
                            if Some(row) == rows.first().copied() {
                                i += 1;
                            }
                        }
                        _ => break,
                    }
                }
                blocks.extend(table(&rows));
            }
            Item::Pipe(_) => {
                let start = i;
                while matches!(items.get(i), Some(Item::Pipe(_))) {
                    i += 1;
                }
                let lines: Vec<&str> = items[start..i]
                    .iter()
                    .filter_map(|x| match x {
                        Item::Pipe(l) => Some(l.as_str()),
                        _ => None,
                    })
                    .collect();
                // A Markdown table stays as it is; stray pipes are text.
                if lines.len() >= 2 && is_delimiter_row(lines[1]) {
                    blocks.push(lines.join("\n"));
                } else {
                    blocks.extend(lines.iter().map(|l| escape_line_start(l)));
                }
            }
            Item::Bullet { .. } => {
                // A list runs over blank lines while items follow.
                let mut group: Vec<(usize, usize, &str)> = Vec::new();
                loop {
                    match items.get(i) {
                        Some(Item::Bullet { indent, hint, text }) => {
                            group.push((*indent, *hint, text));
                            i += 1;
                        }
                        Some(Item::Blank | Item::PageBreak) => {
                            let next = items[i..].iter().find(|x| !x.is_gap());
                            if matches!(next, Some(Item::Bullet { .. })) {
                                i += 1;
                            } else {
                                break;
                            }
                        }
                        _ => break,
                    }
                }
                blocks.push(list(&group));
            }
        }
    }
    let mut out = blocks.join("\n\n");
    out.push('\n');
    if out.trim().is_empty() {
        out.clear();
    }
    out
}

/// `|---|:--:|`: the second line of a Markdown table.
fn is_delimiter_row(line: &str) -> bool {
    let cells: Vec<&str> = line
        .trim()
        .trim_matches('|')
        .split('|')
        .map(str::trim)
        .collect();
    !cells.is_empty()
        && cells.iter().all(|c| {
            let c = c.trim_start_matches(':').trim_end_matches(':');
            !c.is_empty() && c.chars().all(|x| x == '-')
        })
}

fn collapse_tabs(text: &str) -> String {
    if !text.contains('\t') {
        return text.to_owned();
    }
    cells(text).join(" ")
}

/// A Markdown table from tab-separated rows: the first is the header, short
/// rows are padded, columns empty in every row are dropped. Fewer than two
/// rows or columns is not a table: the rows become paragraphs.
fn table(rows: &[&Vec<String>]) -> Vec<String> {
    let width = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let keep: Vec<usize> = (0..width)
        .filter(|&c| rows.iter().any(|r| r.get(c).is_some_and(|x| !x.is_empty())))
        .collect();
    if rows.len() < 2 || keep.len() < 2 {
        return rows
            .iter()
            .map(|r| escape_line_start(&collapse_tabs(&r.join("\t"))))
            .filter(|s| !s.is_empty())
            .collect();
    }
    let line = |r: &Vec<String>| {
        let cells: Vec<String> = keep
            .iter()
            .map(|&c| escape_cell(r.get(c).map_or("", String::as_str)))
            .collect();
        format!("| {} |", cells.join(" | "))
    };
    let mut out = vec![line(rows[0])];
    out.push(format!("|{}", "---|".repeat(keep.len())));
    out.extend(rows[1..].iter().map(|r| line(r)));
    vec![out.join("\n")]
}

fn escape_cell(cell: &str) -> String {
    cell.replace('|', "\\|")
}

/// A nested `- ` list. Levels come from indentation (two columns a level,
/// relative to the least indented item) or, when the items are not indented,
/// from the bullet; a level is at most one deeper than the item before.
fn list(group: &[(usize, usize, &str)]) -> String {
    let min_indent = group.iter().map(|g| g.0).min().unwrap_or(0);
    let flat = group.iter().all(|g| g.0 == min_indent);
    let mut prev_level: Option<usize> = None;
    let mut lines = Vec::with_capacity(group.len());
    for &(indent, hint, text) in group {
        let wanted = if flat {
            hint
        } else {
            (indent - min_indent) / 2
        };
        let level = match prev_level {
            None => 0,
            Some(p) => wanted.min(p + 1),
        };
        prev_level = Some(level);
        lines.push(format!(
            "{}- {}",
            "  ".repeat(level),
            escape_line_start(&collapse_tabs(text))
        ));
    }
    lines.join("\n")
}

/// Escapes what Markdown would read as structure at the start of a line of
/// plain text, so it shows as written.
fn escape_line_start(text: &str) -> String {
    let t = text.trim();
    let Some(first) = t.chars().next() else {
        return String::new();
    };
    // `1.`/`1)` + space: an ordered list that would renumber.
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    if (1..=9).contains(&digits) {
        let after = &t[digits..];
        if after.starts_with(['.', ')'])
            && after[1..].chars().next().is_none_or(char::is_whitespace)
        {
            return format!("{}\\{}", &t[..digits], after);
        }
    }
    let link_definition = first == '['
        && t.find("]:")
            .is_some_and(|end| !t[1..end].contains(']') && end > 1);
    let needs = match first {
        '#' | '>' | '=' => true,
        '-' | '*' | '+' => {
            t[1..].chars().next().is_none_or(char::is_whitespace) || rule_line(t).is_some()
        }
        '_' => rule_line(t).is_some(),
        '`' => t.starts_with("```"),
        '~' => t.starts_with("~~~"),
        '[' => link_definition,
        _ => false,
    };
    if needs {
        format!("\\{t}")
    } else {
        t.to_owned()
    }
}

/// A heading's text, with a trailing ` #` (which Markdown would drop as a
/// closing sequence) escaped.
fn escape_heading(text: &str) -> String {
    let t = text.trim();
    match t.strip_suffix('#') {
        Some(rest) if rest.ends_with([' ', '#']) || rest.is_empty() => format!("{rest}\\#"),
        _ => t.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::markdown_to_safe_html;

    fn md(input: &str) -> String {
        text_to_markdown(input)
    }

    // -- import_document ----------------------------------------------------

    #[test]
    fn markdown_files_pass_through_with_unix_line_endings() {
        let out = import_document("Policy.MD", b"# Title\r\n\r\n1) keep as is\r\n").unwrap();
        assert_eq!(out.format, SourceFormat::Markdown);
        assert_eq!(out.markdown, "# Title\n\n1) keep as is\n");
        assert_eq!(out.title.as_deref(), Some("Title"));
        let out = import_document("p.markdown", b"text\r").unwrap();
        assert_eq!(out.markdown, "text\n");
    }

    #[test]
    fn text_and_unknown_files_are_converted() {
        for name in ["policy.txt", "policy", "policy.text"] {
            let out = import_document(name, b"1. SCOPE\n\nText.").unwrap();
            assert_eq!(out.format, SourceFormat::PlainText);
            assert!(out.markdown.contains("## 1. SCOPE"), "{}", out.markdown);
        }
    }

    #[test]
    fn a_utf8_byte_order_mark_is_dropped() {
        let out = import_document("a.md", "\u{FEFF}# T\n".as_bytes()).unwrap();
        assert_eq!(out.markdown, "# T\n");
        let out = import_document("a.txt", "\u{FEFF}#hashtag".as_bytes()).unwrap();
        assert_eq!(out.markdown, "\\#hashtag\n");
    }

    #[test]
    fn non_utf8_is_refused_naming_the_file_and_line() {
        let err = import_document("old.txt", b"fine\nalso fine\nsmart \x93quote\x94").unwrap_err();
        assert_eq!(
            err,
            ImportError::NotUtf8 {
                file_name: "old.txt".into(),
                line: 3
            }
        );
        let message = err.to_string();
        assert!(
            message.starts_with("old.txt is not UTF-8 text"),
            "{message}"
        );
        assert!(message.contains("line 3"), "{message}");
        assert!(!message.contains('\n'));
    }

    #[test]
    fn utf16_and_documents_that_are_not_text_are_refused_clearly() {
        let err = import_document("u.txt", &[0xFF, 0xFE, b'a', 0]).unwrap_err();
        assert!(matches!(err, ImportError::Utf16 { .. }));
        let err = import_document("p.docx", b"PK\x03\x04rest").unwrap_err();
        assert!(err.to_string().contains("Word (.docx)"), "{err}");
        let err = import_document("p.pdf", b"%PDF-1.7").unwrap_err();
        assert!(err.to_string().contains("a PDF"), "{err}");
        let err = import_document("p.bin", b"a\0b").unwrap_err();
        assert!(err.to_string().contains("binary"), "{err}");
    }

    #[test]
    fn empty_input_is_refused() {
        for bytes in [&b""[..], b"  \n\t\r\n", "\u{FEFF}\n".as_bytes()] {
            let err = import_document("e.txt", bytes).unwrap_err();
            assert_eq!(
                err,
                ImportError::Empty {
                    file_name: "e.txt".into()
                }
            );
        }
        assert!(import_document("e.md", b"\n\n").is_err());
        // Nothing left once the contents page is gone.
        let err = import_document("toc.txt", b"Contents\nScope ........ 3\n").unwrap_err();
        assert!(matches!(err, ImportError::Empty { .. }));
    }

    #[test]
    fn the_import_reports_dropped_lines_and_the_title() {
        let out = import_document(
            "p.txt",
            b"Online Safety Policy\n\nContents\nScope\t3\n\n1. SCOPE\n\nText.\n\n7\n",
        )
        .unwrap();
        assert_eq!(out.title.as_deref(), Some("Online Safety Policy"));
        let reasons: Vec<(usize, DropReason)> =
            out.dropped.iter().map(|d| (d.line, d.reason)).collect();
        assert_eq!(
            reasons,
            [
                (3, DropReason::Contents),
                (4, DropReason::Contents),
                (10, DropReason::PageNumber)
            ]
        );
    }

    // -- contents pages -----------------------------------------------------

    #[test]
    fn contents_lines_with_dot_leaders_are_dropped() {
        let out = md("1. Introduction ........ 3\nRoles . . . . . 4\nScope……5\nAims .......\tii\n\nBody text.");
        assert_eq!(out, "Body text.\n");
    }

    #[test]
    fn a_contents_heading_and_its_tabbed_entries_are_dropped() {
        let out = md("Contents\n\n\t\tPage\n1\tRationale\t3\nRoles and Responsibilities\t4\n\n1. RATIONALE\n\nWhy.");
        assert_eq!(out, "## 1. RATIONALE\n\nWhy.\n");
        let out = md("TABLE OF CONTENTS\nScope   2\n\nText.");
        assert_eq!(out, "Text.\n");
        let out = md("## Contents\n\nScope.....\t3\n\n## Scope\n\nText.\n\n## More\n");
        assert_eq!(out, "## Scope\n\nText.\n\n## More\n");
    }

    #[test]
    fn tables_ending_in_numbers_outside_a_contents_page_are_kept() {
        let out = md("Year\tPupils\nYear 7\t120\nYear 8\t118");
        assert!(out.contains("| Year 7 | 120 |"), "{out}");
    }

    #[test]
    fn an_ellipsis_ending_a_sentence_is_not_a_leader() {
        assert_eq!(md("We will see..."), "We will see...\n");
        assert_eq!(
            md("Intro.\n\nWait for it... 3"),
            "Intro.\n\nWait for it... 3\n"
        );
    }

    // -- page furniture -----------------------------------------------------

    #[test]
    fn lone_page_numbers_and_page_footers_are_dropped() {
        let out = md("First page text.\n\n3\n\nPage 3 of 12\nMore text.\n- 4 -\nPage 5");
        assert_eq!(out, "First page text.\n\nMore text.\n");
    }

    #[test]
    fn a_table_split_by_a_page_break_is_one_table() {
        let input = "Title\n\nWho\tWhen\nPupil\tNow\n\n3\n\nWho\tWhen\nStaff\tToday\n\nEnd.";
        let out = md(input);
        assert!(
            out.contains("| Who | When |\n|---|---|\n| Pupil | Now |\n| Staff | Today |\n\nEnd."),
            "{out}"
        );
        // Without a page break, a blank line still ends a table.
        assert_eq!(md("A\tB\n1\t2\n\nA\tB\n3\t4").matches("|---|").count(), 2);
    }

    #[test]
    fn a_sentence_broken_by_a_page_break_is_joined() {
        let input = "Policy Title\n\nText.\n\nPolicy Title\n\nStaff must report every\n\nPolicy Title\n\nconcern the same day.";
        assert_eq!(
            md(input),
            "# Policy Title\n\nText.\n\nStaff must report every concern the same day.\n"
        );
    }

    #[test]
    fn a_number_inside_text_is_kept() {
        let out = md("Pupils in the class:\n30\nStaff: 2");
        assert!(out.contains("\n30\n"), "{out}");
    }

    #[test]
    fn running_headers_repeating_the_title_are_dropped_after_the_first() {
        let input = "Online Safety Policy\n\nA.\n\nOnline Safety Policy\n\nB.\n\n## Online Safety Policy\n\nC.";
        let out = import_document("p.txt", input.as_bytes()).unwrap();
        assert_eq!(out.markdown, "# Online Safety Policy\n\nA.\n\nB.\n\nC.\n");
        assert_eq!(out.dropped.len(), 2);
        assert!(out
            .dropped
            .iter()
            .all(|d| d.reason == DropReason::RunningHeader));
        // Twice is not a running header.
        assert_eq!(md("Title\n\nA.\n\nTitle\n"), "# Title\n\nA.\n\nTitle\n");
    }

    #[test]
    fn a_repeated_sentence_in_the_body_is_kept() {
        let line = "See the information systems acceptable use policy";
        let input =
            format!("Title\n\n1 Email\n\n{line}\n\n2 Internet\n\n{line}\n\n3 Phones\n\n{line}\n");
        assert_eq!(md(&input).matches(line).count(), 3);
    }

    // -- headings -----------------------------------------------------------

    #[test]
    fn numbered_headings_nest_by_depth_and_keep_their_number() {
        let out = md("Intro text.\n\n1 Scope of the Policy\n\nText.\n\n2.1 Trustees / Councillors\n\nText.\n\n2.3.4. Data Protection\n\nText.\n\n3.\tReporting\n\nText.");
        assert!(out.contains("\n## 1 Scope of the Policy\n"), "{out}");
        assert!(out.contains("\n### 2.1 Trustees / Councillors\n"), "{out}");
        assert!(out.contains("\n#### 2.3.4. Data Protection\n"), "{out}");
        assert!(out.contains("\n## 3. Reporting\n"), "{out}");
    }

    #[test]
    fn numbered_sentences_and_numbered_lists_are_not_headings() {
        let out = md("Intro.\n\n3.1 Every pupil follows the curriculum.\n\n1. Apples\n2. Pears\n\n4 members of staff attend\n\n2015 Report");
        assert!(!out.contains('#'), "{out}");
        assert!(out.contains("1\\. Apples"), "{out}");
        assert!(out.contains("3.1 Every pupil"), "{out}");
    }

    #[test]
    fn named_sections_and_appendices_are_headings() {
        let out = md("Intro.\n\nSection 5 Reporting\n\nText.\n\nAppendix A – Flowchart\n\nPart II\n\nSection 5 of the Act applies.");
        assert!(out.contains("## Section 5 Reporting"), "{out}");
        assert!(out.contains("## Appendix A – Flowchart"), "{out}");
        assert!(out.contains("## Part II"), "{out}");
        assert!(out.contains("\n\nSection 5 of the Act applies.\n"), "{out}");
    }

    #[test]
    fn short_all_caps_lines_are_headings() {
        let out = md("Intro.\n\nPOLICY REVIEW AND RATIFICATION\n\nText.\n\nOK\n\nTHIS IS A VERY LONG SHOUTED LINE THAT GOES ON AND ON FOR FAR TOO MANY WORDS");
        assert!(out.contains("## POLICY REVIEW AND RATIFICATION"), "{out}");
        assert!(out.contains("\n\nOK\n"), "{out}");
        assert!(out.contains("\n\nTHIS IS A VERY LONG"), "{out}");
    }

    #[test]
    fn a_title_like_first_line_is_the_title() {
        assert!(
            md("\n\nBrook Learning Trust\n\nWe believe.").starts_with("# Brook Learning Trust\n")
        );
        assert!(md("This policy applies to everyone.\nNext.").starts_with("This policy"));
        assert!(md("ONLINE SAFETY\n\nText.").starts_with("# ONLINE SAFETY\n"));
    }

    #[test]
    fn underlined_lines_are_headings() {
        let out = md("Intro.\n\nReporting\n=========\nText.\n\nWho to tell\n-----------\nText.");
        assert!(out.contains("## Reporting\n"), "{out}");
        assert!(out.contains("### Who to tell\n"), "{out}");
    }

    #[test]
    fn existing_markdown_headings_are_kept_when_the_file_uses_them() {
        let out = md("# Trust\n\n## Scope\n\nText\n\n### Staff\n");
        assert_eq!(out, "# Trust\n\n## Scope\n\nText\n\n### Staff\n");
    }

    #[test]
    fn a_bulleted_numbered_heading_is_a_heading() {
        let out = md(
            "Intro.\n\n- 2.3 Academy Staff tasked with monitoring**\n- Will take responsibility",
        );
        assert!(
            out.contains("### 2.3 Academy Staff tasked with monitoring\n"),
            "{out}"
        );
        assert!(out.contains("- Will take responsibility"), "{out}");
    }

    // -- tables -------------------------------------------------------------

    #[test]
    fn tab_separated_rows_become_a_table_with_a_header() {
        let out = md("Intro.\n\nWhen\tWhat\tWho\nImmediately\tIllegal content\tPolice\nSame day\tMisuse\tHead of year\n\nAfter.");
        assert!(
            out.contains("| When | What | Who |\n|---|---|---|\n| Immediately | Illegal content | Police |\n| Same day | Misuse | Head of year |"),
            "{out}"
        );
        assert!(markdown_to_safe_html(&out).contains("<table>"));
    }

    #[test]
    fn ragged_rows_are_padded_and_empty_cells_kept() {
        let out = md("Action\tA\tB\tC\nPornography\t\tX\nGaming\tX\t\t\tX");
        // Column D is filled only in the last row; the header gets an empty cell.
        assert!(out.contains("| Action | A | B | C |  |"), "{out}");
        assert!(out.contains("| Pornography |  | X |  |  |"), "{out}");
        assert!(out.contains("| Gaming | X |  |  | X |"), "{out}");
    }

    #[test]
    fn columns_empty_in_every_row_are_dropped() {
        let out = md("A\t\tB\t\nx\t\ty\t");
        assert_eq!(out, "| A | B |\n|---|---|\n| x | y |\n");
    }

    #[test]
    fn pipes_in_cells_are_escaped() {
        let out = md("Name\tRule\nFilter\tallow | deny");
        assert!(out.contains("| Filter | allow \\| deny |"), "{out}");
        let html = markdown_to_safe_html(&out);
        assert!(html.contains("<td>allow | deny</td>"), "{html}");
    }

    #[test]
    fn markdown_tables_already_in_the_text_are_kept() {
        let input = "Intro.\n| When | Who |\n|:---|---|\n| Now | DSL |\n\n| just a pipe";
        let out = md(input);
        assert!(
            out.contains("\n\n| When | Who |\n|:---|---|\n| Now | DSL |\n\n| just a pipe"),
            "{out}"
        );
        assert!(markdown_to_safe_html(&out).contains("<td>DSL</td>"));
    }

    #[test]
    fn a_single_tabbed_line_is_text() {
        assert_eq!(md("Signed:\t\t\tDate:"), "Signed: Date:\n");
    }

    #[test]
    fn a_blank_line_ends_a_table() {
        let out = md("A\tB\n1\t2\n\nC\tD\n3\t4");
        assert_eq!(out.matches("|---|---|").count(), 2, "{out}");
    }

    // -- lists --------------------------------------------------------------

    #[test]
    fn bullet_characters_become_list_items() {
        for bullet in ["•", "●", "▪", "-", "*", "o", "\u{F0B7}", "–", "✓", "·"] {
            let out = md(&format!("Intro:\n{bullet} First\n{bullet}\tSecond"));
            assert!(out.contains("- First\n"), "{bullet}: {out}");
            assert!(out.contains("- Second\n"), "{bullet}: {out}");
        }
        assert!(md("Intro:\n•Touching").contains("- Touching"));
    }

    #[test]
    fn words_that_start_like_bullets_are_not_bullets() {
        let out = md("Intro.\n\nonline safety matters\n\n-5 degrees\n\n*emphasis* here");
        assert!(!out.contains("\n- "), "{out}");
        assert!(out.contains("*emphasis* here"), "{out}");
    }

    #[test]
    fn nested_bullets_follow_indentation_or_the_bullet_used() {
        let out = md("Intro:\n- Surveys of\n  - pupils\n  - staff\n- Logs");
        assert!(
            out.contains("- Surveys of\n  - pupils\n  - staff\n- Logs"),
            "{out}"
        );
        let out = md("Intro:\n•\tStaff\no\tpupils\n▪\tyear 7\n•\tParents");
        assert!(
            out.contains("- Staff\n  - pupils\n    - year 7\n- Parents"),
            "{out}"
        );
        // One space of indent is noise, not nesting.
        let out = md("Intro:\n- Will lead\n - Will review");
        assert!(out.contains("- Will lead\n- Will review"), "{out}");
    }

    #[test]
    fn items_separated_by_blank_lines_make_one_list() {
        let out = md("Intro:\n\n• One\n\n• Two\n\nAfter.");
        assert!(out.contains("- One\n- Two\n\nAfter."), "{out}");
    }

    #[test]
    fn lettered_and_roman_items_become_list_items_keeping_their_label() {
        let out = md("Staff must:\na) read the policy\nb) sign it\n(iii) keep a copy");
        assert!(
            out.contains("- a) read the policy\n- b) sign it\n- (iii) keep a copy"),
            "{out}"
        );
        // A lone `a.` is left as text, as are `e.g.` and `i.e.`.
        let out = md("Intro.\n\na. lone line\n\ne.g. this\n\ni.e. that");
        assert!(!out.contains("- "), "{out}");
    }

    // -- joining wrapped lines ------------------------------------------------

    #[test]
    fn a_wrapped_line_starting_lowercase_joins_the_line_before() {
        let out =
            md("Adults must continually monitor their\npractice in terms of the\nevolving world.");
        assert_eq!(
            out,
            "Adults must continually monitor their practice in terms of the evolving world.\n"
        );
    }

    #[test]
    fn a_line_after_a_finished_sentence_stays_separate() {
        let out = md("Intro.\nThis review by the Trust Executive May 2017\nIn consultation with Network Managers\nStaff must:\nread it.");
        assert_eq!(
            out,
            "Intro.\n\nThis review by the Trust Executive May 2017\n\nIn consultation with Network Managers\n\nStaff must:\n\nread it.\n"
        );
    }

    #[test]
    fn indented_lines_continue_a_list_item() {
        let out = md("Intro:\n- Trust use means an account set up by a department\n or an individual which reflects the\n Trust.\n- Next");
        assert!(
            out.contains("- Trust use means an account set up by a department or an individual which reflects the Trust.\n- Next"),
            "{out}"
        );
    }

    #[test]
    fn bold_text_over_several_lines_is_one_paragraph() {
        let out = md("Intro.\n\n**Informative\nTable of the\nStatus of User\nActions**\nNext line");
        assert!(
            out.contains("\n\n**Informative Table of the Status of User Actions**\n\nNext line"),
            "{out}"
        );
    }

    #[test]
    fn rows_whose_only_tabs_are_trailing_are_table_rows() {
        let out = md(
            "Incidents\tRefer to DSL\tWarning\nUnauthorised downloading\t\t\nCorrupting data\t\t",
        );
        assert!(
            out.contains("| Unauthorised downloading |  |  |\n| Corrupting data |  |  |"),
            "{out}"
        );
    }

    #[test]
    fn lines_with_a_stray_trailing_tab_stay_paragraphs() {
        assert_eq!(md("One.\t\nTwo.\t"), "One.\n\nTwo.\n");
    }

    #[test]
    fn a_word_hyphenated_across_lines_is_joined_without_a_space() {
        assert_eq!(
            md("Staff receive e-\nsafety training."),
            "Staff receive e-safety training.\n"
        );
    }

    #[test]
    fn a_numbered_line_that_wraps_is_a_sentence_not_a_heading() {
        let out = md("Intro.\n\n1. The staff will ensure that\nthey read the policy.");
        assert!(!out.contains("## "), "{out}");
        assert!(
            out.contains("1\\. The staff will ensure that they read the policy."),
            "{out}"
        );
    }

    // -- escaping -------------------------------------------------------------

    #[test]
    fn markdown_significant_line_starts_are_escaped() {
        let out = md("Intro.\n\n#1 priority\n\n> not a quote\n\n4) Fourth item\n\n```\n\n[a]: b\n\n____\n\n    indented text");
        for expected in [
            "\\#1 priority",
            "\\> not a quote",
            "4\\) Fourth item",
            "\\```",
            "\\[a]: b",
            "\\____",
            "\n\nindented text",
        ] {
            assert!(out.contains(expected), "{expected}: {out}");
        }
        let html = markdown_to_safe_html(&out);
        for shown in [
            "#1 priority",
            "&gt; not a quote",
            "4) Fourth item",
            "[a]: b",
            "____",
        ] {
            assert!(html.contains(shown), "{shown}: {html}");
        }
        assert!(
            !html.contains("<blockquote") && !html.contains("<ol") && !html.contains("<pre"),
            "{html}"
        );
    }

    #[test]
    fn a_single_hash_line_in_plain_text_is_escaped_not_a_heading() {
        let out = md("Intro.\n\n# of pupils: 30");
        assert!(out.contains("\\# of pupils: 30"), "{out}");
    }

    #[test]
    fn list_items_that_start_like_markdown_are_escaped() {
        let out = md("Intro:\n• 1. first\n• # second\n• > third");
        assert!(
            out.contains("- 1\\. first\n- \\# second\n- \\> third"),
            "{out}"
        );
        let html = markdown_to_safe_html(&out);
        assert!(
            !html.contains("<ol") && !html.contains("<h1") && !html.contains("<blockquote"),
            "{html}"
        );
    }

    #[test]
    fn a_trailing_hash_in_a_heading_is_kept() {
        assert_eq!(
            md("Intro.\n\n1. Using C #"),
            "Intro.\n\n## 1. Using C \\#\n"
        );
    }

    #[test]
    fn separator_lines_become_rules() {
        assert_eq!(md("One.\n\n-----\n\nTwo."), "One.\n\n---\n\nTwo.\n");
        assert_eq!(md("One.\n\n* * *\n\nTwo."), "One.\n\n---\n\nTwo.\n");
        assert_eq!(md("One.\n\n- - -\n\nTwo."), "One.\n\n---\n\nTwo.\n");
    }

    // -- blank lines and words ----------------------------------------------

    #[test]
    fn runs_of_blank_lines_collapse_and_windows_line_endings_are_read() {
        assert_eq!(md("One.\r\n\r\n\r\n\r\nTwo.\r\n"), "One.\n\nTwo.\n");
        assert_eq!(md("One.\x0cTwo."), "One.\n\nTwo.\n");
    }

    #[test]
    fn no_word_is_lost_by_the_conversion() {
        let input = "Title Line\n\n1 Scope\n\nstaff and\npupils\n\n• a) x | y\n\t• b\nA\tB\tC\n1\t2\n> q\n\nEND OF DOC";
        let words = |s: &str| {
            let mut w: Vec<String> = s
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect();
            w.sort();
            w
        };
        assert_eq!(words(&md(input)), words(input));
    }
}
