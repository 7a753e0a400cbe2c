//! The OpenAPI 3.1 document of the whole API, served at
//! `GET /api/v1/openapi.json`.
//!
//! It is generated from the code: each handler in `routes/` carries a
//! `#[utoipa::path]` (method, path, parameters, body, every status it answers
//! and, for admin routes, the bearer requirement), and the wire types derive
//! `utoipa::ToSchema` in haven_core behind its `openapi` feature, so their
//! schemas follow the serde attributes (tags, `deny_unknown_fields`,
//! defaults). `tests/api/openapi.rs` checks that every route of the router is
//! in the document; `cargo xtask test` runs Schemathesis against it.

use crate::error::AppError;
use crate::http::routes;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use haven_core::api::ApiError;
use std::sync::OnceLock;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response as ApiResponse, ResponseBuilder};
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};

/// The document's definition: every operation of `routes::api`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Haven API",
        description = "Haven's REST API: the policy library, the trust's rule tables, its \
                       academies, staff accounts, devices and parent invitations, sync (pull and \
                       push), signed agreements, the reception desk and the incident log. Every error is \
                       `{\"code\", \"message\"}` JSON (`ApiError`). Operations marked with \
                       security need \
                       `Authorization: Bearer TOKEN`: a staff session (`hs_…`, from \
                       `POST /api/v1/auth/login`), an enrolled device (`hd_…`) or a parent \
                       session (`hp_…`); each checks the caller's role at the academy concerned."
    ),
    paths(
        routes::health::health,
        routes::health::ready,
        serve,
        routes::auth::login,
        routes::auth::logout,
        routes::auth::logout_everywhere,
        routes::auth::me,
        routes::sync_credentials::create,
        routes::auth::totp_setup,
        routes::auth::totp_confirm,
        routes::auth::totp_remove,
        routes::auth::setup,
        routes::auth::accept_invitation,
        routes::staff::list,
        routes::staff::invite,
        routes::staff::import,
        routes::roster::import,
        routes::staff::put_roles,
        routes::staff::set_active,
        routes::staff::reset_second_factor,
        routes::settings::get,
        routes::settings::put,
        routes::settings::get_reminders,
        routes::settings::put_reminders,
        routes::devices::create_code,
        routes::devices::enrol,
        routes::devices::list,
        routes::devices::revoke,
        routes::parents::import,
        routes::parents::list,
        routes::parents::reissue,
        routes::parents::redeem,
        routes::parents::mine,
        routes::audit::list,
        routes::verify::verify,
        routes::compliance::academy,
        routes::compliance::mine,
        routes::compliance::chase,
        routes::compliance::remind,
        routes::policies::list,
        routes::policies::publish,
        routes::policies::get_version,
        routes::policies::versions,
        routes::rules::get,
        routes::rules::put,
        routes::academies::list,
        routes::academies::put,
        routes::trust::get,
        routes::trust::put,
        routes::pull::pull,
        routes::sync::push,
        routes::agreements::list,
        routes::reception::snapshot,
        routes::reception::put_settings,
        routes::incidents::key,
        routes::incidents::list,
        routes::incidents::get,
        routes::incidents::add_follow_up,
        routes::incidents::alerts,
        routes::incidents::report,
        routes::incidents::report_csv,
        routes::incidents::person,
        routes::incidents::attachment,
        routes::attachments::status,
        routes::attachments::put_piece,
    ),
    components(
        // A push's `change` is documented as any object (each is read on its
        // own); what a device sends is a `Change`, described here.
        schemas(ApiError, haven_core::sync::wire::Change),
        responses(Unauthorized, Forbidden, PayloadTooLarge, UnsupportedMediaType, TooManyAttempts, Internal, Busy)
    ),
    modifiers(&BearerAuth, &StrictTaggedVariants),
    tags(
        (name = "meta", description = "The server and this document"),
        (name = "auth", description = "Signing in and out, the second factor, set-up and invitation links"),
        (name = "staff", description = "Staff accounts and roles, and the trust's account rules"),
        (name = "devices", description = "Enrolled reception kiosks and shared tablets"),
        (name = "parents", description = "Parent/carer invitation links"),
        (name = "audit", description = "Who did what"),
        (name = "policies", description = "The policy library: published, immutable versions"),
        (name = "rules", description = "The trust's rule tables"),
        (name = "organisation", description = "The trust and its academies"),
        (name = "sync", description = "Devices: pull what changed, push the outbox"),
        (name = "agreements", description = "Signed agreements, for admins"),
        (name = "reception", description = "The reception desk: who is on site, and the academy's visitor rules"),
        (name = "incidents", description = "E-safety incidents: the key devices seal them for, the DSL's log, follow-ups, alerts and reports"),
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme the admin operations name.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// What `deny_unknown_fields` means on the tagged enums, which the derive
/// does not say: no field beside the tag and the content (`Change`) or the
/// variant's own fields (`PolicyOwner`, whose unit variant is read strictly
/// too). So each variant object is closed (`additionalProperties: false`).
struct StrictTaggedVariants;

/// The tagged enums declared with `#[serde(deny_unknown_fields)]`.
const STRICT_TAGGED_ENUMS: [&str; 4] = ["Change", "PolicyOwner", "Capacity", "SignatureMark"];

impl Modify for StrictTaggedVariants {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for name in STRICT_TAGGED_ENUMS {
            let Some(RefOr::T(Schema::OneOf(one_of))) = components.schemas.get_mut(name) else {
                continue;
            };
            for variant in &mut one_of.items {
                if let RefOr::T(Schema::Object(object)) = variant {
                    object.additional_properties =
                        Some(Box::new(AdditionalProperties::FreeForm(false)));
                }
            }
        }
    }
}

/// The document, serialised once.
pub fn document_json() -> Result<&'static str, AppError> {
    static DOC: OnceLock<Result<String, String>> = OnceLock::new();
    DOC.get_or_init(|| ApiDoc::openapi().to_json().map_err(|e| e.to_string()))
        .as_deref()
        .map_err(|e| AppError::Internal(format!("cannot serialise the OpenAPI document: {e}")))
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    operation_id = "openapi",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API", body = Object),
        (status = 500, response = Internal),
    )
)]
pub async fn serve() -> Result<Response, AppError> {
    Ok((
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        document_json()?,
    )
        .into_response())
}

/// An [`ApiError`] response, for the reusable responses below.
fn error_body(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ApiError")))
            .build(),
    )
}

/// A reusable error response: `$name` in `components.responses`.
macro_rules! error_response {
    ($name:ident, $description:literal) => {
        #[doc = $description]
        pub struct $name;

        impl<'r> utoipa::ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<ApiResponse>) {
                (stringify!($name), error_body($description).build().into())
            }
        }
    };
}

error_response!(
    Forbidden,
    "`forbidden`: the caller is signed in but their role (at that academy) does not allow this; `second_factor_enrolment_required`: set up the second factor first."
);
error_response!(
    PayloadTooLarge,
    "`payload_too_large`: the body is over the limit (2 MiB)."
);
error_response!(
    UnsupportedMediaType,
    "`unsupported_media_type`: the body is not sent as `application/json`."
);
/// An error response that also carries `Retry-After` in seconds.
fn with_retry_after(description: &str) -> ApiResponse {
    error_body(description)
        .header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some("Seconds to wait"))
                .build(),
        )
        .build()
}

/// `too_many_attempts`, with `Retry-After` in seconds.
pub struct TooManyAttempts;

impl<'r> utoipa::ToResponse<'r> for TooManyAttempts {
    fn response() -> (&'r str, RefOr<ApiResponse>) {
        let response = with_retry_after(
            "`too_many_attempts`: too many failed sign-ins, codes or links; the message says how long to wait.",
        );
        ("TooManyAttempts", response.into())
    }
}

/// `busy`, with `Retry-After` in seconds: too many password checks waiting.
pub struct Busy;

impl<'r> utoipa::ToResponse<'r> for Busy {
    fn response() -> (&'r str, RefOr<ApiResponse>) {
        let response = with_retry_after(
            "`busy`: too many sign-ins are being checked at once; nothing was checked or counted, try again after `Retry-After`.",
        );
        ("Busy", response.into())
    }
}

error_response!(
    Internal,
    "`internal`: something went wrong on the server (details are logged, not returned)."
);

/// `unauthorized`, with the `WWW-Authenticate: Bearer` header every 401 has.
pub struct Unauthorized;

impl<'r> utoipa::ToResponse<'r> for Unauthorized {
    fn response() -> (&'r str, RefOr<ApiResponse>) {
        let response =
            error_body("`unauthorized`: the bearer token is missing, unknown or expired; `device_revoked`: this device's enrolment was withdrawn.")
                .header(
                    "WWW-Authenticate",
                    HeaderBuilder::new()
                        .schema(ObjectBuilder::new().schema_type(Type::String))
                        .description(Some("`Bearer`"))
                        .build(),
                )
                .build();
        ("Unauthorized", response.into())
    }
}

/// Example requests, from the demo data, so the document shows real bodies and
/// Schemathesis's first cases get past the checks.
pub(crate) mod examples {
    use crate::store::demo;
    use haven_core::agreement::AgreementRecord;
    use haven_core::api::LoginRequest;
    use haven_core::policy::{Audience, PolicyKind, PolicyOwner, PublishPolicyVersion};
    use haven_core::rules::RuleTables;
    use haven_core::sync::wire::{Change, Mutation, PushRequest};
    use serde_json::Value;
    use uuid::Uuid;

    fn value(v: impl serde::Serialize) -> Value {
        serde_json::to_value(v).unwrap_or_default()
    }

    pub fn login() -> Value {
        value(LoginRequest {
            email: demo::ADMIN_EMAIL.to_owned(),
            password: demo::ADMIN_PASSWORD.to_owned(),
            totp_code: None,
        })
    }

    pub fn staff_aua_version_id() -> Value {
        value(demo::STAFF_AUA_VERSION_ID)
    }

    pub fn staff_aua_policy_id() -> Value {
        let versions = demo::policy_versions();
        let staff = versions.iter().find(|v| v.id == demo::STAFF_AUA_VERSION_ID);
        value(staff.map(|v| v.policy_id))
    }

    pub fn publish_policy() -> Value {
        value(PublishPolicyVersion {
            policy_id: Some(Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0299)),
            title: "Remote Learning Agreement".to_owned(),
            kind: PolicyKind::PupilAua,
            audiences: vec![Audience::Pupil, Audience::ParentCarer],
            owner: PolicyOwner::Trust,
            body_markdown: "## Live lessons\n\nI join from a quiet place and keep my camera \
                            on when my teacher asks."
                .to_owned(),
            approved_by: "Riverside Learning Trust Board of Trustees".to_owned(),
            effective_date: "2026-09-01".to_owned(),
            last_reviewed: "2026-07-14".to_owned(),
            next_review_due: "2027-07-31".to_owned(),
            // A first version: nothing to say what changed from.
            change_summary: None,
        })
    }

    pub fn rules() -> Value {
        value(RuleTables::trust_default())
    }

    pub fn academy_id() -> Value {
        value(demo::OAKFIELD_ID)
    }

    pub fn academy() -> Value {
        let [(_, oakfield), _] = demo::academies();
        value(oakfield)
    }

    pub fn trust() -> Value {
        value(demo::trust())
    }

    pub fn reception_settings() -> Value {
        value(haven_core::visit::ReceptionSettings::default())
    }

    /// A signature of the demo staff agreement, as a device pushes it.
    pub fn push() -> Value {
        let device_id = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0401);
        let versions = demo::policy_versions();
        let Some(staff) = versions.iter().find(|v| v.id == demo::STAFF_AUA_VERSION_ID) else {
            return Value::Null;
        };
        value(PushRequest {
            device_secret: None,
            device_id,
            mutations: vec![Mutation {
                proof: None,
                id: 1,
                change: Change::CreateAgreement(AgreementRecord {
                    id: Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0402),
                    policy_version_id: staff.id,
                    policy_text_sha256: staff.text_sha256.clone(),
                    signer_name: "Ada Lovelace".to_owned(),
                    agreed: true,
                    signed_at: 1_788_250_000_000,
                    device_id,
                    ..Default::default()
                }),
            }],
            backlog: 1,
        })
    }
}
