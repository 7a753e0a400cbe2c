//! The record digest detects any single-field change: random records, each
//! changed in one field, never keep their digest (or their receipt code,
//! beyond the odds of 40 bits).

use haven_core::agreement::{AgreementRecord, Capacity};
use haven_core::hash::Sha256Hex;
use haven_core::policy::Audience;
use haven_core::signature::{Point, SignatureMark, Stroke, TYPED_STATEMENT};
use proptest::prelude::*;
use std::collections::BTreeMap;
use uuid::Uuid;

fn text() -> impl Strategy<Value = String> {
    "[ -~é’]{0,24}"
}

fn mark() -> impl Strategy<Value = Option<SignatureMark>> {
    prop_oneof![
        Just(None),
        text().prop_map(|name| Some(SignatureMark::Typed {
            typed_name: name,
            statement: TYPED_STATEMENT.into()
        })),
        proptest::collection::vec((0u16..1200, 0u16..400, any::<u32>()), 1..12).prop_map(
            |points| {
                Some(SignatureMark::Drawn {
                    strokes: vec![Stroke {
                        points: points
                            .into_iter()
                            .map(|(x, y, t)| Point { x, y, t })
                            .collect(),
                    }],
                })
            }
        ),
    ]
}

prop_compose! {
    fn record()(
        ids in any::<[u128; 3]>(),
        digest in any::<[u8; 8]>(),
        signer_name in text(),
        agreed in any::<bool>(),
        signed_at in 946_684_800_000i64..7_258_118_400_000,
        child in proptest::option::of((text(), text())),
        role in proptest::option::of(proptest::sample::select(Audience::ALL.to_vec())),
        job_title in proptest::option::of(text()),
        account in proptest::option::of(any::<u128>()),
        answers in proptest::collection::btree_map("[a-z_]{1,8}", "yes|no", 0..4),
        mark in mark(),
    ) -> AgreementRecord {
        AgreementRecord {
            id: Uuid::from_u128(ids[0]),
            policy_version_id: Uuid::from_u128(ids[1]),
            policy_text_sha256: Sha256Hex::of(&digest),
            signer_name,
            agreed,
            signed_at,
            device_id: Uuid::from_u128(ids[2]),
            capacity: child.map_or(Capacity::Myself, |(child_name, relationship)| {
                Capacity::OnBehalfOf { child_name, relationship }
            }),
            role,
            job_title,
            signer_account: account.map(Uuid::from_u128),
            answers: answers.into_iter().collect::<BTreeMap<_, _>>(),
            mark,
        }
    }
}

/// One field of `r` changed to something it was not.
fn mutate(r: &AgreementRecord, field: u8, salt: u16) -> AgreementRecord {
    let mut m = r.clone();
    let other = format!("changed {salt}");
    match field % 13 {
        0 => m.id = Uuid::from_u128(r.id.as_u128() ^ 1),
        1 => m.policy_version_id = Uuid::from_u128(r.policy_version_id.as_u128() ^ 1),
        2 => m.policy_text_sha256 = Sha256Hex::of(other.as_bytes()),
        3 => m.signer_name = format!("{}{other}", r.signer_name),
        4 => m.agreed = !r.agreed,
        5 => m.signed_at = r.signed_at + 1,
        6 => m.device_id = Uuid::from_u128(r.device_id.as_u128() ^ 1),
        7 => {
            m.capacity = match &r.capacity {
                Capacity::Myself => Capacity::OnBehalfOf {
                    child_name: other.clone(),
                    relationship: "Carer".into(),
                },
                Capacity::OnBehalfOf { .. } => Capacity::Myself,
            }
        }
        8 => {
            m.role = match r.role {
                Some(Audience::Staff) => Some(Audience::Visitor),
                _ => Some(Audience::Staff),
            }
        }
        9 => {
            m.job_title = Some(format!(
                "{}{other}",
                r.job_title.clone().unwrap_or_default()
            ))
        }
        10 => {
            m.signer_account = Some(Uuid::from_u128(
                r.signer_account.map_or(7, |a| a.as_u128() ^ 1),
            ))
        }
        11 => {
            m.answers.insert(format!("k{salt}"), "maybe".into());
        }
        _ => {
            m.mark = match &r.mark {
                Some(SignatureMark::Drawn { strokes }) => {
                    let mut strokes = strokes.clone();
                    strokes[0].points[0].x ^= 1;
                    Some(SignatureMark::Drawn { strokes })
                }
                Some(SignatureMark::Typed {
                    typed_name,
                    statement,
                }) => Some(SignatureMark::Typed {
                    typed_name: format!("{typed_name}{other}"),
                    statement: statement.clone(),
                }),
                None => Some(SignatureMark::Typed {
                    typed_name: other.clone(),
                    statement: TYPED_STATEMENT.into(),
                }),
            }
        }
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_single_field_change_changes_the_digest(r in record(), field in any::<u8>(), salt in any::<u16>()) {
        let changed = mutate(&r, field, salt);
        prop_assert_ne!(&changed, &r);
        prop_assert_ne!(changed.record_sha256(), r.record_sha256());
    }

    #[test]
    fn the_digest_survives_a_round_trip_through_json(r in record()) {
        let json = serde_json::to_string(&r).unwrap();
        let back: AgreementRecord = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back.record_sha256(), r.record_sha256());
        prop_assert_eq!(back.receipt_code(), r.receipt_code());
    }
}
