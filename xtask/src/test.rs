//! `cargo xtask test`: every check, in the order that fails fastest.

use crate::build;
use crate::cmd::{self, root, Result};
use crate::tools::{self, CHROMEDRIVER, CHROMIUM};
use std::process::Command;
use std::time::Instant;

pub fn run() -> Result {
    #[allow(clippy::disallowed_methods)] // native tool, not wasm: the clock is fine here
    let started = Instant::now();
    tools::ensure_all()?;

    cmd::run(Command::new("cargo").args(["fmt", "--all", "--", "--check"]))?;
    // The PWA only builds for the browser, so it is linted and tested on wasm32.
    cmd::run(Command::new("cargo").args([
        "clippy",
        "--workspace",
        "--exclude",
        "haven",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    cmd::run(Command::new("cargo").args([
        "clippy",
        "-p",
        "haven",
        "--target",
        "wasm32-unknown-unknown",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;

    // Native: haven_core, haven_server (real server on loopback, real SQLite).
    cmd::run(Command::new("cargo").args(["test", "--workspace", "--exclude", "haven"]))?;

    // wasm-bindgen-test against real IndexedDB in headless Chromium.
    cmd::run(
        Command::new("cargo")
            .args(["test", "-p", "haven", "--target", "wasm32-unknown-unknown"])
            .env("CHROMEDRIVER", CHROMEDRIVER)
            .env("WASM_BINDGEN_TEST_TIMEOUT", "120"),
    )?;

    // End to end: the release PWA served by the real server, driven in Chromium.
    let dist = build::build_pwa()?;
    cmd::run(Command::new("cargo").args(["build", "-p", "haven_server"]))?;
    cmd::run(
        Command::new("node")
            .args(["--test", "--test-concurrency=1", "tests/e2e/"])
            .env("HAVEN_SERVER_BIN", root().join("target/debug/haven_server"))
            .env("HAVEN_DIST", &dist)
            .env("CHROMIUM", CHROMIUM),
    )?;
    eprintln!(
        "\nAll checks passed in {:.0} s.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
