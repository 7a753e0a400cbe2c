//! Project automation, so a fresh Debian machine needs only `cargo xtask <command>`.
//!
//! Each command first installs what is missing (and skips what is there), then
//! does its work. Subcommands live in their own modules.

mod bench;
mod build;
mod cmd;
mod deps_audit;
mod fuzz;
mod postgres;
mod test;
mod tools;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

  run     install what is missing, build the PWA (release), start the server on
          http://127.0.0.1:8080 with demo data
  build   install what is missing and build the release PWA into dist/
  test    install what is missing, then run every test: fmt, the dependency
          audit (offline, ../shared/advisory-db), clippy, native,
          wasm in headless Chromium, end-to-end; the API tests and
          Schemathesis also on a throwaway PostgreSQL cluster
  bench   print figures: bundle size, browser drain vs PouchDB, server
          ingest under 50 devices (SQLite, PostgreSQL with one and two
          servers, the push code without HTTP as the ceiling), the reader
          opening a 50 KB policy, Lighthouse (mobile) for four pages
  fuzz [SECONDS_PER_TARGET]
          run every fuzz target in fuzz/ for that long (default 30), with
          cargo-fuzz on the nightly toolchain, and print runs and results
  audit   only the dependency audit: cargo-audit, offline, against
          ../shared/advisory-db and the exceptions in .cargo/audit.toml
  postgres
          start a throwaway PostgreSQL cluster on 127.0.0.1 (installing
          Debian's postgresql if missing), print its URL for
          HAVEN_TEST_POSTGRES and `cargo xtask run -- --database`, and remove
          it on Ctrl-C or Ctrl-D
  setup   only install what is missing";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => build::run(&args[1..]),
        Some("build") => build::build_pwa().map(|_| ()),
        Some("test") => test::run(),
        Some("bench") => bench::run(),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("audit") => deps_audit::run(),
        Some("postgres") => postgres::run(),
        Some("setup") => tools::ensure_all(),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nxtask: {e}");
            ExitCode::FAILURE
        }
    }
}
