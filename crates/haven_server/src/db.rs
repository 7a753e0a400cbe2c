//! The SQLite pool and the schema migrations.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::Path;
use std::time::Duration;

/// Migrations in `crates/haven_server/migrations/`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Opens (creating if missing, with its folder) the database file and brings
/// its schema up to date.
pub async fn connect(path: &Path) -> Result<SqlitePool, crate::ServerError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await.map_err(|source| {
            crate::ServerError::CreateDataDir {
                path: parent.to_path_buf(),
                source,
            }
        })?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a push is acknowledged only after its commit is on disk, so an
        // acknowledged record survives a power cut, not just a process crash.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        // Writers queue on SQLite's lock; under 50 devices pushing at once a
        // write waited up to ~5 s (cargo xtask bench), so 5 s gave spurious 500s.
        .busy_timeout(Duration::from_secs(30));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// Starts a write transaction that holds SQLite's write lock from the first
/// statement, so a read-then-write batch cannot fail half-way on a lock upgrade.
pub async fn begin_write(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}
