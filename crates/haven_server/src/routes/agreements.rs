//! `GET /api/v1/agreements`: every stored signature, for admins.

use crate::audit::{Action, Entry};
use crate::auth::{ClientAddr, TrustAdmin};
use crate::error::AppError;
use crate::json::Json;
use crate::openapi::{Forbidden, Internal, Unauthorized};
use crate::policies::{digest_from_db, uuid_from_db};
use crate::state::AppState;
use axum::extract::State;
use haven_core::agreement::AgreementRecord;
use haven_core::api::AgreementView;

#[derive(Debug, sqlx::FromRow)]
struct AgreementRow {
    id: String,
    policy_version_id: String,
    policy_text_sha256: String,
    signer_name: String,
    #[sqlx(try_from = "crate::db::Flag")]
    agreed: bool,
    signed_at: i64,
    device_id: String,
    received_at: i64,
    record_json: String,
    receipt_code: String,
    identified_by: String,
}

impl TryFrom<AgreementRow> for AgreementView {
    type Error = AppError;

    fn try_from(row: AgreementRow) -> Result<Self, AppError> {
        // The whole record as received; the columns for rows that predate it.
        if let Ok(record) = serde_json::from_str::<AgreementRecord>(&row.record_json) {
            return Ok(AgreementView {
                record,
                received_at: row.received_at,
                receipt_code: row.receipt_code,
                identified_by: row.identified_by,
            });
        }
        Ok(AgreementView {
            record: AgreementRecord {
                id: uuid_from_db(&row.id)?,
                policy_version_id: uuid_from_db(&row.policy_version_id)?,
                policy_text_sha256: digest_from_db(row.policy_text_sha256)?,
                signer_name: row.signer_name,
                agreed: row.agreed,
                signed_at: row.signed_at,
                device_id: uuid_from_db(&row.device_id)?,
                ..Default::default()
            },
            received_at: row.received_at,
            receipt_code: row.receipt_code,
            identified_by: row.identified_by,
        })
    }
}

/// All agreements, newest signature first.
#[utoipa::path(
    get,
    path = "/api/v1/agreements",
    tag = "agreements",
    operation_id = "list_agreements",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every stored agreement, newest signature first", body = Vec<AgreementView>),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn list(
    TrustAdmin(admin): TrustAdmin,
    client: ClientAddr,
    State(state): State<AppState>,
) -> Result<Json<Vec<AgreementView>>, AppError> {
    Entry::new(admin.actor(), Action::ReadAgreements)
        .client(&client)
        .write(&state.pool)
        .await?;
    let rows: Vec<AgreementRow> = sqlx::query_as(
        "SELECT id, policy_version_id, policy_text_sha256, signer_name, agreed, signed_at, \
         device_id, received_at, record_json, receipt_code, identified_by FROM agreements \
         ORDER BY signed_at DESC, id DESC",
    )
    .fetch_all(&state.pool)
    .await?;
    rows.into_iter()
        .map(AgreementView::try_from)
        .collect::<Result<_, _>>()
        .map(Json)
}
