//! The sanctions tables: for each type of incident, whom it is referred to and
//! what may follow, one table for pupils and one for staff.

use super::check_description;
use crate::slug::Slug;
use crate::validate::Invalid;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A column of a sanctions table.
pub trait SanctionAction: Copy + Ord {
    /// A "refer to ..." column, as opposed to an action taken (a warning, a sanction).
    fn is_referral(self) -> bool;
    fn is_police(self) -> bool;
    fn label(self) -> &'static str;
}

/// The columns of the pupil sanctions table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PupilAction {
    /// Refer to the class teacher or form tutor.
    ClassTeacher,
    SeniorLeader,
    Headteacher,
    Police,
    /// Refer to technical staff, for action on filtering or security.
    TechnicalStaff,
    InformParents,
    /// Remove network or internet access for a time.
    RemoveAccess,
    Warning,
    /// A further sanction under the behaviour policy, such as detention or exclusion.
    FurtherSanction,
}

impl PupilAction {
    pub const ALL: [PupilAction; 9] = [
        PupilAction::ClassTeacher,
        PupilAction::SeniorLeader,
        PupilAction::Headteacher,
        PupilAction::Police,
        PupilAction::TechnicalStaff,
        PupilAction::InformParents,
        PupilAction::RemoveAccess,
        PupilAction::Warning,
        PupilAction::FurtherSanction,
    ];
}

impl SanctionAction for PupilAction {
    fn is_referral(self) -> bool {
        matches!(
            self,
            PupilAction::ClassTeacher
                | PupilAction::SeniorLeader
                | PupilAction::Headteacher
                | PupilAction::Police
                | PupilAction::TechnicalStaff
        )
    }

    fn is_police(self) -> bool {
        self == PupilAction::Police
    }

    fn label(self) -> &'static str {
        match self {
            PupilAction::ClassTeacher => "Refer to the class teacher or tutor",
            PupilAction::SeniorLeader => "Refer to a senior leader",
            PupilAction::Headteacher => "Refer to the headteacher",
            PupilAction::Police => "Refer to the police",
            PupilAction::TechnicalStaff => "Refer to technical staff (filtering, security)",
            PupilAction::InformParents => "Inform parents or carers",
            PupilAction::RemoveAccess => "Remove network or internet access",
            PupilAction::Warning => "Warning",
            PupilAction::FurtherSanction => "Further sanction (such as detention or exclusion)",
        }
    }
}

/// The columns of the staff sanctions table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StaffAction {
    LineManager,
    Headteacher,
    /// Refer to HR or the local authority.
    HrLocalAuthority,
    /// Refer to the Local Authority Designated Officer (allegations about adults
    /// who work with children).
    Lado,
    Police,
    /// Refer to technical staff, for action on filtering or security.
    TechnicalStaff,
    Warning,
    Suspension,
    Disciplinary,
}

impl StaffAction {
    pub const ALL: [StaffAction; 9] = [
        StaffAction::LineManager,
        StaffAction::Headteacher,
        StaffAction::HrLocalAuthority,
        StaffAction::Lado,
        StaffAction::Police,
        StaffAction::TechnicalStaff,
        StaffAction::Warning,
        StaffAction::Suspension,
        StaffAction::Disciplinary,
    ];
}

impl SanctionAction for StaffAction {
    fn is_referral(self) -> bool {
        matches!(
            self,
            StaffAction::LineManager
                | StaffAction::Headteacher
                | StaffAction::HrLocalAuthority
                | StaffAction::Lado
                | StaffAction::Police
                | StaffAction::TechnicalStaff
        )
    }

    fn is_police(self) -> bool {
        self == StaffAction::Police
    }

    fn label(self) -> &'static str {
        match self {
            StaffAction::LineManager => "Refer to the line manager",
            StaffAction::Headteacher => "Refer to the headteacher",
            StaffAction::HrLocalAuthority => "Refer to HR or the local authority",
            StaffAction::Lado => "Refer to the LADO",
            StaffAction::Police => "Refer to the police",
            StaffAction::TechnicalStaff => "Refer to technical staff (filtering, security)",
            StaffAction::Warning => "Warning",
            StaffAction::Suspension => "Suspension",
            StaffAction::Disciplinary => "Disciplinary action",
        }
    }
}

/// One row: an incident type and the table's recommendation for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SanctionRow<A: Ord> {
    /// The incident type. A pupil row and a staff row with the same id are the
    /// same kind of incident.
    pub id: Slug,
    /// The incident, as a person logging it would recognise it.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::description))]
    pub incident: String,
    /// Suspected illegal activity: the police are told and the procedure for
    /// illegal incidents is followed.
    pub illegal: bool,
    /// The ticked columns: referrals first, then what may follow.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<A>))]
    pub actions: BTreeSet<A>,
}

pub type PupilSanction = SanctionRow<PupilAction>;
pub type StaffSanction = SanctionRow<StaffAction>;

impl<A: SanctionAction> SanctionRow<A> {
    pub fn referrals(&self) -> impl Iterator<Item = A> + '_ {
        self.actions.iter().copied().filter(|a| a.is_referral())
    }

    pub fn refers_to_police(&self) -> bool {
        self.actions.iter().any(|a| a.is_police())
    }

    /// A row is worded, refers the incident to someone, and, when the incident
    /// is illegal, to the police.
    pub fn validate(&self, at: &str) -> Result<(), Invalid> {
        check_description(&format!("{at}.incident"), &self.incident)?;
        if self.referrals().next().is_none() {
            return Err(Invalid::new(
                format!("{at}.actions"),
                format!(
                    "{:?} must be referred to someone (a \"refer to\" column)",
                    self.id.as_str()
                ),
            ));
        }
        if self.illegal && !self.refers_to_police() {
            return Err(Invalid::new(
                format!("{at}.actions"),
                format!(
                    "{:?} is an illegal incident, so it must be referred to the police",
                    self.id.as_str()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(illegal: bool, actions: &[PupilAction]) -> PupilSanction {
        SanctionRow {
            id: Slug::parse("test-incident").unwrap(),
            incident: "Something happened".into(),
            illegal,
            actions: actions.iter().copied().collect(),
        }
    }

    #[test]
    fn a_row_with_only_a_warning_is_refused() {
        let err = row(false, &[PupilAction::Warning])
            .validate("pupil_sanctions[2]")
            .unwrap_err();
        assert_eq!(err.field, "pupil_sanctions[2].actions");
        assert!(
            row(false, &[PupilAction::ClassTeacher, PupilAction::Warning])
                .validate("x")
                .is_ok()
        );
    }

    #[test]
    fn an_illegal_incident_must_go_to_the_police() {
        assert!(row(true, &[PupilAction::Headteacher])
            .validate("x")
            .is_err());
        assert!(row(true, &[PupilAction::Police]).validate("x").is_ok());
    }

    #[test]
    fn actions_are_kept_in_column_order_whatever_order_they_arrive_in() {
        let json = r#"{"id":"x","incident":"X","illegal":false,
            "actions":["further_sanction","headteacher","inform_parents"]}"#;
        let row: PupilSanction = serde_json::from_str(json).unwrap();
        let order: Vec<_> = row.actions.into_iter().collect();
        assert_eq!(
            order,
            [
                PupilAction::Headteacher,
                PupilAction::InformParents,
                PupilAction::FurtherSanction
            ]
        );
    }

    #[test]
    fn a_staff_column_is_not_a_pupil_column() {
        let json = r#"{"id":"x","incident":"X","illegal":false,"actions":["lado"]}"#;
        assert!(serde_json::from_str::<PupilSanction>(json).is_err());
        assert!(serde_json::from_str::<StaffSanction>(json).is_ok());
    }
}
