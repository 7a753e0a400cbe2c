//! Policy Markdown to HTML that is safe to insert into the page.
//!
//! Policy text comes from documents people paste in, so it is treated as
//! untrusted: raw HTML is shown as text, links keep only safe schemes and open
//! with `rel="noopener noreferrer"`, and images are shown as their alt text.

use pulldown_cmark::{html, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};
use std::collections::{HashMap, HashSet};

/// URL schemes a policy link may use; anything else (javascript:, data:, vbscript:)
/// is dropped and the link text kept.
fn is_safe_url(url: &str) -> bool {
    let lower: String = url
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    match lower.split_once(':') {
        // No scheme (relative link or #anchor), unless the "scheme" is really a path.
        None => true,
        Some((scheme, _))
            if scheme.contains('/') || scheme.contains('#') || scheme.contains('?') =>
        {
            true
        }
        Some((scheme, _)) => matches!(scheme, "http" | "https" | "mailto" | "tel"),
    }
}

/// `s` made safe as HTML text or a quoted attribute value.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A heading of the document, for the reader's contents list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    /// 1 for `#`, 2 for `##`, ...
    pub level: u8,
    /// The element id, unique in the document: a link target `#id`.
    pub id: String,
    pub text: String,
}

/// A policy rendered for the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub html: String,
    pub headings: Vec<Heading>,
    /// How many times the search text was found (and marked).
    pub matches: usize,
}

/// Renders policy Markdown (headings, lists, tables) to inert HTML.
pub fn markdown_to_safe_html(markdown: &str) -> String {
    render_policy(markdown, None).html
}

/// Renders policy Markdown to inert HTML, gives each heading an id for the
/// contents list, and wraps each case-insensitive occurrence of `search` (if
/// any) in `<mark>`.
pub fn render_policy(markdown: &str, search: Option<&str>) -> Rendered {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    // Whether each open link was kept, so its closing tag matches.
    let mut open_links: Vec<bool> = Vec::new();
    let events: Vec<Event> = Parser::new_ext(markdown, options)
        .filter_map(|event| match event {
            // Raw HTML becomes visible text: shown, never run.
            Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                ..
            }) => {
                let keep = link_type == LinkType::Email || is_safe_url(&dest_url);
                open_links.push(keep);
                keep.then(|| {
                    let href = if link_type == LinkType::Email && !dest_url.starts_with("mailto:") {
                        format!("mailto:{dest_url}")
                    } else {
                        dest_url.to_string()
                    };
                    Event::InlineHtml(CowStr::from(format!(
                        "<a href=\"{}\" rel=\"noopener noreferrer\">",
                        escape_html(&href)
                    )))
                })
            }
            Event::End(TagEnd::Link) => open_links
                .pop()
                .unwrap_or(false)
                .then(|| Event::InlineHtml(CowStr::from("</a>"))),
            // Images would load from anywhere; show the alt text instead.
            Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
            other => Some(other),
        })
        .collect();

    let headings = collect_headings(&events);
    let mut next_heading = headings.iter();
    let needle: Vec<char> = search
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| q.chars().flat_map(char::to_lowercase).collect())
        .unwrap_or_default();
    let mut matches = 0;
    let mut out_events: Vec<Event> = Vec::with_capacity(events.len());
    for event in events {
        match event {
            Event::Start(Tag::Heading {
                level,
                classes,
                attrs,
                ..
            }) => {
                let id = next_heading.next().map(|h| CowStr::from(h.id.clone()));
                out_events.push(Event::Start(Tag::Heading {
                    level,
                    id,
                    classes,
                    attrs,
                }));
            }
            Event::Text(text) if !needle.is_empty() => {
                matches += mark_matches(&text, &needle, &mut out_events);
            }
            other => out_events.push(other),
        }
    }
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut html, out_events.into_iter());
    Rendered {
        html,
        headings,
        matches,
    }
}

fn collect_headings(events: &[Event]) -> Vec<Heading> {
    let mut headings = Vec::new();
    // Ids taken so far, and per slug the next suffix worth trying: every
    // smaller one was taken when it was passed, and ids are never freed. With
    // them, n headings with the same text cost O(n), not a scan of all ids per
    // suffix tried (O(n³): a 4 KB body of `#` lines froze the reader).
    let mut taken: HashSet<String> = HashSet::new();
    let mut next_suffix: HashMap<String, usize> = HashMap::new();
    let mut current: Option<(u8, String)> = None;
    for event in events {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                current = Some((*level as u8, String::new()))
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, text)) = current.as_mut() {
                    text.push_str(t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, text)) = current.take() {
                    let base = slug(&text);
                    let mut id = base.clone();
                    if taken.contains(&id) {
                        let n = next_suffix.entry(base.clone()).or_insert(2);
                        loop {
                            id = format!("{base}-{n}");
                            *n += 1;
                            if !taken.contains(&id) {
                                break;
                            }
                        }
                    }
                    taken.insert(id.clone());
                    headings.push(Heading {
                        level,
                        id,
                        text: text.trim().to_owned(),
                    });
                }
            }
            _ => {}
        }
    }
    headings
}

/// A link target from heading text: lowercase letters and digits joined by `-`.
fn slug(text: &str) -> String {
    let mut out = String::from("section-");
    let mut dash = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if dash && !out.ends_with('-') {
                out.push('-');
            }
            out.push(c);
            dash = false;
        } else {
            dash = true;
        }
    }
    out
}

/// Splits `text` around case-insensitive occurrences of `needle` (already
/// lowercased), wrapping each in `<mark>`; returns how many it found.
fn mark_matches<'a>(text: &str, needle: &[char], out: &mut Vec<Event<'a>>) -> usize {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let lower: Vec<char> = chars
        .iter()
        .map(|&(_, c)| c.to_lowercase().next().unwrap_or(c))
        .collect();
    let mut found = 0;
    let mut start = 0; // char index where unmarked text begins
    let mut i = 0;
    while i + needle.len() <= lower.len() {
        if lower[i..i + needle.len()] == *needle {
            let byte = |ci: usize| chars.get(ci).map_or(text.len(), |&(b, _)| b);
            if start < i {
                out.push(Event::Text(CowStr::from(
                    text[byte(start)..byte(i)].to_owned(),
                )));
            }
            out.push(Event::InlineHtml(CowStr::from("<mark>")));
            out.push(Event::Text(CowStr::from(
                text[byte(i)..byte(i + needle.len())].to_owned(),
            )));
            out.push(Event::InlineHtml(CowStr::from("</mark>")));
            found += 1;
            i += needle.len();
            start = i;
        } else {
            i += 1;
        }
    }
    let rest = chars.get(start).map_or(text.len(), |&(b, _)| b);
    if rest < text.len() || found == 0 {
        out.push(Event::Text(CowStr::from(text[rest..].to_owned())));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_lists_and_tables_render() {
        let html = markdown_to_safe_html("# One\n\n- a\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |\n");
        assert!(html.contains("<h1 id=\"section-one\">One</h1>"), "{html}");
        assert!(html.contains("<li>a</li>"));
        assert!(html.contains("<table>"));
        assert!(html.contains("<td>2</td>"));
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        let html =
            markdown_to_safe_html("<script>alert(1)</script>\n\nHi <img src=x onerror=alert(1)>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn unsafe_link_schemes_are_dropped_and_safe_ones_get_rel() {
        let html = markdown_to_safe_html(
            "[a](javascript:alert(1)) [b](data:text/html,x) [c](JaVa\tScRiPt:alert(1)) [d](https://example.org/x?a=1&b=\"2\")",
        );
        assert!(!html.to_lowercase().contains("javascript"), "{html}");
        assert!(!html.contains("data:"), "{html}");
        assert!(html.contains(
            "<a href=\"https://example.org/x?a=1&amp;b=&quot;2&quot;\" rel=\"noopener noreferrer\">d</a>"
        ), "{html}");
        assert!(html.contains('a') && html.contains('b'));
    }

    #[test]
    fn relative_and_anchor_links_are_kept() {
        let html = markdown_to_safe_html("[s](#section-2) [p](/policies/x)");
        assert!(html.contains("href=\"#section-2\""));
        assert!(html.contains("href=\"/policies/x\""));
    }

    #[test]
    fn headings_get_unique_ids_for_the_contents_list() {
        let r = render_policy("# Policy\n\n## 1. Scope\n\ntext\n\n## 1. Scope\n", None);
        let ids: Vec<&str> = r.headings.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(
            ids,
            ["section-policy", "section-1-scope", "section-1-scope-2"]
        );
        assert_eq!(r.headings[1].level, 2);
        assert_eq!(r.headings[1].text, "1. Scope");
        assert!(
            r.html.contains("<h2 id=\"section-1-scope\">1. Scope</h2>"),
            "{}",
            r.html
        );
    }

    #[test]
    fn heading_ids_skip_ids_already_taken_by_other_headings() {
        let r = render_policy("# A\n# A 2\n# A\n# A\n# A 3\n", None);
        let ids: Vec<&str> = r.headings.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "section-a",
                "section-a-2",
                "section-a-3",
                "section-a-4",
                "section-a-3-2"
            ]
        );
    }

    #[test]
    fn thousands_of_identical_headings_render_quickly() {
        // Found by `cargo xtask fuzz` (render_policy): each repeat used to scan
        // every id for every suffix it tried.
        let r = render_policy(&"#\n".repeat(20_000), None);
        assert_eq!(r.headings.len(), 20_000);
        assert_eq!(r.headings[19_999].id, "section--20000");
    }

    #[test]
    fn search_marks_every_match_ignoring_case_and_counts_them() {
        let r = render_policy(
            "Report it. REPORT it again; reporting matters.",
            Some("report"),
        );
        assert_eq!(r.matches, 3);
        assert_eq!(r.html.matches("<mark>").count(), 3);
        assert!(
            r.html
                .contains("<mark>Report</mark> it. <mark>REPORT</mark>"),
            "{}",
            r.html
        );
    }

    #[test]
    fn search_text_is_escaped_and_cannot_inject_markup() {
        let r = render_policy("a <b> c", Some("<b>"));
        assert_eq!(r.matches, 1);
        assert!(r.html.contains("<mark>&lt;b&gt;</mark>"), "{}", r.html);
    }

    #[test]
    fn no_search_or_a_blank_one_marks_nothing() {
        assert_eq!(render_policy("text", Some("  ")).matches, 0);
        assert!(!render_policy("text", None).html.contains("<mark>"));
    }

    #[test]
    fn images_show_their_alt_text_only() {
        let html = markdown_to_safe_html("![a logo](https://tracker.example/p.gif)");
        assert!(!html.contains("<img"));
        assert!(html.contains("a logo"));
    }
}
