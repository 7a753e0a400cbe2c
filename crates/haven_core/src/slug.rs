//! Stable, human-readable ids for rows of the trust's rule tables.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest slug accepted, in bytes (slugs are ASCII).
pub const MAX_SLUG_LEN: usize = 64;

/// An id such as `bypassing-filtering`: lowercase ASCII letters and digits in
/// words joined by single hyphens, starting with a letter, at most
/// [`MAX_SLUG_LEN`] long.
///
/// Slugs are stable: an incident records the slug of its type, so a trust may
/// reword a row but must keep its slug for the row to mean the same thing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{got:?} is not a valid id: use lowercase letters and digits in words joined by \
     single hyphens, starting with a letter, at most {MAX_SLUG_LEN} characters"
)]
pub struct BadSlug {
    pub got: String,
}

impl Slug {
    pub fn parse(s: &str) -> Result<Slug, BadSlug> {
        let ok = !s.is_empty()
            && s.len() <= MAX_SLUG_LEN
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && !s.ends_with('-')
            && !s.contains("--")
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Slug(s.to_owned()))
        } else {
            Err(BadSlug { got: s.to_owned() })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// On the wire: a string the rules of [`Slug::parse`] accept.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Slug {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(SLUG_PATTERN))
            .min_length(Some(1))
            .max_length(Some(MAX_SLUG_LEN))
            .description(Some(
                "A stable row id: lowercase ASCII letters and digits in words joined by \
                 single hyphens, starting with a letter.",
            ))
            .examples(["bypassing-filtering"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Slug {}

/// [`Slug::parse`]'s rules as an ECMA-262 regular expression (for the
/// OpenAPI schema; the length limit is separate).
pub const SLUG_PATTERN: &str = "^[a-z][a-z0-9]*(-[a-z0-9]+)*$";

impl TryFrom<String> for Slug {
    type Error = BadSlug;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Slug::parse(&s)
    }
}

impl From<Slug> for String {
    fn from(s: Slug) -> String {
        s.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Slug {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Slug {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_slug_pattern_is_the_slug_check(s in "[a-z0-9A-Z_ -]{0,8}") {
            let pattern = regex::Regex::new(SLUG_PATTERN).unwrap();
            prop_assert_eq!(pattern.is_match(&s), Slug::parse(&s).is_ok(), "{:?}", s);
        }
    }

    #[test]
    fn slugs_are_lowercase_words_joined_by_hyphens() {
        for good in ["police", "bypassing-filtering", "hr-2", "a"] {
            assert!(Slug::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Police",
            "2fa",
            "-x",
            "x-",
            "a--b",
            "a_b",
            "a b",
            "café",
            &"a".repeat(MAX_SLUG_LEN + 1),
        ] {
            assert!(Slug::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_bad_slug_in_json_is_refused_with_the_reason() {
        let err = serde_json::from_str::<Slug>("\"Not A Slug\"").unwrap_err();
        assert!(err.to_string().contains("not a valid id"), "{err}");
    }
}
