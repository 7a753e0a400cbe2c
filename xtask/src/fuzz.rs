//! `cargo xtask fuzz [SECONDS_PER_TARGET]`: every fuzz target in `fuzz/`
//! (cargo-fuzz, libFuzzer, the nightly toolchain) for that long, one after
//! the other, then a table: target, runs, result.
//!
//! Each target starts from its corpus in `fuzz/corpus/TARGET` (kept between
//! runs, not committed) and the seeds committed in `fuzz/seeds/TARGET`, with
//! the dictionary of its input's syntax. An input slower than
//! [`SLOW_INPUT_SECONDS`] counts as a failure (a hang is a bug here). A
//! failing input is kept in `fuzz/artifacts/TARGET/`; reproduce it with
//! `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-...`. Every
//! target runs even when one fails; the command fails if any did.

use crate::cmd::{self, root, Result};
use crate::tools;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const DEFAULT_SECONDS: u64 = 30;
/// libFuzzer's `-timeout`: one input taking longer than this is reported.
const SLOW_INPUT_SECONDS: u64 = 10;

/// The targets, each with the dictionary for its input.
const TARGETS: &[(&str, &str)] = &[
    ("push_batch", "json.dict"),
    ("incident_record", "json.dict"),
    ("import_document", "markdown.dict"),
    ("text_to_markdown", "markdown.dict"),
    ("render_policy", "markdown.dict"),
    ("publish_policy", "json.dict"),
    ("rule_tables", "json.dict"),
    ("pull_response", "json.dict"),
    ("admin_inputs", "json.dict"),
    // CSV is plain text: the Markdown dictionary has its line ends, BOM and quotes.
    ("staff_csv", "markdown.dict"),
    ("class_list_csv", "markdown.dict"),
];

struct Outcome {
    target: &'static str,
    seconds: f64,
    runs: Option<u64>,
    /// libFuzzer's own figure, which leaves out start-up.
    per_second: Option<u64>,
    corpus: usize,
    result: String,
}

pub fn run(args: &[String]) -> Result {
    let seconds = match args {
        [] => DEFAULT_SECONDS,
        [s] => s.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| {
            format!("SECONDS_PER_TARGET must be a positive whole number, not {s:?}")
        })?,
        _ => return Err("usage: cargo xtask fuzz [SECONDS_PER_TARGET]".into()),
    };
    tools::ensure_nightly()?;
    tools::ensure_cargo_fuzz()?;
    let fuzz = root().join("fuzz");
    // Build every target first, so the time per target is fuzzing time.
    cmd::run(
        Command::new("cargo")
            .args(["+nightly", "fuzz", "build"])
            .current_dir(&fuzz),
    )?;

    let mut outcomes = Vec::new();
    for &(target, dict) in TARGETS {
        outcomes.push(fuzz_one(&fuzz, target, dict, seconds)?);
    }

    println!("\nFuzzing, {seconds} s per target (cargo-fuzz, libFuzzer):");
    println!(
        "  {:<18} {:>7} {:>12} {:>9} {:>7}  result",
        "target", "time", "runs", "runs/s", "corpus"
    );
    for o in &outcomes {
        let show = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
        let (runs, rate) = (show(o.runs), show(o.per_second));
        println!(
            "  {:<18} {:>6.0}s {runs:>12} {rate:>9} {:>7}  {}",
            o.target, o.seconds, o.corpus, o.result
        );
    }
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.result != "ok")
        .map(|o| o.target)
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzzing found problems in {}; the inputs are in fuzz/artifacts/",
            failed.join(", ")
        ))
    }
}

/// Runs one target for `seconds`, its libFuzzer log in `fuzz/logs/TARGET.log`.
fn fuzz_one(fuzz: &Path, target: &'static str, dict: &str, seconds: u64) -> Result<Outcome> {
    let corpus = fuzz.join("corpus").join(target);
    let seeds = fuzz.join("seeds").join(target);
    let logs = fuzz.join("logs");
    for dir in [&corpus, &logs] {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let log_path = logs.join(format!("{target}.log"));
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("creating {}: {e}", log_path.display()))?;
    let mut command = Command::new("cargo");
    command
        .args(["+nightly", "fuzz", "run", target])
        // The corpus first: libFuzzer adds what it finds to the first folder.
        .arg(&corpus)
        .args(seeds.is_dir().then_some(&seeds))
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={SLOW_INPUT_SECONDS}"))
        .arg(format!("-dict={}", fuzz.join("dicts").join(dict).display()))
        .arg("-print_final_stats=1")
        .current_dir(fuzz)
        .stdout(Stdio::from(
            log.try_clone()
                .map_err(|e| format!("{}: {e}", log_path.display()))?,
        ))
        .stderr(Stdio::from(log));
    eprintln!(
        "$ {}  (log: {})",
        cmd::describe(&command),
        log_path.display()
    );
    #[allow(clippy::disallowed_methods)] // native tool, not wasm: the clock is fine here
    let started = Instant::now();
    let status = command
        .status()
        .map_err(|e| format!("could not start cargo fuzz: {e}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let result = if status.success() {
        "ok".to_owned()
    } else {
        let problem = problem(&text);
        eprintln!("{target}: {problem}; the end of its log:");
        let lines: Vec<&str> = text.lines().collect();
        for line in &lines[lines.len().saturating_sub(40)..] {
            eprintln!("  | {line}");
        }
        problem
    };
    Ok(Outcome {
        target,
        seconds,
        runs: runs(&text),
        per_second: stat(&text, "average_exec_per_sec"),
        corpus: std::fs::read_dir(&corpus).map_or(0, |d| d.count()),
        result,
    })
}

/// One of libFuzzer's final statistics (`-print_final_stats=1`).
fn stat(log: &str, name: &str) -> Option<u64> {
    log.lines()
        .find_map(|l| {
            l.strip_prefix("stat::")?
                .strip_prefix(name)?
                .strip_prefix(':')
        })
        .and_then(|n| n.trim().parse().ok())
}

/// Inputs run: libFuzzer's final statistic, or its last progress line (`#N`).
fn runs(log: &str) -> Option<u64> {
    stat(log, "number_of_executed_units").or_else(|| {
        log.lines().rev().find_map(|l| {
            l.strip_prefix('#')?
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
    })
}

/// What went wrong, from libFuzzer's log: the kind and the saved input.
fn problem(log: &str) -> String {
    let kind = if log.contains("panicked at") {
        "panic"
    } else if log.contains("libFuzzer: timeout") {
        "slow input (timeout)"
    } else if log.contains("out-of-memory") {
        "out of memory"
    } else if log.contains("libFuzzer: deadly signal") || log.contains("ERROR: AddressSanitizer") {
        "crash"
    } else {
        "failed to run"
    };
    match log
        .lines()
        .find_map(|l| l.split("Test unit written to ").nth(1))
    {
        Some(path) => format!("{kind}: {}", path.trim()),
        None => kind.to_owned(),
    }
}
