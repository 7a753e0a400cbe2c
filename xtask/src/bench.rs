//! `cargo xtask bench`: figures for the release build. It fails (after
//! printing every figure) if a part cannot run, if its result is wrong
//! (records missing on the server, say), or if a build is over its budget;
//! it judges no timing.
//!
//! 1. The release bundle's size (raw, gzip, brotli), for the reader and the
//!    full app (`haven_core::shell`), each against its budget in
//!    docs/benchmarks.md, and what takes the room in each (twiggy, on the
//!    code before wasm-bindgen and wasm-opt, grouped by crate).
//! 2. `bench/sync_drain.mjs`: 10,000 signatures queued in the PWA's IndexedDB,
//!    drained from headless Chromium to the release server on loopback (from
//!    the page load to an empty outbox), and PouchDB (pouchdb-browser)
//!    replicating the same documents from the same Chromium to pouchdb-server
//!    (its whole `replicate.to`): three runs each, alternating which goes
//!    first, the medians and their ratio.
//! 3. `crates/haven_server/benches/ingest.rs`: 50 simulated devices pushing
//!    100-record batches at once (records/s, p50, p99; then p50 and p99 at
//!    half that load) to the release server on SQLite, on PostgreSQL with one
//!    server and with two servers on one database (a throwaway cluster,
//!    [`postgres::Cluster`], started here for it), and to the server's own
//!    push code called without HTTP as the ceiling, with the ratios.
//! 4. `bench/reader_open.mjs`: a 50 KB policy opened in the reader from
//!    IndexedDB in headless Chromium, by an in-app link and by an offline
//!    reload (median and p95 of 20).
//! 5. `bench/sign_latency.mjs`: the tap on "Sign" to the record durably
//!    stored in IndexedDB (strict durability), p50 and p95 over 200
//!    signatures with a drawn signature.
//! 6. `bench/lighthouse.mjs`: Lighthouse's mobile preset (performance,
//!    accessibility and best-practices scores; LCP, TBT, CLS; median of 3
//!    runs) for the home page, a policy, a sign page and `/kiosk`, in the
//!    system Chromium, with no network beyond loopback; the reports go to
//!    `target/lighthouse/`.
//!
//! Each part sets its own time limit and stops the processes it started. A
//! summary table of every figure closes the run.

use crate::build;
use crate::cmd::{self, root, Result};
use crate::postgres;
use crate::tools::{self, CHROMIUM};
use haven_core::shell::FULL_APP_DIR;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The first-load budgets stated in the README (wasm + js + css + html,
/// brotli): the reader, which every parent's phone loads, and the full app.
const READER_BUDGET_BROTLI: usize = 200_000;
const FULL_BUDGET_BROTLI: usize = 450_000;

pub fn run() -> Result {
    #[allow(clippy::disallowed_methods)] // native tool, not wasm: the clock is fine here
    let started = Instant::now();
    let dist = build::build_pwa()?;
    let bundles = bundle_report(&dist)?;
    tools::ensure_twiggy()?;
    let code = root().join("target/wasm32-unknown-unknown/wasm-release");
    for (build, wasm) in [("reader", "haven_reader.wasm"), ("full app", "haven.wasm")] {
        contributors(build, &code.join(wasm))?;
    }

    tools::ensure_browser()?;
    ensure_bench_packages()?;
    // The numbers are the deployed server's: release, as `cargo xtask run` builds it.
    cmd::run(Command::new("cargo").args(["build", "--release", "--package", "haven_server"]))?;
    let target = target_dir();
    let server_bin = target.join("release/haven_server");
    let results = target.join("bench-results.tsv");
    let sizes: String = bundles
        .iter()
        .map(|b| {
            format!(
                "first load, {}, brotli\t{} bytes (budget {})\n",
                b.build, b.brotli, b.budget
            )
        })
        .collect();
    std::fs::write(&results, sizes).map_err(|e| format!("writing {}: {e}", results.display()))?;

    let mut failures = Vec::new();
    let drain = cmd::run(
        Command::new("node")
            .arg(root().join("bench/sync_drain.mjs"))
            .env("HAVEN_SERVER_BIN", &server_bin)
            .env("HAVEN_DIST", &dist)
            .env("CHROMIUM", CHROMIUM)
            .env("HAVEN_BENCH_OUT", &results),
    );
    if let Err(e) = drain {
        failures.push(format!("sync drain: {e}"));
    }
    // The ingest bench's PostgreSQL columns run on a throwaway cluster, which
    // it makes a fresh database in for each run; the cluster is stopped and
    // removed when `postgres` drops, at the end of this block or on any exit.
    let ingest = {
        let postgres = match postgres::Cluster::start() {
            Ok(cluster) => Some(cluster),
            Err(e) => {
                failures.push(format!("PostgreSQL for the server ingest bench: {e}"));
                None
            }
        };
        let mut command = Command::new("cargo");
        command
            .args(["bench", "--package", "haven_server", "--bench", "ingest"])
            .env("HAVEN_SERVER_BIN", &server_bin)
            .env("HAVEN_BENCH_OUT", &results);
        match &postgres {
            Some(cluster) => command.env("HAVEN_BENCH_POSTGRES", cluster.url()),
            // The bench then runs SQLite only and says PostgreSQL was skipped.
            None => command.env_remove("HAVEN_BENCH_POSTGRES"),
        };
        cmd::run(&mut command)
    };
    if let Err(e) = ingest {
        failures.push(format!("server ingest: {e}"));
    }
    let reader = cmd::run(
        Command::new("node")
            .arg(root().join("bench/reader_open.mjs"))
            .env("HAVEN_SERVER_BIN", &server_bin)
            .env("HAVEN_DIST", &dist)
            .env("CHROMIUM", CHROMIUM)
            .env("HAVEN_BENCH_OUT", &results),
    );
    if let Err(e) = reader {
        failures.push(format!("reader: {e}"));
    }
    let sign = cmd::run(
        Command::new("node")
            .arg(root().join("bench/sign_latency.mjs"))
            .env("HAVEN_SERVER_BIN", &server_bin)
            .env("HAVEN_DIST", &dist)
            .env("CHROMIUM", CHROMIUM)
            .env("HAVEN_BENCH_OUT", &results),
    );
    if let Err(e) = sign {
        failures.push(format!("sign latency: {e}"));
    }
    let lighthouse = cmd::run(
        Command::new("node")
            .arg(root().join("bench/lighthouse.mjs"))
            .env("HAVEN_SERVER_BIN", &server_bin)
            .env("HAVEN_DIST", &dist)
            .env("CHROMIUM", CHROMIUM)
            .env("LIGHTHOUSE_REPORTS", target.join("lighthouse"))
            .env("HAVEN_BENCH_OUT", &results),
    );
    if let Err(e) = lighthouse {
        failures.push(format!("lighthouse: {e}"));
    }

    summary(&results, started.elapsed().as_secs_f64())?;
    // Budgets are judged last, so an over-budget build still gets every figure.
    for b in &bundles {
        if b.brotli > b.budget {
            failures.push(format!(
                "{} is {} B brotli, over its budget of {} B (docs/benchmarks.md)",
                b.build, b.brotli, b.budget
            ));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("some benchmarks failed: {}", failures.join("; ")))
    }
}

/// Where cargo puts its builds: `CARGO_TARGET_DIR` or `target/`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// pouchdb-browser, pouchdb-server and esbuild (to bundle pouchdb-browser for
/// the page), and lighthouse, pinned by `bench/package-lock.json`. Kept out of the root
/// package.json so `cargo xtask test` never installs them. `--ignore-scripts`:
/// leveldown loads the prebuilt binary its package ships and esbuild its
/// platform package, so no script is needed, and pouchdb-server's optional
/// sqlite3 (unused here) would otherwise be compiled from source. Lighthouse
/// is 12.x, the last line that runs on Node 20, and is pointed at the system
/// Chromium (`CHROME_PATH`), so it never downloads a browser.
fn ensure_bench_packages() -> Result {
    let dir = root().join("bench");
    let modules = dir.join("node_modules");
    let fresh = match (
        std::fs::metadata(dir.join("package-lock.json")),
        std::fs::metadata(modules.join(".package-lock.json")),
    ) {
        (Ok(lock), Ok(installed)) => lock.modified().ok() <= installed.modified().ok(),
        _ => false,
    };
    let complete = [
        "pouchdb-browser",
        "pouchdb-server",
        "esbuild",
        "events",
        "lighthouse",
    ]
    .iter()
    .all(|p| modules.join(p).exists());
    if fresh && complete {
        eprintln!("✓ bench npm packages already installed");
        return Ok(());
    }
    cmd::run(
        Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&dir),
    )
}

/// Every figure of the run in one table, from the parts' `label<TAB>value` lines.
fn summary(results: &Path, seconds: f64) -> Result {
    let text = std::fs::read_to_string(results)
        .map_err(|e| format!("reading {}: {e}", results.display()))?;
    let rows: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .collect();
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    println!("\nSummary (`cargo xtask bench`, {seconds:.0} s in all):");
    for (label, value) in rows {
        println!("  {label:<width$}  {value}");
    }
    Ok(())
}

/// One build's first load, added up, and its budget from the README.
struct BundleTotals {
    build: &'static str,
    brotli: usize,
    budget: usize,
}

/// The sizes of what a first visit downloads (raw, gzip, brotli) for each
/// build: the reader at the root of `dist`, the full app in `dist/app/`.
fn bundle_report(dist: &Path) -> Result<Vec<BundleTotals>> {
    Ok(vec![
        build_report("reader (a parent's first load)", dist, READER_BUDGET_BROTLI)?,
        build_report(
            "full app (staff, admin, kiosk)",
            &dist.join(FULL_APP_DIR),
            FULL_BUDGET_BROTLI,
        )?,
    ])
}

fn build_report(build: &'static str, dir: &Path, budget: usize) -> Result<BundleTotals> {
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "wasm" | "js" | "css" | "html") {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        rows.push((
            ext.to_owned(),
            name,
            bytes.len(),
            gzip_len(&bytes),
            brotli_len(&bytes),
        ));
    }
    rows.sort();
    println!("\nRelease bundle, {build} ({}):", dir.display());
    println!(
        "{:<6} {:<44} {:>10} {:>10} {:>10}",
        "kind", "file", "raw", "gzip", "brotli"
    );
    let (mut raw, mut gz, mut br) = (0, 0, 0);
    for (kind, name, r, g, b) in &rows {
        println!("{kind:<6} {name:<44} {r:>10} {g:>10} {b:>10}");
        raw += r;
        gz += g;
        br += b;
    }
    println!(
        "{:<6} {:<44} {raw:>10} {gz:>10} {br:>10}",
        "total", "first-load transfer (bytes)"
    );
    let verdict = if br <= budget { "within" } else { "OVER" };
    println!("budget: {br} B brotli against {budget} B (README): {verdict} budget");
    Ok(BundleTotals {
        build,
        brotli: br,
        budget,
    })
}

fn gzip_len(bytes: &[u8]) -> usize {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).expect("in-memory write");
    enc.finish().expect("in-memory write").len()
}

fn brotli_len(bytes: &[u8]) -> usize {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).expect("in-memory write");
    out.len()
}

/// What takes the room in one build's code: twiggy's items grouped by the
/// crate they come from, then the largest items. Read from cargo's output
/// before wasm-bindgen and wasm-opt, since the names are gone after them; the
/// sizes are therefore larger than the shipped file's, but their shares are
/// what to act on.
fn contributors(build: &str, wasm: &Path) -> Result {
    let csv = Command::new("twiggy")
        .args(["top", "-f", "csv"])
        .arg(wasm)
        .output()
        .map_err(|e| format!("running twiggy: {e}"))?;
    if !csv.status.success() {
        return Err(format!(
            "twiggy top {}: {}",
            wasm.display(),
            String::from_utf8_lossy(&csv.stderr)
        ));
    }
    let items = code_items(&String::from_utf8_lossy(&csv.stdout));
    let total: u64 = items.iter().map(|(_, size)| size).sum();
    let mut groups: std::collections::BTreeMap<&str, u64> = Default::default();
    for (name, size) in &items {
        *groups.entry(crate_of(name)).or_default() += size;
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.1));
    println!(
        "\nWhat the {build}'s code is made of ({}, {total} B of code and data before wasm-opt):",
        wasm.display()
    );
    for (group, size) in groups.iter().take(12) {
        println!("  {:>5.1}%  {size:>9} B  {group}", percent(*size, total));
    }
    println!("  largest items:");
    for (name, size) in items.iter().take(10) {
        let name: String = name.chars().take(110).collect();
        println!("  {:>5.1}%  {size:>9} B  {name}", percent(*size, total));
    }
    Ok(())
}

fn percent(part: u64, whole: u64) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}

/// twiggy's CSV rows as (name, shallow size), largest first, leaving out the
/// custom sections (names, wasm-bindgen's) that are stripped before shipping.
fn code_items(csv: &str) -> Vec<(String, u64)> {
    let mut items: Vec<(String, u64)> = csv
        .lines()
        .skip(1)
        .filter_map(|line| {
            // The name may hold commas and doubled quotes; the numbers never do.
            let mut fields = line.rsplitn(5, ',');
            let _retained_percent = fields.next()?;
            let _retained = fields.next()?;
            let _percent = fields.next()?;
            let size: u64 = fields.next()?.parse().ok()?;
            let name = fields.next()?.trim_matches('"').replace("\"\"", "\"");
            Some((name, size))
        })
        .filter(|(name, _)| !name.contains("subsection") && !name.starts_with("custom section"))
        .collect();
    items.sort_by_key(|i| std::cmp::Reverse(i.1));
    items
}

/// The crate a demangled item belongs to, with Leptos' view and reactive
/// crates as one group and unnamed code and data apart.
fn crate_of(name: &str) -> &'static str {
    if name.starts_with("data segment") || name.starts_with("data[") {
        return "data segments";
    }
    if name.starts_with("code[") || name.starts_with("elem[") || !name.contains("::") {
        return "unnamed or generic instances";
    }
    let path = name.trim_start_matches(['<', '&', '(', '*']);
    let path = path
        .trim_start_matches("mut ")
        .trim_start_matches("dyn ")
        .trim_start_matches("const ");
    let first = path.split("::").next().unwrap_or(path);
    // `<T as tachys::view::Render>::build` is the trait's crate's code for a
    // generic T; `core[1a2b…]` is core under its disambiguator.
    let first = first.rsplit(" as ").next().unwrap_or(first);
    let krate = first.split('[').next().unwrap_or(first);
    match krate {
        "leptos" | "leptos_router" | "tachys" | "reactive_graph" | "either_of" | "leptos_dom"
        | "reactive_stores" | "leptos_macro" | "next_tuple" | "or_poisoned" | "any_spawner"
        | "throw_error" => "leptos (view, router, reactive)",
        "haven" | "haven_reader" => "haven (the app)",
        "haven_core" => "haven_core",
        "serde_json" => "serde_json",
        "serde" | "serde_core" => "serde",
        "serde_wasm_bindgen" => "serde_wasm_bindgen",
        "pulldown_cmark" => "pulldown_cmark",
        "core" | "alloc" | "std" | "hashbrown" => "Rust std (core, alloc)",
        "wasm_bindgen" | "js_sys" | "web_sys" | "wasm_bindgen_futures" => {
            "wasm-bindgen, js-sys, web-sys"
        }
        "rexie" | "idb" => "rexie (IndexedDB)",
        "futures_util" | "futures_core" | "futures_channel" | "futures_executor"
        | "send_wrapper" => "futures",
        "uuid" => "uuid",
        "similar" => "similar (diffs)",
        _ => "other crates",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twiggy_rows_with_commas_and_quotes_in_names_are_read_and_grouped() {
        let csv = "Name,ShallowSize,ShallowSizePercent,RetainedSize,RetainedSizePercent\n\
            \"\"\"function names\"\" subsection\",1729197,34.2,,\n\
            custom section '__wasm_bindgen_unstable',731640,14.5,,\n\
            \"data segment \"\".rodata\"\"\",200274,3.9,,\n\
            haven::sync::run_pass::{{closure}}::hfa93,96849,1.9,,\n\
            \"<either_of::EitherOf7<A,B,C,D,E,F,G> as leptos_router::matching::choose_view::ChooseView>::choose::h8f\",18957,0.3,,\n\
            <&mut serde_json::de::Deserializer<R> as serde_core::de::Deserializer>::deserialize_seq::h8f,8171,0.1,,\n\
            \"<T as tachys::view::Render>::build::h1\",400,0.01,,\n\
            core[c5930c85a12de822]::fmt::write::h2,300,0.01,,\n\
            code[1234],500,0.01,,\n";
        let items = code_items(csv);
        let sizes: Vec<u64> = items.iter().map(|(_, s)| *s).collect();
        assert_eq!(sizes, [200274, 96849, 18957, 8171, 500, 400, 300]);
        let groups: Vec<&str> = items.iter().map(|(n, _)| crate_of(n)).collect();
        assert_eq!(
            groups,
            [
                "data segments",
                "haven (the app)",
                "leptos (view, router, reactive)",
                "serde_json",
                "unnamed or generic instances",
                "leptos (view, router, reactive)",
                "Rust std (core, alloc)"
            ]
        );
    }
}
