//! The reader: untrusted policy Markdown (and a search typed by the reader)
//! to HTML that must stay inert: no `<script`, no `on…=` handlers, no
//! `javascript:` links, only the elements and attributes the renderer writes.
#![no_main]

use haven_core::render::{markdown_to_safe_html, render_policy};
use haven_fuzz::{assert_inert_html, assert_rendered_ok};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First byte: how many of the following bytes are the search (0: none).
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut at = usize::from(split).min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let (search, markdown) = text.split_at(at);

    let plain = render_policy(markdown, None);
    assert_rendered_ok(&plain, false);
    assert_eq!(plain.html, markdown_to_safe_html(markdown));

    if !search.is_empty() {
        let searched = render_policy(markdown, Some(search));
        assert_rendered_ok(&searched, true);
        assert_eq!(
            searched.headings, plain.headings,
            "a search changed the headings"
        );
        // Without its marks, the searched page is the plain page.
        let unmarked = searched.html.replace("<mark>", "").replace("</mark>", "");
        if searched.matches > 0 {
            assert_inert_html(&unmarked);
        } else {
            assert_eq!(searched.html, plain.html, "no match, yet the HTML changed");
        }
    }
});
