//! The plain-text converter on any text, and the reader on what it makes.
#![no_main]

use haven_core::import::text_to_markdown;
use haven_core::render::render_policy;
use haven_fuzz::assert_rendered_ok;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let markdown = text_to_markdown(text);
    assert!(!markdown.contains('\r'), "line endings not normalised");
    assert_rendered_ok(&render_policy(&markdown, None), false);
});
