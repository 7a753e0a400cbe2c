//! OpenAPI schemas of the fields whose rules live in checks
//! ([`crate::validate`]) rather than in their types, for
//! `#[schema(schema_with = ...)]`: the patterns and limits come from the
//! checks' own constants. Only with the `openapi` feature.

use crate::org::MAX_NAME_CHARS;
use crate::policy::{MAX_APPROVER_CHARS, MAX_TITLE_CHARS};
use crate::rules::user_actions::MAX_LEGISLATION_CHARS;
use crate::rules::MAX_DESCRIPTION_CHARS;
use crate::validate::{
    EMAIL_PATTERN, LINE_PATTERN, MAX_EMAIL_CHARS, MAX_PHONE_CHARS, PHONE_PATTERN,
};
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

fn string(pattern: &str, min_length: usize, max_length: usize, nullable: bool) -> Object {
    let schema_type = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::new(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(schema_type)
        .pattern(Some(pattern))
        .min_length(Some(min_length))
        .max_length(Some(max_length))
        .build()
}

/// A person's or an organisation's name ([`crate::validate::line`]).
pub fn name() -> Object {
    string(LINE_PATTERN, 1, MAX_NAME_CHARS, false)
}

/// A policy title.
pub fn title() -> Object {
    string(LINE_PATTERN, 1, MAX_TITLE_CHARS, false)
}

/// Who approved a policy version.
pub fn approved_by() -> Object {
    string(LINE_PATTERN, 1, MAX_APPROVER_CHARS, false)
}

/// The wording of a row of the rule tables.
pub fn description() -> Object {
    string(LINE_PATTERN, 1, MAX_DESCRIPTION_CHARS, false)
}

/// The Act an illegal action breaks, or null.
pub fn legislation() -> Object {
    string(LINE_PATTERN, 1, MAX_LEGISLATION_CHARS, true)
}

/// An email address ([`crate::validate::email`]).
pub fn email() -> Object {
    string(EMAIL_PATTERN, 3, MAX_EMAIL_CHARS, false)
}

/// A phone number ([`crate::validate::phone`]), or null.
pub fn phone() -> Object {
    string(PHONE_PATTERN, 7, MAX_PHONE_CHARS, true)
}
