//! What a new password must be: long enough, not one everyone else uses, and
//! not made of the person's own name or email (NCSC and NIST SP 800-63B
//! advice: length and a block list, no composition rules, no expiry).
//!
//! The same check runs in the PWA (as the person types) and on the server
//! (which decides).

/// Fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Most characters a password may have (argon2 would take more, but a limit
/// keeps one login from costing the server much).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Why a new password was refused, said as what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("Use at least {min} characters; this has {got}")]
    TooShort { min: usize, got: usize },
    #[error("Use at most {max} characters; a long phrase is good, but this is longer than Haven accepts")]
    TooLong { max: usize },
    #[error("This password is one of the most common and easy to guess; choose another, a short phrase works well")]
    Common,
    #[error("This password contains your name or email address, which others could guess; choose one without them")]
    ContainsPersonalDetails,
}

/// Common passwords of 10+ characters from public breach corpora, lowercase.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Words that make a password easy to guess when all that follows them is
/// digits and symbols ("Welcome2024!", "Riverside123"): the usual defaults,
/// and words from the school's own context.
const WEAK_WORDS: &[&str] = &[
    "password",
    "passw0rd",
    "p@ssword",
    "p@ssw0rd",
    "pa55word",
    "pa$$word",
    "qwerty",
    "letmein",
    "welcome",
    "changeme",
    "school",
    "academy",
    "riverside",
    "haven",
    "iloveyou",
    "football",
    "liverpool",
    "sunshine",
    "princess",
    "summer",
    "winter",
    "spring",
    "autumn",
];

/// Keyboard rows and runs people walk along, forwards or backwards.
const RUNS: &[&str] = &[
    "0123456789",
    "abcdefghijklmnopqrstuvwxyz",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "qazwsxedcrfvtgbyhnujmikolp",
    "!@#$%^&*()",
];

/// Checks a password a person chose, with their email and name (whose words
/// it must not contain). Characters are counted, not bytes.
pub fn check_new_password(password: &str, email: &str, name: &str) -> Result<(), PasswordProblem> {
    let got = password.chars().count();
    if got < MIN_PASSWORD_CHARS {
        return Err(PasswordProblem::TooShort {
            min: MIN_PASSWORD_CHARS,
            got,
        });
    }
    if got > MAX_PASSWORD_CHARS {
        return Err(PasswordProblem::TooLong {
            max: MAX_PASSWORD_CHARS,
        });
    }
    let lower = password.to_lowercase();
    if is_common(&lower) {
        return Err(PasswordProblem::Common);
    }
    if personal_words(email, name).any(|w| lower.contains(&w)) {
        return Err(PasswordProblem::ContainsPersonalDetails);
    }
    Ok(())
}

/// `lower` (lowercased) is on the list or follows a pattern guessers try first.
fn is_common(lower: &str) -> bool {
    if common_list().any(|p| p == lower) {
        return true;
    }
    let mut chars = lower.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return true;
    }
    let trimmed = lower.trim_end_matches(|c: char| !c.is_alphanumeric());
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    (trimmed.chars().count() >= 6 && is_run(trimmed))
        || WEAK_WORDS.contains(&core)
        || (core.chars().count() >= 6 && is_run(core))
}

fn common_list() -> impl Iterator<Item = &'static str> {
    COMMON_PASSWORDS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// `s` walks along one of [`RUNS`], forwards or backwards, wrapping round
/// ("7890123456").
fn is_run(s: &str) -> bool {
    RUNS.iter().any(|run| {
        let times = s.len() / run.len() + 2;
        let reversed: String = run.chars().rev().collect();
        run.repeat(times).contains(s) || reversed.repeat(times).contains(s)
    })
}

/// The parts of an email and a name a password must not contain: the email's
/// local part and its pieces, and the name's words, of 4 characters or more.
fn personal_words(email: &str, name: &str) -> impl Iterator<Item = String> {
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or_default().to_owned();
    let pieces: Vec<String> = std::iter::once(local.clone())
        .chain(local.split(['.', '_', '-', '+']).map(str::to_owned))
        .chain(
            name.to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        )
        .filter(|w| w.chars().count() >= 4)
        .collect();
    pieces.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: &str) -> Result<(), PasswordProblem> {
        check_new_password(p, "jo.bloggs@oakfield.example.org", "Joanna Bloggs")
    }

    #[test]
    fn a_long_uncommon_password_is_accepted() {
        assert_eq!(check("correct horse battery staple"), Ok(()));
        assert_eq!(check("Tea at 4 in the hall"), Ok(()));
    }

    #[test]
    fn short_passwords_are_refused_counting_characters_not_bytes() {
        assert_eq!(
            check("abc1234"),
            Err(PasswordProblem::TooShort { min: 10, got: 7 })
        );
        assert_eq!(
            check("abc1234").unwrap_err().to_string(),
            "Use at least 10 characters; this has 7"
        );
        // Nine characters of two bytes each: 18 bytes, still too short.
        assert_eq!(
            check("éééàààüüü"),
            Err(PasswordProblem::TooShort { min: 10, got: 9 })
        );
    }

    #[test]
    fn overlong_passwords_are_refused() {
        assert_eq!(
            check(&"horse battery ".repeat(20)),
            Err(PasswordProblem::TooLong { max: 256 })
        );
        // 128 characters (192 bytes): within the limit.
        assert_eq!(check(&"éa".repeat(64)), Ok(()));
    }

    #[test]
    fn the_common_list_has_at_least_150_lowercase_entries_of_10_or_more_characters() {
        let list: Vec<&str> = common_list().collect();
        assert!(list.len() >= 150, "{}", list.len());
        for p in &list {
            assert!(p.chars().count() >= 10, "{p}");
            assert_eq!(*p, p.to_lowercase());
        }
        let mut unique = list.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), list.len(), "the list repeats an entry");
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        for p in [
            "1234567890",
            "qwertyuiop",
            "Password123",
            "1q2w3e4r5t",
            "ILOVEYOU123",
            "qwerty1234",
            "1qaz2wsx3edc",
            "password1!",
            "abcdefghij",
            "football123",
            "Liverpool1",
            "sunshine123",
            "welcome123",
            "changeme123",
            "letmein123",
        ] {
            assert_eq!(check(p), Err(PasswordProblem::Common), "{p}");
        }
        assert_eq!(
            check("welcome123").unwrap_err().to_string(),
            "This password is one of the most common and easy to guess; choose another, a short phrase works well"
        );
    }

    #[test]
    fn one_repeated_character_is_common() {
        assert_eq!(check("aaaaaaaaaa"), Err(PasswordProblem::Common));
        assert_eq!(check("!!!!!!!!!!!!"), Err(PasswordProblem::Common));
    }

    #[test]
    fn runs_of_digits_or_keyboard_rows_are_common() {
        for p in [
            "2345678901",
            "9876543210",
            "poiuytrewq",
            "asdfghjkl;",
            "mnbvcxzmnb",
            "qwertyuiop!!",
            "abcdefgh12",
        ] {
            assert_eq!(check(p), Err(PasswordProblem::Common), "{p}");
        }
    }

    #[test]
    fn default_words_followed_only_by_digits_and_symbols_are_common() {
        for p in [
            "Password2024!",
            "passw0rd99!",
            "Qwerty2024!!",
            "letmein2024",
            "Welcome!2025",
            "changeme#2024",
        ] {
            assert_eq!(check(p), Err(PasswordProblem::Common), "{p}");
        }
        assert_eq!(check("password is a word"), Ok(()));
    }

    #[test]
    fn school_words_followed_only_by_digits_and_symbols_are_common() {
        for p in ["School2024!", "academy1234", "Riverside1!", "haven123456"] {
            assert_eq!(check(p), Err(PasswordProblem::Common), "{p}");
        }
        assert_eq!(check("riverside ducks 77"), Ok(()));
    }

    #[test]
    fn passwords_with_the_email_or_a_name_word_are_refused() {
        for p in ["jo.bloggs2024!", "ilovejoanna99", "BLOGGS-my-garden"] {
            assert_eq!(
                check(p),
                Err(PasswordProblem::ContainsPersonalDetails),
                "{p}"
            );
        }
        // Words shorter than 4 characters do not count.
        assert_eq!(
            check_new_password("ann and the ash tree", "ann@x.org", "Ann Ash"),
            Ok(())
        );
    }
}
