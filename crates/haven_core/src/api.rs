//! Wire types of the REST API other than sync (see [`crate::sync::wire`]).

use crate::agreement::AgreementRecord;
use crate::Millis;
use serde::{Deserialize, Serialize};

/// Every error the API returns: a stable machine-readable code and a sentence
/// for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResponse {
    /// Bearer token; only its hash is kept on the server.
    pub token: String,
    pub expires_at: Millis,
}

/// A stored agreement as an admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementView {
    #[serde(flatten)]
    pub record: AgreementRecord,
    /// Server clock when the record arrived.
    pub received_at: Millis,
}
