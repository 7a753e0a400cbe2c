//! The server's decisions about a push, without the database.
//!
//! `haven_server::push` runs these inside its SQLite transaction; the in-memory
//! server in `tests/sync_simulation.rs` runs the same functions, so the rules
//! the simulation checks are the rules the real server follows.
//!
//! Per device the server keeps one number, the highest mutation id it has
//! processed (`last_processed`, 0 for a device it has never seen). A batch is
//! checked whole first; then each mutation is [`classify`]d against that
//! number, and the number moves on with [`advance`].

use super::wire::{Mutation, Outcome, MAX_BATCH};

/// Highest mutation id the server stores (SQLite integers are `i64`).
pub const MAX_MUTATION_ID: u64 = i64::MAX as u64;

/// Why a whole push is refused before anything in it is looked at. Nothing of
/// a refused batch is applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("a push may hold at most {max} mutations; this one has {got}")]
    TooLarge { got: usize, max: usize },
    #[error("mutation id {id} is out of range; ids start at 1")]
    IdOutOfRange { id: u64 },
    #[error("mutation ids must strictly increase within a push; {next} follows {previous}")]
    OutOfOrder { previous: u64, next: u64 },
}

/// Refuses batches the protocol forbids: more than [`MAX_BATCH`] mutations, an
/// id of zero or above [`MAX_MUTATION_ID`], ids not strictly increasing. Gaps
/// between ids are allowed.
pub fn check_batch(mutations: &[Mutation]) -> Result<(), BatchError> {
    if mutations.len() > MAX_BATCH {
        return Err(BatchError::TooLarge {
            got: mutations.len(),
            max: MAX_BATCH,
        });
    }
    if let Some(m) = mutations
        .iter()
        .find(|m| m.id == 0 || m.id > MAX_MUTATION_ID)
    {
        return Err(BatchError::IdOutOfRange { id: m.id });
    }
    if let Some(pair) = mutations.windows(2).find(|w| w[1].id <= w[0].id) {
        return Err(BatchError::OutOfOrder {
            previous: pair[0].id,
            next: pair[1].id,
        });
    }
    Ok(())
}

/// Whether a mutation has been processed before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classification {
    /// At or below the device's last processed id: processed by an earlier push
    /// (applied or rejected). It must have no effect now; answer it with
    /// [`replay_outcome`].
    Replay,
    /// Above it: validate and apply or reject it now, then [`advance`].
    New,
}

/// Classifies mutation `mutation_id` of a device whose highest processed id is
/// `last_processed`.
pub fn classify(last_processed: u64, mutation_id: u64) -> Classification {
    if mutation_id <= last_processed {
        Classification::Replay
    } else {
        Classification::New
    }
}

/// The device's last processed id once `mutation_id` has been processed.
/// Never lower than `last_processed`: an old batch arriving late (a retry
/// overtaken by a newer push) must not make processed ids look new again.
pub fn advance(last_processed: u64, mutation_id: u64) -> u64 {
    last_processed.max(mutation_id)
}

/// The answer to a [`Classification::Replay`]: the rejection stored when the
/// mutation was first processed, if it was rejected, otherwise `Duplicate`.
///
/// Answering `Duplicate` to a replayed rejection would be wrong: the device
/// reads `Duplicate` as "stored", deletes its outbox entry and shows the record
/// as synced, so a record the server refused would vanish from view whenever
/// the reply carrying the rejection was lost.
pub fn replay_outcome(earlier_rejection: Option<(String, String)>) -> Outcome {
    match earlier_rejection {
        Some((code, reason)) => Outcome::Rejected { code, reason },
        None => Outcome::Duplicate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agreement::AgreementRecord;
    use crate::hash::Sha256Hex;
    use crate::sync::wire::Change;
    use uuid::Uuid;

    fn mutation(id: u64) -> Mutation {
        Mutation {
            id,
            change: Change::CreateAgreement(AgreementRecord {
                id: Uuid::from_u128(u128::from(id)),
                policy_version_id: Uuid::from_u128(1),
                policy_text_sha256: Sha256Hex::of(b"x"),
                signer_name: "Ada".into(),
                agreed: true,
                signed_at: 1_790_000_000_000,
                device_id: Uuid::from_u128(2),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn increasing_ids_with_gaps_and_empty_batches_are_valid() {
        assert_eq!(
            check_batch(&[mutation(1), mutation(2), mutation(5)]),
            Ok(())
        );
        assert_eq!(check_batch(&[]), Ok(()));
        assert_eq!(check_batch(&[mutation(MAX_MUTATION_ID)]), Ok(()));
    }

    #[test]
    fn repeated_and_decreasing_ids_are_out_of_order() {
        assert_eq!(
            check_batch(&[mutation(2), mutation(2)]),
            Err(BatchError::OutOfOrder {
                previous: 2,
                next: 2
            })
        );
        let err = check_batch(&[mutation(3), mutation(1)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mutation ids must strictly increase within a push; 1 follows 3"
        );
    }

    #[test]
    fn zero_and_ids_beyond_the_database_are_out_of_range() {
        assert_eq!(
            check_batch(&[mutation(0)]),
            Err(BatchError::IdOutOfRange { id: 0 })
        );
        assert_eq!(
            check_batch(&[mutation(1), mutation(MAX_MUTATION_ID + 1)]),
            Err(BatchError::IdOutOfRange {
                id: MAX_MUTATION_ID + 1
            })
        );
        assert_eq!(
            BatchError::IdOutOfRange { id: 0 }.to_string(),
            "mutation id 0 is out of range; ids start at 1"
        );
    }

    #[test]
    fn a_batch_over_the_limit_is_too_large() {
        let batch: Vec<_> = (1..=MAX_BATCH as u64 + 1).map(mutation).collect();
        let err = check_batch(&batch).unwrap_err();
        assert_eq!(
            err,
            BatchError::TooLarge {
                got: MAX_BATCH + 1,
                max: MAX_BATCH
            }
        );
        assert_eq!(
            err.to_string(),
            "a push may hold at most 500 mutations; this one has 501"
        );
        assert_eq!(check_batch(&batch[..MAX_BATCH]), Ok(()));
    }

    #[test]
    fn ids_up_to_the_last_processed_are_replays() {
        assert_eq!(classify(0, 1), Classification::New);
        assert_eq!(classify(5, 5), Classification::Replay);
        assert_eq!(classify(5, 1), Classification::Replay);
        assert_eq!(classify(5, 6), Classification::New);
        assert_eq!(classify(5, 9), Classification::New);
    }

    #[test]
    fn a_replayed_rejection_is_rejected_again_and_anything_else_is_a_duplicate() {
        assert_eq!(replay_outcome(None), Outcome::Duplicate);
        assert_eq!(
            replay_outcome(Some(("unknown_policy_version".into(), "why".into()))),
            Outcome::Rejected {
                code: "unknown_policy_version".into(),
                reason: "why".into()
            }
        );
    }

    proptest::proptest! {
        #[test]
        fn the_last_processed_id_never_goes_down(
            start in 0u64..1_000,
            ids in proptest::collection::vec(0u64..1_000, 0..50),
        ) {
            let mut last = start;
            for id in ids {
                let before = last;
                let class = classify(last, id);
                last = advance(last, id);
                proptest::prop_assert!(last >= before);
                // A new id moves the number to itself; a replay leaves it alone.
                match class {
                    Classification::New => proptest::prop_assert_eq!(last, id),
                    Classification::Replay => proptest::prop_assert_eq!(last, before),
                }
                // Once processed, the same id is always a replay.
                proptest::prop_assert_eq!(classify(last, id), Classification::Replay);
            }
        }
    }
}
