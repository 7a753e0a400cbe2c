//! `haven_server`: parse the configuration and run.

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = haven_server::Config::parse();
    match haven_server::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("haven_server: {e}");
            ExitCode::FAILURE
        }
    }
}
