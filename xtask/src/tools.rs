//! Installs the build and test tools that are missing, and skips the rest.
//!
//! Every tool comes from a package registry (crates.io, npm, Debian): nothing
//! downloads a prebuilt binary from anywhere else, and Trunk runs offline.

use crate::cmd::{self, output, root, Result};
use std::path::Path;
use std::process::Command;

const TRUNK_VERSION: &str = "0.21.14";
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub fn ensure_all() -> Result {
    ensure_build_tools()?;
    ensure_browser()
}

/// What building the PWA needs.
pub fn ensure_build_tools() -> Result {
    ensure_wasm_target()?;
    ensure_wasm_bindgen()?;
    ensure_node_packages()?;
    ensure_trunk()
}

fn ensure_wasm_target() -> Result {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        return skip("wasm32-unknown-unknown target");
    }
    cmd::run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

fn ensure_trunk() -> Result {
    if output("trunk", &["--version"]).is_some_and(|v| v.contains(TRUNK_VERSION)) {
        return skip("trunk");
    }
    // Trunk 0.22 needs a newer rustc than these machines have.
    cmd::run(Command::new("cargo").args(["install", &format!("trunk@{TRUNK_VERSION}"), "--locked"]))
}

/// The wasm-bindgen version in Cargo.lock; the CLI must match it exactly.
pub fn wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return Ok(v.trim_end_matches('"').to_owned());
            }
        }
    }
    Err("Cargo.lock has no wasm-bindgen package; run `cargo generate-lockfile`".into())
}

fn ensure_wasm_bindgen() -> Result {
    let want = wasm_bindgen_version()?;
    let have = output("wasm-bindgen", &["--version"]).unwrap_or_default();
    let runner = output("wasm-bindgen-test-runner", &["--version"]).unwrap_or_default();
    if have.trim().ends_with(&want) && runner.trim().ends_with(&want) {
        return skip("wasm-bindgen-cli");
    }
    // Without --locked: with it, a locked dependency is missing from the registry.
    cmd::run(Command::new("cargo").args(["install", &format!("wasm-bindgen-cli@{want}")]))
}

/// binaryen (wasm-opt), playwright-core and axe-core, pinned by package-lock.json.
fn ensure_node_packages() -> Result {
    let root = root();
    let have = |p: &str| root.join("node_modules").join(p).exists();
    let lock = root.join("package-lock.json");
    let installed_lock = root.join("node_modules/.package-lock.json");
    let fresh = match (std::fs::metadata(&lock), std::fs::metadata(&installed_lock)) {
        (Ok(a), Ok(b)) => a.modified().ok() <= b.modified().ok(),
        _ => false,
    };
    if fresh && have(".bin/wasm-opt") && have("playwright-core") {
        return skip("npm packages");
    }
    cmd::run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]))
}

/// Debian's Chromium and its driver, for wasm-bindgen-test and the e2e tests.
pub fn ensure_browser() -> Result {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return skip("chromium and chromedriver");
    }
    let sudo = output("id", &["-u"]).is_some_and(|u| u.trim() != "0");
    let apt = |args: &[&str]| {
        let mut c = if sudo {
            Command::new("sudo")
        } else {
            Command::new("apt-get")
        };
        if sudo {
            c.arg("apt-get");
        }
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    cmd::run(&mut apt(&["update"]))?;
    cmd::run(&mut apt(&[
        "install",
        "-y",
        "--no-install-recommends",
        "chromium",
        "chromium-driver",
    ]))
}

fn skip(what: &str) -> Result {
    eprintln!("✓ {what} already installed");
    Ok(())
}
