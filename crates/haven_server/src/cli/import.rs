//! `haven_server policy import FILE`: publish a policy from a Markdown or
//! plain-text file, straight into the database.
//!
//! The file goes through [`haven_core::import::import_document`] (plain text
//! exported from a word processor becomes Markdown), then through the same
//! [`policies::publish`] as `POST /api/v1/policies`: the same checks, the same
//! version numbering, the same hash. `--dry-run` prints the Markdown and
//! publishes nothing, since a published version can never be taken back.

use clap::Args;
use haven_core::import::{import_document, DropReason, ImportError, ImportedText, SourceFormat};
use haven_core::policy::{Audience, PolicyKind, PolicyOwner, PublishPolicyVersion};
use haven_core::validate::{self, Invalid};
use haven_server::store::{db, org, policies};
use haven_server::{clock, AppError, ServerError};
use std::path::PathBuf;
use uuid::Uuid;

/// Import a Markdown or plain-text file and publish it as a policy version.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The policy: Markdown (.md, .markdown) is taken as it is; anything else
    /// is read as plain text exported from a word processor and converted.
    pub file: PathBuf,

    /// The policy's title. Default: the document's own title line.
    #[arg(long)]
    pub title: Option<String>,

    /// What the document is: esafety_policy, staff_aua, pupil_aua,
    /// parent_aua, visitor_aua, community_aua, byod_authorisation,
    /// photo_consent or other.
    #[arg(long)]
    pub kind: String,

    /// The academy that owns the policy, by name or id. Default: the trust.
    #[arg(long)]
    pub academy: Option<String>,

    /// Who the policy is for (who signs an agreement): repeat the option or
    /// separate with commas, e.g. staff,volunteer. Default: the usual
    /// audiences for its kind.
    #[arg(long = "audience", value_delimiter = ',')]
    pub audiences: Vec<String>,

    /// Who approved this version, e.g. "Board of Trustees".
    #[arg(long, default_value = "")]
    pub approved_by: String,

    /// Day the version takes effect, YYYY-MM-DD. Default: today.
    #[arg(long)]
    pub effective: Option<String>,

    /// Day of the review that produced this version, YYYY-MM-DD. Default:
    /// today.
    #[arg(long)]
    pub last_reviewed: Option<String>,

    /// Day the next review is due, YYYY-MM-DD. Default: a year after the last
    /// review.
    #[arg(long)]
    pub next_review: Option<String>,

    /// Publish as the next version of this policy (its policy id) rather than
    /// as a new policy.
    #[arg(long)]
    pub policy_id: Option<String>,

    /// What changed since the policy's latest version, in a sentence or two:
    /// shown to everyone asked to sign it again. Required with --policy-id
    /// when the text or details changed.
    #[arg(long)]
    pub change_summary: Option<String>,

    /// Print the Markdown and what would be published; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// The server's database, its SQLite file or PostgreSQL URL. It must
    /// exist: start the server once to create it (with its admin account).
    #[arg(
        long,
        env = "HAVEN_DATABASE",
        default_value = "data/haven.sqlite3",
        hide_env_values = true
    )]
    pub database: haven_server::store::db::Database,
}

/// Why an import failed: one line, saying what to do.
#[derive(Debug, thiserror::Error)]
pub enum ImportCliError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Document(#[from] ImportError),
    #[error("unknown policy kind {given:?}; use one of: {}", kind_names())]
    UnknownKind { given: String },
    #[error("unknown audience {given:?}; use any of: {}", audience_names())]
    UnknownAudience { given: String },
    #[error("{file} has no title line; give one with --title")]
    NoTitle { file: String },
    #[error("{flag}: {problem}")]
    Invalid { flag: &'static str, problem: String },
    #[error("--policy-id: {given:?} is not a policy id (a UUID)")]
    BadPolicyId { given: String },
    #[error("--academy: no academy is named {given:?}; the academies are: {known}")]
    UnknownAcademy { given: String, known: String },
    #[error(
        "there is no database at {0}; start the server once to create it, \
         or give the server's database with --database"
    )]
    NoDatabase(haven_server::store::db::Database),
    #[error("{0}")]
    Open(#[from] ServerError),
    #[error("cannot publish: {0}")]
    Publish(#[from] AppError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// What an import did, for the person who ran it.
#[derive(Debug)]
pub struct Report {
    pub lines: Vec<String>,
}

/// Reads, converts and publishes (or, with `--dry-run`, prints) the file.
pub async fn run(args: ImportArgs) -> Result<Report, ImportCliError> {
    let kind = parse_kind(&args.kind)?;
    let audiences = parse_audiences(&args.audiences, kind)?;
    let policy_id = args
        .policy_id
        .as_deref()
        .map(|s| {
            Uuid::parse_str(s.trim()).map_err(|_| ImportCliError::BadPolicyId {
                given: s.to_owned(),
            })
        })
        .transpose()?;
    let bytes = std::fs::read(&args.file).map_err(|source| ImportCliError::Read {
        path: args.file.clone(),
        source,
    })?;
    let file_name = args.file.file_name().map_or_else(
        || args.file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let imported = import_document(&file_name, &bytes)?;
    let title = args
        .title
        .clone()
        .or_else(|| imported.title.clone())
        .ok_or_else(|| ImportCliError::NoTitle {
            file: file_name.clone(),
        })?;

    let today = haven_core::calendar::utc_date(clock::now_ms());
    let effective = date_arg("--effective", args.effective.as_deref(), &today)?;
    let last_reviewed = date_arg("--last-reviewed", args.last_reviewed.as_deref(), &today)?;
    let next_review = match args.next_review.as_deref() {
        Some(d) => date_arg("--next-review", Some(d), &today)?,
        None => a_year_after(&last_reviewed),
    };

    let mut request = PublishPolicyVersion {
        policy_id,
        title,
        kind,
        audiences,
        owner: PolicyOwner::Trust,
        body_markdown: imported.markdown.clone(),
        approved_by: args.approved_by.trim().to_owned(),
        effective_date: effective,
        last_reviewed,
        next_review_due: next_review,
        change_summary: args.change_summary.clone(),
    };
    request.validate().map_err(invalid_flag)?;

    let mut lines = describe_conversion(&file_name, &imported);
    if args.dry_run {
        lines.push(format!(
            "dry run: would publish {:?} ({}) for {}, approved by {:?}, effective {}, last reviewed {}, next review {}",
            request.title,
            policies::kind_to_str(request.kind),
            args.academy.as_deref().unwrap_or("the trust"),
            request.approved_by,
            request.effective_date,
            request.last_reviewed,
            request.next_review_due
        ));
        lines.push(String::new());
        lines.push(imported.markdown);
        return Ok(Report { lines });
    }

    // A database made here would have policies and so no demo admin when
    // the server first starts: nobody could sign in. The server makes it.
    if !args.database.may_exist() {
        return Err(ImportCliError::NoDatabase(args.database));
    }
    let pool = db::connect(&args.database).await?;
    let result = async {
        if let Some(academy) = args.academy.as_deref() {
            request.owner = PolicyOwner::Academy {
                academy_id: find_academy(&pool, academy).await?,
            };
        }
        let mut tx = db::begin_write(&pool).await?;
        let published = match policies::publish(&mut tx, request).await {
            Err(AppError::Invalid {
                code: "change_summary_required",
                message,
            }) => {
                return Err(ImportCliError::Invalid {
                    flag: "--change-summary",
                    problem: message.trim_start_matches("change_summary: ").to_owned(),
                })
            }
            other => other?,
        };
        tx.commit().await?;
        Ok::<_, ImportCliError>(published)
    }
    .await;
    pool.close().await;
    let published = result?;

    let v = &published.version;
    lines.push(if published.created {
        format!(
            "published {:?} version {} (policy {}) into {}",
            v.title,
            v.version,
            v.policy_id,
            args.database
        )
    } else {
        format!(
            "{:?} version {} (policy {}) already has exactly this text and these details; nothing changed",
            v.title, v.version, v.policy_id
        )
    });
    lines.push(format!("version id: {}", v.id));
    lines.push(format!("text sha256: {}", v.text_sha256.as_str()));
    Ok(Report { lines })
}

/// What the conversion did, so the person importing can check it.
fn describe_conversion(file_name: &str, imported: &ImportedText) -> Vec<String> {
    match imported.format {
        SourceFormat::Markdown => vec![format!("read {file_name} as Markdown")],
        SourceFormat::PlainText => {
            let count = |r: DropReason| imported.dropped.iter().filter(|d| d.reason == r).count();
            vec![format!(
                "converted {file_name} from plain text to Markdown; left out {} contents-page, \
                 {} page-number and {} running-header lines",
                count(DropReason::Contents),
                count(DropReason::PageNumber),
                count(DropReason::RunningHeader)
            )]
        }
    }
}

/// A kind by its wire name (`staff_aua`; `staff-aua` and any case accepted).
fn parse_kind(given: &str) -> Result<PolicyKind, ImportCliError> {
    let wanted = given.trim().to_lowercase().replace('-', "_");
    PolicyKind::ALL
        .into_iter()
        .find(|k| policies::kind_to_str(*k) == wanted)
        .ok_or_else(|| ImportCliError::UnknownKind {
            given: given.to_owned(),
        })
}

fn kind_names() -> String {
    PolicyKind::ALL
        .into_iter()
        .map(policies::kind_to_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_audiences(given: &[String], kind: PolicyKind) -> Result<Vec<Audience>, ImportCliError> {
    let named: Vec<&str> = given
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if named.is_empty() {
        return Ok(kind.default_audiences().to_vec());
    }
    let mut audiences = Vec::new();
    for name in named {
        let wanted = name.to_lowercase().replace('-', "_");
        let audience = Audience::ALL
            .into_iter()
            .find(|a| a.wire_name() == wanted)
            .ok_or_else(|| ImportCliError::UnknownAudience {
                given: name.to_owned(),
            })?;
        if !audiences.contains(&audience) {
            audiences.push(audience);
        }
    }
    Ok(audiences)
}

fn audience_names() -> String {
    Audience::ALL
        .into_iter()
        .map(Audience::wire_name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A date option, checked, or `default` when it was not given.
fn date_arg(
    flag: &'static str,
    given: Option<&str>,
    default: &str,
) -> Result<String, ImportCliError> {
    let value = given.map_or(default, str::trim).to_owned();
    validate::iso_date(flag, &value).map_err(|e| ImportCliError::Invalid {
        flag,
        problem: e.problem,
    })?;
    Ok(value)
}

/// A domain refusal, naming the option to change rather than the field.
fn invalid_flag(e: Invalid) -> ImportCliError {
    let flag = match e.field.as_str() {
        "title" => "--title",
        "body_markdown" => "FILE",
        "approved_by" => "--approved-by",
        "effective_date" => "--effective",
        "last_reviewed" => "--last-reviewed",
        "next_review_due" => "--next-review",
        "audiences" => "--audience",
        "change_summary" => "--change-summary",
        _ => "the policy",
    };
    ImportCliError::Invalid {
        flag,
        problem: e.problem,
    }
}

/// An academy by id, or by name ignoring case.
async fn find_academy(pool: &sqlx::AnyPool, given: &str) -> Result<Uuid, ImportCliError> {
    if let Ok(id) = Uuid::parse_str(given.trim()) {
        return Ok(id); // `publish` checks that it exists.
    }
    let academies = org::academies(pool).await?;
    academies
        .iter()
        .find(|a| a.name.trim().eq_ignore_ascii_case(given.trim()))
        .map(|a| a.id)
        .ok_or_else(|| ImportCliError::UnknownAcademy {
            given: given.to_owned(),
            known: if academies.is_empty() {
                "none yet".to_owned()
            } else {
                academies
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
}

/// The same day a year later (29 February becomes 28 February).
fn a_year_after(date: &str) -> String {
    let year: i64 = date[..4].parse().unwrap_or(2000);
    let rest = if &date[4..] == "-02-29" {
        "-02-28"
    } else {
        &date[4..]
    };
    format!("{:04}{rest}", year + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_year_after_keeps_the_day_except_a_leap_day() {
        assert_eq!(a_year_after("2026-09-01"), "2027-09-01");
        assert_eq!(a_year_after("2028-02-29"), "2029-02-28");
    }

    #[test]
    fn kinds_are_read_by_their_wire_names_in_any_case() {
        assert_eq!(parse_kind("staff_aua").unwrap(), PolicyKind::StaffAua);
        assert_eq!(
            parse_kind("Esafety-Policy").unwrap(),
            PolicyKind::EsafetyPolicy
        );
        let err = parse_kind("aua").unwrap_err().to_string();
        assert!(
            err.contains("\"aua\"") && err.contains("visitor_aua"),
            "{err}"
        );
    }

    #[test]
    fn audiences_default_to_the_kind_and_unknown_ones_are_named() {
        assert_eq!(
            parse_audiences(&[], PolicyKind::VisitorAua).unwrap(),
            PolicyKind::VisitorAua.default_audiences()
        );
        assert_eq!(
            parse_audiences(&["staff,".into(), "Parent-Carer".into()], PolicyKind::Other).unwrap(),
            [Audience::Staff, Audience::ParentCarer]
        );
        let err = parse_audiences(&["pupils".into()], PolicyKind::Other).unwrap_err();
        assert!(err.to_string().contains("\"pupils\""), "{err}");
    }

    #[test]
    fn bad_dates_name_the_option() {
        let err = date_arg("--effective", Some("1/9/2026"), "2026-01-01").unwrap_err();
        assert!(err.to_string().starts_with("--effective: "), "{err}");
        assert_eq!(
            date_arg("--effective", None, "2026-01-01").unwrap(),
            "2026-01-01"
        );
    }
}
