//! Stored agreements as staff read them: every signature for the admins'
//! list, and the records staff accounts made for compliance. Pushes insert
//! them (`push`); the ledger checks them (`ledger`).

use crate::error::AppError;
use crate::store::db::parse_id;
use crate::store::policies::digest_from_db;
use haven_core::agreement::AgreementRecord;
use haven_core::api::AgreementView;
use sqlx::AnyExecutor;

#[derive(Debug, sqlx::FromRow)]
struct AgreementRow {
    id: String,
    policy_version_id: String,
    policy_text_sha256: String,
    signer_name: String,
    #[sqlx(try_from = "crate::store::db::Flag")]
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
                id: parse_id(&row.id)?,
                policy_version_id: parse_id(&row.policy_version_id)?,
                policy_text_sha256: digest_from_db(row.policy_text_sha256)?,
                signer_name: row.signer_name,
                agreed: row.agreed,
                signed_at: row.signed_at,
                device_id: parse_id(&row.device_id)?,
                ..Default::default()
            },
            received_at: row.received_at,
            receipt_code: row.receipt_code,
            identified_by: row.identified_by,
        })
    }
}

/// All agreements, newest signature first.
pub async fn all(db: impl AnyExecutor<'_>) -> Result<Vec<AgreementView>, AppError> {
    let rows: Vec<AgreementRow> = sqlx::query_as(
        "SELECT id, policy_version_id, policy_text_sha256, signer_name, agreed, signed_at, \
         device_id, received_at, record_json, receipt_code, identified_by FROM agreements \
         ORDER BY signed_at DESC, id DESC",
    )
    .fetch_all(db)
    .await?;
    rows.into_iter().map(AgreementView::try_from).collect()
}

/// One agreement made by a staff account: the account, whether they agreed,
/// when they signed, and the policy's id and version.
pub type AccountSignature = (String, i64, i64, String, i64);

/// Every agreement made by a staff account.
pub async fn signed_by_accounts(
    db: impl AnyExecutor<'_>,
) -> Result<Vec<AccountSignature>, AppError> {
    Ok(sqlx::query_as(
        "SELECT a.signer_account, a.agreed, a.signed_at, p.policy_id, p.version \
         FROM agreements a JOIN policy_versions p ON p.id = a.policy_version_id \
         WHERE a.signer_account IS NOT NULL",
    )
    .fetch_all(db)
    .await?)
}
