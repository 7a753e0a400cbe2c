//! A school's roster as OneRoster 1.1 CSV (what Wonde and Groupcall Xporter
//! export from the MIS), read into staff and families, and planned against
//! what Haven already holds from earlier imports.
//!
//! Files: `orgs.csv` and `users.csv` always, `classes.csv` and
//! `enrollments.csv` when the export has them (they give each pupil's
//! class). `demographics.csv` and the other OneRoster files are not read:
//! nothing in them is needed to invite a family or give staff an account.
//!
//! Headers are matched whatever their case; extra columns are ignored and
//! columns may come in any order. A record whose `status` is anything but
//! `active` (empty counts as active), or whose `enabledUser` is `false`, is
//! gone. Dates (`beginDate`, `endDate`, `dateLastModified`) are not read:
//! this crate has no clock, and the MIS already marks an ended record with
//! its status.
//!
//! Records are matched with earlier imports by `sourcedId` alone: it stays
//! the same from one export to the next, where a name or an email does not.

pub use super::{CsvError, MAX_CSV_ROWS};

use super::class_list::Child;
use super::roles::{Role, RoleGrant};
use super::{normalise_email, read_table_up_to, required_text, Academies, Column, Table};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use uuid::Uuid;

const ORGS: &str = "orgs.csv";
const USERS: &str = "users.csv";
const CLASSES: &str = "classes.csv";
const ENROLLMENTS: &str = "enrollments.csv";

/// The role a member of staff is given at each of their academies. A roster
/// says who teaches, not who leads: the trust names its headteachers, DSLs
/// and e-safety leads in Haven by hand.
pub const ROSTER_STAFF_ROLE: Role = Role::Staff;

/// The most data rows one file of an export may have. A trust's export is
/// larger than a class list: ten secondary schools of 1,000 pupils in ten
/// classes each make 100,000 enrollments (about 7 MB, within the upload
/// limit of 10 MiB).
pub const MAX_ROSTER_ROWS: usize = 100_000;

/// A pupil's class when the export gives neither a class nor a year group.
pub const CLASS_NOT_GIVEN: &str = "Class not given";

/// The text of an export's files. `classes` and `enrollments` are optional:
/// without them each pupil's class is their year group from `users.csv`.
#[derive(Debug, Clone, Copy)]
pub struct RosterFiles<'a> {
    pub orgs: &'a str,
    pub users: &'a str,
    pub classes: Option<&'a str>,
    pub enrollments: Option<&'a str>,
}

/// An export that cannot be read at all: which file, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {error}")]
pub struct RosterError {
    /// The file's name in the export, like "users.csv".
    pub file: &'static str,
    pub error: CsvError,
}

/// One row of one file that was left out or is not quite right, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileProblem {
    /// The file's name in the export, like "users.csv".
    pub file: String,
    /// 1-based line number in the file (the header is line 1).
    pub line: usize,
    /// What is wrong, naming the column and the value, and what to do.
    pub message: String,
}

/// A member of staff: a user with role teacher, aide, administrator or
/// proctor. Each is given [`ROSTER_STAFF_ROLE`] at each of their academies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RosterStaff {
    pub source_id: String,
    /// givenName and familyName.
    pub name: String,
    /// Normalised by [`normalise_email`].
    pub email: String,
    /// The academies of the person's orgs, sorted, each once.
    pub academies: Vec<Uuid>,
    /// False when the export marks the person as gone.
    pub active: bool,
}

impl RosterStaff {
    /// The grants the roster gives: [`ROSTER_STAFF_ROLE`] at each academy.
    pub fn grants(&self) -> Vec<RoleGrant> {
        self.academies
            .iter()
            .map(|&a| RoleGrant {
                role: ROSTER_STAFF_ROLE,
                academy_id: Some(a),
            })
            .collect()
    }
}

/// One parent or carer (role parent, guardian or relative) with their
/// children at one academy: one invitation. A parent or carer with children
/// at two academies makes two families, as a class list does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RosterFamily {
    pub parent_source_id: String,
    pub academy_id: Uuid,
    /// givenName and familyName.
    pub parent_name: String,
    /// Normalised by [`normalise_email`]; none when the export gives none
    /// or gives one that is not an email address (the school then hands the
    /// invitation over in person).
    pub parent_email: Option<String>,
    /// The current pupils at the academy, sorted by name.
    pub children: Vec<Child>,
    /// False when the export marks the parent or carer as gone while their
    /// children stay.
    pub active: bool,
}

/// How much an export held, for the admin to check against the MIS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RosterCounts {
    /// Haven academies matched by a school in orgs.csv.
    pub academies: usize,
    /// Current members of staff read.
    pub staff: usize,
    /// Members of staff listed but marked as gone.
    pub staff_leaving: usize,
    /// Current pupils read.
    pub pupils: usize,
    /// Current parents and carers read.
    pub parents: usize,
    /// Links between a current parent or carer and a current pupil.
    pub links: usize,
    /// Families whose parent or carer is current.
    pub families: usize,
}

/// What an export read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RosterReport {
    /// In users.csv order, the current and the leaving.
    pub staff: Vec<RosterStaff>,
    /// In users.csv order of the parent or carer, then by academy.
    pub families: Vec<RosterFamily>,
    /// By file (orgs, users, classes, enrollments), then by line.
    pub problems: Vec<FileProblem>,
    /// The sourcedIds of current users left out because of a problem, sorted.
    /// A mistake in the export is no reason to take anyone's account away,
    /// so [`plan_roster`] changes nothing for them.
    pub held: Vec<String>,
    pub counts: RosterCounts,
}

/// A column of a OneRoster file. Names are the spec's; [`read_table`]
/// matches them whatever their case.
const fn column(name: &'static str, aliases: &'static [&'static str], required: bool) -> Column {
    Column {
        name,
        aliases,
        required,
    }
}

const ORG_COLUMNS: &[Column] = &[
    column("sourcedId", &["sourcedid"], true),
    column("status", &["status"], false),
    column("name", &["name"], true),
    column("type", &["type"], true),
];

// agentSourcedIds is required although only families need it: without it an
// export would read as one with no families at all.
const USER_COLUMNS: &[Column] = &[
    column("sourcedId", &["sourcedid"], true),
    column("status", &["status"], false),
    column("enabledUser", &["enableduser"], false),
    column("orgSourcedIds", &["orgsourcedids"], true),
    column("role", &["role"], true),
    column("givenName", &["givenname"], true),
    column("familyName", &["familyname"], true),
    column("email", &["email"], true),
    column("agentSourcedIds", &["agentsourcedids"], true),
    column("grades", &["grades"], false),
];

const CLASS_COLUMNS: &[Column] = &[
    column("sourcedId", &["sourcedid"], true),
    column("status", &["status"], false),
    column("title", &["title"], true),
    column("classType", &["classtype"], false),
    column("schoolSourcedId", &["schoolsourcedid"], false),
];

const ENROLLMENT_COLUMNS: &[Column] = &[
    column("sourcedId", &["sourcedid"], true),
    column("status", &["status"], false),
    column("classSourcedId", &["classsourcedid"], true),
    column("userSourcedId", &["usersourcedid"], true),
    column("role", &["role"], true),
];

/// What a user is to Haven, from their OneRoster role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Staff,
    Pupil,
    Parent,
}

fn kind_of(role: &str) -> Option<Kind> {
    match role.to_ascii_lowercase().as_str() {
        "teacher" | "aide" | "administrator" | "proctor" => Some(Kind::Staff),
        "student" => Some(Kind::Pupil),
        "parent" | "guardian" | "relative" => Some(Kind::Parent),
        _ => None,
    }
}

/// Where a user row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Current,
    /// Marked as gone by `status` or `enabledUser`.
    Gone,
    /// Current, but left out because of a problem.
    LeftOut,
}

struct User {
    line: usize,
    id: String,
    /// The role as written, lowercase.
    role: String,
    kind: Option<Kind>,
    state: State,
    name: String,
    email: Option<String>,
    academies: Vec<Uuid>,
    agents: Vec<String>,
    grades: String,
}

/// What an org row is to Haven.
enum Org {
    Academy(Uuid),
    /// Why it is not an academy, as a few words for a message.
    Not(String),
}

#[derive(Clone)]
struct Class {
    title: String,
    homeroom: bool,
    /// The class's academy, when its schoolSourcedId names one.
    academy: Option<Uuid>,
}

/// Problems in file order, whatever order they are found in.
#[derive(Default)]
struct Problems(Vec<FileProblem>);

impl Problems {
    fn add(&mut self, file: &str, line: usize, message: String) {
        self.0.push(FileProblem {
            file: file.to_owned(),
            line,
            message,
        });
    }

    fn sorted(mut self) -> Vec<FileProblem> {
        let rank = |f: &str| {
            [ORGS, USERS, CLASSES, ENROLLMENTS]
                .iter()
                .position(|n| *n == f)
        };
        self.0.sort_by_key(|p| (rank(&p.file), p.line));
        self.0
    }
}

/// Reads a OneRoster 1.1 export. `academies` are the trust's (id, name); each
/// org of type school is matched to one by name, as a class list's academy
/// column is.
///
/// Every row that reads is returned, with a [`FileProblem`] for each that
/// does not: a file that cannot be read, or lacks a column Haven needs, is
/// the only [`RosterError`].
pub fn parse_roster(
    files: &RosterFiles,
    academies: &[(Uuid, String)],
) -> Result<RosterReport, RosterError> {
    let read = |file: &'static str, text: &str, columns: &[Column]| {
        read_table_up_to(text, columns, MAX_ROSTER_ROWS)
            .map_err(|error| RosterError { file, error })
    };
    // An optional file with no rows is as good as none.
    let read_optional = |file: &'static str, text: Option<&str>, columns: &[Column]| match text
        .map(|t| read_table_up_to(t, columns, MAX_ROSTER_ROWS))
    {
        None | Some(Err(CsvError::Empty)) => Ok(None),
        Some(Ok(table)) => Ok(Some(table)),
        Some(Err(error)) => Err(RosterError { file, error }),
    };
    let org_table = read(ORGS, files.orgs, ORG_COLUMNS)?;
    let user_table = read(USERS, files.users, USER_COLUMNS)?;
    let class_table = read_optional(CLASSES, files.classes, CLASS_COLUMNS)?;
    let enrollment_table = read_optional(ENROLLMENTS, files.enrollments, ENROLLMENT_COLUMNS)?;

    let mut problems = Problems::default();
    let orgs = read_orgs(org_table, &Academies(academies), &mut problems);
    let users = read_users(user_table, &orgs, &mut problems);
    let pupil_classes = match (class_table, enrollment_table) {
        (Some(classes), Some(enrollments)) => {
            let classes = read_classes(classes, &orgs, &mut problems);
            read_enrollments(enrollments, &classes, &users, &mut problems)
        }
        // Classes without enrollments, or enrollments without classes, say
        // nothing about who is in which class.
        _ => HashMap::new(),
    };
    let links = link_families(&users, &mut problems);

    let mut report = RosterReport::default();
    for user in users.list.iter().filter(|u| u.kind == Some(Kind::Staff)) {
        let (active, Some(email)) = (user.state == State::Current, &user.email) else {
            continue;
        };
        if active || (user.state == State::Gone && !user.name.is_empty()) {
            report.staff.push(RosterStaff {
                source_id: user.id.clone(),
                name: user.name.clone(),
                email: email.clone(),
                academies: user.academies.clone(),
                active,
            });
        }
    }
    let mut families: BTreeMap<(usize, Uuid), Vec<Child>> = BTreeMap::new();
    for &(parent, pupil) in &links {
        let pupil = &users.list[pupil];
        for &academy in &pupil.academies {
            families.entry((parent, academy)).or_default().push(Child {
                pupil_name: pupil.name.clone(),
                class: class_of(pupil, pupil_classes.get(&pupil.line), academy),
            });
        }
    }
    for ((parent, academy_id), mut children) in families {
        children.sort_by(|a, b| (&a.pupil_name, &a.class).cmp(&(&b.pupil_name, &b.class)));
        let parent = &users.list[parent];
        report.families.push(RosterFamily {
            parent_source_id: parent.id.clone(),
            academy_id,
            parent_name: parent.name.clone(),
            parent_email: parent.email.clone(),
            children,
            active: parent.state == State::Current,
        });
    }

    let current = |kind| {
        users
            .list
            .iter()
            .filter(|u| u.kind == Some(kind) && u.state == State::Current)
            .count()
    };
    report.counts = RosterCounts {
        academies: orgs
            .values()
            .filter_map(|(_, org)| match org {
                Org::Academy(id) => Some(*id),
                Org::Not(_) => None,
            })
            .collect::<HashSet<_>>()
            .len(),
        staff: report.staff.iter().filter(|s| s.active).count(),
        staff_leaving: report.staff.iter().filter(|s| !s.active).count(),
        pupils: current(Kind::Pupil),
        parents: current(Kind::Parent),
        links: links
            .iter()
            .filter(|(p, _)| users.list[*p].state == State::Current)
            .count(),
        families: report.families.iter().filter(|f| f.active).count(),
    };
    report.held = users
        .list
        .iter()
        .filter(|u| u.state == State::LeftOut)
        .map(|u| u.id.clone())
        .collect();
    report.held.sort();
    report.problems = problems.sorted();
    Ok(report)
}

/// Whether a record is current: `status` empty or "active".
fn is_active(status: &str) -> bool {
    status.is_empty() || status.eq_ignore_ascii_case("active")
}

/// The ids in a list cell (OneRoster puts them in one quoted field, split by
/// commas), each once, in order.
fn id_list(cell: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for id in cell.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_owned());
        }
    }
    ids
}

/// A row's sourcedId, or a problem when it is empty or an earlier row's.
fn source_id(
    seen: &mut HashMap<String, usize>,
    label: &str,
    id: &str,
    (file, line): (&str, usize),
    problems: &mut Problems,
) -> Option<String> {
    if id.is_empty() {
        problems.add(
            file,
            line,
            format!("{label} is empty, so this row is left out; every row needs the id the MIS gave it, so export the file again rather than editing it"),
        );
        return None;
    }
    if let Some(first) = seen.get(id) {
        problems.add(
            file,
            line,
            format!("{label} \"{id}\" is already used on line {first}, so this row is left out; each row needs its own id, so export the file again"),
        );
        return None;
    }
    seen.insert(id.to_owned(), line);
    Some(id.to_owned())
}

/// Each org by sourcedId, with its line: the academy a school matches, or
/// why it is not one.
fn read_orgs(
    table: Table,
    academies: &Academies,
    problems: &mut Problems,
) -> HashMap<String, (usize, Org)> {
    let [id_label, _, name_label, _] = &table.labels[..] else {
        unreachable!("read_table gives one label per column");
    };
    let mut seen = HashMap::new();
    let mut orgs = HashMap::new();
    for record in table.records {
        let line = record.line;
        let [id, status, name, kind] = &record.cells[..] else {
            unreachable!("read_table gives one cell per column");
        };
        let Some(id) = source_id(&mut seen, id_label, id, (ORGS, line), problems) else {
            continue;
        };
        let org = if !is_active(status) {
            Org::Not(format!("marked {status}"))
        } else if !kind.eq_ignore_ascii_case("school") {
            Org::Not(match kind.as_str() {
                "" => "an org with no type, not a school".to_owned(),
                kind => format!("a {kind}, not a school"),
            })
        } else {
            match academies.find(name_label, name) {
                Ok(academy) => Org::Academy(academy),
                Err(message) => {
                    problems.add(
                        ORGS,
                        line,
                        format!("{message}; rename the academy in Haven or the school in the MIS so they match, and everyone only at this school is left out until then"),
                    );
                    Org::Not(format!(
                        "the school on line {line} of {ORGS}, which matches no academy"
                    ))
                }
            }
        };
        orgs.insert(id, (line, org));
    }
    orgs
}

/// The rows of users.csv, and each by sourcedId.
struct Users {
    list: Vec<User>,
    by_id: HashMap<String, usize>,
}

fn read_users(
    table: Table,
    orgs: &HashMap<String, (usize, Org)>,
    problems: &mut Problems,
) -> Users {
    let [id_label, _, _, org_label, role_label, given_label, family_label, email_label, _, _] =
        &table.labels[..]
    else {
        unreachable!("read_table gives one label per column");
    };
    let mut seen = HashMap::new();
    let mut users = Users {
        list: Vec::new(),
        by_id: HashMap::new(),
    };
    // The line of each current member of staff's email.
    let mut staff_emails: HashMap<String, usize> = HashMap::new();
    for record in table.records {
        let line = record.line;
        let [id, status, enabled, org_ids, role, given, family, email, agents, grades] =
            &record.cells[..]
        else {
            unreachable!("read_table gives one cell per column");
        };
        let Some(id) = source_id(&mut seen, id_label, id, (USERS, line), problems) else {
            continue;
        };
        let current = is_active(status) && !enabled.eq_ignore_ascii_case("false");
        let mut left_out = Vec::new();
        let mut notes = Vec::new();

        let kind = kind_of(role);
        if kind.is_none() {
            left_out.push(format!("{role_label} \"{role}\" is not a OneRoster 1.1 role; the roles are teacher, student, parent, guardian, relative, aide, administrator and proctor"));
        }
        let name = [given.as_str(), family.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        if let Err(message) = required_text(
            &format!("The name in {given_label} and {family_label}"),
            &name,
            "the person's name",
        ) {
            left_out.push(message);
        }

        let mut academies = Vec::new();
        let mut elsewhere = Vec::new();
        for org in id_list(org_ids) {
            match orgs.get(&org) {
                Some((_, Org::Academy(a))) => academies.push(*a),
                Some((_, Org::Not(why))) => elsewhere.push(format!("\"{org}\" ({why})")),
                None => {
                    elsewhere.push(format!("\"{org}\" (not in {ORGS})"));
                    notes.push(format!("{org_label} names \"{org}\", which is not in {ORGS}; export {ORGS} and {USERS} together"));
                }
            }
        }
        academies.sort();
        academies.dedup();
        // A parent or carer's academies are their children's: exporters differ
        // in which orgs they give parents, some only the trust's.
        if academies.is_empty() && kind != Some(Kind::Parent) {
            notes.clear();
            left_out.push(if elsewhere.is_empty() {
                format!("{org_label} is empty; give the sourcedId of the person's school in {ORGS}")
            } else {
                format!(
                    "This person is at no academy in Haven, so is left out: {org_label} names {}",
                    elsewhere.join(", ")
                )
            });
        }

        let email = match (kind, email.as_str()) {
            (Some(Kind::Parent), "") => None,
            (Some(Kind::Parent), given) => match normalise_email(given) {
                Ok(email) => Some(email),
                Err(m) => {
                    notes.push(format!("{email_label}: {m}; the family is invited without an email until it is put right"));
                    None
                }
            },
            (Some(Kind::Staff), given) => match normalise_email(given) {
                Ok(email) => Some(email),
                Err(m) => {
                    left_out.push(format!("{email_label}: {m}; staff sign in with their email, so this person is left out"));
                    None
                }
            },
            _ => None,
        };
        if let (true, true, Some(Kind::Staff), Some(email)) =
            (current, left_out.is_empty(), kind, &email)
        {
            if let Some(first) = staff_emails.get(email) {
                left_out.push(format!("{email_label} {email} is also given on line {first}; each member of staff needs their own email address, so this person is left out"));
            } else {
                staff_emails.insert(email.clone(), line);
            }
        }

        // A record that is gone needs no putting right.
        let state = match (current, left_out.is_empty()) {
            (false, _) => State::Gone,
            (true, true) => State::Current,
            (true, false) => State::LeftOut,
        };
        if current {
            for message in left_out.into_iter().chain(notes) {
                problems.add(USERS, line, message);
            }
        }
        users.by_id.insert(id.clone(), users.list.len());
        users.list.push(User {
            line,
            id,
            role: role.to_lowercase(),
            kind,
            state,
            name,
            email,
            academies,
            agents: id_list(agents),
            grades: grades.clone(),
        });
    }
    users
}

/// Each class by sourcedId: its index in the list, or none when it is gone
/// or cannot be used.
struct Classes {
    list: Vec<Class>,
    by_id: HashMap<String, Option<usize>>,
}

fn read_classes(
    table: Table,
    orgs: &HashMap<String, (usize, Org)>,
    problems: &mut Problems,
) -> Classes {
    let [id_label, _, title_label, _, _] = &table.labels[..] else {
        unreachable!("read_table gives one label per column");
    };
    let mut seen = HashMap::new();
    let mut classes = Classes {
        list: Vec::new(),
        by_id: HashMap::new(),
    };
    for record in table.records {
        let line = record.line;
        let [id, status, title, class_type, school] = &record.cells[..] else {
            unreachable!("read_table gives one cell per column");
        };
        let Some(id) = source_id(&mut seen, id_label, id, (CLASSES, line), problems) else {
            continue;
        };
        if !is_active(status) {
            classes.by_id.insert(id, None);
            continue;
        }
        if let Err(message) =
            required_text(title_label, title, "the class's name, like 3B or Year 4")
        {
            problems.add(CLASSES, line, message);
            classes.by_id.insert(id, None);
            continue;
        }
        let academy = match orgs.get(school) {
            Some((_, Org::Academy(a))) => Some(*a),
            _ => None,
        };
        classes.by_id.insert(id, Some(classes.list.len()));
        classes.list.push(Class {
            title: title.clone(),
            homeroom: class_type.eq_ignore_ascii_case("homeroom"),
            academy,
        });
    }
    classes
}

/// The classes each pupil is enrolled in as a student, by the pupil's line.
fn read_enrollments(
    table: Table,
    classes: &Classes,
    users: &Users,
    problems: &mut Problems,
) -> HashMap<usize, Vec<Class>> {
    let [id_label, _, class_label, user_label, _] = &table.labels[..] else {
        unreachable!("read_table gives one label per column");
    };
    let mut seen = HashMap::new();
    let mut pupil_classes: HashMap<usize, Vec<Class>> = HashMap::new();
    for record in table.records {
        let line = record.line;
        let [id, status, class, user, role] = &record.cells[..] else {
            unreachable!("read_table gives one cell per column");
        };
        if source_id(&mut seen, id_label, id, (ENROLLMENTS, line), problems).is_none()
            || !is_active(status)
        {
            continue;
        }
        let class = match classes.by_id.get(class) {
            Some(class) => class.map(|i| &classes.list[i]),
            None => {
                problems.add(ENROLLMENTS, line, format!("{class_label} \"{class}\" is not in {CLASSES}; export {CLASSES} and {ENROLLMENTS} together"));
                None
            }
        };
        let user = match users.by_id.get(user) {
            Some(&i) => Some(&users.list[i]),
            None => {
                problems.add(ENROLLMENTS, line, format!("{user_label} \"{user}\" is not in {USERS}; export {USERS} and {ENROLLMENTS} together"));
                None
            }
        };
        if let (Some(class), Some(user), true) = (class, user, role.eq_ignore_ascii_case("student"))
        {
            if user.kind == Some(Kind::Pupil) {
                pupil_classes
                    .entry(user.line)
                    .or_default()
                    .push(class.clone());
            }
        }
    }
    pupil_classes
}

/// A pupil's class at an academy: their homeroom (form) class there, else
/// the first of their classes there by title, else their year group.
fn class_of(pupil: &User, classes: Option<&Vec<Class>>, academy: Uuid) -> String {
    classes
        .into_iter()
        .flatten()
        .filter(|c| c.academy.is_none_or(|a| a == academy))
        .min_by_key(|c| (!c.homeroom, &c.title))
        .map(|c| c.title.clone())
        .unwrap_or_else(|| year_group(&pupil.grades))
}

/// A pupil's year group from `grades`: "04" is "Year 4"; other values (like
/// "Reception") are kept as written.
fn year_group(grades: &str) -> String {
    let grade = grades.split(',').map(str::trim).find(|g| !g.is_empty());
    match grade {
        None => CLASS_NOT_GIVEN.to_owned(),
        Some(g) => match g.parse::<u8>() {
            Ok(n @ 1..=13) if g.bytes().all(|b| b.is_ascii_digit()) => format!("Year {n}"),
            _ => g.to_owned(),
        },
    }
}

/// The links between parents or carers and current pupils, from both sides'
/// agentSourcedIds, as (parent, pupil) indices. A gone parent's links are
/// kept, so their family can be closed; a left-out one's are not.
fn link_families(users: &Users, problems: &mut Problems) -> BTreeSet<(usize, usize)> {
    let mut links = BTreeSet::new();
    let agent_label = "agentSourcedIds";
    for (i, user) in users.list.iter().enumerate() {
        let from_pupil = match (user.kind, user.state) {
            (Some(Kind::Pupil), State::Current) => true,
            (Some(Kind::Parent), State::Current | State::Gone) => false,
            _ => continue,
        };
        let want = if from_pupil {
            Kind::Parent
        } else {
            Kind::Pupil
        };
        for agent in &user.agents {
            let Some(&j) = users.by_id.get(agent) else {
                if user.state == State::Current {
                    let who = if from_pupil {
                        "parents and carers"
                    } else {
                        "pupils"
                    };
                    problems.add(USERS, user.line, format!("{agent_label} names \"{agent}\", who is not in {USERS}; export the {who} too, or put the link right in the MIS"));
                }
                continue;
            };
            let other = &users.list[j];
            if other.kind != Some(want) {
                if user.state == State::Current {
                    let should = if from_pupil {
                        "a parent or carer"
                    } else {
                        "a pupil"
                    };
                    problems.add(USERS, user.line, format!("{agent_label} names \"{agent}\", who is a {} on line {}, not {should}; put the link right in the MIS", other.role, other.line));
                }
                continue;
            }
            let link = if from_pupil { (j, i) } else { (i, j) };
            let (parent, pupil) = (&users.list[link.0], &users.list[link.1]);
            if pupil.state == State::Current && parent.state != State::LeftOut {
                links.insert(link);
            }
        }
    }
    let mut linked = HashSet::new();
    for &(parent, pupil) in &links {
        if users.list[parent].state == State::Current {
            linked.insert(pupil);
        }
    }
    for (i, user) in users.list.iter().enumerate() {
        if user.kind == Some(Kind::Pupil) && user.state == State::Current && !linked.contains(&i) {
            problems.add(USERS, user.line, format!("No current parent or carer in {USERS} is linked to this pupil by {agent_label}, so no invitation includes them; add the link in the MIS"));
        }
    }
    links
}

/// A member of staff Haven holds from an earlier import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KnownStaff {
    pub source_id: String,
    pub user_id: Uuid,
    pub name: String,
    /// Normalised by [`normalise_email`].
    pub email: String,
    /// The academies the roster gave them.
    pub academies: Vec<Uuid>,
    /// False once deactivated.
    pub active: bool,
}

/// A family (an invitation still open) Haven holds from an earlier import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KnownFamily {
    pub parent_source_id: String,
    pub academy_id: Uuid,
    pub invitation_id: Uuid,
    pub parent_name: String,
    pub parent_email: Option<String>,
    pub children: Vec<Child>,
}

/// What Haven holds from earlier roster imports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CurrentRoster {
    pub staff: Vec<KnownStaff>,
    pub families: Vec<KnownFamily>,
}

/// What differs between a member of staff as held and as exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StaffChange {
    Name,
    Email,
    Academies,
    /// Deactivated in Haven, current in the export.
    Reactivated,
}

/// What differs between a family as held and as exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FamilyChange {
    ParentName,
    ParentEmail,
    /// A child joined or left, or a child's name or class changed.
    Children,
}

/// Why someone held is no longer in the roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Departure {
    /// Not in the export at all (for a family: the parent or carer has no
    /// current child at the academy in it).
    NotInExport,
    /// In the export, marked as gone (status or enabledUser).
    MarkedGone,
}

/// A member of staff held whose details changed: `staff` is what to hold now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaffUpdate {
    pub user_id: Uuid,
    pub changes: Vec<StaffChange>,
    pub staff: RosterStaff,
}

/// A member of staff to deactivate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaffLeaver {
    pub user_id: Uuid,
    pub source_id: String,
    pub name: String,
    pub why: Departure,
}

/// A family held whose details changed: `family` is what to hold now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FamilyUpdate {
    pub invitation_id: Uuid,
    pub changes: Vec<FamilyChange>,
    pub family: RosterFamily,
}

/// A family whose invitation to close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FamilyClosure {
    pub invitation_id: Uuid,
    pub parent_source_id: String,
    pub academy_id: Uuid,
    pub parent_name: String,
    pub why: Departure,
}

/// How many of each change a plan makes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RosterPlanSummary {
    pub staff_to_add: usize,
    pub staff_to_update: usize,
    pub staff_to_deactivate: usize,
    /// Held and the same in the export (or deactivated and still gone).
    pub staff_unchanged: usize,
    /// Held, and left as they are because their row has a problem.
    pub staff_held: usize,
    pub families_to_add: usize,
    pub families_to_update: usize,
    pub families_to_close: usize,
    pub families_unchanged: usize,
    /// Held, and left as they are because the parent or carer's row has a problem.
    pub families_held: usize,
}

/// What importing an export would change. Nothing is ever deleted: a leaver
/// is deactivated, so they can no longer sign in, and the agreements they
/// signed stay on record; a family that has gone has its invitation closed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RosterPlan {
    pub staff_to_add: Vec<RosterStaff>,
    pub staff_to_update: Vec<StaffUpdate>,
    pub staff_to_deactivate: Vec<StaffLeaver>,
    pub families_to_add: Vec<RosterFamily>,
    pub families_to_update: Vec<FamilyUpdate>,
    pub families_to_close: Vec<FamilyClosure>,
    pub summary: RosterPlanSummary,
}

impl RosterPlan {
    /// Whether importing would change anything.
    pub fn has_changes(&self) -> bool {
        let s = &self.summary;
        s.staff_to_add
            + s.staff_to_update
            + s.staff_to_deactivate
            + s.families_to_add
            + s.families_to_update
            + s.families_to_close
            > 0
    }
}

/// What importing `report` would change in `current`, matching people by
/// sourcedId alone. New people are added, changed ones updated, and people
/// held who are gone from the export, or marked as gone in it, are
/// deactivated (staff) or closed (families), never deleted. Someone whose
/// row has a problem (in [`RosterReport::held`]) is left as they are.
pub fn plan_roster(report: &RosterReport, current: &CurrentRoster) -> RosterPlan {
    let held: HashSet<&str> = report.held.iter().map(String::as_str).collect();
    let mut plan = RosterPlan::default();
    let mut sum = RosterPlanSummary::default();

    let mut known_staff: HashMap<&str, &KnownStaff> = HashMap::new();
    for k in &current.staff {
        known_staff.entry(k.source_id.as_str()).or_insert(k);
    }
    let mut listed = HashSet::new();
    for staff in &report.staff {
        listed.insert(staff.source_id.as_str());
        match (known_staff.get(staff.source_id.as_str()), staff.active) {
            (None, true) => plan.staff_to_add.push(staff.clone()),
            (None, false) => {}
            (Some(k), true) => {
                let changes = staff_changes(k, staff);
                if changes.is_empty() {
                    sum.staff_unchanged += 1;
                } else {
                    plan.staff_to_update.push(StaffUpdate {
                        user_id: k.user_id,
                        changes,
                        staff: staff.clone(),
                    });
                }
            }
            (Some(k), false) if k.active => plan
                .staff_to_deactivate
                .push(leaver(k, Departure::MarkedGone)),
            (Some(_), false) => sum.staff_unchanged += 1,
        }
    }
    for (id, k) in &known_staff {
        if listed.contains(id) {
            continue;
        }
        if held.contains(id) {
            sum.staff_held += 1;
        } else if k.active {
            plan.staff_to_deactivate
                .push(leaver(k, Departure::NotInExport));
        } else {
            sum.staff_unchanged += 1;
        }
    }

    let mut known_families: HashMap<(&str, Uuid), &KnownFamily> = HashMap::new();
    for k in &current.families {
        known_families
            .entry((k.parent_source_id.as_str(), k.academy_id))
            .or_insert(k);
    }
    let mut listed = HashSet::new();
    for family in &report.families {
        let key = (family.parent_source_id.as_str(), family.academy_id);
        listed.insert(key);
        match (known_families.get(&key), family.active) {
            (None, true) => plan.families_to_add.push(family.clone()),
            (None, false) => {}
            (Some(k), true) => {
                let changes = family_changes(k, family);
                if changes.is_empty() {
                    sum.families_unchanged += 1;
                } else {
                    plan.families_to_update.push(FamilyUpdate {
                        invitation_id: k.invitation_id,
                        changes,
                        family: family.clone(),
                    });
                }
            }
            (Some(k), false) => plan
                .families_to_close
                .push(closure(k, Departure::MarkedGone)),
        }
    }
    for (key, k) in &known_families {
        if listed.contains(key) {
            continue;
        }
        if held.contains(key.0) {
            sum.families_held += 1;
        } else {
            plan.families_to_close
                .push(closure(k, Departure::NotInExport));
        }
    }

    // The hash maps' order is not the file's: people are listed as Haven holds them.
    let staff_order: HashMap<Uuid, usize> = current
        .staff
        .iter()
        .enumerate()
        .map(|(i, k)| (k.user_id, i))
        .rev()
        .collect();
    plan.staff_to_deactivate
        .sort_by_key(|l| staff_order.get(&l.user_id).copied());
    let family_order: HashMap<Uuid, usize> = current
        .families
        .iter()
        .enumerate()
        .map(|(i, k)| (k.invitation_id, i))
        .rev()
        .collect();
    plan.families_to_close
        .sort_by_key(|c| family_order.get(&c.invitation_id).copied());

    plan.summary = RosterPlanSummary {
        staff_to_add: plan.staff_to_add.len(),
        staff_to_update: plan.staff_to_update.len(),
        staff_to_deactivate: plan.staff_to_deactivate.len(),
        families_to_add: plan.families_to_add.len(),
        families_to_update: plan.families_to_update.len(),
        families_to_close: plan.families_to_close.len(),
        ..sum
    };
    plan
}

fn staff_changes(known: &KnownStaff, staff: &RosterStaff) -> Vec<StaffChange> {
    let mut held_academies = known.academies.clone();
    held_academies.sort();
    held_academies.dedup();
    [
        (known.name != staff.name, StaffChange::Name),
        (known.email != staff.email, StaffChange::Email),
        (held_academies != staff.academies, StaffChange::Academies),
        (!known.active, StaffChange::Reactivated),
    ]
    .into_iter()
    .filter_map(|(changed, change)| changed.then_some(change))
    .collect()
}

fn family_changes(known: &KnownFamily, family: &RosterFamily) -> Vec<FamilyChange> {
    fn sorted(children: &[Child]) -> Vec<(&str, &str)> {
        let mut keys: Vec<(&str, &str)> = children
            .iter()
            .map(|c| (c.pupil_name.as_str(), c.class.as_str()))
            .collect();
        keys.sort();
        keys
    }
    [
        (
            known.parent_name != family.parent_name,
            FamilyChange::ParentName,
        ),
        (
            known.parent_email != family.parent_email,
            FamilyChange::ParentEmail,
        ),
        (
            sorted(&known.children) != sorted(&family.children),
            FamilyChange::Children,
        ),
    ]
    .into_iter()
    .filter_map(|(changed, change)| changed.then_some(change))
    .collect()
}

fn leaver(known: &KnownStaff, why: Departure) -> StaffLeaver {
    StaffLeaver {
        user_id: known.user_id,
        source_id: known.source_id.clone(),
        name: known.name.clone(),
        why,
    }
}

fn closure(known: &KnownFamily, why: Departure) -> FamilyClosure {
    FamilyClosure {
        invitation_id: known.invitation_id,
        parent_source_id: known.parent_source_id.clone(),
        academy_id: known.academy_id,
        parent_name: known.parent_name.clone(),
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    const OAK: Uuid = Uuid::from_u128(1);
    const HILL: Uuid = Uuid::from_u128(2);

    fn academies() -> Vec<(Uuid, String)> {
        vec![
            (OAK, "Oakfield Primary Academy".into()),
            (HILL, "Hilltop Academy".into()),
        ]
    }

    const ORGS_CSV: &str =
        "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n\
        trust,active,2024-09-01,Hill and Oak Trust,district,,\n\
        oak,active,2024-09-01,Oakfield Primary Academy,school,URN100,trust\n\
        hill,active,2024-09-01,Hilltop Academy,school,URN200,trust\n";

    const USERS_HEADER: &str = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n";

    /// One row of users.csv in the test model.
    #[derive(Clone)]
    struct U {
        id: String,
        status: &'static str,
        enabled: &'static str,
        orgs: Vec<&'static str>,
        role: &'static str,
        given: String,
        family: String,
        email: String,
        agents: Vec<String>,
        grades: String,
    }

    fn user(id: &str, role: &'static str, orgs: &[&'static str], name: (&str, &str)) -> U {
        U {
            id: id.into(),
            status: "active",
            enabled: "true",
            orgs: orgs.to_vec(),
            role,
            given: name.0.into(),
            family: name.1.into(),
            email: String::new(),
            agents: Vec::new(),
            grades: String::new(),
        }
    }

    /// A list cell, quoted as OneRoster writes it.
    fn list(ids: &[impl AsRef<str>]) -> String {
        let ids: Vec<&str> = ids.iter().map(AsRef::as_ref).collect();
        format!("\"{}\"", ids.join(","))
    }

    fn users_csv(users: &[U]) -> String {
        let mut text = USERS_HEADER.to_owned();
        for u in users {
            text.push_str(&format!(
                "{},{},2024-09-01,{},{},{},{},,{},{},,,{},,,{},{},\n",
                u.id,
                u.status,
                u.enabled,
                list(&u.orgs),
                u.role,
                u.id,
                u.given,
                u.family,
                u.email,
                list(&u.agents),
                u.grades
            ));
        }
        text
    }

    /// An export built as a test wants it, then written as CSV.
    #[derive(Clone)]
    struct Model {
        users: Vec<U>,
        /// (sourcedId, title, classType, schoolSourcedId).
        classes: Vec<(String, String, &'static str, &'static str)>,
        /// (sourcedId, status, classSourcedId, userSourcedId, role).
        enrollments: Vec<(String, &'static str, String, String, &'static str)>,
        /// Each household's pupils and parents or carers.
        households: Vec<(Vec<String>, Vec<String>)>,
    }

    struct Csv {
        users: String,
        classes: String,
        enrollments: String,
    }

    impl Model {
        fn get(&mut self, id: &str) -> &mut U {
            self.users.iter_mut().find(|u| u.id == id).unwrap()
        }

        /// Takes a user out of the export, with their links and enrollments.
        fn remove(&mut self, id: &str) {
            self.users.retain(|u| u.id != id);
            for u in &mut self.users {
                u.agents.retain(|a| a != id);
            }
            self.enrollments.retain(|e| e.3 != id);
        }

        fn enrol(&mut self, user: &str, class: &str, role: &'static str) {
            let id = format!("e-{user}-{class}");
            self.enrollments
                .push((id, "active", class.into(), user.into(), role));
        }

        fn csv(&self) -> Csv {
            let mut classes =
                String::from("sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\n");
            for (id, title, kind, school) in &self.classes {
                classes.push_str(&format!(
                    "{id},active,2024-09-01,{title},,course,{id},{kind},,{school},term1,,,\n"
                ));
            }
            let mut enrollments = String::from(
                "sourcedId,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate,status,dateLastModified\n",
            );
            for (id, status, class, user, role) in &self.enrollments {
                enrollments.push_str(&format!(
                    "{id},{class},,{user},{role},false,2024-09-01,2025-07-20,{status},2024-09-01\n"
                ));
            }
            Csv {
                users: users_csv(&self.users),
                classes,
                enrollments,
            }
        }
    }

    fn parse(csv: &Csv) -> RosterReport {
        parse_roster(
            &RosterFiles {
                orgs: ORGS_CSV,
                users: &csv.users,
                classes: Some(&csv.classes),
                enrollments: Some(&csv.enrollments),
            },
            &academies(),
        )
        .unwrap()
    }

    /// Two academies; 50 staff (every tenth at both); 400 households of four
    /// kinds in turn: two siblings with two parents or carers (one in five
    /// split between the academies), two siblings with one, one pupil with
    /// two, one pupil with one. So 600 pupils, 600 parents and carers, 900
    /// links and 160 + 80 + 100 + 200 + 100 = 640 families. Links are given
    /// by the pupil, by the parent, or by both, in turn. Each pupil is in the
    /// homeroom class of their year, every fifth also in Art (a scheduled
    /// class whose title sorts first); every fiftieth is in no class.
    fn model() -> Model {
        let mut m = Model {
            users: Vec::new(),
            classes: Vec::new(),
            enrollments: Vec::new(),
            households: Vec::new(),
        };
        for (org, short) in [("oak", "Oak"), ("hill", "Hill")] {
            for y in 0..7 {
                let title = match y {
                    0 => format!("{short} Reception"),
                    y => format!("{short} Year {y}"),
                };
                m.classes
                    .push((format!("{org}-y{y}"), title, "homeroom", org));
            }
            m.classes
                .push((format!("{org}-art"), "Art".into(), "scheduled", org));
        }
        let roles = ["teacher", "teacher", "aide", "administrator", "proctor"];
        for i in 0..50 {
            let orgs: &[&str] = match i {
                i if i % 10 == 9 => &["oak", "hill"],
                i if i % 2 == 0 => &["oak"],
                _ => &["hill"],
            };
            let mut s = user(
                &format!("s{i}"),
                roles[i % 5],
                orgs,
                ("Alex", &format!("Staff{i}")),
            );
            s.email = format!("Staff{i}@Trust.Example.org");
            m.users.push(s);
            if i < 14 {
                let class = m.classes[i].0.clone();
                m.enrol(&format!("s{i}"), &class, "teacher");
            }
        }
        let (mut pupils, mut carers) = (0, 0);
        for h in 0..400 {
            let org = if (h / 4) % 2 == 0 { "oak" } else { "hill" };
            let other = if org == "oak" { "hill" } else { "oak" };
            let (n_pupils, n_carers) = [(2, 2), (2, 1), (1, 2), (1, 1)][h % 4];
            let split = h % 4 == 0 && (h / 4) % 5 == 0;
            let mut household = (Vec::new(), Vec::new());
            for k in 0..n_pupils {
                let n = pupils;
                pupils += 1;
                let at = if split && k == 1 { other } else { org };
                let id = format!("p{n}");
                let mut p = user(
                    &id,
                    "student",
                    &[at],
                    (&format!("Pupil{n}"), &format!("Family{h}")),
                );
                let y = n % 7;
                p.grades = match (n, y) {
                    (599, _) => String::new(),
                    (_, 0) => "Reception".into(),
                    (_, y) => format!("{y:02}"),
                };
                m.users.push(p);
                if n % 50 != 49 {
                    m.enrol(&id, &format!("{at}-y{y}"), "student");
                    if n % 5 == 0 {
                        m.enrol(&id, &format!("{at}-art"), "student");
                    }
                }
                household.0.push(id);
            }
            for _ in 0..n_carers {
                let c = carers;
                carers += 1;
                let orgs: &[&str] = if split { &[org, other] } else { &[org] };
                let role = ["parent", "guardian", "relative"][c % 3];
                let mut p = user(
                    &format!("c{c}"),
                    role,
                    orgs,
                    (&format!("Carer{c}"), &format!("Family{h}")),
                );
                if c % 10 != 7 {
                    p.email = format!("carer{c}@home.example.org");
                }
                m.users.push(p);
                household.1.push(format!("c{c}"));
            }
            for id in &household.0 {
                if h % 3 != 1 {
                    m.get(id).agents = household.1.clone();
                }
            }
            for id in &household.1 {
                if h % 3 != 2 {
                    m.get(id).agents = household.0.clone();
                }
            }
            m.households.push(household);
        }
        m
    }

    fn first_export() -> &'static (Model, RosterReport) {
        static FIRST: OnceLock<(Model, RosterReport)> = OnceLock::new();
        FIRST.get_or_init(|| {
            let m = model();
            let report = parse(&m.csv());
            (m, report)
        })
    }

    /// What Haven would hold after importing `report`.
    fn holding(report: &RosterReport) -> CurrentRoster {
        CurrentRoster {
            staff: report
                .staff
                .iter()
                .filter(|s| s.active)
                .enumerate()
                .map(|(i, s)| KnownStaff {
                    source_id: s.source_id.clone(),
                    user_id: Uuid::from_u128(1000 + i as u128),
                    name: s.name.clone(),
                    email: s.email.clone(),
                    academies: s.academies.clone(),
                    active: true,
                })
                .collect(),
            families: report
                .families
                .iter()
                .filter(|f| f.active)
                .enumerate()
                .map(|(i, f)| KnownFamily {
                    parent_source_id: f.parent_source_id.clone(),
                    academy_id: f.academy_id,
                    invitation_id: Uuid::from_u128(100_000 + i as u128),
                    parent_name: f.parent_name.clone(),
                    parent_email: f.parent_email.clone(),
                    children: f.children.iter().rev().cloned().collect(),
                })
                .collect(),
        }
    }

    fn child(pupil_name: &str, class: &str) -> Child {
        Child {
            pupil_name: pupil_name.into(),
            class: class.into(),
        }
    }

    fn family<'r>(report: &'r RosterReport, parent: &str, academy: Uuid) -> &'r RosterFamily {
        report
            .families
            .iter()
            .find(|f| f.parent_source_id == parent && f.academy_id == academy)
            .unwrap()
    }

    #[test]
    fn a_whole_export_reads_into_staff_and_families() {
        let (_, report) = first_export();
        assert_eq!(report.problems, []);
        assert_eq!(report.held, Vec::<String>::new());
        assert_eq!(
            report.counts,
            RosterCounts {
                academies: 2,
                staff: 50,
                staff_leaving: 0,
                pupils: 600,
                parents: 600,
                links: 900,
                families: 640,
            }
        );
        assert_eq!(report.families.len(), 640);
        let children: usize = report.families.iter().map(|f| f.children.len()).sum();
        assert_eq!(children, 320 + 80 + 200 + 200 + 100);
        let s9 = &report.staff[9];
        assert_eq!(
            (s9.source_id.as_str(), s9.name.as_str(), s9.email.as_str()),
            ("s9", "Alex Staff9", "staff9@trust.example.org")
        );
        assert_eq!(s9.academies, [OAK, HILL]);
        assert_eq!(
            s9.grants(),
            [
                RoleGrant {
                    role: Role::Staff,
                    academy_id: Some(OAK)
                },
                RoleGrant {
                    role: Role::Staff,
                    academy_id: Some(HILL)
                },
            ]
        );
        // Household 0 is split: its carers get a family at each academy. Its
        // first pupil's homeroom wins over Art, which sorts first.
        assert_eq!(
            family(report, "c0", OAK).children,
            [child("Pupil0 Family0", "Oak Reception")]
        );
        assert_eq!(
            family(report, "c1", HILL).children,
            [child("Pupil1 Family0", "Hill Year 1")]
        );
        // Pupils in no class: their year group, or a plain fallback.
        let class_of = |pupil: &str| {
            report
                .families
                .iter()
                .flat_map(|f| &f.children)
                .find(|c| c.pupil_name.starts_with(&format!("{pupil} ")))
                .unwrap()
                .class
                .clone()
        };
        assert_eq!(class_of("Pupil49"), "Reception");
        assert_eq!(class_of("Pupil99"), "Year 1");
        assert_eq!(class_of("Pupil599"), CLASS_NOT_GIVEN);
        // c7 has no email; the family stands without one.
        let c7 = report
            .families
            .iter()
            .find(|f| f.parent_source_id == "c7")
            .unwrap();
        assert_eq!(c7.parent_email, None);
    }

    #[test]
    fn an_export_planned_against_what_it_made_changes_nothing() {
        let (_, report) = first_export();
        let plan = plan_roster(report, &holding(report));
        assert!(!plan.has_changes(), "{:?}", plan.summary);
        assert_eq!(
            plan.summary,
            RosterPlanSummary {
                staff_unchanged: 50,
                families_unchanged: 640,
                ..RosterPlanSummary::default()
            }
        );
    }

    #[test]
    fn a_second_export_plans_joiners_leavers_and_changes_and_deletes_nothing() {
        let (first, report) = first_export();
        let mut current = holding(report);
        // s20 was deactivated in Haven by hand; the export still lists them.
        current
            .staff
            .iter_mut()
            .find(|s| s.source_id == "s20")
            .unwrap()
            .active = false;

        let mut m = first.clone();
        let h = |i: usize| first.households[i].clone();
        // Staff: three gone from the export, three marked as gone, four
        // joiners, a name, an email and an academy changed.
        for id in ["s1", "s2", "s3"] {
            m.remove(id);
        }
        m.get("s4").status = "tobedeleted";
        m.get("s5").status = "inactive";
        m.get("s6").enabled = "false";
        m.get("s10").family = "Staff-Jones".into();
        m.get("s11").email = "alex.11@trust.example.org".into();
        m.get("s12").orgs.push("hill");
        for i in 50..54 {
            let mut s = user(
                &format!("s{i}"),
                "teacher",
                &["hill"],
                ("Sam", &format!("New{i}")),
            );
            s.email = format!("new{i}@trust.example.org");
            m.users.push(s);
        }
        // Families: a pupil leaves a one-child family, another is marked as
        // gone, a sibling leaves a two-carer family, a whole household
        // leaves, a carer is marked as gone.
        let (h3, h4, h6, h7, h8) = (h(3), h(4), h(6), h(7), h(8));
        m.remove(&h3.0[0]);
        m.get(&h7.0[0]).status = "tobedeleted";
        m.remove(&h4.0[1]);
        for id in h6.0.iter().chain(&h6.1) {
            m.remove(id);
        }
        m.get(&h8.1[1]).status = "tobedeleted";
        // A class change, a carer's email and another carer's name.
        let (h11, h13, h14, h15) = (h(11), h(13), h(14), h(15));
        let pupil = h11.0[0].clone();
        m.enrollments
            .iter_mut()
            .find(|e| e.3 == pupil && e.2 == "oak-y3")
            .unwrap()
            .2 = "oak-y4".into();
        m.get(&h13.1[0]).email = "new.address@home.example.org".into();
        m.get(&h14.1[0]).family = "Remarried".into();
        // A new household of two siblings and two carers, and a new sibling
        // in an old household.
        let mut newcomers = Vec::new();
        for (id, role) in [
            ("p600", "student"),
            ("p601", "student"),
            ("c600", "parent"),
            ("c601", "guardian"),
        ] {
            newcomers.push(user(
                id,
                role,
                &["hill"],
                (&format!("New{id}"), "Newfamily"),
            ));
        }
        newcomers[0].agents = vec!["c600".into(), "c601".into()];
        newcomers[2].agents = vec!["p600".into(), "p601".into()];
        newcomers[3].agents = vec!["p601".into()];
        m.users.extend(newcomers);
        m.enrol("p600", "hill-y2", "student");
        let mut sibling = user("p602", "student", &["hill"], ("Pupil602", "Family15"));
        sibling.agents = h15.1.clone();
        m.users.push(sibling);

        let second = parse(&m.csv());
        assert_eq!(second.problems, []);
        assert_eq!(
            second.counts,
            RosterCounts {
                academies: 2,
                staff: 48,
                staff_leaving: 3,
                pupils: 599,
                parents: 599,
                links: 897,
                families: 637,
            }
        );
        let plan = plan_roster(&second, &current);
        assert_eq!(
            plan.summary,
            RosterPlanSummary {
                staff_to_add: 4,
                staff_to_update: 4,
                staff_to_deactivate: 6,
                staff_unchanged: 40,
                staff_held: 0,
                families_to_add: 2,
                families_to_update: 6,
                families_to_close: 5,
                families_unchanged: 629,
                families_held: 0,
            }
        );
        let staff_changes: Vec<(&str, &[StaffChange])> = plan
            .staff_to_update
            .iter()
            .map(|u| (u.staff.source_id.as_str(), &u.changes[..]))
            .collect();
        assert_eq!(
            staff_changes,
            [
                ("s10", &[StaffChange::Name][..]),
                ("s11", &[StaffChange::Email]),
                ("s12", &[StaffChange::Academies]),
                ("s20", &[StaffChange::Reactivated]),
            ]
        );
        let leavers: Vec<(&str, Departure)> = plan
            .staff_to_deactivate
            .iter()
            .map(|l| (l.source_id.as_str(), l.why))
            .collect();
        use Departure::{MarkedGone, NotInExport};
        assert_eq!(
            leavers,
            [
                ("s1", NotInExport),
                ("s2", NotInExport),
                ("s3", NotInExport),
                ("s4", MarkedGone),
                ("s5", MarkedGone),
                ("s6", MarkedGone),
            ]
        );
        let family_changes: Vec<(&str, &[FamilyChange])> = plan
            .families_to_update
            .iter()
            .map(|u| (u.family.parent_source_id.as_str(), &u.changes[..]))
            .collect();
        let (c4a, c4b) = (h4.1[0].as_str(), h4.1[1].as_str());
        assert_eq!(
            family_changes,
            [
                (c4a, &[FamilyChange::Children][..]),
                (c4b, &[FamilyChange::Children]),
                (h11.1[0].as_str(), &[FamilyChange::Children]),
                (h13.1[0].as_str(), &[FamilyChange::ParentEmail]),
                (h14.1[0].as_str(), &[FamilyChange::ParentName]),
                (h15.1[0].as_str(), &[FamilyChange::Children]),
            ]
        );
        assert_eq!(
            plan.families_to_update[2].family.children,
            [child("Pupil17 Family11", "Oak Year 4")]
        );
        let closed: Vec<(&str, Departure)> = plan
            .families_to_close
            .iter()
            .map(|c| (c.parent_source_id.as_str(), c.why))
            .collect();
        assert_eq!(
            closed,
            [
                (h3.1[0].as_str(), NotInExport),
                (h6.1[0].as_str(), NotInExport),
                (h6.1[1].as_str(), NotInExport),
                (h7.1[0].as_str(), NotInExport),
                (h8.1[1].as_str(), MarkedGone),
            ]
        );
        let added: Vec<(&str, usize)> = plan
            .families_to_add
            .iter()
            .map(|f| (f.parent_source_id.as_str(), f.children.len()))
            .collect();
        // c601 names only p601, and p600 names c601: the links are the union.
        assert_eq!(added, [("c600", 2), ("c601", 2)]);
        // The dry run goes to the browser as JSON and back.
        let json = serde_json::to_string(&plan).unwrap();
        assert_eq!(serde_json::from_str::<RosterPlan>(&json).unwrap(), plan);
        assert!(json.contains("\"why\":\"marked_gone\""));
    }

    const HEADER: &str =
        "sourcedId,status,enabledUser,orgSourcedIds,role,givenName,familyName,email,agentSourcedIds,grades\n";

    /// A report from orgs.csv and users.csv alone.
    fn read_users(users: &str) -> RosterReport {
        parse_roster(
            &RosterFiles {
                orgs: ORGS_CSV,
                users,
                classes: None,
                enrollments: None,
            },
            &academies(),
        )
        .unwrap()
    }

    fn problems(report: &RosterReport) -> Vec<(&str, usize, &str)> {
        report
            .problems
            .iter()
            .map(|p| (p.file.as_str(), p.line, p.message.as_str()))
            .collect()
    }

    #[test]
    fn quoted_id_lists_and_headers_in_any_case_and_order_are_read() {
        let orgs = "NAME,Type,SOURCEDID,identifier\nOakfield Primary Academy,School,oak,URN1\nHilltop Academy,SCHOOL,hill,URN2\n";
        let users =
            "Email,GIVENNAME,familyname,Role,ORGSOURCEDIDS,sourcedid,AgentSourcedIds,Phone\n\
            Jo@X.org,Jo,Bloggs,Teacher,\"oak, hill\",s1,,0123\n\
            ,Amy,Bloggs,student,hill,p1,\"c1,c1\",\n\
            ,Kim,Bloggs,Guardian,hill,c1,,\n";
        let report = parse_roster(
            &RosterFiles {
                orgs,
                users,
                classes: None,
                enrollments: None,
            },
            &academies(),
        )
        .unwrap();
        assert_eq!(report.problems, []);
        assert_eq!(
            report.staff,
            [RosterStaff {
                source_id: "s1".into(),
                name: "Jo Bloggs".into(),
                email: "jo@x.org".into(),
                academies: vec![OAK, HILL],
                active: true,
            }]
        );
        assert_eq!(
            report.families,
            [RosterFamily {
                parent_source_id: "c1".into(),
                academy_id: HILL,
                parent_name: "Kim Bloggs".into(),
                parent_email: None,
                children: vec![child("Amy Bloggs", CLASS_NOT_GIVEN)],
                active: true,
            }]
        );
    }

    #[test]
    fn a_missing_required_column_is_an_error_naming_the_file_and_the_column() {
        let err = parse_roster(
            &RosterFiles {
                orgs: ORGS_CSV,
                users: "sourcedId,orgSourcedIds,role,givenName,familyName,agentSourcedIds\ns1,oak,teacher,Jo,Bloggs,\n",
                classes: None,
                enrollments: None,
            },
            &academies(),
        )
        .unwrap_err();
        assert_eq!(err.file, "users.csv");
        assert_eq!(
            err.to_string(),
            "users.csv: The first row has no email column (it names: sourcedId, orgSourcedIds, role, givenName, familyName, agentSourcedIds); put the column names in the first row"
        );
        let err = parse_roster(
            &RosterFiles {
                orgs: "sourcedId,name\noak,Oakfield Primary Academy\n",
                users: HEADER,
                classes: None,
                enrollments: None,
            },
            &academies(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("orgs.csv: The first row has no type column"),
            "{err}"
        );
        let err = parse_roster(
            &RosterFiles {
                orgs: ORGS_CSV,
                users: &format!("{HEADER}s1,,,oak,teacher,Jo,Bloggs,jo@x.org,,\n"),
                classes: Some("sourcedId,classType\nk1,homeroom\n"),
                enrollments: None,
            },
            &academies(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("classes.csv: The first row has no title column"),
            "{err}"
        );
    }

    #[test]
    fn an_unreadable_or_oversized_file_is_an_error_naming_the_file() {
        let err = parse_roster(
            &RosterFiles {
                orgs: ORGS_CSV,
                users: HEADER,
                classes: None,
                enrollments: None,
            },
            &academies(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            RosterError {
                file: "users.csv",
                error: CsvError::Empty
            }
        );
        let mut enrollments = String::from("sourcedId,classSourcedId,userSourcedId,role\n");
        for i in 0..=MAX_CSV_ROWS {
            enrollments.push_str(&format!("e{i},k1,p1,student\n"));
        }
        // More than a class list may have is fine for a roster: a secondary
        // school's enrollments alone are about 10,000.
        assert!(parse_roster(
            &RosterFiles {
                orgs: ORGS_CSV,
                users: &format!("{HEADER}s1,,,oak,teacher,Jo,Bloggs,jo@x.org,,\n"),
                classes: Some("sourcedId,title\nk1,3B\n"),
                enrollments: Some(&enrollments),
            },
            &academies(),
        )
        .is_ok());
        for i in MAX_CSV_ROWS + 1..=MAX_ROSTER_ROWS {
            enrollments.push_str(&format!("e{i},k1,p1,student\n"));
        }
        let err = parse_roster(
            &RosterFiles {
                orgs: ORGS_CSV,
                users: &format!("{HEADER}s1,,,oak,teacher,Jo,Bloggs,jo@x.org,,\n"),
                classes: Some("sourcedId,title\nk1,3B\n"),
                enrollments: Some(&enrollments),
            },
            &academies(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            RosterError {
                file: "enrollments.csv",
                error: CsvError::TooManyRows {
                    max: MAX_ROSTER_ROWS
                }
            }
        );
        // A header alone in an optional file is no classes at all.
        let report = parse_roster(
            &RosterFiles {
                orgs: ORGS_CSV,
                users: &format!("{HEADER}s1,,,oak,teacher,Jo,Bloggs,jo@x.org,,\n"),
                classes: Some("sourcedId,title\n"),
                enrollments: Some(""),
            },
            &academies(),
        )
        .unwrap();
        assert_eq!(report.counts.staff, 1);
    }

    #[test]
    fn a_bad_email_leaves_staff_out_but_a_family_is_kept_without_one() {
        let report = read_users(&format!(
            "{HEADER}\
             s1,,,oak,teacher,Jo,Bloggs,jo at x.org,,\n\
             s2,,,oak,aide,Sam,Smith,,,\n\
             p1,,,oak,student,Amy,Patel,,c1,03\n\
             c1,,,oak,parent,Raj,Patel,raj@home,,\n"
        ));
        assert_eq!(
            problems(&report),
            [
                ("users.csv", 2, "email: \"jo at x.org\" has a space or line break in it; an email address looks like name@school.org.uk; staff sign in with their email, so this person is left out"),
                ("users.csv", 3, "email: No email address given; an email address looks like name@school.org.uk; staff sign in with their email, so this person is left out"),
                ("users.csv", 5, "email: \"raj@home\" needs a domain with a dot after the @, like school.org.uk; the family is invited without an email until it is put right"),
            ]
        );
        assert_eq!(report.staff, []);
        assert_eq!(report.held, ["s1", "s2"]);
        assert_eq!(
            report.families,
            [RosterFamily {
                parent_source_id: "c1".into(),
                academy_id: OAK,
                parent_name: "Raj Patel".into(),
                parent_email: None,
                children: vec![child("Amy Patel", "Year 3")],
                active: true,
            }]
        );
    }

    #[test]
    fn an_org_matching_no_academy_is_a_problem_and_who_is_only_there_is_left_out() {
        let orgs = format!("{ORGS_CSV}beech,active,2024-09-01,Beech Academy,school,URN300,trust\n");
        let users = format!(
            "{HEADER}\
             s1,,,beech,teacher,Jo,Bloggs,jo@x.org,,\n\
             s2,,,\"beech,oak\",teacher,Sam,Smith,sam@x.org,,\n\
             s3,,,trust,administrator,Al,Jones,al@x.org,,\n\
             s4,,,\"oak,elm\",teacher,Kim,Lee,kim@x.org,,\n\
             p1,,,oak,student,Amy,Patel,,c1,\n\
             c1,,,trust,parent,Raj,Patel,,,\n\
             p2,,,beech,student,Ben,Okoro,,c2,\n\
             c2,,,beech,parent,Ola,Okoro,,,\n"
        );
        let report = parse_roster(
            &RosterFiles {
                orgs: &orgs,
                users: &users,
                classes: None,
                enrollments: None,
            },
            &academies(),
        )
        .unwrap();
        assert_eq!(
            problems(&report),
            [
                ("orgs.csv", 5, "name \"Beech Academy\" is not one of the trust's academies; use one of: Oakfield Primary Academy, Hilltop Academy; rename the academy in Haven or the school in the MIS so they match, and everyone only at this school is left out until then"),
                ("users.csv", 2, "This person is at no academy in Haven, so is left out: orgSourcedIds names \"beech\" (the school on line 5 of orgs.csv, which matches no academy)"),
                ("users.csv", 4, "This person is at no academy in Haven, so is left out: orgSourcedIds names \"trust\" (a district, not a school)"),
                ("users.csv", 5, "orgSourcedIds names \"elm\", which is not in orgs.csv; export orgs.csv and users.csv together"),
                ("users.csv", 8, "This person is at no academy in Haven, so is left out: orgSourcedIds names \"beech\" (the school on line 5 of orgs.csv, which matches no academy)"),
            ]
        );
        // A carer's academy is their child's, whatever orgs their own row
        // names; Ola's only child is left out, so Ola has no family.
        let families: Vec<(&str, Uuid)> = report
            .families
            .iter()
            .map(|f| (f.parent_source_id.as_str(), f.academy_id))
            .collect();
        assert_eq!(families, [("c1", OAK)]);
        let staff: Vec<(&str, &[Uuid])> = report
            .staff
            .iter()
            .map(|s| (s.source_id.as_str(), &s.academies[..]))
            .collect();
        assert_eq!(staff, [("s2", &[OAK][..]), ("s4", &[OAK])]);
        assert_eq!(report.held, ["p2", "s1", "s3"]);
        assert_eq!(report.counts.academies, 2);
    }

    #[test]
    fn a_pupil_whose_agent_is_missing_is_a_problem_on_their_line() {
        let report = read_users(&format!(
            "{HEADER}\
             p1,,,oak,student,Amy,Patel,,\"c1,c9\",\n\
             c1,,,oak,parent,Raj,Patel,raj@home.org,,\n\
             p2,,,oak,student,Ben,Okoro,,s1,\n\
             s1,,,oak,teacher,Jo,Bloggs,jo@x.org,,\n\
             p3,,,oak,student,Cal,Ode,,,\n\
             c2,,,oak,relative,Ann,Ode,,p9,\n\
             x1,,,oak,caretaker,Bob,Ode,,,\n"
        ));
        assert_eq!(
            problems(&report),
            [
                ("users.csv", 2, "agentSourcedIds names \"c9\", who is not in users.csv; export the parents and carers too, or put the link right in the MIS"),
                ("users.csv", 4, "agentSourcedIds names \"s1\", who is a teacher on line 5, not a parent or carer; put the link right in the MIS"),
                ("users.csv", 4, "No current parent or carer in users.csv is linked to this pupil by agentSourcedIds, so no invitation includes them; add the link in the MIS"),
                ("users.csv", 6, "No current parent or carer in users.csv is linked to this pupil by agentSourcedIds, so no invitation includes them; add the link in the MIS"),
                ("users.csv", 7, "agentSourcedIds names \"p9\", who is not in users.csv; export the pupils too, or put the link right in the MIS"),
                ("users.csv", 8, "role \"caretaker\" is not a OneRoster 1.1 role; the roles are teacher, student, parent, guardian, relative, aide, administrator and proctor"),
            ]
        );
        assert_eq!(report.families.len(), 1);
        assert_eq!(
            report.families[0].children,
            [child("Amy Patel", CLASS_NOT_GIVEN)]
        );
        assert_eq!(report.counts.pupils, 3);
        // c2 has no child: not a family, and no problem of its own for that.
        assert_eq!(report.counts.families, 1);
    }

    #[test]
    fn a_repeated_sourced_id_is_a_problem_on_the_later_line() {
        let report = read_users(&format!(
            "{HEADER}\
             s1,,,oak,teacher,Jo,Bloggs,jo@x.org,,\n\
             s1,,,oak,teacher,Sam,Smith,sam@x.org,,\n\
             ,,,oak,teacher,Al,Jones,al@x.org,,\n\
             s2,,,oak,teacher,Al,Jones,JO@x.org,,\n"
        ));
        assert_eq!(
            problems(&report),
            [
                ("users.csv", 3, "sourcedId \"s1\" is already used on line 2, so this row is left out; each row needs its own id, so export the file again"),
                ("users.csv", 4, "sourcedId is empty, so this row is left out; every row needs the id the MIS gave it, so export the file again rather than editing it"),
                ("users.csv", 5, "email jo@x.org is also given on line 2; each member of staff needs their own email address, so this person is left out"),
            ]
        );
        assert_eq!(report.staff.len(), 1);
        assert_eq!(report.staff[0].name, "Jo Bloggs");
        // The first s1 stands, so a repeat does not hold anyone back.
        assert_eq!(report.held, ["s2"]);
    }

    #[test]
    fn a_carer_with_children_at_two_academies_has_a_family_at_each() {
        let report = read_users(&format!(
            "{HEADER}\
             c1,,,\"oak,hill\",parent,Raj,Patel,Raj@Home.org,\"p1,p2,p3\",\n\
             p1,,,oak,student,Amy,Patel,,,R\n\
             p2,,,hill,student,Ben,Patel,,,07\n\
             p3,,,oak,student,Cal,Patel,,,2\n"
        ));
        assert_eq!(report.problems, []);
        let families: Vec<(Uuid, &[Child])> = report
            .families
            .iter()
            .map(|f| (f.academy_id, &f.children[..]))
            .collect();
        assert_eq!(
            families,
            [
                (
                    OAK,
                    &[child("Amy Patel", "R"), child("Cal Patel", "Year 2")][..]
                ),
                (HILL, &[child("Ben Patel", "Year 7")]),
            ]
        );
        assert!(report
            .families
            .iter()
            .all(|f| f.parent_email.as_deref() == Some("raj@home.org")));
        assert_eq!(report.counts.links, 3);
    }

    #[test]
    fn enabled_user_false_or_a_status_other_than_active_means_gone() {
        let report = read_users(&format!(
            "{HEADER}\
             s1,active,false,oak,teacher,Jo,Bloggs,jo@x.org,,\n\
             s2,tobedeleted,,oak,teacher,Sam,Smith,not an email,,\n\
             s3,Active,TRUE,oak,teacher,Al,Jones,al@x.org,,\n\
             p1,,FALSE,oak,student,Amy,Patel,,c1,\n\
             p2,,,oak,student,Ben,Okoro,,\"c1,c2\",\n\
             c1,inactive,,oak,parent,Raj,Patel,,,\n\
             c2,,false,oak,parent,Ola,Okoro,,,\n"
        ));
        // Nothing about a gone record needs putting right; Ben has no current carer.
        assert_eq!(
            problems(&report),
            [("users.csv", 6, "No current parent or carer in users.csv is linked to this pupil by agentSourcedIds, so no invitation includes them; add the link in the MIS")]
        );
        let staff: Vec<(&str, bool)> = report
            .staff
            .iter()
            .map(|s| (s.source_id.as_str(), s.active))
            .collect();
        assert_eq!(staff, [("s1", false), ("s3", true)]);
        let families: Vec<(&str, bool, usize)> = report
            .families
            .iter()
            .map(|f| (f.parent_source_id.as_str(), f.active, f.children.len()))
            .collect();
        assert_eq!(families, [("c1", false, 1), ("c2", false, 1)]);
        assert_eq!(
            report.counts,
            RosterCounts {
                academies: 2,
                staff: 1,
                staff_leaving: 1,
                pupils: 1,
                parents: 0,
                links: 0,
                families: 0,
            }
        );
    }

    #[test]
    fn a_pupils_class_is_their_homeroom_else_their_first_class_else_their_year() {
        let users = format!(
            "{HEADER}\
             c1,,,\"oak,hill\",parent,Raj,Patel,,\"p1,p2,p3,p4\",\n\
             p1,,,oak,student,Amy,Patel,,,04\n\
             p2,,,oak,student,Ben,Patel,,,05\n\
             p3,,,oak,student,Cal,Patel,,,06\n\
             p4,,,\"oak,hill\",student,Dee,Patel,,,01\n"
        );
        let classes = "sourcedId,status,title,classType,schoolSourcedId\n\
            k1,,Oak 4B,homeroom,oak\n\
            k2,,Art,scheduled,oak\n\
            k3,,Music,scheduled,oak\n\
            k4,tobedeleted,Oak 6A,homeroom,oak\n\
            k5,,Hill 1C,homeroom,hill\n\
            k6,,Oak 1R,homeroom,oak\n";
        let enrollments = "sourcedId,status,classSourcedId,userSourcedId,role\n\
            e1,,k2,p1,student\n\
            e2,,k1,p1,student\n\
            e3,,k3,p2,student\n\
            e4,,k2,p2,student\n\
            e5,,k4,p3,student\n\
            e6,,k1,p3,teacher\n\
            e7,,k5,p4,student\n\
            e8,,k6,p4,student\n\
            e9,inactive,k1,p2,student\n\
            e10,,k9,p1,student\n\
            e11,,k1,nobody,student\n";
        let report = parse_roster(
            &RosterFiles {
                orgs: ORGS_CSV,
                users: &users,
                classes: Some(classes),
                enrollments: Some(enrollments),
            },
            &academies(),
        )
        .unwrap();
        assert_eq!(
            problems(&report),
            [
                ("enrollments.csv", 11, "classSourcedId \"k9\" is not in classes.csv; export classes.csv and enrollments.csv together"),
                ("enrollments.csv", 12, "userSourcedId \"nobody\" is not in users.csv; export users.csv and enrollments.csv together"),
            ]
        );
        assert_eq!(
            family(&report, "c1", OAK).children,
            [
                child("Amy Patel", "Oak 4B"),
                child("Ben Patel", "Art"),
                child("Cal Patel", "Year 6"),
                child("Dee Patel", "Oak 1R"),
            ]
        );
        assert_eq!(
            family(&report, "c1", HILL).children,
            [child("Dee Patel", "Hill 1C")]
        );
    }

    #[test]
    fn someone_whose_row_has_a_problem_is_left_as_they_are() {
        let report = read_users(&format!(
            "{HEADER}\
             s1,,,oak,teacher,Jo,Bloggs,jo@x,,\n\
             c1,,,oak,parent,,,raj@home.org,p1,\n\
             p1,,,oak,student,Amy,Patel,,,\n"
        ));
        assert_eq!(report.held, ["c1", "s1"]);
        let current = CurrentRoster {
            staff: vec![KnownStaff {
                source_id: "s1".into(),
                user_id: Uuid::from_u128(7),
                name: "Jo Bloggs".into(),
                email: "jo@x.org".into(),
                academies: vec![OAK],
                active: true,
            }],
            families: vec![KnownFamily {
                parent_source_id: "c1".into(),
                academy_id: OAK,
                invitation_id: Uuid::from_u128(8),
                parent_name: "Raj Patel".into(),
                parent_email: Some("raj@home.org".into()),
                children: vec![child("Amy Patel", CLASS_NOT_GIVEN)],
            }],
        };
        let plan = plan_roster(&report, &current);
        assert!(!plan.has_changes());
        assert_eq!(
            plan.summary,
            RosterPlanSummary {
                staff_held: 1,
                families_held: 1,
                ..RosterPlanSummary::default()
            }
        );
    }

    /// What a test does to one person or family Haven holds, before planning
    /// the first export against it.
    #[derive(Debug, Clone, Copy)]
    enum Edit {
        Keep,
        /// Not held: the plan adds them.
        Forget,
        /// Held under another name (or class): the plan updates them.
        Alter,
        /// Held as deactivated (staff), or held twice under another parent
        /// id (families): the plan reactivates, or closes the other.
        Other,
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            Just(Edit::Keep),
            Just(Edit::Forget),
            Just(Edit::Alter),
            Just(Edit::Other)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn the_plan_counts_each_difference_once(
            staff_edits in prop::collection::vec(edit(), 50),
            family_edits in prop::collection::vec(edit(), 640),
        ) {
            let (_, report) = first_export();
            let held = holding(report);
            let mut current = CurrentRoster::default();
            for (k, e) in held.staff.into_iter().zip(&staff_edits) {
                match e {
                    Edit::Keep => current.staff.push(k),
                    Edit::Forget => {}
                    Edit::Alter => current.staff.push(KnownStaff { name: format!("{} (was)", k.name), ..k }),
                    Edit::Other => current.staff.push(KnownStaff { active: false, ..k }),
                }
            }
            for (k, e) in held.families.into_iter().zip(&family_edits) {
                match e {
                    Edit::Keep => current.families.push(k),
                    Edit::Forget => {}
                    Edit::Alter => {
                        let mut k = k;
                        k.children[0].class.push_str(" (was)");
                        current.families.push(k);
                    }
                    Edit::Other => {
                        let gone = KnownFamily {
                            parent_source_id: format!("{}-gone", k.parent_source_id),
                            invitation_id: Uuid::from_u128(k.invitation_id.as_u128() + 1_000_000),
                            ..k.clone()
                        };
                        current.families.extend([k, gone]);
                    }
                }
            }
            let count = |edits: &[Edit], want: fn(&Edit) -> bool| edits.iter().filter(|e| want(e)).count();
            let plan = plan_roster(report, &current);
            prop_assert_eq!(plan.summary, RosterPlanSummary {
                staff_to_add: count(&staff_edits, |e| matches!(e, Edit::Forget)),
                staff_to_update: count(&staff_edits, |e| matches!(e, Edit::Alter | Edit::Other)),
                staff_to_deactivate: 0,
                staff_unchanged: count(&staff_edits, |e| matches!(e, Edit::Keep)),
                staff_held: 0,
                families_to_add: count(&family_edits, |e| matches!(e, Edit::Forget)),
                families_to_update: count(&family_edits, |e| matches!(e, Edit::Alter)),
                families_to_close: count(&family_edits, |e| matches!(e, Edit::Other)),
                families_unchanged: count(&family_edits, |e| matches!(e, Edit::Keep | Edit::Other)),
                families_held: 0,
            });
        }
    }
}
