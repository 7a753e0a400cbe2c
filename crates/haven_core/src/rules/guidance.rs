//! What the trust's tables say to do about one incident: the sanctions row for
//! the person involved and the reporting routes that apply, read together.

use super::{
    Concern, Involved, PupilAction, ReportingRoute, RuleTables, SanctionAction, StaffAction,
};
use crate::slug::Slug;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The recommended referrals and actions, from the pupil or the staff table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "table", content = "actions", rename_all = "snake_case")]
pub enum Actions {
    Pupil(BTreeSet<PupilAction>),
    Staff(BTreeSet<StaffAction>),
}

impl Actions {
    /// The "refer to ..." columns as words, in column order.
    pub fn referral_labels(&self) -> Vec<&'static str> {
        match self {
            Actions::Pupil(a) => labels(a.iter().filter(|x| x.is_referral())),
            Actions::Staff(a) => labels(a.iter().filter(|x| x.is_referral())),
        }
    }

    /// What may follow (warning, sanction, ...), as words, in column order.
    pub fn outcome_labels(&self) -> Vec<&'static str> {
        match self {
            Actions::Pupil(a) => labels(a.iter().filter(|x| !x.is_referral())),
            Actions::Staff(a) => labels(a.iter().filter(|x| !x.is_referral())),
        }
    }
}

fn labels<'a, A: SanctionAction + 'a>(actions: impl Iterator<Item = &'a A>) -> Vec<&'static str> {
    actions.map(|a| a.label()).collect()
}

/// Everything the tables say about one incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guidance {
    pub incident_type: Slug,
    /// The incident as the table words it.
    pub incident: String,
    pub involved: Involved,
    /// Suspected illegal: report to the police at once and follow the
    /// procedure for illegal incidents (see [`ILLEGAL_INCIDENT_STEPS`]).
    pub illegal: bool,
    pub actions: Actions,
    /// Whom to tell, by when and how: most urgent first, then in table order.
    pub routes: Vec<ReportingRoute>,
}

/// The incident type is not in the table for the person involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{incident_type:?} is not an incident type of the {table} sanctions table")]
pub struct UnknownIncidentType {
    pub incident_type: String,
    pub table: &'static str,
}

/// What to do when an incident may be illegal, in order.
pub const ILLEGAL_INCIDENT_STEPS: [&str; 5] = [
    "Stop. Tell the Designated Safeguarding Lead now; they, or the headteacher, report it to the police straight away.",
    "If you suspect images of child abuse, do not look further, and do not take, print or save screenshots.",
    "Leave the device as it is: do not switch it off, log off or change it. Keep it somewhere safe where no one else can use it.",
    "Write down what you saw, when, and the web addresses if you know them.",
    "Do not investigate yourself or question the people involved.",
];

/// How any other incident is looked into, in order.
pub const INVESTIGATION_STEPS: [&str; 5] = [
    "At least two senior members of staff look into it together.",
    "They use one designated computer, which pupils do not use, for the whole investigation.",
    "They record the web addresses and describe the content; screenshots may be kept.",
    "They decide whether the concern has substance.",
    "They record the outcome: an internal response or disciplinary action, an outside agency, or the police.",
];

impl RuleTables {
    /// What to do about an incident of `incident_type` involving `involved`.
    ///
    /// The routes are those for the person involved and the incident's
    /// concern: illegal or inappropriate, plus content to block when the
    /// incident is illegal or the table refers it to technical staff.
    pub fn guidance(
        &self,
        involved: Involved,
        incident_type: &str,
    ) -> Result<Guidance, UnknownIncidentType> {
        let unknown = |table| UnknownIncidentType {
            incident_type: incident_type.to_owned(),
            table,
        };
        let (id, incident, illegal, actions, technical) = if involved.is_pupil() {
            let row = self
                .pupil_row(incident_type)
                .ok_or_else(|| unknown("pupil"))?;
            let technical = row.actions.contains(&PupilAction::TechnicalStaff);
            (
                &row.id,
                &row.incident,
                row.illegal,
                Actions::Pupil(row.actions.clone()),
                technical,
            )
        } else {
            let row = self
                .staff_row(incident_type)
                .ok_or_else(|| unknown("staff"))?;
            let technical = row.actions.contains(&StaffAction::TechnicalStaff);
            (
                &row.id,
                &row.incident,
                row.illegal,
                Actions::Staff(row.actions.clone()),
                technical,
            )
        };
        let mut concerns = vec![if illegal {
            Concern::Illegal
        } else {
            Concern::Inappropriate
        }];
        if illegal || technical {
            concerns.push(Concern::Filtering);
        }
        let mut routes: Vec<ReportingRoute> = self
            .reporting_routes
            .iter()
            .filter(|r| concerns.iter().any(|c| r.applies_to(involved, *c)))
            .cloned()
            .collect();
        // Stable: routes with the same timescale keep the table's order.
        routes.sort_by_key(|r| r.timescale);
        Ok(Guidance {
            incident_type: id.clone(),
            incident: incident.clone(),
            involved,
            illegal,
            actions,
            routes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Recipient, Timescale};

    fn route_ids(g: &Guidance) -> Vec<&str> {
        g.routes.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn a_pupil_accessing_illegal_material_goes_to_the_police_and_the_dsl_at_once() {
        let tables = RuleTables::trust_default();
        let g = tables
            .guidance(Involved::PupilInLesson, "illegal-material")
            .unwrap();
        assert!(g.illegal);
        let Actions::Pupil(actions) = &g.actions else {
            panic!("a pupil's incident uses the pupil table");
        };
        assert!(actions.contains(&PupilAction::Police));
        assert!(actions.contains(&PupilAction::InformParents));
        assert!(g
            .routes
            .iter()
            .all(|r| r.timescale == Timescale::Immediately));
        assert!(g
            .routes
            .iter()
            .any(|r| r.report_to.contains(&Recipient::Dsl)));
        assert!(g
            .routes
            .iter()
            .any(|r| r.report_to.contains(&Recipient::Police)));
        assert!(g
            .routes
            .iter()
            .any(|r| r.report_to.contains(&Recipient::TechnicalStaff)));
    }

    #[test]
    fn an_inappropriate_act_in_a_lesson_is_reported_the_same_day_to_the_subject_or_pastoral_lead() {
        let tables = RuleTables::trust_default();
        let g = tables
            .guidance(Involved::PupilInLesson, "non-educational-sites-in-lessons")
            .unwrap();
        assert!(!g.illegal);
        assert_eq!(route_ids(&g), ["pupil-inappropriate-in-lesson"]);
        assert_eq!(g.routes[0].timescale, Timescale::SameDay);

        let g = tables
            .guidance(
                Involved::PupilOutsideLesson,
                "non-educational-sites-in-lessons",
            )
            .unwrap();
        assert_eq!(route_ids(&g), ["pupil-inappropriate-outside-lessons"]);
    }

    #[test]
    fn a_pupil_getting_round_the_filtering_also_tells_the_technicians_at_once() {
        let tables = RuleTables::trust_default();
        let g = tables
            .guidance(Involved::PupilOutsideLesson, "bypassing-filtering")
            .unwrap();
        assert_eq!(
            route_ids(&g),
            ["content-to-block", "pupil-inappropriate-outside-lessons"],
            "most urgent first"
        );
    }

    #[test]
    fn concerns_about_staff_climb_to_whoever_is_above_them() {
        let tables = RuleTables::trust_default();
        let to = |who| {
            let g = tables
                .guidance(who, "personal-channels-with-pupils")
                .unwrap();
            g.routes
                .iter()
                .flat_map(|r| r.report_to.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            to(Involved::StaffMember),
            [Recipient::Headteacher, Recipient::EsafetyLead]
        );
        assert_eq!(to(Involved::Headteacher), [Recipient::ChiefExecutive]);
        assert_eq!(to(Involved::ChiefExecutive), [Recipient::ChairOfTrustees]);
    }

    #[test]
    fn staff_using_personal_channels_with_pupils_follows_the_reference_recommendation() {
        let tables = RuleTables::trust_default();
        let g = tables
            .guidance(Involved::StaffMember, "personal-channels-with-pupils")
            .unwrap();
        let Actions::Staff(actions) = &g.actions else {
            panic!("a staff incident uses the staff table");
        };
        for a in [
            StaffAction::Headteacher,
            StaffAction::HrLocalAuthority,
            StaffAction::Lado,
            StaffAction::Warning,
            StaffAction::Disciplinary,
        ] {
            assert!(actions.contains(&a), "{a:?}");
        }
        assert_eq!(
            g.actions.referral_labels(),
            [
                "Refer to the headteacher",
                "Refer to HR or the local authority",
                "Refer to the LADO"
            ]
        );
    }

    #[test]
    fn an_incident_type_of_the_other_table_is_unknown() {
        let tables = RuleTables::trust_default();
        let err = tables
            .guidance(Involved::PupilInLesson, "careless-use-of-personal-data")
            .unwrap_err();
        assert_eq!(err.table, "pupil");
        assert!(tables
            .guidance(Involved::StaffMember, "careless-use-of-personal-data")
            .is_ok());
    }

    #[test]
    fn every_incident_type_has_somewhere_to_report_for_everyone_it_can_involve() {
        let tables = RuleTables::trust_default();
        for involved in Involved::ALL {
            for (id, _) in tables.incident_types(involved) {
                let g = tables.guidance(involved, id.as_str()).unwrap();
                assert!(!g.routes.is_empty(), "{involved:?} / {id}");
            }
        }
    }
}
