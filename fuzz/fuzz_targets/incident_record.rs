//! What the server reads once a sealed incident is opened: the record's
//! JSON, its checks against the default rule tables, and the follow-up
//! bodies the DSL's log sends. None may panic; every refusal is a sentence.
#![no_main]

use haven_core::incident::{FollowUpInput, IncidentRecord, IncidentStatus};
use haven_core::rules::RuleTables;
use haven_fuzz::assert_json_round_trip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = serde_json::from_slice::<IncidentRecord>(data) {
        assert_json_round_trip(&record);
        if let Err(e) = record.validate_against(&RuleTables::trust_default()) {
            assert!(!e.to_string().is_empty());
        }
    }
    if let Ok(input) = serde_json::from_slice::<FollowUpInput>(data) {
        for status in [IncidentStatus::New, IncidentStatus::Closed] {
            if let Err(e) = input.validate(status, false) {
                assert!(!e.to_string().is_empty());
            }
        }
    }
});
