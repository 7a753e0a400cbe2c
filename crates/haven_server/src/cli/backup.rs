//! `haven_server backup` and `haven_server restore`: the command lines of
//! [`haven_server::store::backup`], and what they print.

use clap::Args;
use haven_server::store::backup::{self, BackupError, FileRole, RestoreError};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The server's SQLite database file (its keys are beside it). The
    /// server may keep running.
    #[arg(long, env = "HAVEN_DATABASE", default_value = "data/haven.sqlite3")]
    pub database: PathBuf,
    /// The folder to write the backup to: new, or empty.
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup folder, as `haven_server backup --to` made it.
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// Where the server will find the database; its keys go beside it.
    #[arg(long, env = "HAVEN_DATABASE", default_value = "data/haven.sqlite3")]
    pub database: PathBuf,
    /// Replace a database (or keys) already there: they are moved aside,
    /// renamed `….before-restore-TIME`, not deleted. Stop the server first.
    #[arg(long)]
    pub force: bool,
}

/// Takes the backup; the lines to print.
pub async fn backup(args: BackupArgs) -> Result<Vec<String>, BackupError> {
    let report = backup::backup(&args.database, &args.to).await?;
    let manifest = &report.manifest;
    let mut lines = vec![format!(
        "Backed up {} to {} in {:.2} s (taken at {}, Haven {}, schema {}):",
        args.database.display(),
        report.dir.display(),
        manifest.duration_ms as f64 / 1000.0,
        manifest.taken_at,
        manifest.haven_version,
        manifest.schema_version,
    )];
    for file in &manifest.files {
        lines.push(format!(
            "  {:<32} {:<13} {:>12} bytes  sha256 {}",
            file.name,
            file.role.label(),
            file.bytes,
            file.sha256
        ));
    }
    lines.push(format!("  {:<32} what the backup holds", backup::MANIFEST));
    if manifest.file(FileRole::IncidentKey).is_none() {
        lines.push(
            "No incident key yet (the server makes it when a device first asks for it), so \
             nothing can be sealed for one."
                .to_owned(),
        );
    }
    lines.extend(report.ledger_lines);
    lines.push(format!(
        "The backup holds personal data and the server's keys: keep it as safe as the server. \
         Restore it with: haven_server restore --from {} --database FILE",
        report.dir.display()
    ));
    Ok(lines)
}

/// Restores the backup; the lines to print.
pub async fn restore(args: RestoreArgs) -> Result<Vec<String>, RestoreError> {
    let report = backup::restore(&args.from, &args.database, args.force).await?;
    let manifest = &report.manifest;
    let mut lines = vec![format!(
        "Checked {} (taken at {} by Haven {}, schema {}): every file matches its SHA-256.",
        args.from.display(),
        manifest.taken_at,
        manifest.haven_version,
        manifest.schema_version,
    )];
    lines.extend(report.ledger_lines);
    for (from, to) in &report.moved_aside {
        lines.push(format!(
            "Moved aside {} to {}",
            from.display(),
            to.display()
        ));
    }
    lines.push("Restored:".to_owned());
    for (role, path) in &report.restored {
        lines.push(format!("  {:<13} {}", role.label(), path.display()));
    }
    lines.push(format!(
        "Start the server with --database {} (it brings the schema up to date).",
        args.database.display()
    ));
    Ok(lines)
}
