//! The dependency audit of `cargo xtask test`: cargo-audit reads Cargo.lock
//! against the offline copy of the RustSec advisory database in
//! `../shared/advisory-db` (beside the repository) and fails on any
//! vulnerability that is not an exception in `.cargo/audit.toml`, each of
//! which says why it is one.
//!
//! Then it audits `xtask/assets/audit-fixture/Cargo.lock`, a lockfile with
//! a crate at a known-vulnerable version, and fails unless that audit fails
//! naming the advisory: proof that the database was read and the exceptions
//! do not swallow a new finding.

use crate::cmd::{describe, root, Result};
use crate::tools;
use std::path::PathBuf;
use std::process::Command;

/// The advisory the fixture lockfile must be caught by.
const FIXTURE_ADVISORY: &str = "RUSTSEC-2021-0003";

/// The advisory database: `../shared/advisory-db` from the repository root,
/// or `HAVEN_ADVISORY_DB` if set.
pub fn advisory_db() -> Result<PathBuf> {
    let db = std::env::var_os("HAVEN_ADVISORY_DB")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/advisory-db"));
    if !db.join("crates").is_dir() {
        return Err(format!(
            "no advisory database at {} (expected the RustSec snapshot, with a crates/ \
             folder, in ../shared/advisory-db beside the repository; set HAVEN_ADVISORY_DB \
             to use another copy)",
            db.display()
        ));
    }
    db.canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", db.display()))
}

/// `cargo audit`, offline, against `db`, from the repository root (so
/// `.cargo/audit.toml` applies).
fn audit(db: &std::path::Path) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.arg("audit")
        .arg("--db")
        .arg(db)
        // Offline: the snapshot is used as it is and is older than
        // cargo-audit's freshness check.
        .args(["--no-fetch", "--stale"])
        .current_dir(root());
    cmd
}

pub fn run() -> Result {
    tools::ensure_cargo_audit()?;
    let db = advisory_db()?;
    crate::cmd::run(&mut audit(&db))?;

    let fixture = root().join("xtask/assets/audit-fixture/Cargo.lock");
    let mut check = audit(&db);
    check.arg("--file").arg(&fixture);
    eprintln!("$ {}   (must fail: {FIXTURE_ADVISORY})", describe(&check));
    let out = check
        .output()
        .map_err(|e| format!("could not start `{}`: {e}", describe(&check)))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() || !text.contains(FIXTURE_ADVISORY) {
        return Err(format!(
            "the dependency audit let a known-vulnerable lockfile through ({} should fail \
             naming {FIXTURE_ADVISORY}; it ended with {}):\n{text}",
            fixture.display(),
            out.status
        ));
    }
    eprintln!("✓ the audit fails on a lockfile with {FIXTURE_ADVISORY}, as it should");
    Ok(())
}
