//! A class list: one row per pupil with their parent or carer, read into one
//! invitation per parent per academy, so siblings share one.
//!
//! Columns (any order, names matched loosely): pupil name, class, academy,
//! parent/carer name, and optionally the parent's email. Rows with the same
//! academy and the same parent are siblings: the same email when one is
//! given, else the same parent name with no email.

pub use super::{CsvError, CsvReport, RowProblem, MAX_CSV_ROWS};

use super::{normalise_email, read_table, required_text, Academies, Column};
use serde::{Deserialize, Serialize};
use std::collections::hash_map::{Entry, HashMap};
use uuid::Uuid;

/// What an invitation's page asks of a parent, under its title: one wording
/// for the app and the copy the server sends before it.
pub const INVITATION_ASK: &str = "The school asks you to read and sign these. Each one takes a \
     minute; you can do them now, even with no signal, and they are sent when there is one.";

/// One pupil on an invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Child {
    pub pupil_name: String,
    pub class: String,
}

/// One invitation to send: a parent or carer at one academy, with their
/// children in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentInvitationPlan {
    pub academy_id: Uuid,
    /// As the first of the rows writes it.
    pub parent_name: String,
    /// Normalised by [`normalise_email`]; none when the list gives none (the
    /// school then hands the invitation over in person).
    pub parent_email: Option<String>,
    pub children: Vec<Child>,
    /// The line of each child, in the same order.
    pub lines: Vec<usize>,
}

const COLUMNS: &[Column] = &[
    Column {
        name: "pupil name",
        aliases: &[
            "pupilname",
            "pupil",
            "child",
            "childname",
            "student",
            "studentname",
        ],
        required: true,
    },
    Column {
        name: "class",
        aliases: &[
            "class",
            "year",
            "classyear",
            "form",
            "yeargroup",
            "classname",
            "yearclass",
        ],
        required: true,
    },
    Column {
        name: "academy",
        aliases: &["academy", "school", "academyname", "schoolname"],
        required: true,
    },
    Column {
        name: "parent/carer name",
        aliases: &[
            "parentcarername",
            "parent",
            "carer",
            "parentname",
            "carername",
            "parentcarer",
            "contactname",
        ],
        required: true,
    },
    Column {
        name: "email",
        aliases: &[
            "email",
            "parentemail",
            "parentcareremail",
            "emailaddress",
            "careremail",
            "contactemail",
        ],
        required: false,
    },
];

/// Who an invitation goes to within one academy.
#[derive(PartialEq, Eq, Hash)]
enum Parent {
    Email(String),
    /// The name lowercase, for parents without an email.
    Name(String),
}

/// Reads a class list. `academies` are the trust's (id, name).
pub fn parse_class_list_csv(
    text: &str,
    academies: &[(Uuid, String)],
) -> Result<CsvReport<ParentInvitationPlan>, CsvError> {
    let table = read_table(text, COLUMNS)?;
    let [pupil_label, class_label, academy_label, parent_label, email_label] = &table.labels[..]
    else {
        unreachable!("read_table gives one label per column");
    };
    let academies = Academies(academies);
    let mut plans: Vec<ParentInvitationPlan> = Vec::new();
    let mut plan_of: HashMap<(Uuid, Parent), usize> = HashMap::new();
    let mut problems = Vec::new();

    for record in table.records {
        let line = record.line;
        let [pupil, class, academy, parent, email] = &record.cells[..] else {
            unreachable!("read_table gives one cell per column");
        };
        let mut row_problems = Vec::new();
        let mut need = |label: &str, value: &str, what: &str| {
            required_text(label, value, what)
                .map_err(|m| row_problems.push(m))
                .is_ok()
        };
        let texts_ok = need(pupil_label, pupil, "the pupil's name")
            & need(
                class_label,
                class,
                "the pupil's class or year, like 3B or Year 4",
            )
            & need(parent_label, parent, "the parent or carer's name");
        let academy_id = academies
            .find(academy_label, academy)
            .map_err(|m| row_problems.push(m))
            .ok();
        let email = match email.as_str() {
            "" => Some(None),
            given => normalise_email(given)
                .map_err(|m| row_problems.push(format!("{email_label}: {m}")))
                .ok()
                .map(Some),
        };
        let (true, Some(academy_id), Some(email)) = (texts_ok, academy_id, email) else {
            problems.extend(
                row_problems
                    .into_iter()
                    .map(|message| RowProblem { line, message }),
            );
            continue;
        };

        let who = match &email {
            Some(e) => Parent::Email(e.clone()),
            None => Parent::Name(parent.to_lowercase()),
        };
        let child = Child {
            pupil_name: pupil.clone(),
            class: class.clone(),
        };
        let index = match plan_of.entry((academy_id, who)) {
            Entry::Occupied(o) => *o.get(),
            Entry::Vacant(v) => {
                v.insert(plans.len());
                plans.push(ParentInvitationPlan {
                    academy_id,
                    parent_name: parent.clone(),
                    parent_email: email,
                    children: vec![child],
                    lines: vec![line],
                });
                continue;
            }
        };
        let plan = &mut plans[index];
        let pupil_key = pupil.to_lowercase();
        match plan
            .children
            .iter()
            .position(|c| c.pupil_name.to_lowercase() == pupil_key)
        {
            Some(i) => problems.push(RowProblem {
                line,
                message: format!(
                    "{pupil_label} \"{pupil}\" is already listed for {} on line {}; remove one of the two rows",
                    plan.parent_name, plan.lines[i]
                ),
            }),
            None => {
                plan.children.push(child);
                plan.lines.push(line);
            }
        }
    }
    Ok(CsvReport {
        rows: plans,
        problems,
    })
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

    fn parse(text: &str) -> CsvReport<ParentInvitationPlan> {
        parse_class_list_csv(text, &academies()).unwrap()
    }

    fn child(pupil_name: &str, class: &str) -> Child {
        Child {
            pupil_name: pupil_name.into(),
            class: class.into(),
        }
    }

    const HEADER: &str = "Pupil name,Class,Academy,Parent/carer name,Email\n";

    #[test]
    fn siblings_share_one_invitation_and_another_academy_gets_its_own() {
        let report = parse(&format!(
            "{HEADER}\
             Amy Bloggs,3B,Oakfield Primary Academy,Jo Bloggs,jo@x.org\n\
             Sam Smith,4A,Oakfield Primary Academy,Pat Smith,pat@x.org\n\
             Ben Bloggs,5C,Oakfield Primary,Jo Bloggs,JO@X.ORG\n\
             Cal Bloggs,Year 9,Elm Tree School,Jo Bloggs,jo@x.org\n"
        ));
        assert_eq!(report.problems, []);
        assert_eq!(
            report.rows,
            [
                ParentInvitationPlan {
                    academy_id: OAK,
                    parent_name: "Jo Bloggs".into(),
                    parent_email: Some("jo@x.org".into()),
                    children: vec![child("Amy Bloggs", "3B"), child("Ben Bloggs", "5C")],
                    lines: vec![2, 4],
                },
                ParentInvitationPlan {
                    academy_id: OAK,
                    parent_name: "Pat Smith".into(),
                    parent_email: Some("pat@x.org".into()),
                    children: vec![child("Sam Smith", "4A")],
                    lines: vec![3],
                },
                ParentInvitationPlan {
                    academy_id: ELM,
                    parent_name: "Jo Bloggs".into(),
                    parent_email: Some("jo@x.org".into()),
                    children: vec![child("Cal Bloggs", "Year 9")],
                    lines: vec![5],
                },
            ]
        );
    }

    #[test]
    fn without_an_email_siblings_are_grouped_by_parent_name() {
        let report = parse(&format!(
            "{HEADER}\
             Amy Bloggs,3B,Oakfield Primary Academy,Jo  Bloggs,\n\
             Ben Bloggs,5C,Oakfield Primary Academy,jo bloggs,\n\
             Cal Bloggs,6A,Oakfield Primary Academy,Jo Bloggs,jo@x.org\n"
        ));
        assert_eq!(report.rows.len(), 2);
        assert_eq!(report.rows[0].parent_email, None);
        assert_eq!(report.rows[0].lines, [2, 3]);
        assert_eq!(report.rows[1].lines, [4]);
    }

    #[test]
    fn the_email_column_is_optional() {
        let report = parse("Child,Year group,School,Parent\nAmy,R,Elm Tree School,Jo\n");
        assert_eq!(report.rows[0].parent_email, None);
        assert_eq!(report.rows[0].children, [child("Amy", "R")]);
    }

    #[test]
    fn header_aliases_are_accepted() {
        let report = parse(
            "Student,Class/Year,School,Parent Carer Name,Parent/Carer Email\nAmy,R,Elm Tree School,Jo,jo@x.org\n",
        );
        assert_eq!(report.rows[0].parent_email.as_deref(), Some("jo@x.org"));
        let report = parse(
            "Child name,Form,Academy,Contact name,Email address\nAmy,7X,Elm Tree School,Jo,\n",
        );
        assert_eq!(report.rows.len(), 1);
    }

    #[test]
    fn a_bom_semicolons_and_quoted_commas_are_read() {
        let report = parse(
            "\u{feff}Pupil;Class;Academy;Parent;Email\r\n\"Bloggs, Amy\";\"3B\";Elm Tree School;\"Bloggs, Jo\";jo@x.org\r\n",
        );
        assert_eq!(report.rows[0].children, [child("Bloggs, Amy", "3B")]);
        assert_eq!(report.rows[0].parent_name, "Bloggs, Jo");
    }

    #[test]
    fn the_same_child_twice_under_one_parent_is_a_problem_on_the_later_line() {
        let report = parse(&format!(
            "{HEADER}\
             Amy Bloggs,3B,Oakfield Primary Academy,Jo Bloggs,jo@x.org\n\
             AMY BLOGGS,3B,Oakfield Primary Academy,Jo Bloggs,jo@x.org\n"
        ));
        assert_eq!(report.rows[0].lines, [2]);
        assert_eq!(
            report.problems,
            [RowProblem {
                line: 3,
                message: "Pupil name \"AMY BLOGGS\" is already listed for Jo Bloggs on line 2; remove one of the two rows".into()
            }]
        );
    }

    #[test]
    fn a_bad_email_is_a_problem_for_that_row_only() {
        let report = parse(&format!(
            "{HEADER}\
             Amy,3B,Oakfield Primary Academy,Jo,jo@x\n\
             Sam,4A,Oakfield Primary Academy,Pat,pat@x.org\n"
        ));
        assert_eq!(report.rows.len(), 1);
        assert_eq!(report.rows[0].lines, [3]);
        assert_eq!(report.problems.len(), 1);
        assert_eq!(report.problems[0].line, 2);
        assert!(report.problems[0]
            .message
            .starts_with("Email: \"jo@x\" needs a domain"));
    }

    #[test]
    fn empty_cells_and_unknown_academies_are_problems_naming_the_column() {
        let report = parse(&format!(
            "{HEADER}\
             ,3B,Oakfield Primary Academy,Jo,\n\
             Amy,,Oakfield Primary Academy,,\n\
             Sam,4A,Beech Academy,Pat,\n\
             Al,5C,Elm Tree School,Kim,\n"
        ));
        let messages: Vec<(usize, &str)> = report
            .problems
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert_eq!(
            messages,
            [
                (2, "Pupil name is empty; give the pupil's name"),
                (3, "Class is empty; give the pupil's class or year, like 3B or Year 4"),
                (3, "Parent/carer name is empty; give the parent or carer's name"),
                (4, "Academy \"Beech Academy\" is not one of the trust's academies; use one of: Oakfield Primary Academy, Elm Tree School"),
            ]
        );
        assert_eq!(report.rows.len(), 1);
        assert_eq!(report.rows[0].lines, [5]);
    }

    #[test]
    fn file_level_problems_are_errors() {
        assert_eq!(
            parse_class_list_csv(HEADER, &academies()),
            Err(CsvError::Empty)
        );
        let err = parse_class_list_csv("Pupil,Academy\nAmy,Elm\n", &academies()).unwrap_err();
        assert_eq!(
            err,
            CsvError::MissingColumns {
                missing: vec!["class", "parent/carer name"],
                found: vec!["Pupil".into(), "Academy".into()]
            }
        );
    }
}
