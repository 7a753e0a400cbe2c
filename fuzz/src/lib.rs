//! Checks shared by the fuzz targets in `fuzz_targets/`.
//!
//! A target fails (and libFuzzer keeps the input in `artifacts/`) on a panic
//! in `haven_core` or on a broken invariant asserted here.

use haven_core::render::Rendered;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashSet;
use std::fmt::Debug;

/// A value decoded from outside input encodes and decodes to itself: what the
/// server stores or answers is what it was sent.
pub fn assert_json_round_trip<T>(value: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let json = serde_json::to_vec(value).expect("a decoded value encodes");
    let back: T = serde_json::from_slice(&json).unwrap_or_else(|e| {
        panic!(
            "{} does not decode again: {e}\n{value:?}",
            String::from_utf8_lossy(&json)
        )
    });
    assert_eq!(&back, value, "JSON round trip changed the value");
}

/// Elements `haven_core::render` may produce: Markdown's block and inline
/// elements with tables and strikethrough, plus `<mark>` for search matches.
/// Never `script`, `img`, `iframe`, `style`, `input`, ...
const ALLOWED_TAGS: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "blockquote",
    "pre",
    "code",
    "em",
    "strong",
    "del",
    "a",
    "mark",
    "hr",
    "br",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
];

/// Asserts that the HTML `haven_core::render` made from untrusted Markdown is
/// inert: no `<script`, no element outside [`ALLOWED_TAGS`], no attribute other
/// than the few the renderer writes (so no `on…=` handler), and no link whose
/// scheme (as a browser parses it) is other than http, https, mailto or tel
/// (so no `javascript:`/`data:`/`vbscript:`). Every `<` in the output must
/// open such a tag: text and attribute values keep `<` and `"` escaped.
pub fn assert_inert_html(html: &str) {
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "output has <script:\n{html}");
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        let tag_start = &rest[open + 1..];
        let close = tag_start
            .find('>')
            .unwrap_or_else(|| panic!("a `<` that opens no tag:\n{html}"));
        check_tag(&tag_start[..close], html);
        rest = &tag_start[close + 1..];
    }
}

/// One tag, between `<` and `>`.
fn check_tag(tag: &str, html: &str) {
    let tag = tag.strip_prefix('/').unwrap_or(tag);
    let tag = tag.strip_suffix('/').unwrap_or(tag).trim_end();
    let name_end = tag
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(tag.len());
    let name = &tag[..name_end];
    assert!(
        ALLOWED_TAGS.contains(&name),
        "element <{name}> is not one the renderer writes:\n{html}"
    );
    let mut attrs = &tag[name_end..];
    loop {
        attrs = attrs.trim_start();
        if attrs.is_empty() {
            break;
        }
        let attr_end = attrs
            .find(|c: char| c == '=' || c.is_ascii_whitespace())
            .unwrap_or(attrs.len());
        let attr = attrs[..attr_end].to_ascii_lowercase();
        assert!(
            !attr.starts_with("on"),
            "event handler attribute {attr} on <{name}>:\n{html}"
        );
        attrs = &attrs[attr_end..];
        let value = match attrs.strip_prefix("=\"") {
            Some(quoted) => {
                let end = quoted
                    .find('"')
                    .unwrap_or_else(|| panic!("unterminated attribute value in <{tag}>:\n{html}"));
                attrs = &quoted[end + 1..];
                assert!(
                    attrs.is_empty() || attrs.starts_with(|c: char| c.is_ascii_whitespace()),
                    "attribute {attr} of <{name}> runs into more text: <{tag}>\n{html}"
                );
                Some(&quoted[..end])
            }
            None => None,
        };
        let value_str = value.unwrap_or("");
        assert!(
            !value_str.contains('<'),
            "raw < in attribute {attr} of <{name}>:\n{html}"
        );
        match (name, attr.as_str()) {
            ("a", "href") => check_href(&decode_entities(value_str), html),
            ("a", "rel") => assert_eq!(value_str, "noopener noreferrer", "{html}"),
            (_, "id") | ("code", "class") => {}
            ("ol", "start") => assert!(
                value_str.bytes().all(|b| b.is_ascii_digit()),
                "ol start={value_str:?}:\n{html}"
            ),
            ("th" | "td", "style") => assert!(
                matches!(
                    value_str,
                    "text-align: left" | "text-align: center" | "text-align: right"
                ),
                "style={value_str:?}:\n{html}"
            ),
            _ => panic!("attribute {attr} on <{name}> is not one the renderer writes:\n{html}"),
        }
    }
}

/// Decodes the entities an attribute value can hold.
fn decode_entities(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';') else {
            break;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A link target is relative, or its scheme (as the WHATWG URL parser reads it:
/// leading and trailing C0 controls and spaces stripped, tabs and newlines
/// removed) is http, https, mailto or tel.
fn check_href(href: &str, html: &str) {
    let trimmed = href.trim_matches(|c: char| c <= ' ');
    let cleaned: String = trimmed
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let Some((scheme, _)) = cleaned.split_once(':') else {
        return;
    };
    let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if is_scheme {
        let scheme = scheme.to_ascii_lowercase();
        assert!(
            matches!(scheme.as_str(), "http" | "https" | "mailto" | "tel"),
            "link with scheme {scheme}: {href:?}\n{html}"
        );
    }
}

/// What every rendering must satisfy, whatever the Markdown: inert HTML, one
/// `<mark>` per counted match (none without a search), and unique heading ids
/// that are in the HTML.
pub fn assert_rendered_ok(rendered: &Rendered, searched: bool) {
    assert_inert_html(&rendered.html);
    let marks = rendered.html.matches("<mark>").count();
    assert_eq!(
        marks, rendered.matches,
        "{marks} <mark>s but {} matches counted",
        rendered.matches
    );
    assert_eq!(
        marks,
        rendered.html.matches("</mark>").count(),
        "unbalanced <mark>"
    );
    if !searched {
        assert_eq!(rendered.matches, 0, "matches without a search");
    }
    let mut seen = HashSet::new();
    for h in &rendered.headings {
        assert!((1..=6).contains(&h.level), "heading level {}", h.level);
        assert!(seen.insert(h.id.as_str()), "heading id {} repeats", h.id);
    }
    // Every `<` in the HTML opens a tag (checked above), so these are the
    // heading elements, in order; each carries its contents-list id.
    let in_html: Vec<(u8, &str)> = rendered
        .html
        .match_indices("<h")
        .filter_map(|(at, _)| {
            let rest = &rendered.html[at + 2..];
            let level = rest
                .as_bytes()
                .first()
                .filter(|b| (b'1'..=b'6').contains(b))?;
            let id = rest[1..].strip_prefix(" id=\"")?;
            Some((level - b'0', &id[..id.find('"')?]))
        })
        .collect();
    let listed: Vec<(u8, &str)> = rendered
        .headings
        .iter()
        .map(|h| (h.level, h.id.as_str()))
        .collect();
    assert_eq!(
        in_html, listed,
        "headings in the HTML and in the contents list differ"
    );
}
