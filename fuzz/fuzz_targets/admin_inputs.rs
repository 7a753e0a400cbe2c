//! The other inbound DTOs: `PUT /api/v1/trust`, `PUT /api/v1/academies/{id}`,
//! `POST /api/v1/auth/login` (JSON) and the query of `GET /api/v1/pull`
//! (URL-encoded, as axum's `Query` reads it). The first byte picks which.
#![no_main]

use haven_core::api::LoginRequest;
use haven_core::org::{AcademyInput, TrustInput};
use haven_core::pull::PullQuery;
use haven_fuzz::assert_json_round_trip;
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick % 4 {
        0 => {
            if let Ok(trust) = serde_json::from_slice::<TrustInput>(body) {
                assert_json_round_trip(&trust);
                if trust.validate().is_ok() {
                    assert_json_round_trip(&trust.into_trust(Uuid::from_u128(1), 1));
                }
            }
        }
        1 => {
            if let Ok(academy) = serde_json::from_slice::<AcademyInput>(body) {
                assert_json_round_trip(&academy);
                if academy.validate().is_ok() {
                    assert_json_round_trip(&academy.into_academy(Uuid::from_u128(1), 1));
                }
            }
        }
        2 => {
            if let Ok(login) = serde_json::from_slice::<LoginRequest>(body) {
                assert_json_round_trip(&login);
            }
        }
        _ => {
            if let Ok(query) = serde_urlencoded::from_bytes::<PullQuery>(body) {
                let again = serde_urlencoded::to_string(query).expect("a query encodes");
                assert_eq!(
                    serde_urlencoded::from_str::<PullQuery>(&again).ok(),
                    Some(query)
                );
            }
        }
    }
});
