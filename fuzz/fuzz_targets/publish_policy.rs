//! `POST /api/v1/policies`: the body as the server decodes it and the checks
//! it runs before publishing; a valid request becomes a version whose digest
//! is the digest of its text.
#![no_main]

use haven_core::policy::{PolicyVersion, PublishPolicyVersion, MAX_BODY_BYTES};
use haven_core::render::render_policy;
use haven_fuzz::{assert_json_round_trip, assert_rendered_ok};
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<PublishPolicyVersion>(data) else {
        return;
    };
    assert_json_round_trip(&request);
    if let Err(e) = request.validate() {
        assert!(!e.field.is_empty() && !e.problem.is_empty(), "{e:?}");
        return;
    }
    assert!(request.body_markdown.len() <= MAX_BODY_BYTES);
    let version: PolicyVersion = request.clone().into_version(
        Uuid::from_u128(1),
        request.policy_id.unwrap_or(Uuid::from_u128(2)),
        1,
        1_790_000_000_000,
    );
    assert!(version.hash_is_consistent());
    assert!(request.is_published_as(&version));
    assert_json_round_trip(&version);
    assert_rendered_ok(&render_policy(&version.body_markdown, None), false);
});
