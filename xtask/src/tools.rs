//! Installs the build and test tools that are missing, and skips the rest.
//!
//! Every tool comes from a package registry (crates.io, npm, Debian): nothing
//! downloads a prebuilt binary from anywhere else, and Trunk runs offline.

use crate::cmd::{self, output, root, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const TRUNK_VERSION: &str = "0.21.14";
/// cargo-audit for the dependency audit of `cargo xtask test`; 0.22 builds
/// with this toolchain and reads the offline advisory database as a folder.
pub const CARGO_AUDIT_VERSION: &str = "0.22.1";
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub fn ensure_all() -> Result {
    ensure_build_tools()?;
    ensure_cargo_audit()?;
    ensure_browser()?;
    ensure_other_engines()
}

pub const FIREFOX: &str = "/usr/bin/firefox-esr";
pub const WEBKIT_DRIVER: &str = "/usr/bin/WebKitWebDriver";
pub const XVFB: &str = "/usr/bin/Xvfb";
/// geckodriver from crates.io, which drives Debian's Firefox ESR.
pub const GECKODRIVER_VERSION: &str = "0.37.1";

/// Firefox ESR and WebKitGTK (the engine of Safari) from Debian, with their
/// WebDriver servers (geckodriver from crates.io; WebKitWebDriver with the
/// MiniBrowser) and Xvfb for WebKitGTK's display: `tests/engines` runs the
/// core journeys in each.
pub fn ensure_other_engines() -> Result {
    if [FIREFOX, WEBKIT_DRIVER, XVFB]
        .iter()
        .all(|p| Path::new(p).exists())
    {
        skip("firefox-esr, webkit2gtk-driver and xvfb")?;
    } else {
        apt_install(&["firefox-esr", "webkit2gtk-driver", "xvfb"])?;
    }
    let have = geckodriver()
        .to_str()
        .and_then(|g| output(g, &["--version"]))
        .unwrap_or_default();
    if have.contains(GECKODRIVER_VERSION) {
        return skip("geckodriver");
    }
    cmd::run(Command::new("cargo").args([
        "install",
        &format!("geckodriver@{GECKODRIVER_VERSION}"),
        "--locked",
    ]))
}

/// Where `cargo install` puts geckodriver (`$CARGO_HOME/bin`, by default
/// `~/.cargo/bin`), so it is found whether or not that folder is on the PATH.
pub fn geckodriver() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo")
        })
        .join("bin/geckodriver")
}

/// Whether xtask runs as root (effective uid 0).
pub fn is_root() -> bool {
    output("id", &["-u"]).is_some_and(|u| u.trim() == "0")
}

/// `apt-get install` of Debian packages, through sudo when not root.
pub fn apt_install(packages: &[&str]) -> Result {
    let sudo = output("id", &["-u"]).is_some_and(|u| u.trim() != "0");
    let apt = |args: &[&str]| {
        let mut c = Command::new(if sudo { "sudo" } else { "apt-get" });
        if sudo {
            c.arg("apt-get");
        }
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    cmd::run(&mut apt(&["update"]))?;
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend_from_slice(packages);
    cmd::run(&mut apt(&install))
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

/// twiggy, the wasm code-size profiler, from crates.io: `cargo xtask bench`
/// names the largest contributors to each build with it.
pub const TWIGGY_VERSION: &str = "0.8.0";

pub fn ensure_twiggy() -> Result {
    if output("twiggy", &["--version"]).is_some_and(|v| v.trim().ends_with(TWIGGY_VERSION)) {
        return skip("twiggy");
    }
    cmd::run(Command::new("cargo").args([
        "install",
        &format!("twiggy@{TWIGGY_VERSION}"),
        "--locked",
    ]))
}

/// cargo-audit from crates.io at [`CARGO_AUDIT_VERSION`] (about 8 minutes
/// to build on two cores, once).
pub fn ensure_cargo_audit() -> Result {
    if output("cargo", &["audit", "--version"])
        .is_some_and(|v| v.trim().ends_with(CARGO_AUDIT_VERSION))
    {
        return skip("cargo-audit");
    }
    cmd::run(Command::new("cargo").args([
        "install",
        &format!("cargo-audit@{CARGO_AUDIT_VERSION}"),
        "--locked",
    ]))
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

/// binaryen (wasm-opt), playwright-core, axe-core and selenium-webdriver,
/// pinned by package-lock.json.
fn ensure_node_packages() -> Result {
    let root = root();
    let have = |p: &str| root.join("node_modules").join(p).exists();
    let lock = root.join("package-lock.json");
    let installed_lock = root.join("node_modules/.package-lock.json");
    let fresh = match (std::fs::metadata(&lock), std::fs::metadata(&installed_lock)) {
        (Ok(a), Ok(b)) => a.modified().ok() <= b.modified().ok(),
        _ => false,
    };
    if fresh && have(".bin/wasm-opt") && have("playwright-core") && have("selenium-webdriver") {
        return skip("npm packages");
    }
    cmd::run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]))
}

/// Debian's Chromium and its driver, for wasm-bindgen-test and the e2e tests.
pub fn ensure_browser() -> Result {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return skip("chromium and chromedriver");
    }
    apt_install(&["chromium", "chromium-driver"])
}

pub fn skip(what: &str) -> Result {
    eprintln!("✓ {what} already installed");
    Ok(())
}

/// Schemathesis, from PyPI, for the API step of `cargo xtask test`.
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// aiosmtpd, from PyPI: the SMTP server the e2e tests send reminders to.
pub const AIOSMTPD_VERSION: &str = "1.4.6";

/// The Python of `.tools/venv`, with aiosmtpd at [`AIOSMTPD_VERSION`]
/// (installed by [`ensure_schemathesis`], which makes the virtualenv).
pub fn ensure_smtp_sink() -> Result<std::path::PathBuf> {
    ensure_schemathesis()?;
    Ok(root().join(".tools/venv/bin/python"))
}

/// `.tools/venv/bin/schemathesis` at [`SCHEMATHESIS_VERSION`], and aiosmtpd
/// at [`AIOSMTPD_VERSION`] beside it: makes the virtualenv (with Debian's
/// `python3-venv` if `venv` is missing) and installs the pinned releases
/// into it when they are not there yet.
pub fn ensure_schemathesis() -> Result<std::path::PathBuf> {
    let venv = root().join(".tools/venv");
    let bin = venv.join("bin/schemathesis");
    let have = bin
        .to_str()
        .and_then(|b| output(b, &["--version"]))
        .unwrap_or_default();
    let sink = venv
        .join("bin/python")
        .to_str()
        .and_then(|python| output(python, &["-m", "aiosmtpd", "--version"]))
        .unwrap_or_default();
    if have.trim().ends_with(SCHEMATHESIS_VERSION) && sink.trim().ends_with(AIOSMTPD_VERSION) {
        skip("schemathesis and aiosmtpd")?;
        return Ok(bin);
    }
    let venv_works = Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .status()
        .is_ok_and(|s| s.success());
    if !venv_works {
        apt_install(&["python3", "python3-venv"])?;
    }
    if !venv.join("bin/pip").exists() {
        cmd::run(
            Command::new("python3")
                .args(["-m", "venv", "--clear"])
                .arg(&venv),
        )?;
    }
    cmd::run(Command::new(venv.join("bin/pip")).args([
        "install",
        "--disable-pip-version-check",
        "--quiet",
        &format!("schemathesis=={SCHEMATHESIS_VERSION}"),
        &format!("aiosmtpd=={AIOSMTPD_VERSION}"),
    ]))?;
    Ok(bin)
}

/// The nightly toolchain, which cargo-fuzz needs (sanitizers, `-Z` flags).
pub fn ensure_nightly() -> Result {
    let toolchains = output("rustup", &["toolchain", "list"]).unwrap_or_default();
    if toolchains.lines().any(|l| l.starts_with("nightly")) {
        return skip("nightly toolchain");
    }
    cmd::run(Command::new("rustup").args([
        "toolchain",
        "install",
        "nightly",
        "--profile",
        "minimal",
    ]))
}

/// cargo-fuzz from crates.io, for `cargo xtask fuzz`.
pub fn ensure_cargo_fuzz() -> Result {
    if output("cargo", &["fuzz", "--version"]).is_some() {
        return skip("cargo-fuzz");
    }
    cmd::run(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))
}
