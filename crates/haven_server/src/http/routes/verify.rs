//! `GET /api/v1/verify/{code}`: public. Says whether a receipt's record exists
//! and is unaltered, showing initials rather than names.

use crate::error::AppError;
use crate::http::auth::ClientAddr;
use crate::http::json::Json;
use crate::http::openapi::{Internal, TooManyAttempts};
use crate::http::routes::auth::{count_failure, guard_address};
use crate::state::AppState;
use crate::store::policies::find_version;
use axum::extract::{Path, State};
use haven_core::agreement::normalise_receipt_code;
use haven_core::api::{initials, ApiError, VerifiedReceipt};

/// Checks a receipt code.
#[utoipa::path(
    get,
    path = "/api/v1/verify/{code}",
    tag = "agreements",
    operation_id = "verify_receipt",
    params(("code" = String, Path, description = "The receipt code, e.g. `7K3M-Q9XD` (case and dashes do not matter)")),
    responses(
        (status = 200, description = "The record(s) with this code, each with whether it is unaltered", body = Vec<VerifiedReceipt>),
        (status = 400, description = "`bad_request`: not a receipt code", body = ApiError),
        (status = 404, description = "`not_found`: no record has this code", body = ApiError),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    )
)]
pub async fn verify(
    State(state): State<AppState>,
    client: ClientAddr,
    Path(code): Path<String>,
) -> Result<Json<Vec<VerifiedReceipt>>, AppError> {
    guard_address(&state, &client).await?;
    let code = normalise_receipt_code(&code).ok_or_else(|| {
        AppError::BadRequest(format!(
            "{code:?} is not a receipt code; it looks like 7K3M-Q9XD"
        ))
    })?;
    let found = crate::store::ledger::find_receipt(&state.pool, &code).await?;
    if found.is_empty() {
        return count_failure(
            &state,
            &client,
            Err(AppError::NotFound(format!(
                "no signed record has the receipt code {code}; check it for typing mistakes"
            ))),
        )
        .await;
    }
    let mut receipts = Vec::with_capacity(found.len());
    for receipt in found {
        let version = find_version(&state.pool, receipt.record.policy_version_id).await?;
        receipts.push(VerifiedReceipt {
            receipt_code: code.clone(),
            policy_title: version
                .as_ref()
                .map(|v| v.title.clone())
                .unwrap_or_default(),
            policy_version: version.map(|v| v.version).unwrap_or_default(),
            agreed: receipt.record.agreed,
            signer_initials: initials(&receipt.record.signer_name),
            signed_at: receipt.record.signed_at,
            received_at: receipt.received_at,
            unaltered: receipt.unaltered,
        });
    }
    Ok(Json(receipts))
}
