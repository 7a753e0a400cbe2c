//! `haven_server purge-visits`: removes the visits past their academy's
//! retention now (the running server does it at start-up and every hour),
//! and prints how many went. `--now` runs it as of another time, to see what
//! a date would remove or to catch up after a restore.

use clap::Args;

#[derive(Debug, Args)]
pub struct PurgeVisitsArgs {
    /// The server's database: its SQLite file or PostgreSQL URL.
    #[arg(
        long,
        env = "HAVEN_DATABASE",
        default_value = "data/haven.sqlite3",
        hide_env_values = true
    )]
    pub database: haven_server::store::db::Database,
    /// The time to purge as of, in milliseconds since the Unix epoch
    /// (default: now).
    #[arg(long, value_name = "MILLIS")]
    pub now: Option<i64>,
}

/// The line to print.
pub async fn run(args: PurgeVisitsArgs) -> Result<String, String> {
    if !args.database.may_exist() {
        return Err(format!(
            "there is no database at {}; give the server's database with --database",
            args.database
        ));
    }
    let now = args.now.unwrap_or_else(haven_server::clock::now_ms);
    let pool = haven_server::store::db::connect(&args.database)
        .await
        .map_err(|e| e.to_string())?;
    let removed = haven_server::store::visits::purge(&pool, now).await;
    pool.close().await;
    let removed = removed.map_err(|e| e.to_string())?;
    Ok(match removed {
        1 => "Removed 1 visit past its academy's retention.".to_owned(),
        n => format!("Removed {n} visits past their academy's retention."),
    })
}
