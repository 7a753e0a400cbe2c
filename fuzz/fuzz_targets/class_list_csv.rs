//! A class list upload (`haven_core::accounts::parse_class_list_csv`) on any
//! bytes, read as the server reads an upload (lossy UTF-8): no panic, every
//! line number inside the file, and each plan's children matched to lines.
#![no_main]

use haven_core::accounts::{normalise_email, parse_class_list_csv};
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

/// Lines as the parser counts them: LF, CRLF and a lone CR each end one.
fn line_count(text: &str) -> usize {
    1 + text.replace("\r\n", "\n").matches(['\n', '\r']).count()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let academies = [
        (Uuid::from_u128(1), "Oakfield Primary Academy".to_owned()),
        (Uuid::from_u128(2), "Elm Tree School".to_owned()),
    ];
    let report = match parse_class_list_csv(&text, &academies) {
        Ok(report) => report,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let lines = line_count(&text);
    for p in &report.problems {
        assert!(
            (2..=lines).contains(&p.line),
            "problem on line {} of {lines}",
            p.line
        );
        assert!(!p.message.is_empty());
    }
    for plan in &report.rows {
        assert!(!plan.children.is_empty());
        assert_eq!(plan.children.len(), plan.lines.len());
        assert!(plan.lines.windows(2).all(|w| w[0] < w[1]), "{plan:?}");
        for &line in &plan.lines {
            assert!(
                (2..=lines).contains(&line),
                "child on line {line} of {lines}"
            );
        }
        assert!(!plan.parent_name.is_empty());
        assert!(academies.iter().any(|(id, _)| *id == plan.academy_id));
        if let Some(email) = &plan.parent_email {
            assert_eq!(normalise_email(email).as_ref(), Ok(email));
        }
    }
});
