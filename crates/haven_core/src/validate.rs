//! Field checks shared by every input an admin types: names, emails, dates.
//!
//! Each check names the field it refused, so the API can answer "what to fix"
//! rather than "bad request".

use std::fmt;

/// What is wrong with one field of an input, for a person to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct Invalid {
    /// Where the field is, as a path: `title`, `key_personnel.dsl.email`,
    /// `pupil_sanctions[3].actions`.
    pub field: String,
    pub problem: String,
}

impl Invalid {
    pub fn new(field: impl fmt::Display, problem: impl Into<String>) -> Self {
        Invalid {
            field: field.to_string(),
            problem: problem.into(),
        }
    }
}

// The checks below as ECMA-262 regular expressions, for the OpenAPI schemas
// (lengths are separate). Written with `\u` escapes, which Python's `re`
// (Schemathesis) and the `regex` crate (the tests) read alike; the tests hold
// each pattern to its check.

/// Control characters: Unicode's Cc, as `char::is_control`.
macro_rules! control {
    () => {
        "\\u0000-\\u001f\\u007f-\\u009f"
    };
}

/// Control characters and white space as `char::is_whitespace` has it (not
/// ECMA's `\s`, which adds U+FEFF).
macro_rules! blank_or_control {
    () => {
        "\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
    };
}

/// [`line`]: some text that is not white space, and no control characters.
pub const LINE_PATTERN: &str = concat!(
    "^[^",
    control!(),
    "]*[^",
    blank_or_control!(),
    "][^",
    control!(),
    "]*$"
);

/// [`email`]: a local part, `@`, and a domain of dot-separated labels, with
/// no white space or control characters anywhere.
pub const EMAIL_PATTERN: &str = concat!(
    "^[^",
    blank_or_control!(),
    "]+@[^",
    blank_or_control!(),
    "@.]+(\\.[^",
    blank_or_control!(),
    "@.]+)+$"
);

/// [`phone`]: 7 to 15 digits among spaces, `+`, `(`, `)` and `-`.
pub const PHONE_PATTERN: &str = "^[ +()-]*([0-9][ +()-]*){7,15}$";

/// Longest phone number accepted, in characters.
pub const MAX_PHONE_CHARS: usize = 40;

/// A line of text a person typed: not blank, at most `max_chars` characters,
/// no control characters (tabs and line breaks included).
pub fn line(field: &str, value: &str, max_chars: usize) -> Result<(), Invalid> {
    if value.trim().is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(Invalid::new(
            field,
            format!("is {chars} characters long; the most allowed is {max_chars}"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(())
}

/// Longest email address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// An email address in the plain `name@domain.tld` form. Deliberately loose:
/// it catches slips (a missing `@`, a space), not every RFC corner.
pub fn email(field: &str, value: &str) -> Result<(), Invalid> {
    line(field, value, MAX_EMAIL_CHARS)?;
    let bad = || Invalid::new(field, format!("{value:?} is not an email address"));
    let (local, domain) = value.rsplit_once('@').ok_or_else(bad)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty() || !domain_ok || value.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    Ok(())
}

/// A phone number: digits, spaces, `+`, `(`, `)` and `-`, with 7 to 15 digits.
pub fn phone(field: &str, value: &str) -> Result<(), Invalid> {
    line(field, value, MAX_PHONE_CHARS)?;
    let allowed = value
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '(' | ')' | '-'));
    let digits = value.chars().filter(char::is_ascii_digit).count();
    if !allowed || !(7..=15).contains(&digits) {
        return Err(Invalid::new(
            field,
            format!("{value:?} is not a phone number"),
        ));
    }
    Ok(())
}

/// A calendar date written `YYYY-MM-DD`, between the years 2000 and 2199.
///
/// Dates are kept as text in this form, so comparing two valid dates as
/// strings compares them as dates.
pub fn iso_date(field: &str, value: &str) -> Result<(), Invalid> {
    let bad = || Invalid::new(field, format!("{value:?} is not a date written YYYY-MM-DD"));
    let b = value.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| value[r].parse::<u32>().map_err(|_| bad());
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(2000..=2199).contains(&year) {
        return Err(Invalid::new(
            field,
            format!("{value:?} is not a plausible date (the year must be 2000 to 2199)"),
        ));
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if day == 0 || day > days_in_month {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use regex::Regex;

    /// Strings made mostly of the characters the checks and patterns tell
    /// apart: white space of every kind (and U+FEFF, which is not), control
    /// characters, the punctuation of emails and phone numbers, digits.
    fn tricky_string(max_len: usize) -> impl Strategy<Value = String> {
        let tricky = prop_oneof![
            Just('a'),
            Just('Z'),
            Just('é'),
            Just('1'),
            Just('0'),
            Just(' '),
            Just('\t'),
            Just('\n'),
            Just('\r'),
            Just('\u{b}'),
            Just('\u{0}'),
            Just('\u{1f}'),
            Just('\u{7f}'),
            Just('\u{85}'),
            Just('\u{9f}'),
            Just('\u{a0}'),
            Just('\u{1680}'),
            Just('\u{2003}'),
            Just('\u{200b}'),
            Just('\u{2028}'),
            Just('\u{202f}'),
            Just('\u{3000}'),
            Just('\u{feff}'),
            Just('@'),
            Just('.'),
            Just('+'),
            Just('('),
            Just(')'),
            Just('-'),
            any::<char>(),
        ];
        proptest::collection::vec(tricky, 0..max_len).prop_map(String::from_iter)
    }

    fn pattern(p: &str) -> Regex {
        Regex::new(p).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn the_line_pattern_is_the_line_check(s in tricky_string(12)) {
            prop_assert_eq!(pattern(LINE_PATTERN).is_match(&s), line("f", &s, usize::MAX).is_ok(), "{:?}", s);
        }

        #[test]
        fn the_email_pattern_is_the_email_check(s in tricky_string(20)) {
            prop_assert_eq!(pattern(EMAIL_PATTERN).is_match(&s), email("f", &s).is_ok(), "{:?}", s);
        }

        #[test]
        fn the_phone_pattern_is_the_phone_check(s in tricky_string(30)) {
            prop_assert_eq!(pattern(PHONE_PATTERN).is_match(&s), phone("f", &s).is_ok(), "{:?}", s);
        }
    }

    fn agree(p: &str, check: impl Fn(&str) -> bool, strings: &[&str]) {
        for s in strings {
            assert_eq!(pattern(p).is_match(s), check(s), "{p} on {s:?}");
        }
    }

    #[test]
    fn the_patterns_agree_with_the_checks_on_known_cases() {
        agree(
            LINE_PATTERN,
            |s| line("f", s, usize::MAX).is_ok(),
            &[
                "Staff AUA",
                " x ",
                "",
                "  ",
                "\u{3000}",
                "\u{feff}",
                "a\nb",
                "a\u{85}",
                "x\u{a0}",
            ],
        );
        agree(
            EMAIL_PATTERN,
            |s| email("f", s).is_ok(),
            &[
                "dsl@oakfield.example.org",
                "a@b@c.d",
                "a.@b.c",
                "@x.org",
                "a@.org",
                "a@x..org",
                "a@x.org.",
                "a @x.org",
                "a@x.org\n",
                "a\u{feff}@x.org",
                "a\u{a0}@x.org",
                "a@x",
            ],
        );
        agree(
            PHONE_PATTERN,
            |s| phone("f", s).is_ok(),
            &[
                "+44 (0)1632 960 001",
                "01632 960001",
                "1234567",
                "123456",
                "1234567890123456",
                "123-456-789012345",
                "call me",
                " 1234567 ",
                "1234567\n",
            ],
        );
    }

    #[test]
    fn lines_must_have_text_within_the_limit_and_no_control_characters() {
        assert!(line("title", "Staff AUA", 10).is_ok());
        assert_eq!(line("title", "  ", 10).unwrap_err().field, "title");
        assert!(line("title", "x".repeat(11).as_str(), 10).is_err());
        assert!(line("title", "a\nb", 10).is_err());
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert!(email("e", "dsl@oakfield.example.org").is_ok());
        for bad in [
            "dsl",
            "@x.org",
            "dsl@org",
            "dsl@.org",
            "d sl@x.org",
            "dsl@x..org",
        ] {
            assert!(email("e", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_are_digits_with_ordinary_punctuation() {
        assert!(phone("p", "+44 (0)1632 960 001").is_ok());
        assert!(phone("p", "01632 960001").is_ok());
        assert!(phone("p", "call me").is_err());
        assert!(phone("p", "123").is_err());
    }

    #[test]
    fn dates_must_exist_on_the_calendar() {
        assert!(iso_date("d", "2026-09-01").is_ok());
        assert!(iso_date("d", "2028-02-29").is_ok());
        for bad in [
            "2027-02-29",
            "2026-13-01",
            "2026-04-31",
            "2026-9-1",
            "01/09/2026",
            "1999-12-31",
            "2026-09-00",
            "２０２６-09-01",
        ] {
            assert!(iso_date("d", bad).is_err(), "{bad}");
        }
    }
}
