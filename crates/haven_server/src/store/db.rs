//! The database: SQLite (a file, the default) or PostgreSQL (a `postgres://`
//! URL), reached through sqlx's `Any` driver so every query is written once.
//!
//! The queries use the SQL both speak (`$1` placeholders, `ON CONFLICT`,
//! `RETURNING`, `COALESCE`); what differs lives in the two migration folders
//! (`migrations/sqlite`, `migrations/postgres`) and in [`begin_write`].
//! ARCHITECTURE.md argues the choice.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, ConnectOptions, Executor, Transaction};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// SQLite's migrations (`crates/haven_server/migrations/sqlite/`), embedded at build time.
pub static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
/// PostgreSQL's, numbered in step with SQLite's (its first is SQLite's 13th).
pub static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The advisory lock every PostgreSQL write transaction takes first, so writes
/// are serialised as SQLite's are: the `changes` cursor and the ledger's chain
/// are appended in commit order, and a device's pushes apply one at a time even
/// when they land on different server instances.
pub const WRITE_LOCK_KEY: i64 = 1_214_346_853;

/// Where the data lives: `--database` / `HAVEN_DATABASE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (a plain path or `sqlite://path`).
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://` or `postgresql://`).
    Postgres(String),
}

impl Database {
    /// The SQLite file, if this is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Database::Sqlite(path) => Some(path),
            Database::Postgres(_) => None,
        }
    }

    /// False only for a SQLite file that is not there: the command-line
    /// tools refuse to create a database (the server makes it, with its
    /// first admin). A PostgreSQL URL is checked by connecting.
    pub fn may_exist(&self) -> bool {
        match self {
            Database::Sqlite(path) => path.is_file(),
            Database::Postgres(_) => true,
        }
    }
}

impl FromStr for Database {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(
            if s.starts_with("postgres://") || s.starts_with("postgresql://") {
                Database::Postgres(s.to_owned())
            } else {
                Database::Sqlite(PathBuf::from(s.strip_prefix("sqlite://").unwrap_or(s)))
            },
        )
    }
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Self {
        Database::Sqlite(path)
    }
}

impl fmt::Display for Database {
    /// Never prints a PostgreSQL password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => match url::Url::parse(url) {
                Ok(mut parsed) => {
                    if parsed.password().is_some() {
                        let _ = parsed.set_password(Some("***"));
                    }
                    write!(f, "{parsed}")
                }
                Err(_) => f.write_str("postgres://(unparseable URL)"),
            },
        }
    }
}

/// Opens the database (creating a SQLite file and its folder if missing) and
/// brings its schema up to date.
pub async fn connect(database: &Database) -> Result<AnyPool, crate::ServerError> {
    sqlx::any::install_default_drivers();
    match database {
        Database::Sqlite(path) => connect_sqlite(path).await,
        Database::Postgres(url) => {
            let options = AnyConnectOptions::from_str(url)?;
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await?;
            POSTGRES_MIGRATOR.run(&pool).await?;
            Ok(pool)
        }
    }
}

async fn connect_sqlite(path: &Path) -> Result<AnyPool, crate::ServerError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await.map_err(|source| {
            crate::ServerError::CreateDataDir {
                path: parent.to_path_buf(),
                source,
            }
        })?;
    }
    // The URL from sqlx's own options, so an odd file name is encoded right.
    let url = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .to_url_lossy();
    let options = AnyConnectOptions::from_str(url.as_str())?;
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .after_connect(|conn, _| {
            Box::pin(async move {
                // WAL: readers never wait for the writer. FULL: a push is
                // acknowledged only after its commit is on disk, so an
                // acknowledged record survives a power cut, not just a crash.
                // busy_timeout: writers queue on SQLite's lock; under 50
                // devices pushing at once a write waited up to ~5 s (cargo
                // xtask bench), so 5 s gave spurious 500s.
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;",
                )
                .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    SQLITE_MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// Opens a SQLite file that must exist, one connection, without migrating it
/// or changing its settings (its journal mode stays): for backups and
/// restores, which look at a snapshot as it is.
pub async fn open_sqlite_file(path: &Path, read_only: bool) -> Result<AnyPool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let url = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .read_only(read_only)
        .to_url_lossy();
    AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA busy_timeout = 30000").await?;
                Ok(())
            })
        })
        .connect_with(AnyConnectOptions::from_str(url.as_str())?)
        .await
}

/// A trivial query, for readiness: fails when no connection of the pool
/// can read the database.
pub async fn answers(pool: &AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar::<_, i64>("SELECT CAST(1 AS BIGINT)")
        .fetch_one(pool)
        .await
}

/// Whether the pool speaks to PostgreSQL.
pub fn is_postgres(pool: &AnyPool) -> bool {
    matches!(
        pool.connect_options().database_url.scheme(),
        "postgres" | "postgresql"
    )
}

/// A connection inside a write transaction, as handlers pass it to the
/// functions that carry out one step of a change.
pub type Conn = sqlx::AnyConnection;

/// Starts a write transaction that holds the database's write lock from its
/// first statement: SQLite's (`BEGIN IMMEDIATE`, so a read-then-write batch
/// cannot fail half-way on a lock upgrade), or on PostgreSQL the advisory
/// [`WRITE_LOCK_KEY`], which every instance on the database shares.
pub async fn begin_write(pool: &AnyPool) -> Result<Transaction<'static, Any>, sqlx::Error> {
    if is_postgres(pool) {
        let mut tx = pool.begin().await?;
        // `FROM`: the function returns `void`, which the Any driver cannot decode.
        sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock($1)) AS locked")
            .bind(WRITE_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    } else {
        pool.begin_with("BEGIN IMMEDIATE").await
    }
}

/// A 0/1 flag column read into a `bool` field:
/// `#[sqlx(try_from = "crate::store::db::Flag")] active: bool`. Flags are integers
/// on both databases (SQLite has no boolean type), so one decode serves both.
#[derive(Debug, Clone, Copy)]
pub struct Flag(i64);

impl sqlx::Type<Any> for Flag {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <i64 as sqlx::Type<Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <i64 as sqlx::Type<Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Flag(<i64 as sqlx::Decode<'r, Any>>::decode(value)?))
    }
}

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0 != 0
    }
}

/// An id as stored (a UUID's text), decoded. The one way ids come out of the
/// database: a row that does not hold a UUID is the server's fault, never the
/// caller's.
pub fn parse_id(s: &str) -> Result<uuid::Uuid, crate::AppError> {
    uuid::Uuid::parse_str(s)
        .map_err(|e| crate::AppError::Internal(format!("stored id {s:?} is not a UUID: {e}")))
}
