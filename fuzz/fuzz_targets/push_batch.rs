//! `POST /api/v1/sync/push`: the body as the server decodes it, the batch
//! checks it runs before anything is applied, and each record's validation.
#![no_main]

use haven_core::sync::server_rules::{self, Classification, MAX_MUTATION_ID};
use haven_core::sync::wire::{Change, PushRequest, MAX_BATCH};
use haven_fuzz::assert_json_round_trip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<PushRequest>(data) else {
        return;
    };
    assert_json_round_trip(&request);
    let checked = server_rules::check_batch(&request.mutations);
    if checked.is_ok() {
        assert!(request.mutations.len() <= MAX_BATCH);
        let mut last = 0;
        for m in &request.mutations {
            assert!(m.id >= 1 && m.id <= MAX_MUTATION_ID);
            // A device's number moves on with each new id of an accepted batch.
            assert_eq!(server_rules::classify(last, m.id), Classification::New);
            last = server_rules::advance(last, m.id);
            assert_eq!(last, m.id);
        }
    }
    for m in &request.mutations {
        let refusal = match &m.change {
            Change::CreateAgreement(record) => record.validate().err().map(|e| e.to_string()),
            Change::CreateVisit(visit) => visit.validate().err().map(|e| e.to_string()),
            Change::EndVisit(end) => end.validate().err().map(|e| e.to_string()),
            // Sealed: only the server's key opens it; nothing to check here.
            Change::CreateIncident(_) => None,
        };
        // Every refusal is a sentence for a person.
        if let Some(reason) = refusal {
            assert!(!reason.is_empty());
        }
    }
});
