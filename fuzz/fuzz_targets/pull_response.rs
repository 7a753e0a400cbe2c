//! What a device takes in from a pull: the reply as the PWA decodes it, each
//! policy's digest check and its rendering in the reader.
#![no_main]

use haven_core::pull::PullResponse;
use haven_core::render::render_policy;
use haven_fuzz::{assert_json_round_trip, assert_rendered_ok};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(reply) = serde_json::from_slice::<PullResponse>(data) else {
        return;
    };
    assert_json_round_trip(&reply);
    let _ = reply.is_empty();
    for policy in &reply.policies {
        let _ = policy.hash_is_consistent();
        assert_rendered_ok(&render_policy(&policy.body_markdown, None), false);
    }
    if let Some(rules) = &reply.rules {
        let _ = rules.tables.validate();
    }
});
