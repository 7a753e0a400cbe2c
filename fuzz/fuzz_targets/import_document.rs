//! `haven_server policy import FILE`: any bytes under a Markdown or a
//! plain-text file name. The result, when there is one, is a policy body the
//! reader renders.
#![no_main]

use haven_core::import::{import_document, SourceFormat};
use haven_core::render::render_policy;
use haven_fuzz::assert_rendered_ok;
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 5] = [
    "policy.txt",
    "policy.md",
    "POLICY.MARKDOWN",
    "policy",
    "policy.md.txt",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let name = NAMES[usize::from(pick) % NAMES.len()];
    let Ok(imported) = import_document(name, bytes) else {
        return;
    };
    assert!(
        !imported.markdown.trim().is_empty(),
        "an import with no text"
    );
    assert!(
        !imported.markdown.contains('\r'),
        "line endings not normalised"
    );
    let markdown_name = name.to_lowercase().ends_with(".md") || name.ends_with(".MARKDOWN");
    assert_eq!(
        imported.format == SourceFormat::Markdown,
        markdown_name,
        "format for {name}"
    );
    for d in &imported.dropped {
        assert!(d.line >= 1, "dropped line numbers are 1-based");
    }
    assert_rendered_ok(&render_policy(&imported.markdown, None), false);
});
