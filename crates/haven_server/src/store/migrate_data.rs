//! `haven_server migrate-data --from FILE --to postgres://…`: moves a trust
//! from its SQLite file into a new, empty PostgreSQL database, so a trust
//! that outgrows SQLite keeps every signature.
//!
//! Both schemas must be at the same migration (the folders are numbered in
//! step). The source is read in one transaction, so the copy is of one
//! moment even if a server still writes to it (stop it first: what it writes
//! later stays behind). The target is written in one transaction: every
//! table in foreign-key order, row for row and column for column, with the
//! triggers that fill `changes` set aside (the `changes` rows are copied as
//! they are, so devices' pull cursors stay valid), the identity counters
//! moved past the copied numbers, and then the ledger verified on the copy.
//! Only if it verifies is anything committed. The two key files are copied
//! into `--key-dir`, where the PostgreSQL server looks for them.

use crate::store::db::{self, Database, POSTGRES_MIGRATOR, SQLITE_MIGRATOR};
use crate::store::ledger;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Rows sent in one INSERT (PostgreSQL takes at most 65,535 parameters).
const MAX_PARAMETERS: usize = 30_000;

/// What was copied.
#[derive(Debug)]
pub struct Report {
    /// Each table and its rows, in the order copied.
    pub tables: Vec<(String, u64)>,
    /// Entries in the copied ledger, verified.
    pub ledger_entries: usize,
    /// Key files written to the key folder.
    pub keys: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("there is no SQLite database at {0}; give the trust's file with --from")]
    NoSource(PathBuf),
    #[error("--to must be a PostgreSQL URL (postgres://…), not {0}")]
    NotPostgres(String),
    #[error(
        "{path} is at schema {found:?} and this haven_server's is {expected}: start this \
         version of the server on it once (it brings the schema up to date), stop it, and \
         migrate again"
    )]
    SourceSchema {
        path: PathBuf,
        found: Option<i64>,
        expected: i64,
    },
    #[error(
        "the PostgreSQL database already holds data ({rows} rows in {table}); migrate into a \
         new, empty database (docs/running.md says how to make one)"
    )]
    TargetNotEmpty { table: String, rows: i64 },
    #[error(
        "the two schemas differ at {0}; this is a bug in Haven's migrations, please report it"
    )]
    SchemaMismatch(String),
    #[error(
        "the source's ledger does not verify, so it was not copied: {0}. Check it with \
         `haven_server verify-ledger --database FILE`, and restore a good backup first"
    )]
    SourceLedger(String),
    #[error("the copy's ledger did not verify, so nothing was committed: {0}")]
    CopyLedger(String),
    #[error(
        "a key file is already at {0} and differs from the source's; give --key-dir an empty \
         folder, or move that file aside"
    )]
    KeyExists(PathBuf),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Other(String),
}

impl From<crate::AppError> for MigrateError {
    fn from(e: crate::AppError) -> Self {
        MigrateError::Other(e.to_string())
    }
}

impl From<crate::ServerError> for MigrateError {
    fn from(e: crate::ServerError) -> Self {
        MigrateError::Other(e.to_string())
    }
}

/// Copies the trust in `from` into the empty PostgreSQL database `to`, and
/// its key files (beside `from`) into `key_dir`.
pub async fn migrate(from: &Path, to: &str, key_dir: &Path) -> Result<Report, MigrateError> {
    if !from.is_file() {
        return Err(MigrateError::NoSource(from.to_owned()));
    }
    let target_db = match to.parse::<Database>() {
        Ok(Database::Postgres(url)) => Database::Postgres(url),
        _ => return Err(MigrateError::NotPostgres(to.to_owned())),
    };
    let latest = |m: &sqlx::migrate::Migrator| m.iter().map(|m| m.version).max().unwrap_or(0);
    let expected = latest(&SQLITE_MIGRATOR);
    if latest(&POSTGRES_MIGRATOR) != expected {
        return Err(MigrateError::SchemaMismatch("the migration numbers".into()));
    }

    let source = db::open_sqlite_file(from, false).await?;
    let found: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
            .fetch_one(&source)
            .await
            .ok()
            .flatten();
    if found != Some(expected) {
        return Err(MigrateError::SourceSchema {
            path: from.to_owned(),
            found,
            expected,
        });
    }
    // One read transaction: the copy is of one moment.
    let mut read = source.begin().await?;
    let (_, breaks) = ledger::verify_on(&mut read).await?;
    if !breaks.is_empty() {
        return Err(MigrateError::SourceLedger(
            ledger::describe("The ledger", 0, &breaks).join(" "),
        ));
    }
    let tables = copy_order(&mut read).await?;

    let target = db::connect(&target_db).await?;
    let mut write = db::begin_write(&target).await?;
    check_empty(&mut write, &tables).await?;
    let sequences = sqlite_sequences(&mut read).await?;
    let mut report = Report {
        tables: Vec::new(),
        ledger_entries: 0,
        keys: Vec::new(),
    };
    for table in &tables {
        let rows = copy_table(&mut read, &mut write, table).await?;
        report.tables.push((table.clone(), rows));
    }
    move_identities_on(&mut write, &sequences).await?;
    let (entries, breaks) = ledger::verify_on(&mut write).await?;
    if !breaks.is_empty() {
        return Err(MigrateError::CopyLedger(
            ledger::describe("The copy's ledger", entries, &breaks).join(" "),
        ));
    }
    report.ledger_entries = entries;
    report.keys = copy_keys(from, key_dir)?;
    write.commit().await?;
    read.rollback().await?;
    source.close().await;
    target.close().await;
    Ok(report)
}

/// The source's tables, each after the tables its foreign keys name.
async fn copy_order(read: &mut AnyConnection) -> Result<Vec<String>, MigrateError> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut *read)
    .await?;
    let mut needs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in &names {
        let parents: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT \"table\" FROM pragma_foreign_key_list('{name}')"
        ))
        .fetch_all(&mut *read)
        .await?;
        needs.insert(
            name.clone(),
            parents.into_iter().filter(|p| p != name).collect(),
        );
    }
    let mut order = Vec::with_capacity(names.len());
    while !needs.is_empty() {
        let ready: Vec<String> = needs
            .iter()
            .filter(|(_, parents)| parents.iter().all(|p| !needs.contains_key(p)))
            .map(|(name, _)| name.clone())
            .collect();
        if ready.is_empty() {
            return Err(MigrateError::SchemaMismatch(
                "a cycle of foreign keys".into(),
            ));
        }
        for name in ready {
            needs.remove(&name);
            order.push(name);
        }
    }
    Ok(order)
}

/// Refuses a target that holds anything but what its migrations put there
/// (`account_settings`' one row, which the copy replaces).
async fn check_empty(write: &mut AnyConnection, tables: &[String]) -> Result<(), MigrateError> {
    for table in tables.iter().filter(|t| *t != "account_settings") {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *write)
            .await
            .map_err(|_| MigrateError::SchemaMismatch(format!("table {table}")))?;
        if rows > 0 {
            return Err(MigrateError::TargetNotEmpty {
                table: table.clone(),
                rows,
            });
        }
    }
    sqlx::query("DELETE FROM account_settings")
        .execute(&mut *write)
        .await?;
    Ok(())
}

/// AUTOINCREMENT's high-water marks: numbers SQLite has given out, even to
/// rows since deleted, which PostgreSQL must not give out again.
async fn sqlite_sequences(read: &mut AnyConnection) -> Result<BTreeMap<String, i64>, MigrateError> {
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT name, seq FROM sqlite_sequence")
        .fetch_all(&mut *read)
        .await?;
    Ok(rows.into_iter().collect())
}

/// A column's type on PostgreSQL, as the copy reads and binds it.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Integer,
    Text,
    Bytes,
}

/// Copies one table; returns its row count.
async fn copy_table(
    read: &mut AnyConnection,
    write: &mut AnyConnection,
    table: &str,
) -> Result<u64, MigrateError> {
    let target: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *write)
    .await?;
    let source: BTreeSet<String> =
        sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .fetch_all(&mut *read)
            .await?
            .into_iter()
            .collect();
    let mut columns = Vec::with_capacity(target.len());
    for (name, data_type) in &target {
        let kind = match data_type.as_str() {
            "bigint" => Kind::Integer,
            "text" => Kind::Text,
            "bytea" => Kind::Bytes,
            other => {
                return Err(MigrateError::SchemaMismatch(format!(
                    "{table}.{name} ({other})"
                )))
            }
        };
        // PostgreSQL's stand-in for SQLite's rowid is filled from it.
        if !source.contains(name) && name != "rowid" {
            return Err(MigrateError::SchemaMismatch(format!("{table}.{name}")));
        }
        columns.push((name.as_str(), kind));
    }
    if let Some(missing) = source.iter().find(|s| !target.iter().any(|(t, _)| t == *s)) {
        return Err(MigrateError::SchemaMismatch(format!("{table}.{missing}")));
    }

    // Triggers (the `changes` writers, the append-only guards) are set aside
    // for the copy, in this transaction only: the copied `changes` rows are
    // the record of what changed, and nothing is updated.
    sqlx::query(&format!("ALTER TABLE {table} DISABLE TRIGGER USER"))
        .execute(&mut *write)
        .await?;
    let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    // Read a batch at a time, by rowid (the last column read), so a large
    // table (attachment pieces) is never all in memory.
    let per_batch = (MAX_PARAMETERS / columns.len().max(1)).max(1);
    let select = format!(
        "SELECT {}, rowid FROM {table} WHERE rowid > $1 ORDER BY rowid LIMIT {per_batch}",
        names.join(", ")
    );
    let insert_head = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
    let mut copied = 0u64;
    let mut after = i64::MIN;
    loop {
        let batch = sqlx::query(&select)
            .bind(after)
            .fetch_all(&mut *read)
            .await?;
        let Some(last) = batch.last() else { break };
        after = last.try_get(columns.len())?;
        copied += insert(write, &insert_head, &columns, &batch).await?;
    }
    sqlx::query(&format!("ALTER TABLE {table} ENABLE TRIGGER USER"))
        .execute(&mut *write)
        .await?;
    Ok(copied)
}

/// One multi-row INSERT of `rows`, each value read as its column's kind.
async fn insert(
    write: &mut AnyConnection,
    head: &str,
    columns: &[(&str, Kind)],
    rows: &[sqlx::any::AnyRow],
) -> Result<u64, MigrateError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut sql = String::from(head);
    let mut n = 0;
    for (i, _) in rows.iter().enumerate() {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for c in 0..columns.len() {
            n += 1;
            sql.push_str(&format!("{}${n}", if c == 0 { "" } else { ", " }));
        }
        sql.push(')');
    }
    let mut query = sqlx::query(&sql);
    for row in rows {
        for (index, (_, kind)) in columns.iter().enumerate() {
            query = match kind {
                Kind::Integer => query.bind(row.try_get::<Option<i64>, _>(index)?),
                Kind::Text => query.bind(row.try_get::<Option<String>, _>(index)?),
                Kind::Bytes => query.bind(row.try_get::<Option<Vec<u8>>, _>(index)?),
            };
        }
    }
    Ok(query.execute(&mut *write).await?.rows_affected())
}

/// Moves every identity counter past the highest number copied (or given
/// out by SQLite), so the next row gets the next number.
async fn move_identities_on(
    write: &mut AnyConnection,
    sqlite_sequences: &BTreeMap<String, i64>,
) -> Result<(), MigrateError> {
    let identities: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT) \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND is_identity = 'YES'",
    )
    .fetch_all(&mut *write)
    .await?;
    for (table, column) in identities {
        let copied: i64 = sqlx::query_scalar(&format!(
            "SELECT CAST(COALESCE(MAX({column}), 0) AS BIGINT) FROM {table}"
        ))
        .fetch_one(&mut *write)
        .await?;
        let given_out = sqlite_sequences.get(&table).copied().unwrap_or(0);
        let next = copied.max(given_out) + 1;
        sqlx::query("SELECT CAST(setval(pg_get_serial_sequence($1, $2), $3, false) AS BIGINT)")
            .bind(&table)
            .bind(&column)
            .bind(next)
            .fetch_one(&mut *write)
            .await?;
    }
    Ok(())
}

/// Copies the server key and the incident key (if made yet) from beside the
/// SQLite file into `key_dir` under the names the server looks for there.
/// The same bytes already there are fine; different ones are refused.
fn copy_keys(from: &Path, key_dir: &Path) -> Result<Vec<PathBuf>, MigrateError> {
    let io = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| MigrateError::Io {
            action,
            path,
            source,
        }
    };
    let base = key_dir.join("haven");
    let pairs = [
        (
            crate::crypto::keys::key_path_for(from),
            crate::crypto::keys::key_path_for(&base),
        ),
        (
            crate::crypto::incident_key::incident_key_path_for(from),
            crate::crypto::incident_key::incident_key_path_for(&base),
        ),
    ];
    std::fs::create_dir_all(key_dir).map_err(io("create", key_dir))?;
    let mut written = Vec::new();
    for (source, destination) in pairs {
        let bytes = match std::fs::read(&source) {
            Ok(bytes) => bytes,
            // The incident key is made on first use; the server key at the
            // first start. A missing one is made by the server as usual.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io("read", &source)(e)),
        };
        match std::fs::read(&destination) {
            Ok(there) if there == bytes => {}
            Ok(_) => return Err(MigrateError::KeyExists(destination)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::crypto::keys::write_private(&destination, &bytes)
                    .map_err(io("write", &destination))?;
            }
            Err(e) => return Err(io("read", &destination)(e)),
        }
        written.push(destination);
    }
    Ok(written)
}
