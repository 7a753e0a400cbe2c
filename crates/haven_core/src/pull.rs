//! Pull: everything the server owns that changed since a cursor.
//!
//! The server numbers every change to what it owns (a policy version
//! published, the rule tables replaced, an academy or the trust edited) with
//! one increasing sequence. A device keeps the cursor of its last pull and asks
//! for what came after it; `since=0` asks for everything.

use crate::org::{Academy, Trust};
use crate::policy::PolicyVersion;
use crate::rules::RulesVersion;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A position in the server's change sequence: the number of the last change
/// a device has seen. 0 is before the first change.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cursor(pub u64);

/// On the wire: a whole number, 0 to 2^64 - 1.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Cursor {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::Custom("uint64".to_owned())))
            .minimum(Some(0))
            .maximum(Some(u64::MAX))
            .description(Some(
                "A position in the server's change sequence: the number of the last \
                 change a device has seen. 0 is before the first change.",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Cursor {}

impl Cursor {
    pub const START: Cursor = Cursor(0);
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Changes returned per pull when the device does not say.
pub const DEFAULT_PULL_LIMIT: u32 = 200;
/// Most changes returned per pull.
pub const MAX_PULL_LIMIT: u32 = 1000;

/// `GET /api/v1/pull?since=N&limit=M`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct PullQuery {
    /// The cursor of the device's last pull; 0 (the default) for everything.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(
        value_type = Option<u64>,
        format = "uint64",
        minimum = 0,
        maximum = 18_446_744_073_709_551_615_u64
    ))]
    pub since: Cursor,
    /// At most this many changes (1 to [`MAX_PULL_LIMIT`]); default
    /// [`DEFAULT_PULL_LIMIT`].
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 1000))]
    pub limit: Option<u32>,
}

/// What changed after `since`, up to and including `cursor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResponse {
    /// Where the next pull starts. Equal to `since` when nothing changed.
    pub cursor: Cursor,
    /// More changes wait after `cursor`: pull again at once.
    pub more: bool,
    /// The server's sequence is behind the device's cursor (the server's data
    /// was replaced, for example restored from a backup), so this reply holds
    /// everything from the start: the device should replace, not merge.
    pub reset: bool,
    /// Policy versions published in this range, in the order they were published.
    pub policies: Vec<PolicyVersion>,
    /// The rule tables in force, if they were replaced in this range.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub rules: Option<RulesVersion>,
    /// Academies added or edited in this range, as they are now.
    pub academies: Vec<Academy>,
    /// The trust, if it was added or edited in this range, as it is now.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub trust: Option<Trust>,
}

impl PullResponse {
    /// Whether the reply carries nothing new.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
            && self.rules.is_none()
            && self.academies.is_empty()
            && self.trust.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_a_plain_number_on_the_wire() {
        assert_eq!(serde_json::to_string(&Cursor(42)).unwrap(), "42");
        let q: PullQuery = serde_json::from_str(r#"{"since":7}"#).unwrap();
        assert_eq!(q.since, Cursor(7));
        assert_eq!(q.limit, None);
    }
}
