//! The server's decisions about a push, without the database.
//!
//! `haven_server::store::push` runs these inside its SQLite transaction; the fault
//! simulation (`crates/haven_server/tests/sync_simulation.rs`) drives that
//! real push on SQLite, so the rules it checks are the rules the server follows.
//!
//! Per device the server keeps one number, the highest mutation id it has
//! processed (`last_processed`, 0 for a device it has never seen), and the
//! digest of every mutation it processed. A batch is checked whole first
//! ([`check_batch`], [`check_continues`]); then each mutation is
//! [`classify`]d against that number, and the number moves on with
//! [`advance`]. A replay is answered with [`replay_outcome`], which tells a
//! true replay from a different record under the same number: two devices
//! using one device id (a cloned tablet, a restored browser profile).

use super::wire::{Mutation, Outcome, MAX_BATCH};
use crate::hash::Sha256Hex;

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
    #[error("mutation ids must go up by one within a push; {next} follows {previous}")]
    OutOfOrder { previous: u64, next: u64 },
}

/// Refuses batches the protocol forbids: more than [`MAX_BATCH`] mutations, an
/// id of zero or above [`MAX_MUTATION_ID`], ids that do not go up by exactly
/// one. A device numbers its changes 1, 2, 3, ... and sends the oldest first,
/// so a gap means the device is not who the server thinks it is.
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
    if let Some(pair) = mutations.windows(2).find(|w| w[1].id != w[0].id + 1) {
        return Err(BatchError::OutOfOrder {
            previous: pair[0].id,
            next: pair[1].id,
        });
    }
    Ok(())
}

/// Why a push that is well formed on its own cannot be taken from this
/// device. Nothing of it is applied; the device keeps every record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceMismatch {
    /// The first new id is past the next one the server expects: the server
    /// has lost changes (restored from a backup) or another device took this
    /// id. The device should take a new id and send its records again.
    #[error(
        "the server has processed this device's changes up to number {last}, but this push \
         starts at {got}; the device should take a new device id and send its records again \
         (nothing is lost: records are matched by their own ids)"
    )]
    Gap { last: u64, got: u64 },
    /// A replayed number carries a different change from the one processed
    /// under it: another device is using this device's id.
    #[error(
        "change number {mutation_id} of this device was already used by another device with the \
         same device id (a copy of this browser or tablet); this device should take a new device \
         id and send its records again (nothing is lost: records are matched by their own ids)"
    )]
    Conflict { mutation_id: u64 },
}

/// Refuses a batch whose first new mutation does not follow the device's
/// last processed id. Replays (ids at or below it) are allowed: a lost reply.
pub fn check_continues(last_processed: u64, mutations: &[Mutation]) -> Result<(), DeviceMismatch> {
    match mutations.iter().find(|m| m.id > last_processed) {
        Some(first_new) if first_new.id != last_processed + 1 => Err(DeviceMismatch::Gap {
            last: last_processed,
            got: first_new.id,
        }),
        _ => Ok(()),
    }
}

/// What the server kept of a mutation it processed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Processed {
    /// The digest of its change ([`super::staff_proof::change_digest`]);
    /// `None` for mutations processed before digests were kept.
    pub change_sha256: Option<Sha256Hex>,
    /// Its code and reason, if it was refused.
    pub rejection: Option<(String, String)>,
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

/// The answer to a [`Classification::Replay`] of mutation `mutation_id`
/// whose change has digest `digest`, given what the server kept of it: the
/// rejection stored when it was first processed, if it was rejected,
/// otherwise `Duplicate`; a [`DeviceMismatch::Conflict`] if the change is not
/// the one processed under that number.
///
/// Answering `Duplicate` to a replayed rejection would be wrong: the device
/// reads `Duplicate` as "stored", deletes its outbox entry and shows the record
/// as synced, so a record the server refused would vanish from view whenever
/// the reply carrying the rejection was lost. Answering `Duplicate` to a
/// different change would be worse: a second device under the same id would
/// delete records the server never stored.
pub fn replay_outcome(
    mutation_id: u64,
    digest: &Sha256Hex,
    kept: Option<Processed>,
) -> Result<Outcome, DeviceMismatch> {
    let kept = kept.unwrap_or_default();
    if kept.change_sha256.as_ref().is_some_and(|d| d != digest) {
        return Err(DeviceMismatch::Conflict { mutation_id });
    }
    Ok(match kept.rejection {
        Some((code, reason)) => Outcome::Rejected { code, reason },
        None => Outcome::Duplicate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agreement::AgreementRecord;
    use crate::hash::Sha256Hex;
    use crate::sync::wire::Change;
    use uuid::Uuid;

    fn mutation(id: u64) -> Mutation {
        Mutation::new(
            id,
            Change::CreateAgreement(AgreementRecord {
                id: Uuid::from_u128(u128::from(id)),
                policy_version_id: Uuid::from_u128(1),
                policy_text_sha256: Sha256Hex::of(b"x"),
                signer_name: "Ada".into(),
                agreed: true,
                signed_at: 1_790_000_000_000,
                device_id: Uuid::from_u128(2),
                ..Default::default()
            }),
        )
    }

    #[test]
    fn consecutive_ids_and_empty_batches_are_valid_and_a_gap_is_not() {
        assert_eq!(
            check_batch(&[mutation(1), mutation(2), mutation(3)]),
            Ok(())
        );
        assert_eq!(
            check_batch(&[mutation(1), mutation(2), mutation(5)]),
            Err(BatchError::OutOfOrder {
                previous: 2,
                next: 5
            })
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
            "mutation ids must go up by one within a push; 1 follows 3"
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
        let digest = Sha256Hex::of(b"change");
        let kept = |rejection| {
            Some(Processed {
                change_sha256: Some(digest.clone()),
                rejection,
            })
        };
        assert_eq!(
            replay_outcome(4, &digest, kept(None)),
            Ok(Outcome::Duplicate)
        );
        assert_eq!(
            replay_outcome(
                4,
                &digest,
                kept(Some(("unknown_policy_version".into(), "why".into())))
            ),
            Ok(Outcome::Rejected {
                code: "unknown_policy_version".into(),
                reason: "why".into()
            })
        );
        // Processed before digests were kept: trusted as a replay.
        assert_eq!(replay_outcome(4, &digest, None), Ok(Outcome::Duplicate));
    }

    #[test]
    fn another_change_under_a_processed_number_is_a_conflict_not_a_duplicate() {
        let kept = Some(Processed {
            change_sha256: Some(Sha256Hex::of(b"the first device's record")),
            rejection: None,
        });
        assert_eq!(
            replay_outcome(4, &Sha256Hex::of(b"a clone's record"), kept),
            Err(DeviceMismatch::Conflict { mutation_id: 4 })
        );
    }

    #[test]
    fn a_push_must_start_where_the_server_left_off() {
        assert_eq!(check_continues(0, &[mutation(1), mutation(2)]), Ok(()));
        // A replay of old ids followed by new ones: a lost reply.
        assert_eq!(
            check_continues(3, &[mutation(2), mutation(3), mutation(4)]),
            Ok(())
        );
        assert_eq!(check_continues(9, &[mutation(5)]), Ok(()));
        assert_eq!(
            check_continues(3, &[mutation(6)]),
            Err(DeviceMismatch::Gap { last: 3, got: 6 })
        );
        // The hostile jump: one record numbered 2^63-1 under a device's id.
        assert_eq!(
            check_continues(0, &[mutation(MAX_MUTATION_ID)]),
            Err(DeviceMismatch::Gap {
                last: 0,
                got: MAX_MUTATION_ID
            })
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
