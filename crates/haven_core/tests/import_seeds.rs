//! The reference policies in `../shared/seeds/` (plain text exported from word
//! processors) import as Markdown whose headings and tables render, with no
//! contents page left and every word kept.
//!
//! The seeds live outside the repository; when the folder is missing the test
//! says so and passes.

use haven_core::import::{import_document, DropReason, ImportedText};
use haven_core::render::markdown_to_safe_html;
use std::collections::BTreeMap;
use std::path::Path;

const SEEDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/seeds");

/// The seed files, sorted by name; `None` when the folder is missing.
fn seeds() -> Option<Vec<(String, Vec<u8>)>> {
    let dir = Path::new(SEEDS);
    let entries = std::fs::read_dir(dir).ok()?;
    let mut files: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(e.path()).expect("seed file is readable");
            (name, bytes)
        })
        .collect();
    files.sort();
    Some(files)
}

/// The words of a text, lowercased, with how often each occurs.
fn words(text: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *counts.entry(word.to_lowercase()).or_insert(0) += 1;
    }
    counts
}

/// What a reader sees of rendered HTML: the text without tags, entities
/// decoded, plus link targets (which the source spelled out).
fn visible_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let close = rest[open..].find('>').map_or(rest.len(), |c| open + c + 1);
        let tag = &rest[open..close];
        if let Some(href) = tag.split("href=\"").nth(1) {
            text.push(' ');
            text.push_str(href.split('"').next().unwrap_or(""));
        }
        text.push(' ');
        rest = &rest[close..];
    }
    text.push_str(rest);
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn is_dot_leader(line: &str) -> bool {
    let t = line
        .trim_end()
        .trim_end_matches(|c: char| c.is_ascii_digit());
    t.trim_end().ends_with("....") || t.trim_end().ends_with('…')
}

/// The test's own reading of which source lines are the contents page: a
/// line saying "Contents" and the lines after it that end in a page number
/// (or say "Page"), and any dot-leader line.
fn contents_lines(source: &str) -> Vec<usize> {
    let mut found = Vec::new();
    let mut in_contents = false;
    for (i, line) in source.lines().enumerate() {
        let t = line.trim();
        let bare = t.trim_start_matches('#').trim().to_lowercase();
        if bare == "contents" || bare == "table of contents" {
            in_contents = true;
            found.push(i);
        } else if t.is_empty() {
        } else if in_contents
            && (t.ends_with(|c: char| c.is_ascii_digit()) && line.contains('\t')
                || t.eq_ignore_ascii_case("page"))
        {
            found.push(i);
        } else {
            in_contents = false;
            if is_dot_leader(line) {
                found.push(i);
            }
        }
    }
    found
}

/// Runs of two or more consecutive tab-separated lines outside the contents
/// page: the first cell of each run's first row. A run that carries on after
/// a page break (only blank lines and dropped page furniture between) is the
/// same table.
fn tab_tables(source: &str, contents: &[usize], page_furniture: &[usize]) -> Vec<String> {
    let lines: Vec<&str> = source.lines().collect();
    let is_row = |i: usize| lines[i].contains('\t') && !contents.contains(&i);
    let mut firsts = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if is_row(i) && i + 1 < lines.len() && is_row(i + 1) {
            let first = lines[i]
                .split('\t')
                .map(str::trim)
                .find(|c| !c.is_empty())
                .unwrap_or("")
                .to_owned();
            firsts.push(first);
            loop {
                while i < lines.len() && is_row(i) {
                    i += 1;
                }
                let mut j = i;
                while j < lines.len() && (lines[j].trim().is_empty() || page_furniture.contains(&j))
                {
                    j += 1;
                }
                let broken = (i..j).any(|k| page_furniture.contains(&k));
                if broken && j < lines.len() && is_row(j) {
                    i = j;
                } else {
                    break;
                }
            }
        } else {
            i += 1;
        }
    }
    firsts
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Whether the first table after `heading` comes before the next heading.
fn table_follows(html: &str, heading: &str) -> bool {
    let Some(at) = html.find(heading) else {
        return false;
    };
    let after = &html[at + heading.len()..];
    let table = after.find("<table>");
    let next_heading = after.find("<h");
    matches!((table, next_heading), (Some(t), Some(h)) if t < h)
        || (table.is_some() && next_heading.is_none())
}

/// Checks one seed and returns a line for the summary.
fn check(name: &str, bytes: &[u8]) -> String {
    let imported: ImportedText =
        import_document(name, bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let source = String::from_utf8(bytes.to_vec()).expect("seeds are UTF-8");
    let html = markdown_to_safe_html(&imported.markdown);

    // Headings render.
    let headings = ["<h1", "<h2", "<h3"]
        .iter()
        .map(|h| html.matches(h).count())
        .sum::<usize>();
    assert!(
        headings >= 3,
        "{name}: {headings} headings\n{}",
        imported.markdown
    );

    // Every tab-separated region is a table, headed by its first row.
    let contents = contents_lines(&source);
    let page_furniture: Vec<usize> = imported
        .dropped
        .iter()
        .filter(|d| d.reason != DropReason::Contents)
        .map(|d| d.line - 1)
        .collect();
    let expected_tables = tab_tables(&source, &contents, &page_furniture);
    let tables = html.matches("<table>").count();
    assert!(
        tables >= expected_tables.len(),
        "{name}: {tables} tables for {} tab-separated regions",
        expected_tables.len()
    );
    for first in &expected_tables {
        let th = format!("<th>{}</th>", html_escape(first));
        assert!(html.contains(&th), "{name}: no table headed {th}");
    }

    // No contents page survives.
    for line in imported.markdown.lines() {
        assert!(!is_dot_leader(line), "{name}: contents line kept: {line}");
        let bare = line.trim_start_matches('#').trim().to_lowercase();
        assert!(bare != "contents", "{name}: contents heading kept: {line}");
    }
    for &i in &contents {
        let line = source.lines().nth(i).unwrap_or_default();
        assert!(
            imported.dropped.iter().any(|d| d.line == i + 1),
            "{name}: contents line {} not dropped: {line}",
            i + 1
        );
    }

    // Every dropped line is one the test also sees as page furniture: the
    // contents page, a page number, or a repeat of one of the first lines.
    let first_lines: Vec<String> = source
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(2)
        .map(|l| words(l).into_keys().collect::<Vec<_>>().join(" "))
        .collect();
    for d in &imported.dropped {
        let ok = match d.reason {
            DropReason::Contents => contents.contains(&(d.line - 1)),
            DropReason::PageNumber => d.text.trim().len() <= 15,
            DropReason::RunningHeader => {
                first_lines.contains(&words(&d.text).into_keys().collect::<Vec<_>>().join(" "))
            }
        };
        assert!(
            ok,
            "{name}: line {} dropped as {:?}: {}",
            d.line, d.reason, d.text
        );
    }

    // Every other word of the source is still there to read.
    let dropped: Vec<usize> = imported.dropped.iter().map(|d| d.line - 1).collect();
    let kept_source: String = source
        .lines()
        .enumerate()
        .filter(|(i, _)| !dropped.contains(i))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let want = words(&kept_source);
    let have = words(&visible_text(&html));
    let total: usize = want.values().sum();
    let mut missing: Vec<(String, usize)> = want
        .iter()
        .filter_map(|(w, &n)| {
            let got = have.get(w).copied().unwrap_or(0);
            (got < n).then(|| (w.clone(), n - got))
        })
        .collect();
    missing.sort_by_key(|m| std::cmp::Reverse(m.1));
    let lost: usize = missing.iter().map(|m| m.1).sum();
    let survival = 100.0 * (total - lost) as f64 / total as f64;
    if lost > 0 {
        println!("{name}: words missing: {missing:?}");
    }
    assert!(
        survival >= 99.5,
        "{name}: only {survival:.2}% of {total} words kept; missing {missing:?}"
    );

    let by_reason = |r: DropReason| imported.dropped.iter().filter(|d| d.reason == r).count();
    format!(
        "{name}: {headings} headings (h1-h3), {tables} tables ({} tab regions), \
         {survival:.2}% of {total} words kept, dropped {} contents / {} page-number / {} running-header lines",
        expected_tables.len(),
        by_reason(DropReason::Contents),
        by_reason(DropReason::PageNumber),
        by_reason(DropReason::RunningHeader),
    )
}

#[test]
fn every_seed_policy_imports_with_headings_tables_and_all_its_words() {
    let Some(files) = seeds() else {
        println!("skipped: ../shared/seeds not found (looked in {SEEDS})");
        return;
    };
    assert!(!files.is_empty(), "{SEEDS} has no files");
    for (name, bytes) in &files {
        println!("{}", check(name, bytes));
    }
}

#[test]
fn the_sanctions_and_reporting_tables_of_the_seeds_are_tables() {
    let Some(files) = seeds() else {
        println!("skipped: ../shared/seeds not found (looked in {SEEDS})");
        return;
    };
    let html_of = |prefix: &str| {
        files
            .iter()
            .find(|(name, _)| name.starts_with(prefix))
            .map(|(name, bytes)| {
                markdown_to_safe_html(&import_document(name, bytes).unwrap().markdown)
            })
    };
    match html_of("001_") {
        Some(html) => {
            for heading in ["Pupil Sanctions</h3>", "Staff Sanctions</h3>"] {
                assert!(
                    table_follows(&html, heading),
                    "001: no table under {heading}"
                );
            }
            assert!(html.contains("<th>Refer to class teacher / tutor</th>"));
        }
        None => println!("skipped: seed 001 not found"),
    }
    match html_of("003_") {
        Some(html) => {
            assert!(
                table_follows(&html, "5. REPORTING</h2>"),
                "003: no reporting table"
            );
            assert!(html.contains("<th>Timescale:</th>"));
            assert!(html.contains("<td>Immediate reporting:</td>"));
            assert!(html.contains("<td>Same day reporting:</td>"));
        }
        None => println!("skipped: seed 003 not found"),
    }
}
