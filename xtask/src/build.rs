//! Building the PWA with Trunk, stamping the service worker, and `xtask run`.

use crate::cmd::{self, root, Result};
use crate::tools;
use haven_core::shell::{FULL_APP_DIR, READER_SECTIONS};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the release PWA into `dist/` and returns its path: the reader
/// (`index.html`) at the root and the full app (`app.html`) in `dist/app/`
/// (see `haven_core::shell`), then stamps the service worker.
pub fn build_pwa() -> Result<PathBuf> {
    tools::ensure_build_tools()?;
    let dist = root().join("dist");
    // The reader first: Trunk empties its dist folder, app/ included.
    trunk_build("index.html", &dist, "/")?;
    trunk_build(
        "app.html",
        &dist.join(FULL_APP_DIR),
        &format!("/{FULL_APP_DIR}/"),
    )?;
    stamp_service_worker(&dist)?;
    Ok(dist)
}

fn trunk_build(html: &str, dist: &Path, public_url: &str) -> Result {
    cmd::run(
        Command::new("trunk")
            .args(["build", "--release", "--offline=true", html, "--public-url"])
            .arg(public_url)
            .arg("--dist")
            .arg(dist)
            .env("PATH", cmd::path_with_node_bin())
            // Keep Trunk's own cargo build from fighting over the lock with ours.
            .env_remove("CARGO_TARGET_DIR"),
    )
}

/// Writes into `dist/sw.js` what it precaches and a version derived from the
/// files' contents, so each deploy gets a new cache and the old one is dropped
/// when the new worker activates.
///
/// Two lists: the reader's shell (`/`) and files, which every device keeps,
/// and the full app's shells (`/app/`, and `/kiosk`, the same file served with
/// the kiosk's camera permission) and files, which a device keeps once it has
/// opened a page of the full app. The worker also gets
/// [`READER_SECTIONS`], to pick the shell for a navigation as the server does.
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
    let full_prefix = format!("{FULL_APP_DIR}/");
    let (full_files, reader_files): (Vec<&String>, Vec<&String>) =
        files.iter().partition(|f| f.starts_with(&full_prefix));
    let quoted = |shells: &[&str], files: &[&String], shell_file: &str| {
        let mut urls: Vec<String> = shells.iter().map(|s| format!("\"{s}\"")).collect();
        urls.extend(
            files
                .iter()
                .filter(|f| f.as_str() != shell_file)
                .map(|f| format!("\"/{f}\"")),
        );
        urls.join(", ")
    };
    let full_shell = format!("/{FULL_APP_DIR}/");
    let reader = quoted(&["/"], &reader_files, "index.html");
    let full = quoted(
        &[&full_shell, "/kiosk"],
        &full_files,
        &format!("{FULL_APP_DIR}/index.html"),
    );
    let sections: Vec<String> = READER_SECTIONS.iter().map(|s| format!("\"{s}\"")).collect();
    let mut stamped = template.clone();
    for (line, value) in [
        ("const VERSION = \"dev\";", format!("\"{version}\"")),
        ("const READER = [];", format!("[{reader}]")),
        ("const FULL = [];", format!("[{full}]")),
        (
            "const READER_SECTIONS = [];",
            format!("[{}]", sections.join(", ")),
        ),
        ("const FULL_SHELL = \"\";", format!("\"{full_shell}\"")),
    ] {
        let (name, _) = line.split_once(" = ").expect("a const line");
        if !stamped.contains(line) {
            return Err(format!("sw.js has no `{line}` to stamp"));
        }
        stamped = stamped.replacen(line, &format!("{name} = {value};"), 1);
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
    // The demo trust and accounts; the server refuses them off loopback, and
    // `--no-demo` asks for none.
    if !given("--demo") && !given("--no-demo") {
        cmd.arg("--demo");
    }
    cmd::run(cmd.args(extra))
}
