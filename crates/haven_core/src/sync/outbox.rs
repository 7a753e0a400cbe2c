//! The device's outbox: which changes to send next and what a reply means.
//!
//! The shell stores entries (IndexedDB in the PWA) and does the sending; these
//! functions decide, so the rules are the same in every shell and in tests.

use super::wire::{Mutation, Outcome, PushResponse};
use crate::Millis;
use serde::{Deserialize, Serialize};

/// Where a queued change stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EntryState {
    /// Not yet acknowledged by the server.
    Pending,
    /// The server will never accept it; kept and shown with the reason.
    Rejected { code: String, reason: String },
}

/// A change waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub mutation: Mutation,
    #[serde(flatten)]
    pub state: EntryState,
    pub queued_at: Millis,
}

/// The next changes to push: pending entries, oldest first, at most `max`.
/// A sealed incident goes in a push of its own: with its attachments it can
/// take most of what the server accepts in one request.
pub fn next_batch(entries: &[OutboxEntry], max: usize) -> Vec<Mutation> {
    let mut pending: Vec<&OutboxEntry> = entries
        .iter()
        .filter(|e| e.state == EntryState::Pending)
        .collect();
    pending.sort_by_key(|e| e.mutation.id);
    let mut batch = Vec::new();
    for e in pending.into_iter().take(max) {
        let large = matches!(
            e.mutation.change,
            crate::sync::wire::Change::CreateIncident(_)
        );
        if large && !batch.is_empty() {
            break;
        }
        batch.push(e.mutation.clone());
        if large {
            break;
        }
    }
    batch
}

/// What to do with the outbox after a reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settlement {
    /// Stored by the server (now or before): delete from the outbox.
    pub acknowledged: Vec<u64>,
    /// Refused for good: keep, marked rejected with the reason.
    pub rejected: Vec<(u64, String, String)>,
    /// Not processed (the server stopped early): send again later.
    pub unprocessed: Vec<u64>,
}

/// Reads a push reply against the mutation ids that were sent.
///
/// Only an explicit `applied` or `duplicate` acknowledges an entry. A sent id
/// without a result is sent again, even if it is at or below
/// `last_mutation_id`: the server answers a replay with its first answer
/// (including a rejection), so guessing here could only drop a record.
pub fn settle(sent: &[u64], reply: &PushResponse) -> Settlement {
    let mut out = Settlement::default();
    for &id in sent {
        match reply
            .results
            .iter()
            .find(|r| r.id == id)
            .map(|r| &r.outcome)
        {
            Some(Outcome::Applied | Outcome::Duplicate) => out.acknowledged.push(id),
            Some(Outcome::Rejected { code, reason }) => {
                out.rejected.push((id, code.clone(), reason.clone()))
            }
            None => out.unprocessed.push(id),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agreement::AgreementRecord;
    use crate::hash::Sha256Hex;
    use crate::sync::wire::{Change, MutationResult};
    use uuid::Uuid;

    fn entry(id: u64, state: EntryState) -> OutboxEntry {
        OutboxEntry {
            mutation: Mutation {
                proof: None,
                id,
                change: Change::CreateAgreement(AgreementRecord {
                    id: Uuid::from_u128(id as u128),
                    policy_version_id: Uuid::from_u128(1),
                    policy_text_sha256: Sha256Hex::of(b"x"),
                    signer_name: "A".into(),
                    agreed: true,
                    signed_at: 1_790_000_000_000,
                    device_id: Uuid::from_u128(9),
                    ..Default::default()
                }),
            },
            state,
            queued_at: 0,
        }
    }

    #[test]
    fn batches_are_pending_entries_oldest_first_and_bounded() {
        let rejected = EntryState::Rejected {
            code: "c".into(),
            reason: "r".into(),
        };
        let entries = vec![
            entry(3, EntryState::Pending),
            entry(1, rejected),
            entry(2, EntryState::Pending),
        ];
        let ids: Vec<u64> = next_batch(&entries, 10).iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![2, 3]);
        assert_eq!(next_batch(&entries, 1).len(), 1);
    }

    fn incident(id: u64) -> OutboxEntry {
        OutboxEntry {
            mutation: Mutation {
                proof: None,
                id,
                change: Change::CreateIncident(crate::incident::SealedIncident {
                    id: Uuid::from_u128(id as u128),
                    device_id: Uuid::from_u128(9),
                    key_id: "k".into(),
                    wrapped_key: String::new(),
                    iv: String::new(),
                    ciphertext: "A".repeat(1000),
                }),
            },
            state: EntryState::Pending,
            queued_at: 0,
        }
    }

    #[test]
    fn a_sealed_incident_travels_in_a_push_of_its_own() {
        let entries = vec![
            entry(1, EntryState::Pending),
            entry(2, EntryState::Pending),
            incident(3),
            incident(4),
            entry(5, EntryState::Pending),
        ];
        let ids = |batch: Vec<Mutation>| batch.iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(ids(next_batch(&entries, 100)), vec![1, 2]);
        assert_eq!(ids(next_batch(&entries[2..], 100)), vec![3]);
        assert_eq!(ids(next_batch(&entries[3..], 100)), vec![4]);
        assert_eq!(ids(next_batch(&entries[4..], 100)), vec![5]);
    }

    #[test]
    fn a_reply_sorts_sent_ids_into_acknowledged_rejected_and_unprocessed() {
        let reply = PushResponse {
            last_mutation_id: 12,
            results: vec![
                MutationResult {
                    id: 10,
                    outcome: Outcome::Applied,
                },
                MutationResult {
                    id: 11,
                    outcome: Outcome::Duplicate,
                },
                MutationResult {
                    id: 12,
                    outcome: Outcome::Rejected {
                        code: "c".into(),
                        reason: "why".into(),
                    },
                },
            ],
        };
        let s = settle(&[9, 10, 11, 12, 13], &reply);
        assert_eq!(s.acknowledged, vec![10, 11]);
        assert_eq!(s.rejected, vec![(12, "c".into(), "why".into())]);
        // 9 is at or below last_mutation_id but has no answer: send it again
        // rather than guess it was stored.
        assert_eq!(s.unprocessed, vec![9, 13]);
    }
}
