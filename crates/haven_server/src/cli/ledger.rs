//! `haven_server verify-ledger`: walks the whole ledger and every stored
//! agreement against it, prints what it found, and fails if anything was
//! changed or removed.

use clap::Args;

#[derive(Debug, Args)]
pub struct VerifyLedgerArgs {
    /// The server's database: its SQLite file or PostgreSQL URL.
    #[arg(
        long,
        env = "HAVEN_DATABASE",
        default_value = "data/haven.sqlite3",
        hide_env_values = true
    )]
    pub database: haven_server::store::db::Database,
}

/// Lines to print, and whether the ledger is intact.
pub async fn run(args: VerifyLedgerArgs) -> Result<(Vec<String>, bool), String> {
    if !args.database.may_exist() {
        return Err(format!(
            "there is no database at {}; give the server's database with --database",
            args.database
        ));
    }
    let pool = haven_server::store::db::connect(&args.database)
        .await
        .map_err(|e| e.to_string())?;
    let (entries, breaks) = haven_server::store::ledger::verify(&pool)
        .await
        .map_err(|e| e.to_string())?;
    pool.close().await;
    let lines = haven_server::store::ledger::describe("The ledger", entries, &breaks);
    Ok((lines, breaks.is_empty()))
}
