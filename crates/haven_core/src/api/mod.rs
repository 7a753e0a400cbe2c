//! Wire types of the REST API other than sync (see [`crate::sync::wire`]).

pub mod accounts;
pub mod incidents;

use crate::agreement::AgreementRecord;
use crate::Millis;
use serde::{Deserialize, Serialize};

/// Every error the API returns: a stable machine-readable code and a sentence
/// for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// The current code from the authenticator app, for accounts with a
    /// second factor; without it such an account gets `second_factor_required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    /// Bearer token; only its hash is kept on the server.
    pub token: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub expires_at: Millis,
    pub me: accounts::Me,
    /// `enrol_required`: the session may only set up the second factor
    /// (`/auth/totp/setup` then `/auth/totp/confirm`) or sign out.
    pub second_factor: accounts::SecondFactorState,
    /// 32 bytes, base64: lets a shared tablet recover this person's local key
    /// after too many wrong PINs. Stable per person; never stored by a device
    /// in the clear.
    pub online_key: String,
}

/// A stored agreement as an admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementView {
    #[serde(flatten)]
    pub record: AgreementRecord,
    /// Server clock when the record arrived.
    pub received_at: Millis,
    /// The short code on the signer's receipt (`/verify/CODE`).
    pub receipt_code: String,
    /// How the signer was identified: `staff:<user id>`, `device:<kind>:<id>`,
    /// `parent:<invitation id>`.
    pub identified_by: String,
}

/// The record's fields and `received_at` in one object. Written out rather
/// than derived: a derived schema would be `allOf` the record and
/// `received_at`, and the record's `additionalProperties: false` would then
/// refuse `received_at`.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for AgreementView {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
        use utoipa::openapi::RefOr;
        let record = <AgreementRecord as utoipa::PartialSchema>::schema();
        let RefOr::T(Schema::Object(mut view)) = record else {
            return record;
        };
        // The view is only ever written by the server; readers need not
        // refuse fields added later.
        view.additional_properties = None;
        view.description = Some("A stored agreement as an admin sees it.".to_owned());
        view.properties.insert(
            "received_at".to_owned(),
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .description(Some("Server clock when the record arrived."))
                .into(),
        );
        view.required.push("received_at".to_owned());
        for (name, description) in [
            ("receipt_code", "The short code on the signer's receipt."),
            ("identified_by", "How the signer was identified."),
        ] {
            view.properties.insert(
                name.to_owned(),
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(description))
                    .into(),
            );
            view.required.push(name.to_owned());
        }
        RefOr::T(Schema::Object(view))
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for AgreementView {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <AgreementRecord as utoipa::ToSchema>::schemas(schemas);
    }
}

/// What the public verification page says about a receipt: enough to
/// recognise it (initials, not names), and whether it is unaltered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerifiedReceipt {
    pub receipt_code: String,
    pub policy_title: String,
    pub policy_version: u32,
    /// `true` agreed, `false` declined.
    pub agreed: bool,
    /// "A. L.": enough to recognise, not to identify.
    pub signer_initials: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub signed_at: Millis,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub received_at: Millis,
    /// The record still has the digest the ledger recorded when it arrived,
    /// and its ledger entry is intact and chained.
    pub unaltered: bool,
}

/// "Ada Lovelace" → "A. L.".
pub fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .map(|c| format!("{}.", c.to_uppercase()))
        .collect::<Vec<_>>()
        .join(" ")
}
