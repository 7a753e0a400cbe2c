//! `PUT /api/v1/rules`: the tables as the server decodes them and validates
//! them; for valid tables, the guidance for every incident type they list.
#![no_main]

use haven_core::rules::{Involved, RuleTables};
use haven_fuzz::assert_json_round_trip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(tables) = serde_json::from_slice::<RuleTables>(data) else {
        return;
    };
    assert_json_round_trip(&tables);
    if let Err(e) = tables.validate() {
        assert!(!e.field.is_empty() && !e.problem.is_empty(), "{e:?}");
        return;
    }
    for involved in Involved::ALL {
        for (id, _) in tables.incident_types(involved) {
            let guidance = tables
                .guidance(involved, id.as_str())
                .expect("an incident type the table lists has guidance");
            assert_eq!(&guidance.incident_type, id);
            assert!(guidance
                .routes
                .windows(2)
                .all(|w| w[0].timescale <= w[1].timescale));
        }
    }
});
