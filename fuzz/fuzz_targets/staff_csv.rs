//! A staff list upload (`haven_core::accounts::parse_staff_csv`) on any bytes,
//! read as the server reads an upload (lossy UTF-8): no panic, every line
//! number inside the file, and only grants an import may make.
#![no_main]

use haven_core::accounts::{normalise_email, parse_staff_csv, Role};
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;
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
    let report = match parse_staff_csv(&text, &academies) {
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
    let mut grants = HashSet::new();
    for row in &report.rows {
        assert!(
            (2..=lines).contains(&row.line),
            "row on line {} of {lines}",
            row.line
        );
        assert_ne!(row.role, Role::TrustAdmin);
        assert!(!row.name.is_empty());
        assert_eq!(normalise_email(&row.email).as_ref(), Ok(&row.email));
        assert!(academies.iter().any(|(id, _)| *id == row.academy_id));
        assert!(
            grants.insert((row.email.clone(), row.academy_id, row.role)),
            "a grant imported twice: {row:?}"
        );
    }
});
