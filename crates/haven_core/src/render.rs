//! Policy Markdown to HTML that is safe to insert into the page.
//!
//! Policy text comes from documents people paste in, so it is treated as
//! untrusted: raw HTML is shown as text, links keep only safe schemes and open
//! with `rel="noopener noreferrer"`, and images are shown as their alt text.

use pulldown_cmark::{html, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

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

fn escape_attr(s: &str) -> String {
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

/// Renders policy Markdown (headings, lists, tables) to inert HTML.
pub fn markdown_to_safe_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    // Whether each open link was kept, so its closing tag matches.
    let mut open_links: Vec<bool> = Vec::new();
    let events = Parser::new_ext(markdown, options).filter_map(|event| match event {
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
                    escape_attr(&href)
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
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_lists_and_tables_render() {
        let html = markdown_to_safe_html("# One\n\n- a\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |\n");
        assert!(html.contains("<h1>One</h1>"));
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
    fn images_show_their_alt_text_only() {
        let html = markdown_to_safe_html("![a logo](https://tracker.example/p.gif)");
        assert!(!html.contains("<img"));
        assert!(html.contains("a logo"));
    }
}
