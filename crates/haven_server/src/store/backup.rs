//! Backing up and moving a trust on SQLite: `haven_server backup` and
//! `haven_server restore` (docs/operations.md, "Backup and restore").
//!
//! A backup is a folder holding what the server cannot work without:
//!
//! - `haven.sqlite3`, a consistent snapshot of the database made with
//!   SQLite's `VACUUM INTO` while the server keeps serving (in WAL mode it
//!   reads one transaction's view; writers go on meanwhile);
//! - `haven.sqlite3.key`, the server key ([`crate::crypto::keys`]), without which the
//!   sealed TOTP secrets cannot be opened and every online key changes;
//! - `haven.sqlite3.incident-key.pem`, the incident key
//!   ([`crate::crypto::incident_key`]), if the server has made one: without it no
//!   incident still queued on a device can be opened;
//! - `manifest.json` ([`Manifest`]): the Haven version, the schema version,
//!   when the snapshot was taken and how long it took, the snapshot's ledger
//!   (entries and head), and each file's size and SHA-256.
//!
//! The folder is written under a hidden temporary name beside it and renamed
//! into place only once whole, so a half-written backup never has the name
//! asked for; it is 0700 and its files 0600 (they hold personal data and
//! keys). The snapshot's ledger is verified ([`crate::store::ledger::verify`])
//! before it is kept, and again from the restored copy before a restore puts
//! anything in place.

use crate::clock;
use crate::crypto::incident_key::{incident_key_path_for, IncidentKeyError, IncidentKeyPair};
use crate::crypto::keys::{key_path_for, KeyError, ServerKey};
use crate::store::db::SQLITE_MIGRATOR as MIGRATOR;
use crate::store::ledger;
use haven_core::calendar::utc_timestamp;
use haven_core::ledger::LedgerBreak;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions, Connection};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The manifest's file name in a backup folder.
pub const MANIFEST: &str = "manifest.json";
/// The snapshot's file name in a backup folder.
pub const DATABASE_FILE: &str = "haven.sqlite3";
/// The manifest format this Haven writes and reads.
pub const FORMAT: u32 = 1;

/// What a file in a backup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileRole {
    Database,
    ServerKey,
    IncidentKey,
}

impl FileRole {
    /// Every role, in the order a backup lists them.
    pub const ALL: [FileRole; 3] = [
        FileRole::Database,
        FileRole::ServerKey,
        FileRole::IncidentKey,
    ];

    /// Where the server whose database is `database` keeps this file.
    pub fn path_beside(self, database: &Path) -> PathBuf {
        match self {
            FileRole::Database => database.to_owned(),
            FileRole::ServerKey => key_path_for(database),
            FileRole::IncidentKey => incident_key_path_for(database),
        }
    }

    /// Its name in a backup folder: as the server names it beside a
    /// database called `haven.sqlite3`.
    pub fn file_name(self) -> String {
        self.path_beside(Path::new(DATABASE_FILE))
            .to_string_lossy()
            .into_owned()
    }

    /// What a person calls it.
    pub fn label(self) -> &'static str {
        match self {
            FileRole::Database => "database",
            FileRole::ServerKey => "server key",
            FileRole::IncidentKey => "incident key",
        }
    }
}

impl std::fmt::Display for FileRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// `manifest.json`: what a backup holds and how to check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The version of the `haven_server` that took it.
    pub haven_version: String,
    /// The snapshot's latest migration (`crates/haven_server/migrations`).
    pub schema_version: i64,
    /// When the snapshot was taken, UTC (RFC 3339), and as milliseconds
    /// since the Unix epoch.
    pub taken_at: String,
    pub taken_at_ms: i64,
    /// How long the whole backup took, snapshot to manifest.
    pub duration_ms: u64,
    /// The snapshot's ledger.
    pub ledger: LedgerSummary,
    /// Every file but the manifest.
    pub files: Vec<BackedUpFile>,
}

/// The ledger in a snapshot: how many entries, and the last one's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerSummary {
    pub entries: usize,
    /// `None` while no agreement has been signed.
    pub head_seq: Option<i64>,
    pub head_hash: Option<String>,
}

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackedUpFile {
    pub name: String,
    pub role: FileRole,
    pub bytes: u64,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
}

impl Manifest {
    /// The entry for `role`, if the backup holds one.
    pub fn file(&self, role: FileRole) -> Option<&BackedUpFile> {
        self.files.iter().find(|f| f.role == role)
    }
}

/// Why a backup was not made. Nothing is left at `--to` when it fails.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "backup copies a SQLite file; back up a PostgreSQL database with pg_dump and its \
         key folder (docs/operations.md, \"On PostgreSQL\")"
    )]
    Postgres,
    #[error("there is no database at {0}; give the server's database with --database")]
    NoDatabase(PathBuf),
    #[error(
        "{0} is not a Haven database (it has no schema migrations); give the server's \
         database with --database"
    )]
    NotHaven(PathBuf),
    #[error(
        "there is no server key at {0}, where the server keeps it beside its database; the \
         server makes it at its first start, so start the server on this database once (or \
         put the key it uses there): a backup without it could not open the sealed TOTP secrets"
    )]
    NoServerKey(PathBuf),
    #[error("{0}")]
    ServerKey(#[from] KeyError),
    #[error("{0}")]
    IncidentKey(#[from] IncidentKeyError),
    #[error(
        "{0} is not empty; give --to a new or empty folder, so that nothing else is mixed \
         into the backup"
    )]
    DestinationNotEmpty(PathBuf),
    #[error("{0} is not a folder; give --to a new or empty folder")]
    DestinationNotAFolder(PathBuf),
    #[error("{0} is not a UTF-8 path, which SQLite needs for the snapshot; choose another --to")]
    NotUtf8(PathBuf),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the database {path}: {source}")]
    Database { path: PathBuf, source: sqlx::Error },
    #[error(
        "SQLite's check of the snapshot found a problem ({0}); no backup was kept: run \
         `PRAGMA integrity_check` on the database and restore it from an earlier backup if it \
         is damaged"
    )]
    SnapshotDamaged(String),
    #[error(
        "no backup was kept: {}\nThe database itself has this problem: run `haven_server \
         verify-ledger` on it and find out who changed it; a restore would refuse this snapshot",
        broken("the snapshot's ledger", .entries, .breaks)
    )]
    LedgerBroken {
        entries: usize,
        breaks: Vec<LedgerBreak>,
    },
    #[error("cannot check the snapshot's ledger: {0}")]
    Ledger(String),
}

/// Why a restore put nothing in place.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(
        "restore writes a SQLite file; restore a PostgreSQL database with pg_restore and its \
         key folder (docs/operations.md, \"On PostgreSQL\")"
    )]
    Postgres,
    #[error(
        "there is no backup folder at {0}; give --from the folder `haven_server backup --to` made"
    )]
    NoBackup(PathBuf),
    #[error(
        "{0} holds no manifest.json, so it is not a whole backup (a backup that was \
         interrupted has none); give --from a folder `haven_server backup` finished"
    )]
    NoManifest(PathBuf),
    #[error(
        "the manifest {path} cannot be used ({reason}); it is not one `haven_server backup` \
         wrote: use another backup"
    )]
    BadManifest { path: PathBuf, reason: String },
    #[error(
        "the backup's manifest lists no {0}, which the server cannot work without; use \
         another backup"
    )]
    ManifestLacks(FileRole),
    #[error(
        "the backup has no {role} file {path}, though its manifest lists one: the backup is \
         incomplete; copy the whole backup folder again, or use another backup"
    )]
    MissingFile { role: FileRole, path: PathBuf },
    #[error(
        "the {role} file {path} does not match the SHA-256 its manifest records: it was changed \
         or damaged after the backup was taken; use another backup, or a fresh copy of this one"
    )]
    Altered { role: FileRole, path: PathBuf },
    #[error(
        "the snapshot's schema is at migration {backup}, newer than this haven_server knows \
         ({known}); restore it with haven_server {haven_version} or later"
    )]
    SchemaTooNew {
        backup: i64,
        known: i64,
        haven_version: String,
    },
    #[error(
        "the snapshot does not match its manifest ({0}): the manifest belongs to another \
         backup or was edited; use another backup"
    )]
    ManifestMismatch(String),
    #[error(
        "the snapshot was not restored: {}\nSigned agreements in it were changed or removed \
         after they were signed; restore an earlier backup, and keep this one as evidence",
        broken("its ledger", .entries, .breaks)
    )]
    LedgerBroken {
        entries: usize,
        breaks: Vec<LedgerBreak>,
    },
    #[error("cannot check the snapshot's ledger: {0}")]
    Ledger(String),
    #[error(
        "{} already exist{}; to replace {}, stop the server and run the restore again with \
         --force (what is there is moved aside, not deleted), or give another --database",
        list(.0), if .0.len() == 1 { "s" } else { "" }, if .0.len() == 1 { "it" } else { "them" }
    )]
    TargetExists(Vec<PathBuf>),
    #[error(
        "{0} is open in another process (the server?): stop the server, then run the restore \
         again"
    )]
    InUse(PathBuf),
    #[error("the backup's server key cannot be used: {0}")]
    ServerKey(#[from] KeyError),
    #[error("the backup's incident key cannot be used: {0}")]
    IncidentKey(#[from] IncidentKeyError),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the snapshot {path}: {source}")]
    Database { path: PathBuf, source: sqlx::Error },
}

/// A broken ledger's lines, for an error.
fn broken(subject: &str, entries: &usize, breaks: &[LedgerBreak]) -> String {
    ledger::describe(subject, *entries, breaks).join("\n")
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a backup made.
#[derive(Debug)]
pub struct BackupReport {
    /// The backup folder.
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// The snapshot's ledger, as [`ledger::describe`] says it.
    pub ledger_lines: Vec<String>,
}

/// What a restore put where.
#[derive(Debug)]
pub struct RestoreReport {
    pub manifest: Manifest,
    /// Each file restored and where it now is.
    pub restored: Vec<(FileRole, PathBuf)>,
    /// Files that were at the target, and where they were moved.
    pub moved_aside: Vec<(PathBuf, PathBuf)>,
    /// The restored snapshot's ledger, as [`ledger::describe`] says it.
    pub ledger_lines: Vec<String>,
}

/// Takes a backup of the database at `database` (and its keys) into the new
/// or empty folder `to`. Safe while the server runs on that database.
pub async fn backup(database: &Path, to: &Path) -> Result<BackupReport, BackupError> {
    let stopwatch = clock::stopwatch();
    let taken_at_ms = clock::now_ms();
    let io = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Io {
            action,
            path,
            source,
        }
    };
    if is_postgres_url(database) {
        return Err(BackupError::Postgres);
    }
    if !database.is_file() {
        return Err(BackupError::NoDatabase(database.to_owned()));
    }
    let server_key_path = key_path_for(database);
    if !server_key_path.exists() {
        return Err(BackupError::NoServerKey(server_key_path));
    }
    match std::fs::read_dir(to) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(BackupError::DestinationNotEmpty(to.to_owned()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) if to.exists() && !to.is_dir() => {
            return Err(BackupError::DestinationNotAFolder(to.to_owned()));
        }
        Err(e) => return Err(io("read", to)(e)),
    }
    let Some(name) = to.file_name() else {
        return Err(BackupError::DestinationNotAFolder(to.to_owned()));
    };
    let parent = parent_of(to);
    std::fs::create_dir_all(&parent).map_err(io("create the folder", &parent))?;
    let staging = Staging::folder(&parent, name).map_err(io("create a folder in", &parent))?;

    // The snapshot: an empty file only we can read, filled by VACUUM INTO.
    let snapshot = staging.path.join(DATABASE_FILE);
    let snapshot_text = snapshot
        .to_str()
        .ok_or_else(|| BackupError::NotUtf8(to.to_owned()))?
        .to_owned();
    create_private(&snapshot).map_err(io("create", &snapshot))?;
    let database_error = |path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Database { path, source }
    };
    let source = open_sqlite(database, false)
        .await
        .map_err(database_error(database))?;
    let taken = async {
        if schema_version(&source).await?.is_none() {
            return Ok(false);
        }
        sqlx::query("VACUUM INTO ?")
            .bind(&snapshot_text)
            .execute(&source)
            .await?;
        Ok::<_, sqlx::Error>(true)
    }
    .await;
    source.close().await;
    if !taken.map_err(database_error(database))? {
        return Err(BackupError::NotHaven(database.to_owned()));
    }
    // SQLite does not sync what VACUUM INTO wrote.
    sync_file(&snapshot).map_err(io("write", &snapshot))?;

    // The snapshot on its own: whole, and its ledger intact.
    let pool = open_sqlite(&snapshot, true)
        .await
        .map_err(database_error(&snapshot))?;
    let checked = check_snapshot(&pool).await;
    pool.close().await;
    let (schema_version, entries, breaks, head) = checked?;
    if !breaks.is_empty() {
        return Err(BackupError::LedgerBroken { entries, breaks });
    }

    // The keys, after the snapshot: a key made meanwhile is taken too.
    let mut files = vec![hash_file(&snapshot, FileRole::Database).map_err(io("read", &snapshot))?];
    let server_key = std::fs::read(&server_key_path).map_err(io("read", &server_key_path))?;
    ServerKey::from_file(&server_key_path, &server_key)?;
    files.push(staging.write(FileRole::ServerKey, &server_key)?);
    let incident_key_path = incident_key_path_for(database);
    match std::fs::read_to_string(&incident_key_path) {
        Ok(pem) => {
            IncidentKeyPair::from_file(&incident_key_path, &pem)?;
            files.push(staging.write(FileRole::IncidentKey, pem.as_bytes())?);
        }
        // Made when a device first asks for it: nothing was sealed for it yet.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("read", &incident_key_path)(e)),
    }

    let manifest = Manifest {
        format: FORMAT,
        haven_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema_version,
        taken_at: utc_timestamp(taken_at_ms),
        taken_at_ms,
        duration_ms: u64::try_from(stopwatch.elapsed().as_millis()).unwrap_or(u64::MAX),
        ledger: LedgerSummary {
            entries,
            head_seq: head.as_ref().map(|(seq, _)| *seq),
            head_hash: head.map(|(_, hash)| hash.as_str().to_owned()),
        },
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    let manifest_path = staging.path.join(MANIFEST);
    crate::crypto::keys::write_private(&manifest_path, &json)
        .map_err(io("write", &manifest_path))?;
    staging.finish(to).map_err(|source| match source.kind() {
        // Something appeared at `to` meanwhile.
        std::io::ErrorKind::DirectoryNotEmpty | std::io::ErrorKind::AlreadyExists => {
            BackupError::DestinationNotEmpty(to.to_owned())
        }
        _ => io("move the finished backup to", to)(source),
    })?;
    Ok(BackupReport {
        dir: to.to_owned(),
        ledger_lines: ledger::describe("The snapshot's ledger", entries, &[]),
        manifest,
    })
}

/// The snapshot's schema version, its ledger's verification and its head.
type SnapshotCheck = (
    i64,
    usize,
    Vec<LedgerBreak>,
    Option<(i64, haven_core::hash::Sha256Hex)>,
);

async fn check_snapshot(pool: &AnyPool) -> Result<SnapshotCheck, BackupError> {
    let problem: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(pool)
        .await
        .map_err(|e| BackupError::SnapshotDamaged(e.to_string()))?;
    if problem != "ok" {
        return Err(BackupError::SnapshotDamaged(problem));
    }
    let version = schema_version(pool)
        .await
        .map_err(|e| BackupError::SnapshotDamaged(e.to_string()))?
        .unwrap_or_default();
    let (entries, breaks) = ledger::verify(pool)
        .await
        .map_err(|e| BackupError::Ledger(e.to_string()))?;
    let head = ledger::head(pool)
        .await
        .map_err(|e| BackupError::Ledger(e.to_string()))?;
    Ok((version, entries, breaks, head))
}

/// Puts the backup in `from` in place for a server whose database is
/// `database`. Checks everything before changing anything; with `force`,
/// files already there are moved aside (never deleted).
pub async fn restore(
    from: &Path,
    database: &Path,
    force: bool,
) -> Result<RestoreReport, RestoreError> {
    if is_postgres_url(database) {
        return Err(RestoreError::Postgres);
    }
    let io = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| RestoreError::Io {
            action,
            path,
            source,
        }
    };
    if !from.is_dir() {
        return Err(RestoreError::NoBackup(from.to_owned()));
    }
    let manifest = read_manifest(from)?;
    let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or_default();
    if manifest.schema_version > known {
        return Err(RestoreError::SchemaTooNew {
            backup: manifest.schema_version,
            known,
            haven_version: manifest.haven_version.clone(),
        });
    }

    // The keys: present, unchanged, and keys.
    let mut keys = Vec::new();
    for role in [FileRole::ServerKey, FileRole::IncidentKey] {
        let Some(entry) = manifest.file(role) else {
            continue;
        };
        let path = from.join(&entry.name);
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => RestoreError::MissingFile {
                role,
                path: path.clone(),
            },
            _ => io("read", &path)(e),
        })?;
        if hex::encode(Sha256::digest(&bytes)) != entry.sha256 {
            return Err(RestoreError::Altered { role, path });
        }
        if role == FileRole::ServerKey {
            ServerKey::from_file(&path, &bytes)?;
        } else {
            IncidentKeyPair::from_file(&path, &String::from_utf8_lossy(&bytes))?;
        }
        keys.push((role, bytes));
    }

    // The database: copied beside its target while hashed, so the hash
    // checked is of the very bytes restored, then verified there.
    let Some(entry) = manifest.file(FileRole::Database) else {
        return Err(RestoreError::ManifestLacks(FileRole::Database));
    };
    let snapshot = from.join(&entry.name);
    if !snapshot.is_file() {
        return Err(RestoreError::MissingFile {
            role: FileRole::Database,
            path: snapshot,
        });
    }
    let target_dir = parent_of(database);
    std::fs::create_dir_all(&target_dir).map_err(io("create the folder", &target_dir))?;
    let Some(database_name) = database.file_name() else {
        return Err(io("restore to", database)(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file name",
        )));
    };
    let copy = Staging::file(&target_dir, database_name);
    let digest = copy_hashing(&snapshot, &copy.path).map_err(io("copy", &snapshot))?;
    if digest != entry.sha256 {
        return Err(RestoreError::Altered {
            role: FileRole::Database,
            path: snapshot,
        });
    }
    let pool = open_sqlite(&copy.path, true)
        .await
        .map_err(|source| RestoreError::Database {
            path: snapshot.clone(),
            source,
        })?;
    let checked = check_restored(&pool, &snapshot).await;
    pool.close().await;
    let (schema_version, entries, breaks, head) = checked?;
    if !breaks.is_empty() {
        return Err(RestoreError::LedgerBroken { entries, breaks });
    }
    let head_seq = head.as_ref().map(|(seq, _)| *seq);
    let head_hash = head.map(|(_, hash)| hash.as_str().to_owned());
    let summary = LedgerSummary {
        entries,
        head_seq,
        head_hash,
    };
    if summary != manifest.ledger {
        return Err(RestoreError::ManifestMismatch(format!(
            "its ledger has {entries} entries ending at {}, the manifest says {} ending at {}",
            summary.head_hash.as_deref().unwrap_or("none"),
            manifest.ledger.entries,
            manifest.ledger.head_hash.as_deref().unwrap_or("none"),
        )));
    }
    if schema_version != manifest.schema_version {
        return Err(RestoreError::ManifestMismatch(format!(
            "its schema is at migration {schema_version}, the manifest says {}",
            manifest.schema_version
        )));
    }

    // Everything checks: now the target.
    let moved_aside = clear_target(database, force).await?;
    let mut restored = Vec::new();
    for (role, bytes) in keys {
        let path = role.path_beside(database);
        let staged = Staging::file(&target_dir, path.file_name().unwrap_or_default());
        crate::crypto::keys::write_private(&staged.path, &bytes)
            .map_err(io("write", &staged.path))?;
        staged.finish(&path).map_err(io("write", &path))?;
        restored.push((role, path));
    }
    copy.finish(database).map_err(io("write", database))?;
    sync_dir(&target_dir).map_err(io("write", &target_dir))?;
    restored.insert(0, (FileRole::Database, database.to_owned()));
    Ok(RestoreReport {
        manifest,
        restored,
        moved_aside,
        ledger_lines: ledger::describe("The restored ledger", entries, &[]),
    })
}

async fn check_restored(pool: &AnyPool, snapshot: &Path) -> Result<SnapshotCheck, RestoreError> {
    let version = schema_version(pool)
        .await
        .map_err(|source| RestoreError::Database {
            path: snapshot.to_owned(),
            source,
        })?
        .unwrap_or_default();
    let (entries, breaks) = ledger::verify(pool)
        .await
        .map_err(|e| RestoreError::Ledger(e.to_string()))?;
    let head = ledger::head(pool)
        .await
        .map_err(|e| RestoreError::Ledger(e.to_string()))?;
    Ok((version, entries, breaks, head))
}

/// The manifest in `from`, its file names checked: each file is named as
/// its role's, once, and the database and server key are there.
fn read_manifest(from: &Path) -> Result<Manifest, RestoreError> {
    let path = from.join(MANIFEST);
    let bad = |reason: String| RestoreError::BadManifest {
        path: path.clone(),
        reason,
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RestoreError::NoManifest(from.to_owned()))
        }
        Err(e) => return Err(bad(e.to_string())),
    };
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if manifest.format != FORMAT {
        return Err(bad(format!(
            "format {} where this haven_server reads {FORMAT}; restore it with haven_server {}",
            manifest.format, manifest.haven_version
        )));
    }
    for role in FileRole::ALL {
        let mut entries = manifest.files.iter().filter(|f| f.role == role);
        if let (Some(entry), None) = (entries.next(), entries.next()) {
            if entry.name != role.file_name() {
                return Err(bad(format!(
                    "it names the {role} {:?} instead of {:?}",
                    entry.name,
                    role.file_name()
                )));
            }
        } else if manifest.file(role).is_some() {
            return Err(bad(format!("it lists more than one {role}")));
        }
    }
    for role in [FileRole::Database, FileRole::ServerKey] {
        if manifest.file(role).is_none() {
            return Err(RestoreError::ManifestLacks(role));
        }
    }
    Ok(manifest)
}

/// Makes room for the restored files at `database`: with `force`, moves
/// what is there aside as a set (`haven.sqlite3.before-restore-STAMP` and
/// its keys, WAL and shared memory beside it, as the server names them);
/// without, refuses.
async fn clear_target(
    database: &Path,
    force: bool,
) -> Result<Vec<(PathBuf, PathBuf)>, RestoreError> {
    let wal = suffixed(database, "-wal");
    let members = |base: &Path| {
        vec![
            FileRole::Database.path_beside(base),
            suffixed(base, "-wal"),
            suffixed(base, "-shm"),
            FileRole::ServerKey.path_beside(base),
            FileRole::IncidentKey.path_beside(base),
        ]
    };
    let present: Vec<PathBuf> = members(database)
        .into_iter()
        .filter(|p| p.symlink_metadata().is_ok())
        .collect();
    if present.is_empty() {
        return Ok(Vec::new());
    }
    if !force {
        return Err(RestoreError::TargetExists(present));
    }
    // The last connection to close folds the WAL into the database and
    // removes it; if it stays, another process (a server) has it open.
    if database.is_file() {
        // One connection, not a pool: a pool may close a connection it is
        // still being handed back after `close` returns.
        let options = SqliteConnectOptions::new()
            .filename(database)
            .create_if_missing(false)
            .busy_timeout(Duration::from_secs(5));
        if let Ok(mut connection) = options.connect().await {
            let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut connection)
                .await;
            let _ = connection.close().await;
            if wal.exists() {
                return Err(RestoreError::InUse(database.to_owned()));
            }
        }
    }
    let stamp = utc_timestamp(clock::now_ms()).replace(['-', ':'], "");
    let mut aside = suffixed(database, &format!(".before-restore-{stamp}"));
    let mut n = 1;
    while members(&aside).iter().any(|p| p.symlink_metadata().is_ok()) {
        n += 1;
        aside = suffixed(database, &format!(".before-restore-{stamp}-{n}"));
    }
    let mut moved = Vec::new();
    for (from, to) in members(database).into_iter().zip(members(&aside)) {
        if from.symlink_metadata().is_err() {
            continue;
        }
        std::fs::rename(&from, &to).map_err(|source| RestoreError::Io {
            action: "move aside",
            path: from.clone(),
            source,
        })?;
        moved.push((from, to));
    }
    Ok(moved)
}

/// Opens a SQLite file that must exist, one connection, changing nothing of
/// its settings (its journal mode stays).
async fn open_sqlite(path: &Path, read_only: bool) -> Result<AnyPool, sqlx::Error> {
    crate::store::db::open_sqlite_file(path, read_only).await
}

/// The latest migration applied, `None` if the file has no migrations table.
async fn schema_version(pool: &AnyPool) -> Result<Option<i64>, sqlx::Error> {
    let has_table: i64 = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
    )
    .fetch_one(pool)
    .await?;
    if has_table == 0 {
        return Ok(None);
    }
    let version: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
            .fetch_one(pool)
            .await?;
    Ok(Some(version.unwrap_or_default()))
}

/// Whether `--database` was given a PostgreSQL URL rather than a file.
fn is_postgres_url(database: &Path) -> bool {
    matches!(
        database
            .to_str()
            .map(str::parse::<crate::store::db::Database>),
        Some(Ok(crate::store::db::Database::Postgres(_)))
    )
}

/// `path` with `suffix` added to its file name.
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The folder `path` is in (`.` for a bare name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// A file or folder written under a hidden temporary name beside where it
/// belongs, removed if dropped before [`Staging::finish`] renames it there.
struct Staging {
    path: PathBuf,
    is_dir: bool,
    done: bool,
}

impl Staging {
    fn temp_name(dir: &Path, name: &std::ffi::OsStr, what: &str) -> PathBuf {
        let mut temp = std::ffi::OsString::from(".");
        temp.push(name);
        temp.push(format!(
            ".{what}-{}-{}",
            std::process::id(),
            clock::new_id().simple()
        ));
        dir.join(temp)
    }

    /// A new folder only the owner may enter (0700), for the backup `name`.
    fn folder(dir: &Path, name: &std::ffi::OsStr) -> std::io::Result<Staging> {
        let path = Staging::temp_name(dir, name, "partial");
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&path)?;
        Ok(Staging {
            path,
            is_dir: true,
            done: false,
        })
    }

    /// A name for a file that will become `name` in `dir`.
    fn file(dir: &Path, name: &std::ffi::OsStr) -> Staging {
        Staging {
            path: Staging::temp_name(dir, name, "restoring"),
            is_dir: false,
            done: false,
        }
    }

    /// Writes `bytes` as the backup's `role` file (0600), and its entry.
    fn write(&self, role: FileRole, bytes: &[u8]) -> Result<BackedUpFile, BackupError> {
        let path = self.path.join(role.file_name());
        crate::crypto::keys::write_private(&path, bytes).map_err(|source| BackupError::Io {
            action: "write",
            path,
            source,
        })?;
        Ok(BackedUpFile {
            name: role.file_name(),
            role,
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
        })
    }

    /// Syncs it and renames it to `to` (an empty folder there is replaced).
    fn finish(mut self, to: &Path) -> std::io::Result<()> {
        if self.is_dir {
            sync_dir(&self.path)?;
        } else {
            sync_file(&self.path)?;
        }
        std::fs::rename(&self.path, to)?;
        self.done = true;
        sync_dir(&parent_of(to))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let _ = if self.is_dir {
            std::fs::remove_dir_all(&self.path)
        } else {
            std::fs::remove_file(&self.path)
        };
    }
}

/// Creates an empty file only the owner can read (0600).
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn sync_file(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .sync_all()
}

fn sync_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(path)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The entry for the file at `path`, hashed as it is on disk.
fn hash_file(path: &Path, role: FileRole) -> std::io::Result<BackedUpFile> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)?;
    Ok(BackedUpFile {
        name: role.file_name(),
        role,
        bytes,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// Copies `from` to a new private file `to`, returning the SHA-256 of what
/// was written.
fn copy_hashing(from: &Path, to: &Path) -> std::io::Result<String> {
    let mut source = std::fs::File::open(from)?;
    let mut target = create_private(to)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = source.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        target.write_all(&buffer[..n])?;
    }
    target.sync_all()?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_names_its_files_as_the_server_does() {
        assert_eq!(FileRole::Database.file_name(), "haven.sqlite3");
        assert_eq!(FileRole::ServerKey.file_name(), "haven.sqlite3.key");
        assert_eq!(
            FileRole::IncidentKey.file_name(),
            "haven.sqlite3.incident-key.pem"
        );
        let db = Path::new("/srv/haven/trust.sqlite3");
        assert_eq!(
            FileRole::ServerKey.path_beside(db),
            key_path_for(db),
            "restored where the server looks"
        );
        assert_eq!(
            FileRole::IncidentKey.path_beside(db),
            incident_key_path_for(db)
        );
    }

    #[test]
    fn an_unfinished_staging_folder_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::folder(dir.path(), std::ffi::OsStr::new("b")).unwrap();
        let path = staging.path.clone();
        assert!(path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".b.partial-"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        drop(staging);
        assert!(!path.exists());
    }
}
