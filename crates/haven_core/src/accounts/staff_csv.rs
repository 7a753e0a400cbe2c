//! A staff list exported from the school's MIS or typed in a spreadsheet:
//! one row per role a person holds at an academy.
//!
//! Columns (any order, names matched loosely): name, email, academy, role.
//! The same email on several rows gives that person several roles.

pub use super::{CsvError, CsvReport, RowProblem, MAX_CSV_ROWS};

use super::roles::Role;
use super::{normalise_email, read_table, required_text, Academies, Column};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

/// One role grant read from one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffRow {
    /// The row's line in the file.
    pub line: usize,
    pub name: String,
    /// Normalised by [`normalise_email`].
    pub email: String,
    pub academy_id: Uuid,
    /// Never [`Role::TrustAdmin`].
    pub role: Role,
}

const COLUMNS: &[Column] = &[
    Column {
        name: "name",
        aliases: &["name", "fullname", "staffname"],
        required: true,
    },
    Column {
        name: "email",
        aliases: &["email", "emailaddress", "staffemail", "workemail"],
        required: true,
    },
    Column {
        name: "academy",
        aliases: &["academy", "school", "academyname", "schoolname"],
        required: true,
    },
    Column {
        name: "role",
        aliases: &["role"],
        required: true,
    },
];

/// Reads a staff list. `academies` are the trust's (id, name).
pub fn parse_staff_csv(
    text: &str,
    academies: &[(Uuid, String)],
) -> Result<CsvReport<StaffRow>, CsvError> {
    let table = read_table(text, COLUMNS)?;
    let [name_label, email_label, academy_label, role_label] = &table.labels[..] else {
        unreachable!("read_table gives one label per column");
    };
    let academies = Academies(academies);
    let mut rows: Vec<StaffRow> = Vec::new();
    let mut problems = Vec::new();
    // The first name given for each email, and its line.
    let mut names: HashMap<String, (String, usize)> = HashMap::new();
    // Each accepted (email, academy, role), and its line.
    let mut grants: HashMap<(String, Uuid, Role), usize> = HashMap::new();

    for record in table.records {
        let line = record.line;
        let [name, email, academy, role] = &record.cells[..] else {
            unreachable!("read_table gives one cell per column");
        };
        let mut row_problems = Vec::new();
        let name_ok = required_text(name_label, name, "the person's full name")
            .map_err(|m| row_problems.push(m))
            .is_ok();
        let email = normalise_email(email)
            .map_err(|m| row_problems.push(format!("{email_label}: {m}")))
            .ok();
        let academy_id = academies
            .find(academy_label, academy)
            .map_err(|m| row_problems.push(m))
            .ok();
        let role = parse_role(role_label, role)
            .map_err(|m| row_problems.push(m))
            .ok();

        if let (true, Some(email)) = (name_ok, &email) {
            match names.get(email) {
                Some((first, first_line)) if first.to_lowercase() != name.to_lowercase() => {
                    row_problems.push(format!(
                        "{name_label} \"{name}\" differs from \"{first}\" on line {first_line} for {email}; use the same name on every row for one person"
                    ));
                }
                Some(_) => {}
                None => {
                    names.insert(email.clone(), (name.clone(), line));
                }
            }
        }
        if let (true, Some(email), Some(academy_id), Some(role)) =
            (row_problems.is_empty(), email, academy_id, role)
        {
            let key = (email.clone(), academy_id, role);
            if let Some(first_line) = grants.get(&key) {
                row_problems.push(format!(
                    "This row repeats line {first_line} ({email}, {academy}, {}); remove one of them",
                    role.label()
                ));
            } else {
                grants.insert(key, line);
                rows.push(StaffRow {
                    line,
                    name: name.clone(),
                    email,
                    academy_id,
                    role,
                });
            }
        }
        problems.extend(
            row_problems
                .into_iter()
                .map(|message| RowProblem { line, message }),
        );
    }
    Ok(CsvReport { rows, problems })
}

/// A role an import may grant: any but trust admin.
fn parse_role(label: &str, cell: &str) -> Result<Role, String> {
    let accepted = Role::ALL
        .iter()
        .filter(|r| r.is_academy_role())
        .map(|r| r.label())
        .collect::<Vec<_>>()
        .join(", ");
    match Role::parse(cell) {
        _ if cell.is_empty() => Err(format!("{label} is empty; use one of: {accepted}")),
        Some(Role::TrustAdmin) => Err(format!(
            "{label} \"{cell}\": trust admins are appointed by an existing trust admin in Haven, not by import"
        )),
        Some(role) => Ok(role),
        None => Err(format!(
            "{label} \"{cell}\" is not a role in Haven; use one of: {accepted}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OAK: Uuid = Uuid::from_u128(1);
    const ELM: Uuid = Uuid::from_u128(2);

    fn academies() -> Vec<(Uuid, String)> {
        vec![
            (OAK, "Oakfield Primary Academy".into()),
            (ELM, "Elm Tree School".into()),
        ]
    }

    fn parse(text: &str) -> CsvReport<StaffRow> {
        parse_staff_csv(text, &academies()).unwrap()
    }

    fn row(line: usize, name: &str, email: &str, academy_id: Uuid, role: Role) -> StaffRow {
        StaffRow {
            line,
            name: name.into(),
            email: email.into(),
            academy_id,
            role,
        }
    }

    fn problem_lines(report: &CsvReport<StaffRow>) -> Vec<usize> {
        report.problems.iter().map(|p| p.line).collect()
    }

    #[test]
    fn each_row_is_one_grant_and_one_email_may_hold_several() {
        let report = parse(
            "Name,Email,Academy,Role\n\
             Jo Bloggs,Jo.Bloggs@Oak.example.org,Oakfield Primary Academy,DSL\n\
             Jo Bloggs,jo.bloggs@oak.example.org,Elm Tree School,Headteacher\n\
             Sam  Smith ,sam@elm.example.org,elm tree,Teacher\n",
        );
        assert_eq!(report.problems, []);
        assert_eq!(
            report.rows,
            [
                row(2, "Jo Bloggs", "jo.bloggs@oak.example.org", OAK, Role::Dsl),
                row(
                    3,
                    "Jo Bloggs",
                    "jo.bloggs@oak.example.org",
                    ELM,
                    Role::Headteacher
                ),
                row(4, "Sam Smith", "sam@elm.example.org", ELM, Role::Staff),
            ]
        );
    }

    #[test]
    fn header_aliases_in_any_order_are_accepted() {
        let report = parse(
            "ROLE,School,Email address,Staff name\nE-safety lead,Oakfield Primary Academy,a@x.org,Al\n",
        );
        assert_eq!(
            report.rows,
            [row(2, "Al", "a@x.org", OAK, Role::EsafetyLead)]
        );
        let report =
            parse("Full Name,E-mail,Academy,Role\nAl,a@x.org,Oakfield Primary Academy,Staff\n");
        assert_eq!(report.rows.len(), 1);
    }

    #[test]
    fn a_bom_semicolons_and_quoted_fields_are_read() {
        let report = parse(
            "\u{feff}Name;Email;Academy;Role\r\n\"Bloggs, Jo\";jo@x.org;\"Elm Tree School\";Staff\r\n",
        );
        assert_eq!(
            report.rows,
            [row(2, "Bloggs, Jo", "jo@x.org", ELM, Role::Staff)]
        );
    }

    #[test]
    fn a_bad_row_is_a_problem_and_the_other_rows_still_read() {
        let report = parse(
            "Name,Email,Academy,Role\n\
             Jo,jo@x.org,Oakfield Primary Academy,Staff\n\
             Sam,sam at x.org,Oakfield Primary Academy,Staff\n\
             \n\
             Al,al@x.org,Oakfield Primary Academy,Staff\n",
        );
        assert_eq!(
            report.rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            [2, 5]
        );
        assert_eq!(problem_lines(&report), [3]);
        assert!(report.problems[0]
            .message
            .starts_with("Email: \"sam at x.org\" has a space"));
    }

    #[test]
    fn every_problem_in_a_row_is_reported() {
        let report = parse("Name,Email,Academy,Role\n,nope,Nowhere,Caretaker\n");
        let messages: Vec<&str> = report.problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "Name is empty; give the person's full name",
                "Email: \"nope\" has no @; an email address looks like name@school.org.uk",
                "Academy \"Nowhere\" is not one of the trust's academies; use one of: Oakfield Primary Academy, Elm Tree School",
                "Role \"Caretaker\" is not a role in Haven; use one of: Headteacher, E-safety lead, Designated safeguarding lead (DSL), Staff, Governor, Volunteer, Community user",
            ]
        );
        assert_eq!(problem_lines(&report), [2, 2, 2, 2]);
        assert_eq!(report.rows, []);
    }

    #[test]
    fn an_academy_may_be_given_by_id() {
        let report = parse(&format!(
            "Name,Email,Academy,Role\nJo,jo@x.org,{ELM},Staff\n"
        ));
        assert_eq!(report.rows[0].academy_id, ELM);
    }

    #[test]
    fn a_row_repeating_an_earlier_grant_is_a_problem() {
        let report = parse(
            "Name,Email,Academy,Role\n\
             Jo,jo@x.org,Oakfield Primary Academy,DSL\n\
             Jo,JO@x.org,oakfield primary academy,Designated safeguarding lead\n",
        );
        assert_eq!(report.rows.len(), 1);
        assert_eq!(
            report.problems,
            [RowProblem {
                line: 3,
                message: "This row repeats line 2 (jo@x.org, oakfield primary academy, Designated safeguarding lead (DSL)); remove one of them".into()
            }]
        );
    }

    #[test]
    fn the_same_email_under_another_name_is_a_problem() {
        let report = parse(
            "Name,Email,Academy,Role\n\
             Jo Bloggs,jo@x.org,Oakfield Primary Academy,DSL\n\
             JO BLOGGS,jo@x.org,Elm Tree School,DSL\n\
             Joanna Bloggs,jo@x.org,Elm Tree School,Staff\n",
        );
        assert_eq!(report.rows.len(), 2);
        assert_eq!(problem_lines(&report), [4]);
        assert!(report.problems[0]
            .message
            .contains("\"Joanna Bloggs\" differs from \"Jo Bloggs\" on line 2"));
    }

    #[test]
    fn trust_admin_cannot_be_imported() {
        let report =
            parse("Name,Email,Academy,Role\nJo,jo@x.org,Oakfield Primary Academy,Trust admin\n");
        assert_eq!(report.rows, []);
        assert!(report.problems[0].message.contains(
            "trust admins are appointed by an existing trust admin in Haven, not by import"
        ));
    }

    #[test]
    fn an_empty_name_or_role_is_a_problem() {
        let report = parse("Name,Email,Academy,Role\n  ,jo@x.org,Oakfield Primary Academy,Staff\nAl,al@x.org,Oakfield Primary Academy,\n");
        assert_eq!(problem_lines(&report), [2, 3]);
        assert!(report.problems[1]
            .message
            .starts_with("Role is empty; use one of"));
    }

    #[test]
    fn file_level_problems_are_errors() {
        assert_eq!(parse_staff_csv("", &academies()), Err(CsvError::Empty));
        assert_eq!(
            parse_staff_csv("Name,Email,Role\nJo,jo@x.org,Staff\n", &academies()),
            Err(CsvError::MissingColumns {
                missing: vec!["academy"],
                found: vec!["Name".into(), "Email".into(), "Role".into()]
            })
        );
    }
}
