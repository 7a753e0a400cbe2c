//! The server's ledger of accepted agreements: a hash chain, each entry
//! holding the previous entry's hash, so changing or deleting any stored
//! agreement (or entry) is detectable by walking the chain
//! (`haven_server verify-ledger`).

use crate::hash::Sha256Hex;
use crate::Millis;
use uuid::Uuid;

/// The `prev_hash` of the first entry.
pub fn genesis() -> Sha256Hex {
    Sha256Hex::of(b"haven ledger genesis")
}

/// One entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub seq: i64,
    pub agreement_id: Uuid,
    /// [`crate::agreement::AgreementRecord::record_sha256`] of the record.
    pub record_sha256: Sha256Hex,
    /// Server time of receipt.
    pub received_at: Millis,
    /// How the signer was identified, e.g. `staff:<user id>`.
    pub identified_by: String,
    pub prev_hash: Sha256Hex,
    pub entry_hash: Sha256Hex,
}

/// The hash of an entry: over the previous hash and everything the entry
/// says, each field on its own line so no two entries can encode alike.
pub fn entry_hash(
    prev: &Sha256Hex,
    agreement_id: Uuid,
    record_sha256: &Sha256Hex,
    received_at: Millis,
    identified_by: &str,
) -> Sha256Hex {
    let text = format!(
        "haven ledger v1\n{}\n{agreement_id}\n{}\n{received_at}\n{}",
        prev.as_str(),
        record_sha256.as_str(),
        identified_by.replace('\n', " ")
    );
    Sha256Hex::of(text.as_bytes())
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerBreak {
    #[error("entry {seq}: its hash does not match what it holds (the entry was changed)")]
    EntryAltered { seq: i64 },
    #[error("entry {seq}: it does not follow entry {previous} (an entry between was removed or changed)")]
    ChainBroken { seq: i64, previous: i64 },
    #[error("entry {seq}: the first entry does not start from the genesis hash (entries before it were removed)")]
    BadStart { seq: i64 },
    #[error("entry {seq} (agreement {agreement_id}): the stored agreement no longer has the digest the ledger recorded (the agreement was changed)")]
    RecordAltered { seq: i64, agreement_id: Uuid },
    #[error("agreement {agreement_id} has no ledger entry (it was added outside Haven, or its entry removed)")]
    Unrecorded { agreement_id: Uuid },
}

/// Checks entries in `seq` order: each hash recomputes, and each follows the
/// one before. Returns every break found, not just the first.
pub fn verify_chain(entries: &[LedgerEntry]) -> Vec<LedgerBreak> {
    let mut breaks = Vec::new();
    let mut previous: Option<&LedgerEntry> = None;
    for entry in entries {
        let expected_prev = previous.map_or_else(genesis, |p| p.entry_hash.clone());
        if entry.prev_hash != expected_prev {
            breaks.push(match previous {
                None => LedgerBreak::BadStart { seq: entry.seq },
                Some(p) => LedgerBreak::ChainBroken {
                    seq: entry.seq,
                    previous: p.seq,
                },
            });
        }
        let recomputed = entry_hash(
            &entry.prev_hash,
            entry.agreement_id,
            &entry.record_sha256,
            entry.received_at,
            &entry.identified_by,
        );
        if recomputed != entry.entry_hash {
            breaks.push(LedgerBreak::EntryAltered { seq: entry.seq });
        }
        previous = Some(entry);
    }
    breaks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<LedgerEntry> {
        let mut entries: Vec<LedgerEntry> = Vec::new();
        for i in 0..n {
            let prev = entries
                .last()
                .map_or_else(genesis, |e| e.entry_hash.clone());
            let agreement_id = Uuid::from_u128(i as u128 + 1);
            let record = Sha256Hex::of(format!("record {i}").as_bytes());
            let hash = entry_hash(&prev, agreement_id, &record, 1_790_000_000_000, "staff:x");
            entries.push(LedgerEntry {
                seq: i as i64 + 1,
                agreement_id,
                record_sha256: record,
                received_at: 1_790_000_000_000,
                identified_by: "staff:x".into(),
                prev_hash: prev,
                entry_hash: hash,
            });
        }
        entries
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert!(verify_chain(&chain(5)).is_empty());
        assert!(verify_chain(&[]).is_empty());
    }

    #[test]
    fn a_changed_entry_a_removed_entry_and_a_removed_start_are_found() {
        let mut changed = chain(5);
        changed[2].identified_by = "staff:someone else".into();
        assert_eq!(
            verify_chain(&changed),
            [LedgerBreak::EntryAltered { seq: 3 }]
        );

        let mut removed = chain(5);
        removed.remove(2);
        assert_eq!(
            verify_chain(&removed),
            [LedgerBreak::ChainBroken {
                seq: 4,
                previous: 2
            }]
        );

        let headless = chain(5)[1..].to_vec();
        assert_eq!(verify_chain(&headless), [LedgerBreak::BadStart { seq: 2 }]);
    }

    #[test]
    fn every_field_is_in_the_hash() {
        let base = entry_hash(&genesis(), Uuid::from_u128(1), &Sha256Hex::of(b"r"), 1, "a");
        assert_ne!(
            base,
            entry_hash(&genesis(), Uuid::from_u128(2), &Sha256Hex::of(b"r"), 1, "a")
        );
        assert_ne!(
            base,
            entry_hash(&genesis(), Uuid::from_u128(1), &Sha256Hex::of(b"s"), 1, "a")
        );
        assert_ne!(
            base,
            entry_hash(&genesis(), Uuid::from_u128(1), &Sha256Hex::of(b"r"), 2, "a")
        );
        assert_ne!(
            base,
            entry_hash(&genesis(), Uuid::from_u128(1), &Sha256Hex::of(b"r"), 1, "b")
        );
        assert_ne!(
            base,
            entry_hash(
                &Sha256Hex::of(b"x"),
                Uuid::from_u128(1),
                &Sha256Hex::of(b"r"),
                1,
                "a"
            )
        );
    }
}
