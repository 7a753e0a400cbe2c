//! `cargo xtask test`: every check, in the order that fails fastest.

use crate::build;
use crate::cmd::{self, root, Result};
use crate::deps_audit;
use crate::postgres;
use crate::tools::{self, CHROMEDRIVER, CHROMIUM, FIREFOX, WEBKIT_DRIVER};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

pub fn run() -> Result {
    #[allow(clippy::disallowed_methods)] // native tool, not wasm: the clock is fine here
    let started = Instant::now();
    tools::ensure_all()?;

    cmd::run(Command::new("cargo").args(["fmt", "--all", "--", "--check"]))?;
    // Known-vulnerable dependencies, offline against ../shared/advisory-db.
    deps_audit::run()?;
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
    cmd::run(
        Command::new("cargo")
            .args(["test", "--workspace", "--exclude", "haven"])
            // SQLite here, whatever the caller's environment says.
            .env_remove("HAVEN_TEST_POSTGRES"),
    )?;

    // Schemathesis against the real server, from its own OpenAPI document.
    schemathesis(Database::Sqlite)?;

    // The same API tests and Schemathesis, on PostgreSQL.
    on_postgres()?;

    // wasm-bindgen-test against real IndexedDB in headless Chromium
    // (GECKODRIVER, if set, would take precedence over CHROMEDRIVER)...
    cmd::run(
        Command::new("cargo")
            .args(["test", "-p", "haven", "--target", "wasm32-unknown-unknown"])
            .env("CHROMEDRIVER", CHROMEDRIVER)
            .env_remove("GECKODRIVER")
            .env("WASM_BINDGEN_TEST_TIMEOUT", "120"),
    )?;
    // ...and in headless Firefox ESR: IndexedDB, Web Locks and WebCrypto as Gecko has them.
    wasm_tests_in_firefox()?;

    // End to end: the release PWA served by the real server, driven in Chromium.
    let dist = build::build_pwa()?;
    cmd::run(Command::new("cargo").args(["build", "-p", "haven_server"]))?;
    cmd::run(
        Command::new("node")
            .args(["--test", "--test-concurrency=1", "tests/e2e/"])
            .env("HAVEN_SERVER_BIN", root().join("target/debug/haven_server"))
            .env("HAVEN_DIST", &dist)
            .env("CHROMIUM", CHROMIUM)
            .env("HAVEN_SMTP_PYTHON", tools::ensure_smtp_sink()?),
    )?;
    journeys(&dist)?;
    eprintln!(
        "\nAll checks passed in {:.0} s.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The wasm browser tests (`tests/web`) in Firefox ESR through geckodriver.
/// Firefox's optimising compiler is off for them: on two cores it spent two
/// minutes compiling the debug test module before the first test ran
/// (about 4 s with the baseline compiler alone); what the tests check does
/// not depend on it.
fn wasm_tests_in_firefox() -> Result {
    #[allow(clippy::disallowed_methods)] // native tool, not wasm: the clock is fine here
    let started = Instant::now();
    let capabilities = root().join("target/webdriver-firefox.json");
    let json = format!(
        r#"{{"moz:firefoxOptions": {{"binary": "{FIREFOX}", "prefs": {{"javascript.options.wasm_optimizingjit": false}}}}}}"#
    );
    std::fs::write(&capabilities, json)
        .map_err(|e| format!("cannot write {}: {e}", capabilities.display()))?;
    cmd::run(
        Command::new("cargo")
            .args(["test", "-p", "haven", "--target", "wasm32-unknown-unknown"])
            .env("GECKODRIVER", tools::geckodriver())
            .env_remove("CHROMEDRIVER")
            .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", &capabilities)
            .env("WASM_BINDGEN_TEST_TIMEOUT", "120"),
    )?;
    eprintln!(
        "✓ wasm tests in Firefox in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The core journeys (`tests/engines`) over WebDriver in each engine people
/// use: Chromium, Firefox ESR and WebKitGTK (Safari's engine), one after
/// the other. Every engine runs even if one fails; then it fails naming them.
/// Each engine's driver log is in `target/engines/ENGINE/`.
fn journeys(dist: &std::path::Path) -> Result {
    let mut failed = Vec::new();
    for engine in ["chromium", "firefox", "webkit"] {
        #[allow(clippy::disallowed_methods)] // native tool, not wasm: the clock is fine here
        let started = Instant::now();
        let result = cmd::run(
            Command::new("node")
                .args(["--test", "--test-concurrency=1", "tests/engines/"])
                .env("ENGINE", engine)
                .env("HAVEN_SERVER_BIN", root().join("target/debug/haven_server"))
                .env("HAVEN_DIST", dist)
                .env("CHROMIUM", CHROMIUM)
                .env("CHROMEDRIVER", CHROMEDRIVER)
                .env("FIREFOX", FIREFOX)
                .env("GECKODRIVER", tools::geckodriver())
                .env("WEBKIT_DRIVER", WEBKIT_DRIVER),
        );
        let secs = started.elapsed().as_secs_f64();
        match result {
            Ok(()) => eprintln!("✓ journeys in {engine}: {secs:.0} s"),
            Err(e) => {
                eprintln!("✗ journeys in {engine} failed after {secs:.0} s: {e}");
                failed.push(engine);
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the journeys failed in {} (driver logs in target/engines/)",
            failed.join(", ")
        ))
    }
}

/// Test cases Schemathesis makes per operation and phase: enough to reach
/// past the schema checks, small enough to finish in about a minute.
const SCHEMATHESIS_MAX_EXAMPLES: &str = "100";
/// A fixed seed, so a failure reproduces; `SCHEMATHESIS_SEED` picks another.
const SCHEMATHESIS_SEED: &str = "20260901";

/// The API tests (`haven_server --test api`) and Schemathesis again, with
/// the server on PostgreSQL: a throwaway cluster ([`postgres::Cluster`]) in
/// which each API test makes its own database (`HAVEN_TEST_POSTGRES` is the
/// admin URL) and Schemathesis's server gets `haven_schemathesis`. The
/// cluster is stopped and removed when this returns, whether it passed or not.
fn on_postgres() -> Result {
    eprintln!("\n=== API tests on PostgreSQL ===");
    let cluster = postgres::Cluster::start()?;
    cmd::run(
        Command::new("cargo")
            .args(["test", "-p", "haven_server", "--test", "api"])
            .args(["--test", "sync_simulation"])
            .env("HAVEN_TEST_POSTGRES", cluster.url()),
    )?;
    eprintln!("\n=== Schemathesis on PostgreSQL ===");
    cluster.create_database("haven_schemathesis")?;
    schemathesis(Database::Postgres(
        &cluster.database_url("haven_schemathesis"),
    ))
}

/// What the server under Schemathesis keeps its data in.
enum Database<'a> {
    /// A fresh SQLite file in the run's folder.
    Sqlite,
    /// An empty PostgreSQL database, by URL.
    Postgres(&'a str),
}

/// Runs Schemathesis against the debug server (on a fresh SQLite file or an
/// empty PostgreSQL database, with the demo data, signed in as the demo
/// admin) over every operation of
/// `/api/v1/openapi.json`: no 5xx, every status, header, content type and
/// body as documented, schema-violating input refused, and the stateful
/// links between operations. Fails if Schemathesis does; always stops the
/// server.
///
/// Left out: `positive_data_acceptance`, which expects every schema-valid
/// body to succeed. The server refuses some of those on purpose: rules no
/// JSON Schema says (an email address, a review date after the last one, a
/// sanctions row that refers to no one), and `1.0` where an integer is due
/// (JSON Schema calls it an integer, serde does not).
fn schemathesis(database: Database) -> Result {
    #[allow(clippy::disallowed_methods)] // native tool, not wasm: the clock is fine here
    let started = Instant::now();
    let bin = tools::ensure_schemathesis()?;
    cmd::run(Command::new("cargo").args(["build", "-p", "haven_server"]))?;

    let name = match database {
        Database::Sqlite => "sqlite",
        Database::Postgres(_) => "postgres",
    };
    let work = root().join("target/schemathesis").join(name);
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let database: OsString = match database {
        Database::Sqlite => work.join("haven.sqlite3").into(),
        Database::Postgres(url) => url.into(),
    };
    let log_path = work.join("server.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let server = Command::new(root().join("target/debug/haven_server"))
        .current_dir(root())
        .args([
            "--bind",
            "127.0.0.1:0",
            "--static-dir",
            "dist",
            "--demo",
            "--database",
        ])
        .arg(&database)
        // The keys live beside a SQLite file; with PostgreSQL, in the run's folder.
        .arg("--key-dir")
        .arg(work.join("keys"))
        .env_remove("HAVEN_NO_DEMO")
        .env_remove("HAVEN_TRUSTED_PROXY_HOPS")
        .env_remove("HAVEN_TRUST_PROXY")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start target/debug/haven_server: {e}"))?;
    let mut server = KillOnDrop(server);
    let addr = server_address(&mut server.0)
        .map_err(|e| format!("{e}; the server's log is in {}", log_path.display()))?;
    let token = admin_token(&addr)?;

    let seed = std::env::var("SCHEMATHESIS_SEED").unwrap_or_else(|_| SCHEMATHESIS_SEED.into());
    let result = cmd::run(
        Command::new(&bin)
            // Schemathesis keeps its example database in the working directory.
            .current_dir(&work)
            .args(["run", &format!("http://{addr}/api/v1/openapi.json")])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args([
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
            ])
            // Signing out would end the session the rest of the run uses;
            // the API tests cover both.
            .args(["--exclude-operation-id", "logout"])
            .args(["--exclude-operation-id", "logout_everywhere"])
            .args(["--max-examples", SCHEMATHESIS_MAX_EXAMPLES, "--seed", &seed])
            .args(["--request-timeout", "30", "--no-color"]),
    );
    drop(server);
    result.map_err(|e| format!("{e}\nthe server's log is in {}", log_path.display()))?;
    eprintln!(
        "✓ schemathesis on {name} passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A child process that is killed (and reaped) when this is dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The address the server prints once it listens (`Haven is running at
/// http://ADDR/`); the rest of its output is drained in the background.
fn server_address(server: &mut Child) -> Result<String> {
    let stdout = server
        .stdout
        .take()
        .ok_or("the server's output is not piped")?;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.map_err(|e| format!("cannot read the server's output: {e}"))?;
        if let Some(rest) = line.strip_prefix("Haven is running at http://") {
            let addr = rest.trim_end_matches('/').to_owned();
            std::thread::spawn(move || lines.for_each(drop));
            return Ok(addr);
        }
    }
    Err("the server stopped before it was listening".into())
}

/// Signs in as the demo admin and returns the bearer token.
fn admin_token(addr: &str) -> Result<String> {
    let body = r#"{"email":"admin@riverside.example","password":"haven-demo-2026"}"#;
    let mut stream =
        TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    write!(
        stream,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| format!("cannot send the sign-in request: {e}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| format!("cannot read the sign-in response: {e}"))?;
    // The token is a prefix and 64 hex characters, so no JSON escaping to undo.
    response
        .split_once(r#""token":""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(token, _)| token.to_owned())
        .ok_or_else(|| format!("the demo admin could not sign in:\n{response}"))
}
