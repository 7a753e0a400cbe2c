//! `haven_server migrate-data`: the command line of
//! [`haven_server::store::migrate_data`], and what it prints.

use clap::Args;
use haven_server::store::migrate_data::{self, MigrateError};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct MigrateDataArgs {
    /// The trust's SQLite database file (its key files are beside it). Stop
    /// the server on it first: what it writes later is not copied.
    #[arg(long, value_name = "SQLITE_FILE")]
    pub from: PathBuf,
    /// A new, empty PostgreSQL database: postgres://user:password@host/name.
    #[arg(long, value_name = "POSTGRES_URL", hide_env_values = true)]
    pub to: String,
    /// Where the server on PostgreSQL will keep its key files (its
    /// --key-dir): the source's keys are copied there.
    #[arg(long, value_name = "DIR")]
    pub key_dir: PathBuf,
}

/// Copies the trust; the lines to print.
pub async fn run(args: MigrateDataArgs) -> Result<Vec<String>, MigrateError> {
    let report = migrate_data::migrate(&args.from, &args.to, &args.key_dir).await?;
    let rows: u64 = report.tables.iter().map(|(_, n)| n).sum();
    let mut lines = vec![format!(
        "Copied {} to PostgreSQL: {} tables, {rows} rows.",
        args.from.display(),
        report.tables.len()
    )];
    for (table, n) in &report.tables {
        lines.push(format!("  {table:<28} {n:>10}"));
    }
    lines.push(format!(
        "The copy's ledger is intact: {} entries, every agreement matches its entry.",
        report.ledger_entries
    ));
    for key in &report.keys {
        lines.push(format!("Key file: {}", key.display()));
    }
    lines.push(format!(
        "Start the server with --database <the URL> --key-dir {}.",
        args.key_dir.display()
    ));
    Ok(lines)
}
