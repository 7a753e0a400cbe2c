//! Reporting routes: for each kind of incident, whom to tell, by when, and how.

use super::{check_description, check_list, Concern, Involved};
use crate::org::{Academy, Contact, Trust};
use crate::slug::Slug;
use crate::validate::Invalid;
use serde::{Deserialize, Serialize};

/// By when a route must be followed. Sorted most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Timescale {
    /// At once: stop what you are doing.
    Immediately,
    /// Before the end of the school day.
    SameDay,
}

impl Timescale {
    pub fn label(self) -> &'static str {
        match self {
            Timescale::Immediately => "Immediately",
            Timescale::SameDay => "The same day",
        }
    }
}

/// Someone a concern is reported to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// The academy's Designated Safeguarding Lead (the child protection team).
    Dsl,
    Headteacher,
    /// The academy's online safety (e-safety) lead.
    EsafetyLead,
    /// The trust's chief executive or executive headteacher.
    ChiefExecutive,
    /// The chair of the trust board.
    ChairOfTrustees,
    /// The on-site technicians or network manager.
    TechnicalStaff,
    /// The head of faculty or subject.
    HeadOfSubject,
    PastoralLeader,
    /// The head of year or house, or progress leader.
    HeadOfYear,
    LineManager,
    /// The Local Authority Designated Officer.
    Lado,
    Police,
    DataProtectionOfficer,
}

impl Recipient {
    pub fn label(self) -> &'static str {
        match self {
            Recipient::Dsl => "Designated Safeguarding Lead",
            Recipient::Headteacher => "Headteacher",
            Recipient::EsafetyLead => "Online safety lead",
            Recipient::ChiefExecutive => "Chief executive",
            Recipient::ChairOfTrustees => "Chair of trustees",
            Recipient::TechnicalStaff => "Technical staff",
            Recipient::HeadOfSubject => "Head of subject",
            Recipient::PastoralLeader => "Pastoral leader",
            Recipient::HeadOfYear => "Head of year",
            Recipient::LineManager => "Line manager",
            Recipient::Lado => "LADO",
            Recipient::Police => "Police",
            Recipient::DataProtectionOfficer => "Data protection officer",
        }
    }

    /// The named person, where the academy or the trust names one; `None` for
    /// roles held by many (heads of year) or outside the trust (the police).
    pub fn contact<'a>(
        self,
        academy: &'a Academy,
        trust: Option<&'a Trust>,
    ) -> Option<&'a Contact> {
        let people = &academy.key_personnel;
        match self {
            Recipient::Dsl => Some(&people.dsl),
            Recipient::Headteacher => Some(&people.headteacher),
            Recipient::EsafetyLead => Some(&people.esafety_lead),
            Recipient::ChiefExecutive => trust.map(|t| &t.chief_executive),
            Recipient::ChairOfTrustees => trust.map(|t| &t.chair_of_trustees),
            Recipient::DataProtectionOfficer => trust.map(|t| &t.data_protection_officer),
            Recipient::TechnicalStaff
            | Recipient::HeadOfSubject
            | Recipient::PastoralLeader
            | Recipient::HeadOfYear
            | Recipient::LineManager
            | Recipient::Lado
            | Recipient::Police => None,
        }
    }
}

/// How a report is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReportMethod {
    /// Face to face, finding the person now.
    InPerson,
    Phone,
    Email,
    /// The academy's safeguarding record system.
    SafeguardingRecord,
    /// The behaviour log of the academy's management information system.
    BehaviourRecord,
    /// An incident logged in Haven.
    IncidentLog,
}

impl ReportMethod {
    pub fn label(self) -> &'static str {
        match self {
            ReportMethod::InPerson => "In person",
            ReportMethod::Phone => "By phone",
            ReportMethod::Email => "By email",
            ReportMethod::SafeguardingRecord => "On the safeguarding record",
            ReportMethod::BehaviourRecord => "On the behaviour log",
            ReportMethod::IncidentLog => "As an incident in Haven",
        }
    }
}

/// One row of the reporting table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReportingRoute {
    pub id: Slug,
    /// The kind of incident, as the policy words it.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::description))]
    pub description: String,
    /// Whom the incident is about.
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeSet<Involved>, min_items = 1))]
    pub involved: Vec<Involved>,
    /// What kind of concern it is.
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeSet<Concern>, min_items = 1))]
    pub concerns: Vec<Concern>,
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeSet<Recipient>, min_items = 1))]
    pub report_to: Vec<Recipient>,
    pub timescale: Timescale,
    /// How to report, in order: for example in person, then on the record.
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeSet<ReportMethod>, min_items = 1))]
    pub how: Vec<ReportMethod>,
}

impl ReportingRoute {
    /// Whether this route applies to a concern about `involved`.
    pub fn applies_to(&self, involved: Involved, concern: Concern) -> bool {
        self.involved.contains(&involved) && self.concerns.contains(&concern)
    }

    /// A route says whom it covers, for what, whom to tell and how.
    pub fn validate(&self, at: &str) -> Result<(), Invalid> {
        check_description(&format!("{at}.description"), &self.description)?;
        check_list(&format!("{at}.involved"), &self.involved)?;
        check_list(&format!("{at}.concerns"), &self.concerns)?;
        check_list(&format!("{at}.report_to"), &self.report_to)?;
        check_list(&format!("{at}.how"), &self.how)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::KeyPersonnel;
    use uuid::Uuid;

    fn contact(name: &str) -> Contact {
        Contact {
            name: name.into(),
            email: "x@school.example.org".into(),
            phone: None,
        }
    }

    #[test]
    fn a_route_must_say_whom_to_tell_and_how() {
        let mut route = super::super::RuleTables::trust_default().reporting_routes[0].clone();
        assert_eq!(route.validate("r"), Ok(()));
        route.report_to.clear();
        assert_eq!(route.validate("r").unwrap_err().field, "r.report_to");
    }

    #[test]
    fn the_academy_names_its_key_people_and_the_police_are_nobody_in_particular() {
        let academy = Academy {
            id: Uuid::from_u128(1),
            name: "Oakfield".into(),
            key_personnel: KeyPersonnel {
                headteacher: contact("Head"),
                esafety_lead: contact("Lead"),
                dsl: contact("DSL"),
            },
            updated_at: 0,
        };
        assert_eq!(Recipient::Dsl.contact(&academy, None).unwrap().name, "DSL");
        assert_eq!(Recipient::ChiefExecutive.contact(&academy, None), None);
        assert_eq!(Recipient::Police.contact(&academy, None), None);
    }
}
