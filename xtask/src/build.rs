//! Building the PWA with Trunk, stamping the service worker, and `xtask run`.

use crate::cmd::{self, root, Result};
use crate::tools;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the release PWA into `dist/` and returns its path.
pub fn build_pwa() -> Result<PathBuf> {
    tools::ensure_build_tools()?;
    let dist = root().join("dist");
    cmd::run(
        Command::new("trunk")
            .args(["build", "--release", "--offline=true", "--dist"])
            .arg(&dist)
            .env("PATH", cmd::path_with_node_bin())
            // Keep Trunk's own cargo build from fighting over the lock with ours.
            .env_remove("CARGO_TARGET_DIR"),
    )?;
    stamp_service_worker(&dist)?;
    Ok(dist)
}

/// Writes the list of files to precache and a version derived from their
/// contents into `dist/sw.js`, so each deploy gets a new cache and the old one
/// is dropped when the new worker activates.
pub fn stamp_service_worker(dist: &Path) -> Result {
    let sw_path = dist.join("sw.js");
    let template = std::fs::read_to_string(&sw_path).map_err(|e| {
        format!(
            "{} is missing ({e}); is it copied by index.html?",
            sw_path.display()
        )
    })?;
    let mut files = Vec::new();
    list_files(dist, dist, &mut files)?;
    files.retain(|f| f != "sw.js");
    files.sort();
    let mut hasher = Sha256::new();
    for f in &files {
        hasher.update(f.as_bytes());
        hasher.update(std::fs::read(dist.join(f)).map_err(|e| format!("reading {f}: {e}"))?);
    }
    let version = &hex::encode(hasher.finalize())[..16];
    // The shell twice: "/kiosk" is the same file served with kiosk headers.
    let mut urls = vec!["\"/\"".to_owned(), "\"/kiosk\"".to_owned()];
    urls.extend(
        files
            .iter()
            .filter(|f| *f != "index.html")
            .map(|f| format!("\"/{f}\"")),
    );
    let stamped = template
        .replacen(
            "const VERSION = \"dev\";",
            &format!("const VERSION = \"{version}\";"),
            1,
        )
        .replacen(
            "const PRECACHE = [];",
            &format!("const PRECACHE = [{}];", urls.join(", ")),
            1,
        );
    if stamped == template {
        return Err(
            "sw.js has no `const VERSION = \"dev\";` / `const PRECACHE = [];` to stamp".into(),
        );
    }
    std::fs::write(&sw_path, stamped).map_err(|e| format!("writing {}: {e}", sw_path.display()))
}

fn list_files(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result {
    for entry in std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            list_files(base, &path, out)?;
        } else {
            let rel = path.strip_prefix(base).expect("under base");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// `cargo xtask run [-- server flags]`: build and start Haven with demo data.
pub fn run(extra: &[String]) -> Result {
    let dist = build_pwa()?;
    // `cargo xtask run -- --bind ...`: the separator is ours, not the server's.
    let extra: Vec<&String> = extra.iter().skip_while(|a| *a == "--").collect();
    let given = |flag: &str| {
        extra
            .iter()
            .any(|a| *a == flag || a.starts_with(&format!("{flag}=")))
    };
    let mut cmd = Command::new("cargo");
    cmd.args(["run", "--release", "--package", "haven_server", "--"]);
    if !given("--static-dir") {
        cmd.arg("--static-dir").arg(&dist);
    }
    if !given("--database") {
        std::fs::create_dir_all(root().join("data")).map_err(|e| format!("creating data/: {e}"))?;
        cmd.args(["--database", "data/haven.sqlite3"]);
    }
    cmd::run(cmd.args(extra))
}
