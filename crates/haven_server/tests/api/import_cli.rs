//! `haven_server policy import`: the built binary publishes a file into a
//! database, and the server then serves it like any other policy.

use crate::helpers::{spawn_app_with, test_config};
use haven_core::policy::{text_hash, PolicyKind, PolicySummary};
use std::path::Path;
use std::process::{Command, Output};
use tempfile::TempDir;
use uuid::Uuid;

/// Plain text as a word processor saves it: a title, a contents page,
/// numbered headings, bullet characters and a tab-separated table.
const POLICY_TXT: &str = "Riverside Staff Agreement\r\n\r\nContents\r\n\
    1. Passwords ........ 2\r\n2. Reporting ........ 3\r\n\r\n\
    1. PASSWORDS\r\n\r\n\u{2022}\tKeep your password to yourself.\r\n\
    \u{2022}\tLock your screen when you leave it.\r\n\r\n\
    2. REPORTING\r\n\r\nWhen\tWhat\tTell\r\nAt once\tIllegal content\tThe DSL\r\n\
    Same day\tMisuse | other\tYour line manager\r\n\r\n2\r\n";

pub(crate) fn haven_server(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_haven_server"))
        .args(args)
        .env_remove("HAVEN_DATABASE")
        .env_remove("HAVEN_BIND")
        .output()
        .expect("the haven_server binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The value of a `name: value` line the import printed.
fn printed<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name:?} line in:\n{out}"))
}

fn import(file: &Path, database: impl AsRef<std::ffi::OsStr>, extra: &[&str]) -> Output {
    let mut args = vec![
        "policy",
        "import",
        file.to_str().unwrap(),
        "--database",
        database.as_ref().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    haven_server(&args)
}

/// Checks an import failed with one line on stderr containing `needle`.
fn assert_refused(output: &Output, needle: &str) {
    assert!(!output.status.success(), "succeeded: {}", stdout(output));
    let err = stderr(output);
    assert_eq!(err.trim().lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("haven_server: "), "{err}");
    assert!(err.contains(needle), "{needle:?} not in: {err}");
}

/// An empty database with the current schema, as the server makes it.
async fn create_database(path: &Path) {
    haven_server::store::db::connect(&path.to_path_buf().into())
        .await
        .unwrap()
        .close()
        .await;
}

#[tokio::test]
async fn an_imported_text_file_is_published_and_served_with_a_consistent_hash() {
    let dir = TempDir::new().unwrap();
    let config = test_config(&dir);
    let file = dir.path().join("staff-agreement.txt");
    std::fs::write(&file, POLICY_TXT).unwrap();
    // Imported into the database of a server that is running.
    let app = spawn_app_with(dir, config).await;

    let output = import(
        &file,
        app.database_arg(),
        &[
            "--title",
            "Staff Acceptable Use Agreement",
            "--kind",
            "staff_aua",
            "--approved-by",
            "Board of Trustees",
            "--academy",
            "oakfield primary academy",
            "--effective",
            "2026-09-01",
            "--last-reviewed",
            "2026-07-01",
            "--next-review",
            "2027-07-01",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    let version_id: Uuid = printed(&out, "version id").parse().unwrap();
    let hash = printed(&out, "text sha256").to_owned();
    assert!(
        out.contains("left out 3 contents-page, 1 page-number"),
        "{out}"
    );

    let list: Vec<PolicySummary> = app.get("/api/v1/policies").await.json().await.unwrap();
    let summary = list
        .iter()
        .find(|p| p.id == version_id)
        .unwrap_or_else(|| panic!("{version_id} not listed: {list:?}"));
    assert_eq!(summary.title, "Staff Acceptable Use Agreement");
    assert_eq!(summary.kind, PolicyKind::StaffAua);
    assert_eq!(summary.version, 1);

    let version = app.policy(version_id).await;
    assert!(version.hash_is_consistent());
    assert_eq!(version.text_sha256.as_str(), hash);
    assert_eq!(
        version.text_sha256,
        text_hash(&version.title, &version.body_markdown)
    );
    assert_eq!(version.approved_by, "Board of Trustees");
    let oakfield = haven_server::store::demo::academies()
        .into_iter()
        .find(|(_, a)| a.name == "Oakfield Primary Academy")
        .map(|(id, _)| id);
    assert_eq!(version.owner.academy_id(), oakfield);
    assert_eq!(version.effective_date, "2026-09-01");
    assert_eq!(version.next_review_due, "2027-07-01");
    let body = &version.body_markdown;
    assert!(body.starts_with("# Riverside Staff Agreement\n"), "{body}");
    assert!(
        body.contains("## 1. PASSWORDS\n\n- Keep your password to yourself.\n- Lock"),
        "{body}"
    );
    assert!(
        body.contains("| When | What | Tell |\n|---|---|---|\n"),
        "{body}"
    );
    assert!(
        body.contains("| Same day | Misuse \\| other | Your line manager |"),
        "{body}"
    );
    assert!(!body.contains("...."), "{body}");
}

#[tokio::test]
async fn importing_again_with_a_policy_id_publishes_the_next_version() {
    let dir = TempDir::new().unwrap();
    let database = dir.path().join("haven.sqlite3");
    create_database(&database).await;
    let file = dir.path().join("visitors.md");
    std::fs::write(&file, "## Wi-Fi\n\nUse the guest network.\n").unwrap();
    let common = [
        "--title",
        "Visitor Agreement",
        "--kind",
        "visitor-aua",
        "--approved-by",
        "Headteacher",
    ];
    let first = import(&file, &database, &common);
    assert!(first.status.success(), "{}", stderr(&first));
    let out = stdout(&first);
    assert!(out.contains("read visitors.md as Markdown"), "{out}");
    let policy_id = out
        .split("(policy ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap()
        .to_owned();

    // The same file again is not a new version.
    let mut same: Vec<&str> = common.to_vec();
    same.extend(["--policy-id", &policy_id]);
    let again = import(&file, &database, &same);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("nothing changed"),
        "{}",
        stdout(&again)
    );

    std::fs::write(&file, "## Wi-Fi\n\nUse the guest network only.\n").unwrap();
    // A new version must say what changed.
    let refused = import(&file, &database, &same);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("--change-summary: say what changed since version 1"),
        "{}",
        stderr(&refused)
    );
    same.extend(["--change-summary", "Guests use the guest network only."]);
    let second = import(&file, &database, &same);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stdout(&second).contains("\"Visitor Agreement\" version 2"),
        "{}",
        stdout(&second)
    );
}

#[test]
fn a_dry_run_prints_the_markdown_and_creates_nothing() {
    let dir = TempDir::new().unwrap();
    let database = dir.path().join("haven.sqlite3");
    let file = dir.path().join("p.txt");
    std::fs::write(&file, "Online Safety\n\n1 SCOPE\n\nEveryone.\n").unwrap();
    let output = import(
        &file,
        &database,
        &[
            "--kind",
            "esafety_policy",
            "--approved-by",
            "Board",
            "--dry-run",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("dry run: would publish \"Online Safety\""),
        "{out}"
    );
    assert!(out.contains("\n## 1 SCOPE\n"), "{out}");
    assert!(!database.exists());
}

#[tokio::test]
async fn a_missing_database_file_or_kind_and_non_utf8_text_are_refused_in_one_line() {
    let dir = TempDir::new().unwrap();
    let database = dir.path().join("haven.sqlite3");
    let file = dir.path().join("policy.txt");
    std::fs::write(&file, "1. SCOPE\n\nText.\n").unwrap();
    let args = [
        "--title",
        "T",
        "--kind",
        "staff_aua",
        "--approved-by",
        "Board",
    ];

    // No database yet: the server makes it, with its admin account.
    assert_refused(&import(&file, &database, &args), "there is no database at");
    assert!(!database.exists());
    create_database(&database).await;

    let missing = dir.path().join("nowhere.txt");
    assert_refused(&import(&missing, &database, &args), "cannot read");
    assert_refused(&import(&missing, &database, &args), "nowhere.txt");

    assert_refused(
        &import(&file, &database, &["--kind", "aup", "--approved-by", "B"]),
        "unknown policy kind \"aup\"; use one of: esafety_policy, staff_aua",
    );

    let latin1 = dir.path().join("latin1.txt");
    std::fs::write(&latin1, b"Caf\xe9 rules\n").unwrap();
    assert_refused(
        &import(&latin1, &database, &args),
        "latin1.txt is not UTF-8 text",
    );

    assert_refused(
        &import(&file, &database, &["--title", "T", "--kind", "staff_aua"]),
        "--approved-by: must not be empty",
    );
    assert_refused(
        &import(
            &file,
            &database,
            &[&args[..], &["--effective", "1/9/2026"]].concat(),
        ),
        "--effective:",
    );
    assert_refused(
        &import(
            &file,
            &database,
            &[&args[..], &["--academy", "Hilltop"]].concat(),
        ),
        "no academy is named \"Hilltop\"",
    );
}
