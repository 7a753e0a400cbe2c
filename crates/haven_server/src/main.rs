//! `haven_server`: run the server (the default), or a maintenance command.

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// With no command, the server runs with the options below; a command does
/// one job and exits.
#[derive(Debug, Parser)]
#[command(
    name = "haven_server",
    version,
    about = "Haven's server: the PWA and its sync API",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(flatten)]
    server: haven_server::Config,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The policy library.
    #[command(subcommand)]
    Policy(Box<PolicyCommand>),
    /// Check that no signed agreement was changed or removed: walk the hash
    /// chain of the ledger and every agreement against it.
    VerifyLedger(cli::ledger::VerifyLedgerArgs),
    /// Remove the visits that ended longer ago than their academy keeps
    /// them, and print how many went (the server does this every hour).
    PurgeVisits(cli::purge::PurgeVisitsArgs),
    /// Write a consistent snapshot of the database, with the keys the
    /// server needs and a manifest, to a new folder; the server may keep
    /// running. The snapshot's ledger is verified.
    Backup(cli::backup::BackupArgs),
    /// Put a backup in place: its files are checked against the manifest
    /// and its ledger verified first; nothing is overwritten without
    /// --force. Stop the server first.
    Restore(cli::backup::RestoreArgs),
    /// Copy a trust from its SQLite file into a new, empty PostgreSQL
    /// database, with its key files; the copy's ledger is verified before
    /// anything is committed.
    MigrateData(cli::migrate_data::MigrateDataArgs),
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Publish a policy from a Markdown or plain-text file (as a word
    /// processor exports it), and print its version id and text hash.
    Import(cli::import::ImportArgs),
}

/// A broken ledger has been reported on stdout already; exit 1 quietly.
const LEDGER_BROKEN: &str = "\0ledger broken";

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => haven_server::run(cli.server)
            .await
            .map_err(|e| e.to_string()),
        Some(Command::VerifyLedger(args)) => match cli::ledger::run(args).await {
            Ok((lines, intact)) => {
                for line in lines {
                    println!("{line}");
                }
                if intact {
                    Ok(())
                } else {
                    Err(LEDGER_BROKEN.to_owned())
                }
            }
            Err(e) => Err(e),
        },
        Some(Command::PurgeVisits(args)) => {
            cli::purge::run(args).await.map(|line| println!("{line}"))
        }
        Some(Command::Backup(args)) => print_lines(cli::backup::backup(args).await),
        Some(Command::Restore(args)) => print_lines(cli::backup::restore(args).await),
        Some(Command::MigrateData(args)) => print_lines(cli::migrate_data::run(args).await),
        Some(Command::Policy(policy)) => {
            let PolicyCommand::Import(args) = *policy;
            cli::import::run(args).await.map_or_else(
                |e| Err(e.to_string()),
                |report| {
                    for line in report.lines {
                        println!("{line}");
                    }
                    Ok(())
                },
            )
        }
    };
    let result = match result {
        Err(e) if e == LEDGER_BROKEN => return ExitCode::FAILURE,
        other => other,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("haven_server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a command's lines, or passes its error on as text.
fn print_lines<E: std::fmt::Display>(result: Result<Vec<String>, E>) -> Result<(), String> {
    let lines = result.map_err(|e| e.to_string())?;
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_options_alone_run_the_server() {
        let cli = Cli::try_parse_from(["haven_server", "--bind", "127.0.0.1:0", "--demo"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.server.bind.port(), 0);
        assert!(cli.server.demo);
        assert_eq!(cli.server.trusted_proxy_hops, 0);
    }

    #[test]
    fn demo_data_is_off_unless_asked_for_and_no_demo_still_parses() {
        let cli = Cli::try_parse_from(["haven_server"]).unwrap();
        assert!(!cli.server.demo);
        let cli = Cli::try_parse_from(["haven_server", "--no-demo"]).unwrap();
        assert!(!cli.server.demo);
        assert!(Cli::try_parse_from(["haven_server", "--demo", "--no-demo"]).is_err());
        let cli = Cli::try_parse_from(["haven_server", "--trusted-proxy-hops", "2"]).unwrap();
        assert_eq!(cli.server.trusted_proxy_hops, 2);
    }

    #[test]
    fn policy_import_is_a_command_with_its_own_options() {
        let cli = Cli::try_parse_from([
            "haven_server",
            "policy",
            "import",
            "policy.txt",
            "--title",
            "Staff AUA",
            "--kind",
            "staff_aua",
            "--audience",
            "staff,volunteer",
            "--database",
            "/tmp/x.sqlite3",
        ])
        .unwrap();
        let Some(Command::Policy(policy)) = cli.command else {
            panic!("not an import: {:?}", cli.command);
        };
        let PolicyCommand::Import(args) = *policy;
        assert_eq!(args.file.to_str(), Some("policy.txt"));
        assert_eq!(args.title.as_deref(), Some("Staff AUA"));
        assert_eq!(args.audiences, ["staff", "volunteer"]);
        assert_eq!(args.database.to_string(), "/tmp/x.sqlite3");
    }

    #[test]
    fn purge_visits_takes_a_database_and_optionally_a_time() {
        let cli = Cli::try_parse_from([
            "haven_server",
            "purge-visits",
            "--database",
            "/tmp/x.sqlite3",
            "--now",
            "1790000000000",
        ])
        .unwrap();
        let Some(Command::PurgeVisits(args)) = cli.command else {
            panic!("not a purge: {:?}", cli.command);
        };
        assert_eq!(args.database.to_string(), "/tmp/x.sqlite3");
        assert_eq!(args.now, Some(1_790_000_000_000));
    }

    #[test]
    fn backup_and_restore_take_a_folder_and_a_database() {
        let cli = Cli::try_parse_from([
            "haven_server",
            "backup",
            "--database",
            "/tmp/x.sqlite3",
            "--to",
            "/backups/today",
        ])
        .unwrap();
        let Some(Command::Backup(args)) = cli.command else {
            panic!("not a backup: {:?}", cli.command);
        };
        assert_eq!(args.database.to_str(), Some("/tmp/x.sqlite3"));
        assert_eq!(args.to.to_str(), Some("/backups/today"));
        assert!(
            Cli::try_parse_from(["haven_server", "backup"]).is_err(),
            "--to is needed"
        );

        let cli = Cli::try_parse_from([
            "haven_server",
            "restore",
            "--from",
            "/backups/today",
            "--database",
            "/tmp/y.sqlite3",
            "--force",
        ])
        .unwrap();
        let Some(Command::Restore(args)) = cli.command else {
            panic!("not a restore: {:?}", cli.command);
        };
        assert_eq!(args.from.to_str(), Some("/backups/today"));
        assert_eq!(args.database.to_str(), Some("/tmp/y.sqlite3"));
        assert!(args.force);
        let cli = Cli::try_parse_from(["haven_server", "restore", "--from", "b"]).unwrap();
        let Some(Command::Restore(args)) = cli.command else {
            panic!("not a restore");
        };
        assert!(!args.force, "replacing is asked for");
    }

    #[test]
    fn server_options_do_not_mix_with_a_command() {
        let result = Cli::try_parse_from([
            "haven_server",
            "--bind",
            "127.0.0.1:0",
            "policy",
            "import",
            "p.txt",
            "--kind",
            "other",
        ]);
        assert!(result.is_err());
    }
}
