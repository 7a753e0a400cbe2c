//! Messages between a device and the server.

use crate::agreement::AgreementRecord;
use crate::incident::SealedIncident;
use crate::visit::{VisitEnd, VisitRecord};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most mutations the server takes in one push.
pub const MAX_BATCH: usize = 500;

/// One change made on a device, numbered by that device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Mutation {
    /// Per-device number, starting at 1 and increasing by exactly one per
    /// change: the server refuses a gap.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 9_223_372_036_854_775_807_u64)
    )]
    pub id: u64,
    /// A [`Change`]. Documented as any object: the server reads each change
    /// on its own, and answers one it cannot read `rejected`
    /// (`unreadable_change`) without refusing the rest of the push.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub change: Change,
    /// For a record that names a member of staff (an agreement they signed,
    /// an incident they logged) sent by a shared or enrolled device: proof
    /// that the person was unlocked on this device when it was made
    /// ([`super::staff_proof`]). A staff session's own push needs none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<StaffProof>,
}

impl Mutation {
    /// A mutation with no staff proof.
    pub fn new(id: u64, change: Change) -> Self {
        Mutation {
            id,
            change,
            proof: None,
        }
    }
}

/// A MAC over a mutation's change, made with a staff member's proof key
/// while they were unlocked on the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StaffProof {
    /// The staff account that was unlocked.
    pub account: Uuid,
    /// HMAC-SHA256, 64 lowercase hex characters.
    pub mac: String,
}

/// What a mutation does. Records are append-only, so every change is a creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(
    tag = "type",
    content = "record",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum Change {
    CreateAgreement(AgreementRecord),
    /// A visitor signed in at reception.
    CreateVisit(VisitRecord),
    /// A visitor signed out (or was closed at the end of the day).
    EndVisit(VisitEnd),
    /// An e-safety incident, sealed for the server.
    CreateIncident(SealedIncident),
    /// A change the server could not read (a record from a newer or broken
    /// app): made only by the server's reader
    /// ([`Mutation::lenient`]), never sent, answered `rejected` on its own so
    /// the records behind it go on.
    #[serde(skip)]
    Unreadable(Unreadable),
}

/// What the server keeps of a change it could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// Why, as the JSON reader said it.
    pub reason: String,
    /// The digest of the change's JSON as sent, so a replay of the same
    /// bytes is a replay.
    pub digest: crate::hash::Sha256Hex,
}

impl Mutation {
    /// A mutation whose change is the JSON text `change`: read as a
    /// [`Change`] if it is one, else kept as [`Change::Unreadable`].
    pub fn lenient(id: u64, change: &str, proof: Option<StaffProof>) -> Mutation {
        let change = serde_json::from_str(change).unwrap_or_else(|e: serde_json::Error| {
            Change::Unreadable(Unreadable {
                reason: e.to_string(),
                digest: crate::hash::Sha256Hex::of(change.as_bytes()),
            })
        });
        Mutation { id, change, proof }
    }
}

impl Change {
    /// The device the record was made on (its own field, which never
    /// changes, even when the device later takes a new id).
    pub fn made_on(&self) -> Uuid {
        match self {
            Change::CreateAgreement(r) => r.device_id,
            Change::CreateVisit(v) => v.device_id,
            Change::EndVisit(e) => e.device_id,
            Change::CreateIncident(i) => i.device_id,
            Change::Unreadable(_) => Uuid::nil(),
        }
    }

    /// The id of the record this change creates.
    pub fn record_id(&self) -> Uuid {
        match self {
            Change::CreateAgreement(r) => r.id,
            Change::CreateVisit(v) => v.id,
            Change::EndVisit(e) => e.id,
            Change::CreateIncident(i) => i.id,
            Change::Unreadable(_) => Uuid::nil(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    pub device_id: Uuid,
    /// The secret this browser made on its first run (32 random bytes,
    /// base64url without padding). The first push under a device id binds the
    /// id to it; any later push under that id must carry it. An enrolled
    /// device is bound by its token instead and may leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 43, max_length = 43, pattern = "^[A-Za-z0-9_-]{43}$")
    )]
    pub device_secret: Option<String>,
    /// In increasing `id` order.
    #[cfg_attr(feature = "openapi", schema(max_items = 500))]
    pub mutations: Vec<Mutation>,
    /// Changes waiting on the device when it sent this push, this batch
    /// included, so an admin can see a device that has fallen behind.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(format = "uint64", maximum = 18_446_744_073_709_551_615_u64)
    )]
    pub backlog: u64,
}

/// What became of one mutation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Applied now.
    Applied,
    /// Applied by an earlier push; nothing was done this time.
    Duplicate,
    /// Can never be applied. It is marked processed so the queue moves on; the
    /// device keeps the record and shows the reason.
    Rejected { code: String, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MutationResult {
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 9_223_372_036_854_775_807_u64)
    )]
    pub id: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    /// The highest mutation number the server has processed for this device.
    #[cfg_attr(feature = "openapi", schema(maximum = 9_223_372_036_854_775_807_u64))]
    pub last_mutation_id: u64,
    pub results: Vec<MutationResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_tagged_by_type_on_the_wire() {
        let json = serde_json::json!({
            "id": 1,
            "change": {"type": "create_agreement", "record": {
                "id": "0190c5e0-0000-7000-8000-000000000001",
                "policy_version_id": "0190c5e0-0000-7000-8000-000000000002",
                "policy_text_sha256": "a".repeat(64),
                "signer_name": "Ada",
                "agreed": true,
                "signed_at": 1790000000000i64,
                "device_id": "0190c5e0-0000-7000-8000-000000000003"
            }}
        });
        let m: Mutation = serde_json::from_value(json).unwrap();
        let Change::CreateAgreement(r) = m.change else {
            panic!("an agreement")
        };
        assert_eq!(r.signer_name, "Ada");
    }

    #[test]
    fn outcomes_read_naturally_in_json() {
        let r = MutationResult {
            id: 7,
            outcome: Outcome::Rejected {
                code: "unknown_policy_version".into(),
                reason: "x".into(),
            },
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["status"], "rejected");
        assert_eq!(v["id"], 7);
        assert_eq!(v["code"], "unknown_policy_version");
    }
}

/// Asks for a sync credential for this browser (`POST /auth/sync-credential`,
/// with a full staff session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SyncCredentialRequest {
    /// The browser's own secret, as its pushes send it.
    pub device_secret: String,
}

/// What a browser that is not an enrolled device keeps to send its records
/// while the screen is locked, instead of the person's session: it can push
/// and upload attachments under device ids bound to this browser's secret,
/// and nothing else, and ends with the session it was made from.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncCredential {
    /// Bearer token (`hk_…`); only its hash is kept on the server.
    pub token: String,
    /// When it stops working (the session's end), ms since the epoch.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub expires_at: crate::Millis,
}

impl std::fmt::Debug for SyncCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A token in a log is a credential leaked.
        f.debug_struct("SyncCredential")
            .field("token", &"…")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}
