//! Proof that a member of staff made a record on a shared device.
//!
//! A reception kiosk or a shared tablet pushes with its own token, which says
//! which device sent a record but not who was at it. A record that names a
//! member of staff (an agreement they signed, an incident they logged) must
//! also carry a MAC made with that person's *proof key* while they were
//! unlocked on the device. The proof key comes from their *online key*, which
//! the server derives from its own key and hands out only at that person's
//! online sign-in; the device keeps it sealed under their PIN-protected data
//! key. So a kiosk's token alone can never make a teacher "signed".
//!
//! The MAC covers the device the record was made on (the record's own
//! `device_id`) and the digest of the change, so it cannot be moved to
//! another record or another device, and still holds when the device later
//! takes a new id and sends the record again.

use super::wire::{Change, StaffProof};
use crate::hash::Sha256Hex;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// The digest of a change as the server and the device both serialise it:
/// what a proof covers, and what the server keeps of every processed
/// mutation to tell a replay from a different record under the same number.
pub fn change_digest(change: &Change) -> Sha256Hex {
    if let Change::Unreadable(unreadable) = change {
        return unreadable.digest.clone();
    }
    // Plain data with string keys: serialising cannot fail.
    Sha256Hex::of(&serde_json::to_vec(change).unwrap_or_default())
}

/// The staff account a change names, if it names one. An incident's author
/// is inside the sealed record, so for an incident the proof's own account is
/// checked against it once the server has opened it.
pub fn named_account(change: &Change) -> Option<Uuid> {
    match change {
        Change::CreateAgreement(record) => record.signer_account,
        Change::CreateVisit(_)
        | Change::EndVisit(_)
        | Change::CreateIncident(_)
        | Change::Unreadable(_) => None,
    }
}

/// Whether a change from a shared or enrolled device needs a staff proof.
pub fn needs_proof(change: &Change) -> bool {
    matches!(change, Change::CreateIncident(_)) || named_account(change).is_some()
}

/// The key a person's proofs are made with, from their online key (kept
/// apart from it so a MAC can never be mistaken for a wrapping key).
pub fn proof_key(online_key: &[u8; 32]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(online_key).expect("HMAC takes any key length");
    mac.update(b"haven staff proof key v1");
    mac.finalize().into_bytes().into()
}

fn mac_over(proof_key: &[u8; 32], change: &Change) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(proof_key).expect("HMAC takes any key length");
    mac.update(b"haven staff proof v1\0");
    mac.update(change.made_on().as_bytes());
    mac.update(change_digest(change).as_str().as_bytes());
    mac
}

/// The proof `account` attaches to `change` (made on the device the
/// change's record names).
pub fn sign(proof_key: &[u8; 32], account: Uuid, change: &Change) -> StaffProof {
    StaffProof {
        account,
        mac: hex::encode(mac_over(proof_key, change).finalize().into_bytes()),
    }
}

/// Why a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error(
        "this record names a member of staff but carries no proof that they were unlocked on \
         the device that sent it; unlock the device with your PIN (or sign in) and make it again"
    )]
    Missing,
    #[error(
        "the record names staff account {named}, but its proof was made by account {prover}: \
         only the person named can sign or log it"
    )]
    WrongAccount { named: Uuid, prover: Uuid },
    #[error(
        "the staff proof on this record does not match it: it was changed after it was made, \
         or made on another device; make it again while unlocked on this device"
    )]
    BadMac,
}

/// Checks `proof` over `change`, with the proof key of the account it
/// claims (constant-time comparison). The account the change names, if any,
/// must be the prover.
pub fn verify(proof_key: &[u8; 32], proof: &StaffProof, change: &Change) -> Result<(), ProofError> {
    if let Some(named) = named_account(change) {
        if named != proof.account {
            return Err(ProofError::WrongAccount {
                named,
                prover: proof.account,
            });
        }
    }
    let Ok(given) = hex::decode(&proof.mac) else {
        return Err(ProofError::BadMac);
    };
    mac_over(proof_key, change)
        .verify_slice(&given)
        .map_err(|_| ProofError::BadMac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agreement::AgreementRecord;

    fn agreement(account: Option<Uuid>, name: &str) -> Change {
        agreement_on(Uuid::from_u128(2), account, name)
    }

    fn agreement_on(device: Uuid, account: Option<Uuid>, name: &str) -> Change {
        Change::CreateAgreement(AgreementRecord {
            id: Uuid::from_u128(7),
            policy_version_id: Uuid::from_u128(1),
            policy_text_sha256: Sha256Hex::of(b"x"),
            signer_name: name.into(),
            agreed: true,
            signed_at: 1_790_000_000_000,
            device_id: device,
            signer_account: account,
            ..Default::default()
        })
    }

    #[test]
    fn a_proof_made_by_the_named_person_on_this_device_holds() {
        let teacher = Uuid::from_u128(10);
        let key = proof_key(&[1; 32]);
        let change = agreement(Some(teacher), "Ada");
        let proof = sign(&key, teacher, &change);
        assert_eq!(verify(&key, &proof, &change), Ok(()));
        assert!(needs_proof(&change));
    }

    #[test]
    fn a_proof_fails_on_another_record_device_key_or_person() {
        let teacher = Uuid::from_u128(10);
        let key = proof_key(&[1; 32]);
        let change = agreement(Some(teacher), "Ada");
        let proof = sign(&key, teacher, &change);
        let other = agreement(Some(teacher), "Ada Lovelace");
        assert_eq!(verify(&key, &proof, &other), Err(ProofError::BadMac));
        let elsewhere = agreement_on(Uuid::from_u128(3), Some(teacher), "Ada");
        assert_eq!(verify(&key, &proof, &elsewhere), Err(ProofError::BadMac));
        assert_eq!(
            verify(&proof_key(&[2; 32]), &proof, &change),
            Err(ProofError::BadMac)
        );
        let someone_else = Uuid::from_u128(11);
        let theirs = sign(&key, someone_else, &change);
        assert_eq!(
            verify(&key, &theirs, &change),
            Err(ProofError::WrongAccount {
                named: teacher,
                prover: someone_else
            })
        );
        let garbled = StaffProof {
            account: teacher,
            mac: "zz".into(),
        };
        assert_eq!(verify(&key, &garbled, &change), Err(ProofError::BadMac));
    }

    #[test]
    fn a_visitor_or_parent_record_needs_no_proof() {
        assert!(!needs_proof(&agreement(None, "A parent")));
    }

    #[test]
    fn the_proof_key_is_not_the_online_key() {
        assert_ne!(proof_key(&[1; 32]), [1; 32]);
        assert_ne!(proof_key(&[1; 32]), proof_key(&[2; 32]));
    }
}
