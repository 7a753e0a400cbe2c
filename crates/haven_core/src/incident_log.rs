//! The incident log's rules that do not depend on storage: who may see
//! which incident ([`Visibility`]) and the anonymised report of counts.
//!
//! A trust admin sees every incident; a DSL, e-safety lead or headteacher
//! those at their academies; everyone sees what they reported themselves.

use crate::api::incidents::{IncidentReport, IncidentSummary, ReportCount};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Which incidents a member of staff may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    /// A trust admin: every incident.
    pub all: bool,
    /// Where they are DSL, e-safety lead or headteacher.
    pub academies: Vec<Uuid>,
    /// Their own account: what they reported is always theirs to see.
    pub user_id: String,
}

impl Visibility {
    /// Handles incidents somewhere: may read reports, search by person and
    /// see alerts.
    pub fn is_lead(&self) -> bool {
        self.all || !self.academies.is_empty()
    }

    /// Handles incidents at `academy`: may add follow-ups there.
    pub fn leads(&self, academy: Uuid) -> bool {
        self.all || self.academies.contains(&academy)
    }

    /// May see an incident at `academy` reported by account `reported_by`.
    pub fn sees(&self, reported_by: &str, academy: Uuid) -> bool {
        self.all || reported_by == self.user_id || self.academies.contains(&academy)
    }
}

/// Group labels for the report.
const PUPIL: (&str, &str) = ("pupil", "Pupils");
const STAFF: (&str, &str) = ("staff", "Staff and leaders");

/// Counts of `incidents`: by type, academy, month and group. Nothing in it
/// names a person or repeats what was written.
pub fn report(incidents: &[IncidentSummary], academy_names: &[(Uuid, String)]) -> IncidentReport {
    fn bump(map: &mut BTreeMap<String, (String, u64)>, key: String, label: String) {
        map.entry(key).or_insert((label, 0)).1 += 1;
    }
    let mut by_type = BTreeMap::new();
    let mut by_academy = BTreeMap::new();
    let mut by_month = BTreeMap::new();
    let mut by_group = BTreeMap::new();
    for i in incidents {
        bump(
            &mut by_type,
            i.incident_type.to_string(),
            i.incident_label.clone(),
        );
        let academy_name = academy_names
            .iter()
            .find(|(id, _)| *id == i.academy_id)
            .map_or_else(|| i.academy_id.to_string(), |(_, n)| n.clone());
        bump(&mut by_academy, i.academy_id.to_string(), academy_name);
        let (key, label) = crate::calendar::month_of(i.occurred_at);
        bump(&mut by_month, key, label);
        let (key, label) = if i.involved.is_pupil() { PUPIL } else { STAFF };
        bump(&mut by_group, key.to_owned(), label.to_owned());
    }
    let counts = |map: BTreeMap<String, (String, u64)>| {
        map.into_iter()
            .map(|(key, (label, count))| ReportCount { key, label, count })
            .collect()
    };
    IncidentReport {
        total: incidents.len() as u64,
        by_type: counts(by_type),
        by_academy: counts(by_academy),
        by_month: counts(by_month),
        by_group: counts(by_group),
    }
}

/// The report as CSV rows: grouping, key, label, count (and the total).
pub fn report_rows(report: &IncidentReport) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        "total".to_owned(),
        String::new(),
        "All incidents".to_owned(),
        report.total.to_string(),
    ]];
    for (grouping, counts) in [
        ("type", &report.by_type),
        ("academy", &report.by_academy),
        ("month", &report.by_month),
        ("group", &report.by_group),
    ] {
        for c in counts {
            rows.push(vec![
                grouping.to_owned(),
                c.key.clone(),
                c.label.clone(),
                c.count.to_string(),
            ]);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::IncidentStatus;
    use crate::rules::Involved;
    use crate::slug::Slug;

    const HILLTOP: Uuid = Uuid::from_u128(1);
    const OAKFIELD: Uuid = Uuid::from_u128(2);

    #[test]
    fn a_lead_sees_their_academies_and_everyone_what_they_reported() {
        let dsl = Visibility {
            all: false,
            academies: vec![HILLTOP],
            user_id: "dsl".into(),
        };
        assert!(dsl.sees("teacher", HILLTOP));
        assert!(!dsl.sees("teacher", OAKFIELD));
        assert!(dsl.sees("dsl", OAKFIELD), "what they reported themselves");
        assert!(dsl.is_lead() && dsl.leads(HILLTOP) && !dsl.leads(OAKFIELD));

        let teacher = Visibility {
            all: false,
            academies: vec![],
            user_id: "teacher".into(),
        };
        assert!(teacher.sees("teacher", HILLTOP));
        assert!(!teacher.sees("dsl", HILLTOP));
        assert!(!teacher.is_lead() && !teacher.leads(HILLTOP));

        let admin = Visibility {
            all: true,
            academies: vec![],
            user_id: "admin".into(),
        };
        assert!(admin.sees("teacher", OAKFIELD) && admin.leads(OAKFIELD));
    }

    fn incident(
        academy: Uuid,
        kind: &str,
        involved: Involved,
        occurred_at: i64,
    ) -> IncidentSummary {
        IncidentSummary {
            id: Uuid::nil(),
            academy_id: academy,
            incident_type: Slug::parse(kind).unwrap(),
            incident_label: format!("Label of {kind}"),
            involved,
            illegal: false,
            immediate: false,
            status: IncidentStatus::New,
            occurred_at,
            reported_at: occurred_at,
            received_at: occurred_at,
            reported_by_name: "Ms Teacher".into(),
            overdue: false,
        }
    }

    #[test]
    fn the_report_counts_by_type_academy_month_and_group_and_names_no_one() {
        // 2026-09-01T00:00:00Z and a millisecond before.
        let september = 1_788_220_800_000;
        let incidents = [
            incident(HILLTOP, "cyberbullying", Involved::PupilInLesson, september),
            incident(
                HILLTOP,
                "cyberbullying",
                Involved::PupilInLesson,
                september - 1,
            ),
            incident(OAKFIELD, "misuse", Involved::StaffMember, september),
        ];
        let report = report(&incidents, &[(HILLTOP, "Hilltop".into())]);
        assert_eq!(report.total, 3);
        let counts = |c: &[ReportCount]| {
            c.iter()
                .map(|c| (c.key.clone(), c.label.clone(), c.count))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            counts(&report.by_month),
            [
                ("2026-08".into(), "August 2026".into(), 1),
                ("2026-09".into(), "September 2026".into(), 2)
            ]
        );
        assert_eq!(
            counts(&report.by_academy),
            [
                (HILLTOP.to_string(), "Hilltop".into(), 2),
                (OAKFIELD.to_string(), OAKFIELD.to_string(), 1)
            ],
            "an academy without a name is shown by its id"
        );
        assert_eq!(
            counts(&report.by_group),
            [
                ("pupil".into(), "Pupils".into(), 2),
                ("staff".into(), "Staff and leaders".into(), 1)
            ]
        );
        assert_eq!(report.by_type.len(), 2);
        let rows = report_rows(&report);
        assert_eq!(rows[0], ["total", "", "All incidents", "3"]);
        assert_eq!(rows.len(), 1 + 2 + 2 + 2 + 2);
        assert!(
            !rows.iter().flatten().any(|cell| cell.contains("Teacher")),
            "nobody is named"
        );
    }
}
