//! People who sign in to Haven: their roles, the passwords and PINs they
//! choose, and the spreadsheets admins import them from.
//!
//! - [`roles`]: roles, grants, and what a set of grants allows;
//! - [`permissions`]: who may do what, where (the one list of capabilities
//!   the server and the PWA both use);
//! - [`password`], [`pin`]: what a new password or PIN must be;
//! - [`staff_csv`]: a staff list → one role grant a row;
//! - [`class_list`]: a class list → one parent invitation per family;
//! - [`oneroster`]: a OneRoster 1.1 CSV export from the MIS → staff and
//!   families, and what importing it again would change;
//! - [`csv_export`]: CSV downloads safe to open in a spreadsheet.
//!
//! The importers never stop at the first bad row: every row that reads is
//! returned with a [`RowProblem`] for each row that does not, so an admin can
//! fix the file in one go. Only a file that cannot be read at all is a
//! [`CsvError`].

pub mod class_list;
pub mod csv_export;
pub mod oneroster;
pub mod password;
pub mod permissions;
pub mod pin;
pub mod roles;
pub mod staff_csv;

pub use class_list::{parse_class_list_csv, Child, ParentInvitationPlan};
pub use csv_export::to_csv;
pub use oneroster::{
    parse_roster, plan_roster, CurrentRoster, RosterError, RosterFiles, RosterPlan, RosterReport,
};
pub use password::{check_new_password, PasswordProblem, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
pub use permissions::{Capability, Scope};
pub use pin::{check_new_pin, PinProblem, MAX_PIN_DIGITS, MAX_WRONG_PINS, MIN_PIN_DIGITS};
pub use roles::{Grants, Role, RoleGrant};
pub use staff_csv::{parse_staff_csv, StaffRow};

use crate::org::MAX_NAME_CHARS;
use crate::validate::MAX_EMAIL_CHARS;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An email address as Haven keeps it (trimmed, lowercase), or why it is not
/// one, as a sentence naming the value.
pub fn normalise_email(s: &str) -> Result<String, String> {
    let email = s.trim().to_lowercase();
    let like = "an email address looks like name@school.org.uk";
    if email.is_empty() {
        return Err(format!("No email address given; {like}"));
    }
    let chars = email.chars().count();
    if chars > MAX_EMAIL_CHARS {
        return Err(format!(
            "This email address is {chars} characters long; the most allowed is {MAX_EMAIL_CHARS}"
        ));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "\"{}\" has a space or line break in it; {like}",
            s.trim()
        ));
    }
    let (local, domain) = match email.split('@').collect::<Vec<_>>()[..] {
        [local, domain] => (local, domain),
        [_] => return Err(format!("\"{email}\" has no @; {like}")),
        _ => return Err(format!("\"{email}\" has more than one @; {like}")),
    };
    if local.is_empty() {
        return Err(format!("\"{email}\" has nothing before the @; {like}"));
    }
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if !domain_ok {
        return Err(format!(
            "\"{email}\" needs a domain with a dot after the @, like school.org.uk"
        ));
    }
    Ok(email)
}

/// Most data rows one import may have.
pub const MAX_CSV_ROWS: usize = 5000;

/// One row of an import that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RowProblem {
    /// 1-based line number in the file (the header is line 1).
    pub line: usize,
    /// What is wrong, naming the column and the value, and what would be accepted.
    pub message: String,
}

/// What an import read: the good rows, and a problem for each row left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvReport<T> {
    pub rows: Vec<T>,
    pub problems: Vec<RowProblem>,
}

/// A file that cannot be imported at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("There is nothing to import: the file needs a first row naming the columns, then one row per entry")]
    Empty,
    #[error("The first row has no {} column (it names: {}); put the column names in the first row", .missing.join(", "), .found.join(", "))]
    MissingColumns {
        missing: Vec<&'static str>,
        found: Vec<String>,
    },
    #[error("The file has more than {max} rows; split it into smaller files, for example one per academy")]
    TooManyRows { max: usize },
    #[error("{0}")]
    Unreadable(String),
}

/// A column an importer looks for: its name in messages, and the header
/// names it accepts, as [`header_key`] writes them.
pub(crate) struct Column {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub required: bool,
}

/// The data rows of a file, cut down to the wanted columns.
pub(crate) struct Table {
    /// Each wanted column's header as the file writes it (its name when absent).
    pub labels: Vec<String>,
    pub records: Vec<Record>,
}

pub(crate) struct Record {
    pub line: usize,
    /// One cleaned cell per wanted column, empty when absent.
    pub cells: Vec<String>,
}

/// Reads CSV text: strips a BOM, sniffs `,` or `;` from the header, finds the
/// `columns` by header name, skips blank lines, and cleans every cell.
pub(crate) fn read_table(text: &str, columns: &[Column]) -> Result<Table, CsvError> {
    read_table_up_to(text, columns, MAX_CSV_ROWS)
}

/// [`read_table`] with room for `max_rows` data rows (a roster export's
/// enrollments outgrow a class list's).
pub(crate) fn read_table_up_to(
    text: &str,
    columns: &[Column],
    max_rows: usize,
) -> Result<Table, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.contains('\0') || text.starts_with("PK\u{3}\u{4}") {
        return Err(CsvError::Unreadable(
            "This is not a CSV file (it looks like a spreadsheet workbook); in the spreadsheet choose Save As, \"CSV UTF-8\", and upload that".into(),
        ));
    }
    // One line end, so line numbers count lines as an editor does, old Mac
    // files (CR only) included.
    let text = if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text.to_owned()
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(&text))
        .from_reader(text.as_bytes());
    let mut lines = LineCounter {
        text: text.as_bytes(),
        byte: 0,
        line: 1,
    };
    let mut header: Option<(Vec<String>, Vec<Option<usize>>)> = None;
    let mut records = Vec::new();
    for result in reader.records() {
        let record = result
            .map_err(|e| CsvError::Unreadable(format!("The file could not be read as CSV: {e}")))?;
        let cells: Vec<String> = record.iter().map(clean).collect();
        if cells.iter().all(String::is_empty) {
            continue;
        }
        let start = record.position().map_or(0, |p| p.byte() as usize);
        let line = lines.line_at(start);
        let Some((_, indices)) = &header else {
            header = Some(find_columns(cells, columns)?);
            continue;
        };
        if records.len() == max_rows {
            return Err(CsvError::TooManyRows { max: max_rows });
        }
        let pick = |i: &Option<usize>| i.and_then(|i| cells.get(i).cloned()).unwrap_or_default();
        records.push(Record {
            line,
            cells: indices.iter().map(pick).collect(),
        });
    }
    match header {
        Some((labels, _)) if !records.is_empty() => Ok(Table { labels, records }),
        _ => Err(CsvError::Empty),
    }
}

/// Line numbers from byte offsets that only grow. The csv crate's own line
/// count is off after blank lines, and a record's offset is where the blank
/// lines before it start, so those are skipped here.
struct LineCounter<'a> {
    text: &'a [u8],
    byte: usize,
    line: usize,
}

impl LineCounter<'_> {
    fn line_at(&mut self, start: usize) -> usize {
        let start = start.clamp(self.byte, self.text.len());
        self.line += self.text[self.byte..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.byte = start;
        let blank = self.text[start..]
            .iter()
            .take_while(|&&b| b == b'\n')
            .count();
        self.line + blank
    }
}

/// `;` when the first non-blank line has more semicolons than commas outside
/// quotes (spreadsheets set to a European locale write those), else `,`.
fn sniff_delimiter(text: &str) -> u8 {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let (mut quoted, mut commas, mut semicolons) = (false, 0, 0);
    for c in first.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas {
        b';'
    } else {
        b','
    }
}

/// Each wanted column's label and index in the file, from the header cells.
fn find_columns(
    header: Vec<String>,
    columns: &[Column],
) -> Result<(Vec<String>, Vec<Option<usize>>), CsvError> {
    let keys: Vec<String> = header.iter().map(|h| header_key(h)).collect();
    let indices: Vec<Option<usize>> = columns
        .iter()
        .map(|c| keys.iter().position(|k| c.aliases.contains(&k.as_str())))
        .collect();
    let missing: Vec<&'static str> = columns
        .iter()
        .zip(&indices)
        .filter(|(c, i)| c.required && i.is_none())
        .map(|(c, _)| c.name)
        .collect();
    if !missing.is_empty() {
        let found = header.into_iter().filter(|h| !h.is_empty()).collect();
        return Err(CsvError::MissingColumns { missing, found });
    }
    let labels = columns
        .iter()
        .zip(&indices)
        .map(|(c, i)| i.map_or(c.name.to_owned(), |i| header[i].clone()))
        .collect();
    Ok((labels, indices))
}

/// A header name without case, spaces or punctuation: "Parent/Carer Name"
/// → "parentcarername".
pub(crate) fn header_key(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A cell (or a name typed into a form) trimmed, with runs of white space and
/// control characters made one space, and invisible characters (byte-order
/// marks, zero-width spaces) gone.
pub fn clean(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len());
    let mut gap = false;
    for c in cell.chars() {
        if matches!(c, '\u{feff}' | '\u{200b}'..='\u{200d}' | '\u{2060}') {
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            gap = !out.is_empty();
        } else {
            if gap {
                out.push(' ');
                gap = false;
            }
            out.push(c);
        }
    }
    out
}

/// A cell that must hold some text of at most [`MAX_NAME_CHARS`] characters;
/// `what` says what belongs there ("the person's full name").
pub(crate) fn required_text(label: &str, value: &str, what: &str) -> Result<(), String> {
    let chars = value.chars().count();
    if chars == 0 {
        Err(format!("{label} is empty; give {what}"))
    } else if chars > MAX_NAME_CHARS {
        Err(format!(
            "{label} is {chars} characters long; the most allowed is {MAX_NAME_CHARS}"
        ))
    } else {
        Ok(())
    }
}

/// The trust's academies, to match an academy cell against: by id, by name
/// whatever the case, or by name without a last "Academy"/"School" word.
pub(crate) struct Academies<'a>(pub &'a [(Uuid, String)]);

impl Academies<'_> {
    /// The academy a cell names, or a message naming the column and value
    /// and listing the academies.
    pub fn find(&self, label: &str, cell: &str) -> Result<Uuid, String> {
        let names = || {
            let names: Vec<&str> = self.0.iter().map(|(_, n)| n.as_str()).collect();
            if names.is_empty() {
                "no academies are set up yet; add them in Haven first".to_owned()
            } else {
                format!("use one of: {}", names.join(", "))
            }
        };
        if cell.is_empty() {
            return Err(format!("{label} is empty; {}", names()));
        }
        if let Ok(id) = Uuid::parse_str(cell) {
            if self.0.iter().any(|(a, _)| *a == id) {
                return Ok(id);
            }
        }
        let key = academy_key(cell);
        for loose in [false, true] {
            let matches: Vec<&(Uuid, String)> = self
                .0
                .iter()
                .filter(|(_, n)| {
                    let k = academy_key(n);
                    if loose {
                        without_last_word(&k) == without_last_word(&key)
                    } else {
                        k == key
                    }
                })
                .collect();
            match matches[..] {
                [] => {}
                [(id, _)] => return Ok(*id),
                _ => {
                    let names: Vec<&str> = matches.iter().map(|(_, n)| n.as_str()).collect();
                    return Err(format!(
                        "{label} \"{cell}\" matches more than one academy ({}); write the full name",
                        names.join(", ")
                    ));
                }
            }
        }
        Err(format!(
            "{label} \"{cell}\" is not one of the trust's academies; {}",
            names()
        ))
    }
}

/// A name lowercase, apostrophes dropped, other punctuation made spaces:
/// "St. Mary's  C of E" → "st marys c of e".
fn academy_key(name: &str) -> String {
    let spaced: String = name
        .chars()
        .filter(|c| !matches!(c, '\'' | '\u{2019}'))
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A name key without a last "academy" or "school" word.
fn without_last_word(key: &str) -> &str {
    ["academy", "school"]
        .iter()
        .find_map(|w| key.strip_suffix(w).and_then(|k| k.strip_suffix(' ')))
        .unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const COLUMNS: &[Column] = &[
        Column {
            name: "name",
            aliases: &["name", "fullname"],
            required: true,
        },
        Column {
            name: "email",
            aliases: &["email", "emailaddress"],
            required: false,
        },
    ];

    fn read(text: &str) -> Result<Vec<(usize, Vec<String>)>, CsvError> {
        let table = read_table(text, COLUMNS)?;
        Ok(table
            .records
            .into_iter()
            .map(|r| (r.line, r.cells))
            .collect())
    }

    fn cells(line: usize, cells: &[&str]) -> (usize, Vec<String>) {
        (line, cells.iter().map(|c| c.to_string()).collect())
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            normalise_email("  Jo.Bloggs@Oakfield.Example.ORG "),
            Ok("jo.bloggs@oakfield.example.org".into())
        );
    }

    #[test]
    fn emails_need_one_at_a_local_part_and_a_dotted_domain() {
        for (bad, says) in [
            ("", "No email address given"),
            ("jo bloggs@x.org", "has a space"),
            ("jo.x.org", "has no @"),
            ("jo@x@x.org", "more than one @"),
            ("@x.org", "nothing before the @"),
            ("jo@org", "a dot after the @"),
            ("jo@.org", "a dot after the @"),
            ("jo@x..org", "a dot after the @"),
        ] {
            let err = normalise_email(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let long = format!("{}@x.org", "a".repeat(250));
        assert!(normalise_email(&long).unwrap_err().contains("254"));
    }

    proptest! {
        #[test]
        fn a_normalised_email_passes_the_shared_email_check(s in "[a-zA-Z@. \t\u{0}é]{0,12}") {
            if let Ok(email) = normalise_email(&s) {
                prop_assert!(crate::validate::email("email", &email).is_ok(), "{:?}", email);
                prop_assert_eq!(normalise_email(&email), Ok(email.clone()));
            }
        }
    }

    #[test]
    fn headers_match_whatever_their_case_spacing_and_punctuation() {
        assert_eq!(
            read("FULL-name , E-mail Address\nJo,jo@x.org\n").unwrap(),
            [cells(2, &["Jo", "jo@x.org"])]
        );
    }

    #[test]
    fn a_bom_semicolons_and_quoted_cells_are_read() {
        let text = "\u{feff}Name;Email Address\r\n\"Bloggs; Jo\";jo@x.org\r\n\"Smith, Sam\";\r\n";
        assert_eq!(
            read(text).unwrap(),
            [
                cells(2, &["Bloggs; Jo", "jo@x.org"]),
                cells(3, &["Smith, Sam", ""])
            ]
        );
    }

    #[test]
    fn blank_lines_are_skipped_and_line_numbers_count_every_line() {
        let text = "\nNAME\n\n  Jo   Bloggs \n , \n\"Sam\nSmith\"\nAl\n";
        assert_eq!(
            read(text).unwrap(),
            [
                cells(4, &["Jo Bloggs", ""]),
                cells(6, &["Sam Smith", ""]),
                cells(8, &["Al", ""])
            ]
        );
    }

    proptest! {
        #[test]
        fn every_record_starts_on_a_non_blank_line_it_names(text in "[a ,;\"\n\r]{0,40}") {
            let normal = text.replace("\r\n", "\n").replace('\r', "\n");
            let file_lines: Vec<&str> = normal.split('\n').collect();
            let columns = [Column { name: "a", aliases: &["a"], required: false }];
            if let Ok(table) = read_table(&text, &columns) {
                let mut last = 0;
                for r in &table.records {
                    prop_assert!(r.line > last && r.line <= file_lines.len(), "{:?}: {}", text, r.line);
                    prop_assert!(!file_lines[r.line - 1].is_empty(), "{:?}: {}", text, r.line);
                    last = r.line;
                }
            }
        }
    }

    #[test]
    fn old_mac_line_ends_count_as_lines() {
        assert_eq!(
            read("name\rJo\rSam").unwrap(),
            [cells(2, &["Jo", ""]), cells(3, &["Sam", ""])]
        );
    }

    #[test]
    fn a_missing_required_column_is_a_file_problem_listing_what_was_found() {
        let err = read("Forename,Email\nJo,jo@x.org\n").unwrap_err();
        assert_eq!(
            err,
            CsvError::MissingColumns {
                missing: vec!["name"],
                found: vec!["Forename".into(), "Email".into()]
            }
        );
        assert_eq!(
            err.to_string(),
            "The first row has no name column (it names: Forename, Email); put the column names in the first row"
        );
    }

    #[test]
    fn an_empty_file_or_a_header_alone_is_empty() {
        for text in ["", "\u{feff}", "\n\n ,\n", "Name,Email\n\n"] {
            assert_eq!(read(text).unwrap_err(), CsvError::Empty, "{text:?}");
        }
    }

    #[test]
    fn more_than_the_most_rows_is_a_file_problem() {
        let mut text = String::from("name\n");
        for i in 0..MAX_CSV_ROWS {
            text.push_str(&format!("p{i}\n"));
        }
        assert_eq!(read(&text).unwrap().len(), MAX_CSV_ROWS);
        text.push_str("one more\n");
        assert_eq!(
            read(&text).unwrap_err(),
            CsvError::TooManyRows { max: MAX_CSV_ROWS }
        );
    }

    #[test]
    fn a_workbook_instead_of_csv_is_unreadable() {
        let err = read("PK\u{3}\u{4}\u{14}\0\u{6}").unwrap_err();
        assert!(
            matches!(&err, CsvError::Unreadable(m) if m.contains("CSV UTF-8")),
            "{err:?}"
        );
    }

    fn academies() -> Vec<(Uuid, String)> {
        vec![
            (Uuid::from_u128(1), "Oakfield Primary Academy".into()),
            (Uuid::from_u128(2), "St Mary's School".into()),
        ]
    }

    #[test]
    fn academies_match_by_name_whatever_the_case_or_by_id() {
        let list = academies();
        let a = Academies(&list);
        assert_eq!(
            a.find("School", "oakfield primary ACADEMY"),
            Ok(Uuid::from_u128(1))
        );
        assert_eq!(a.find("School", "St. Marys School"), Ok(Uuid::from_u128(2)));
        assert_eq!(
            a.find("School", &Uuid::from_u128(2).to_string()),
            Ok(Uuid::from_u128(2))
        );
    }

    #[test]
    fn academies_match_without_a_last_academy_or_school_word() {
        let list = academies();
        let a = Academies(&list);
        assert_eq!(a.find("School", "Oakfield Primary"), Ok(Uuid::from_u128(1)));
        assert_eq!(
            a.find("School", "Oakfield Primary School"),
            Ok(Uuid::from_u128(1))
        );
        assert_eq!(
            a.find("School", "St Mary's Academy"),
            Ok(Uuid::from_u128(2))
        );
    }

    #[test]
    fn an_unknown_academy_lists_the_known_names() {
        let list = academies();
        assert_eq!(
            Academies(&list).find("School", "Oakfeld"),
            Err("School \"Oakfeld\" is not one of the trust's academies; use one of: Oakfield Primary Academy, St Mary's School".into())
        );
        assert!(Academies(&list)
            .find("School", "")
            .unwrap_err()
            .starts_with("School is empty; use one of"));
        assert!(Academies(&list)
            .find("School", &Uuid::from_u128(9).to_string())
            .is_err());
    }

    #[test]
    fn a_name_two_academies_share_without_the_last_word_is_ambiguous() {
        let list = vec![
            (Uuid::from_u128(1), "Elm Academy".into()),
            (Uuid::from_u128(2), "Elm School".into()),
        ];
        let a = Academies(&list);
        assert_eq!(a.find("Academy", "elm school"), Ok(Uuid::from_u128(2)));
        assert!(a
            .find("Academy", "Elm")
            .unwrap_err()
            .contains("more than one academy"));
    }
}
