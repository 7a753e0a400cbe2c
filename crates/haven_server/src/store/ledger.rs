//! The ledger in SQLite: every accepted agreement gets the next entry of the
//! hash chain (`haven_core::ledger`) in the same transaction as its row, and
//! [`verify`] walks the whole chain and every agreement against it.

use crate::error::AppError;
use crate::store::db::parse_id;
use crate::store::policies::digest_from_db;
use haven_core::agreement::AgreementRecord;
use haven_core::hash::Sha256Hex;
use haven_core::ledger::{entry_hash, genesis, verify_chain, LedgerBreak, LedgerEntry};
use sqlx::{AnyConnection, AnyPool};
use uuid::Uuid;

/// Adds the entry for an agreement just inserted; call inside its transaction
/// (which holds the write lock, so entries chain in order). `head` is the
/// chain's last hash as this transaction left it: `None` reads it, and it is
/// moved on to the new entry, so a push of many agreements reads it once.
pub async fn append(
    tx: &mut AnyConnection,
    head: &mut Option<Sha256Hex>,
    agreement_id: Uuid,
    record_sha256: &Sha256Hex,
    received_at: i64,
    identified_by: &str,
) -> Result<(), AppError> {
    let prev = match head.take() {
        Some(prev) => prev,
        None => {
            let last: Option<String> =
                sqlx::query_scalar("SELECT entry_hash FROM ledger ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await?;
            match last {
                Some(hash) => digest_from_db(hash)?,
                None => genesis(),
            }
        }
    };
    let hash = entry_hash(
        &prev,
        agreement_id,
        record_sha256,
        received_at,
        identified_by,
    );
    sqlx::query(
        "INSERT INTO ledger (agreement_id, record_sha256, received_at, identified_by, prev_hash, entry_hash) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(agreement_id.to_string())
    .bind(record_sha256.as_str())
    .bind(received_at)
    .bind(identified_by)
    .bind(prev.as_str())
    .bind(hash.as_str())
    .execute(&mut *tx)
    .await?;
    *head = Some(hash);
    Ok(())
}

/// An agreement row from before records were kept whole.
type OldRow = (String, String, String, String, i64, i64, String, i64);

/// Gives agreements stored before the ledger existed their record JSON,
/// digest, receipt code and ledger entry, oldest first. Idempotent.
pub async fn backfill(pool: &AnyPool) -> Result<usize, AppError> {
    let mut tx = crate::store::db::begin_write(pool).await?;
    let rows: Vec<OldRow> = sqlx::query_as(
        "SELECT id, policy_version_id, policy_text_sha256, signer_name, agreed, signed_at, \
         device_id, received_at FROM agreements WHERE record_sha256 = '' ORDER BY received_at, id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let count = rows.len();
    let mut head = None;
    for (id, version, text, name, agreed, signed_at, device, received_at) in rows {
        let record = AgreementRecord {
            id: parse_id(&id)?,
            policy_version_id: parse_id(&version)?,
            policy_text_sha256: digest_from_db(text)?,
            signer_name: name,
            agreed: agreed == 1,
            signed_at,
            device_id: parse_id(&device)?,
            ..Default::default()
        };
        let digest = record.record_sha256();
        sqlx::query(
            "UPDATE agreements SET record_json = $1, record_sha256 = $2, receipt_code = $3, \
             identified_by = 'before accounts' WHERE id = $4",
        )
        .bind(serde_json::to_string(&record).unwrap_or_default())
        .bind(digest.as_str())
        .bind(record.receipt_code())
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            &mut head,
            record.id,
            &digest,
            received_at,
            "before accounts",
        )
        .await?;
    }
    tx.commit().await?;
    Ok(count)
}

type EntryRow = (i64, String, String, i64, String, String, String);

/// Every entry, in order.
pub async fn entries(conn: &mut AnyConnection) -> Result<Vec<LedgerEntry>, AppError> {
    let rows: Vec<EntryRow> = sqlx::query_as(
        "SELECT seq, agreement_id, record_sha256, received_at, identified_by, prev_hash, entry_hash \
         FROM ledger ORDER BY seq",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(
            |(seq, id, record, received_at, identified_by, prev, hash)| {
                Ok(LedgerEntry {
                    seq,
                    agreement_id: parse_id(&id)?,
                    record_sha256: digest_from_db(record)?,
                    received_at,
                    identified_by,
                    prev_hash: digest_from_db(prev)?,
                    entry_hash: digest_from_db(hash)?,
                })
            },
        )
        .collect()
}

/// The digest of a stored agreement as it is now: its record JSON decoded and
/// hashed again, so a change to any column or to the JSON shows.
fn current_digest(record_json: &str, columns: &AgreementColumns) -> Option<Sha256Hex> {
    let record: AgreementRecord = serde_json::from_str(record_json).ok()?;
    // The columns are what lists and exports read: they must say the same.
    let same = record.id.to_string() == columns.id
        && record.signer_name == columns.signer_name
        && record.agreed == columns.agreed
        && record.signed_at == columns.signed_at
        && record.policy_version_id.to_string() == columns.policy_version_id;
    same.then(|| record.record_sha256())
}

#[derive(sqlx::FromRow)]
struct AgreementColumns {
    id: String,
    policy_version_id: String,
    signer_name: String,
    #[sqlx(try_from = "crate::store::db::Flag")]
    agreed: bool,
    signed_at: i64,
    record_json: String,
    record_sha256: String,
}

/// Walks the chain, then checks every agreement against its entry. Empty
/// means intact.
pub async fn verify(pool: &AnyPool) -> Result<(usize, Vec<LedgerBreak>), AppError> {
    verify_on(&mut *pool.acquire().await?).await
}

/// [`verify`] on one connection, or inside a transaction (`&mut *tx`): what
/// a copy holds before it is committed.
pub async fn verify_on(conn: &mut AnyConnection) -> Result<(usize, Vec<LedgerBreak>), AppError> {
    let entries = entries(&mut *conn).await?;
    let mut breaks = verify_chain(&entries);
    let rows: Vec<AgreementColumns> = sqlx::query_as(
        "SELECT id, policy_version_id, signer_name, agreed, signed_at, record_json, record_sha256 \
         FROM agreements",
    )
    .fetch_all(&mut *conn)
    .await?;
    let by_id: std::collections::HashMap<Uuid, &LedgerEntry> =
        entries.iter().map(|e| (e.agreement_id, e)).collect();
    for row in &rows {
        let id = parse_id(&row.id)?;
        let Some(entry) = by_id.get(&id) else {
            breaks.push(LedgerBreak::Unrecorded { agreement_id: id });
            continue;
        };
        let current = current_digest(&row.record_json, row);
        if current.as_ref() != Some(&entry.record_sha256)
            || row.record_sha256 != entry.record_sha256.as_str()
        {
            breaks.push(LedgerBreak::RecordAltered {
                seq: entry.seq,
                agreement_id: id,
            });
        }
    }
    Ok((entries.len(), breaks))
}

/// The last entry's number and hash, the head of the chain (`None` while
/// the ledger is empty).
pub async fn head(pool: &AnyPool) -> Result<Option<(i64, Sha256Hex)>, AppError> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, entry_hash FROM ledger ORDER BY seq DESC LIMIT 1")
            .fetch_optional(pool)
            .await?;
    row.map(|(seq, hash)| Ok((seq, digest_from_db(hash)?)))
        .transpose()
}

/// What [`verify`] found, as lines for a person; `subject` names the ledger
/// checked ("The ledger", "The snapshot's ledger").
pub fn describe(subject: &str, entries: usize, breaks: &[LedgerBreak]) -> Vec<String> {
    if breaks.is_empty() {
        return vec![format!(
            "{subject} is intact: {entries} entries, every agreement matches its entry."
        )];
    }
    let mut lines = vec![format!(
        "{subject} is NOT intact: {} problem(s) in {entries} entries.",
        breaks.len()
    )];
    lines.extend(breaks.iter().map(|b| format!("- {b}")));
    lines
}

/// What the public verification page may say about a receipt.
#[derive(Debug)]
pub struct Receipt {
    pub record: AgreementRecord,
    pub received_at: i64,
    pub unaltered: bool,
}

/// The records with receipt `code`, each checked against its ledger entry
/// and that entry against its neighbours.
pub async fn find_receipt(pool: &AnyPool, code: &str) -> Result<Vec<Receipt>, AppError> {
    let rows: Vec<AgreementColumns> = sqlx::query_as(
        "SELECT id, policy_version_id, signer_name, agreed, signed_at, record_json, record_sha256 \
         FROM agreements WHERE receipt_code = $1",
    )
    .bind(code)
    .fetch_all(pool)
    .await?;
    let mut found = Vec::new();
    for row in rows {
        let Ok(record) = serde_json::from_str::<AgreementRecord>(&row.record_json) else {
            continue;
        };
        let entry: Option<(i64, String, i64, String, String, String)> = sqlx::query_as(
            "SELECT seq, record_sha256, received_at, identified_by, prev_hash, entry_hash \
             FROM ledger WHERE agreement_id = $1",
        )
        .bind(&row.id)
        .fetch_optional(pool)
        .await?;
        let Some((seq, ledger_digest, received_at, identified_by, prev, hash)) = entry else {
            found.push(Receipt {
                record,
                received_at: 0,
                unaltered: false,
            });
            continue;
        };
        let next_prev: Option<String> =
            sqlx::query_scalar("SELECT prev_hash FROM ledger WHERE seq > $1 ORDER BY seq LIMIT 1")
                .bind(seq)
                .fetch_optional(pool)
                .await?;
        let recomputed = entry_hash(
            &digest_from_db(prev)?,
            record.id,
            &digest_from_db(ledger_digest.clone())?,
            received_at,
            &identified_by,
        );
        let unaltered = current_digest(&row.record_json, &row).map(|d| d.as_str().to_owned())
            == Some(ledger_digest.clone())
            && row.record_sha256 == ledger_digest
            && recomputed.as_str() == hash
            && next_prev.is_none_or(|p| p == hash);
        found.push(Receipt {
            record,
            received_at,
            unaltered,
        });
    }
    Ok(found)
}
