//! The trust's rule tables: what counts as misuse, what follows an incident,
//! and whom to tell by when.
//!
//! The tables are data each trust edits (`PUT /api/v1/rules` publishes a new
//! version), shipped with a default written from the reference policies
//! ([`RuleTables::trust_default`]). Every row has a stable [`Slug`] id, so an
//! incident logged under one version of the tables still names its type in the
//! next.
//!
//! - [`user_actions`]: each action's status, for staff and for pupils;
//! - [`sanctions`]: incident type → referrals and what may follow, one table for
//!   pupils and one for staff;
//! - [`routes`]: kind of incident → whom to tell, by when, how;
//! - [`guidance`]: the three read together for one incident.

pub mod defaults;
pub mod guidance;
pub mod routes;
pub mod sanctions;
pub mod user_actions;

pub use guidance::{Actions, Guidance, UnknownIncidentType};
pub use routes::{Recipient, ReportMethod, ReportingRoute, Timescale};
pub use sanctions::{
    PupilAction, PupilSanction, SanctionAction, SanctionRow, StaffAction, StaffSanction,
};
pub use user_actions::{ActionGroup, ActionStatus, UserAction};

use crate::slug::Slug;
use crate::validate::{self, Invalid};
use crate::Millis;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most rows a table may have.
pub const MAX_ROWS: usize = 500;
/// Longest description of a row, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// Who an incident is about, as the reporting routes tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Involved {
    /// A pupil, during a lesson.
    PupilInLesson,
    /// A pupil, outside lessons (break, lunch, before or after school, at home).
    PupilOutsideLesson,
    /// A member of staff other than the headteacher or the chief executive.
    StaffMember,
    Headteacher,
    /// The trust's chief executive or executive headteacher.
    ChiefExecutive,
}

impl Involved {
    pub const ALL: [Involved; 5] = [
        Involved::PupilInLesson,
        Involved::PupilOutsideLesson,
        Involved::StaffMember,
        Involved::Headteacher,
        Involved::ChiefExecutive,
    ];

    /// Pupils' incidents are read against the pupil sanctions table, everyone
    /// else's against the staff one.
    pub fn is_pupil(self) -> bool {
        matches!(self, Involved::PupilInLesson | Involved::PupilOutsideLesson)
    }

    pub fn label(self) -> &'static str {
        match self {
            Involved::PupilInLesson => "A pupil, in a lesson",
            Involved::PupilOutsideLesson => "A pupil, outside lessons",
            Involved::StaffMember => "A member of staff",
            Involved::Headteacher => "The headteacher",
            Involved::ChiefExecutive => "The chief executive",
        }
    }
}

/// What kind of concern a reporting route is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Concern {
    /// Suspected illegal activity, or illegal content.
    Illegal,
    /// Misuse that breaks the rules but not the law.
    Inappropriate,
    /// Content that must be removed or blocked, or that needs extra filtering.
    Filtering,
}

impl Concern {
    pub fn label(self) -> &'static str {
        match self {
            Concern::Illegal => "Illegal activity or content",
            Concern::Inappropriate => "Inappropriate activity",
            Concern::Filtering => "Content to remove, block or filter",
        }
    }
}

/// The four tables, as a trust edits them (the body of `PUT /api/v1/rules`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleTables {
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 500))]
    pub user_actions: Vec<UserAction>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<SanctionRow<PupilAction>>, min_items = 1, max_items = 500))]
    pub pupil_sanctions: Vec<PupilSanction>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<SanctionRow<StaffAction>>, min_items = 1, max_items = 500))]
    pub staff_sanctions: Vec<StaffSanction>,
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 500))]
    pub reporting_routes: Vec<ReportingRoute>,
}

/// One published, immutable version of a trust's rule tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RulesVersion {
    pub id: Uuid,
    /// 1 for the first published tables, then 2, 3, ...
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub version: u32,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub published_at: Millis,
    pub tables: RuleTables,
}

impl RuleTables {
    /// The tables every trust starts with; see [`defaults`].
    pub fn trust_default() -> RuleTables {
        defaults::tables()
    }

    /// The pupil sanctions row for an incident type.
    pub fn pupil_row(&self, incident_type: &str) -> Option<&PupilSanction> {
        self.pupil_sanctions.iter().find(|r| r.id == incident_type)
    }

    /// The staff sanctions row for an incident type.
    pub fn staff_row(&self, incident_type: &str) -> Option<&StaffSanction> {
        self.staff_sanctions.iter().find(|r| r.id == incident_type)
    }

    pub fn user_action(&self, id: &str) -> Option<&UserAction> {
        self.user_actions.iter().find(|a| a.id == id)
    }

    /// The incident types that can be logged about `involved`: the ids and
    /// wording of its sanctions table, in table order.
    pub fn incident_types(&self, involved: Involved) -> Vec<(&Slug, &str)> {
        if involved.is_pupil() {
            self.pupil_sanctions
                .iter()
                .map(|r| (&r.id, r.incident.as_str()))
                .collect()
        } else {
            self.staff_sanctions
                .iter()
                .map(|r| (&r.id, r.incident.as_str()))
                .collect()
        }
    }

    /// Checks the tables as a whole: none empty or oversized, ids unique in
    /// each table, and every row complete (see each row type's rules).
    pub fn validate(&self) -> Result<(), Invalid> {
        check_table("user_actions", &self.user_actions, |a| &a.id)?;
        check_table("pupil_sanctions", &self.pupil_sanctions, |r| &r.id)?;
        check_table("staff_sanctions", &self.staff_sanctions, |r| &r.id)?;
        check_table("reporting_routes", &self.reporting_routes, |r| &r.id)?;
        for (i, a) in self.user_actions.iter().enumerate() {
            a.validate(&format!("user_actions[{i}]"))?;
        }
        for (i, r) in self.pupil_sanctions.iter().enumerate() {
            r.validate(&format!("pupil_sanctions[{i}]"))?;
        }
        for (i, r) in self.staff_sanctions.iter().enumerate() {
            r.validate(&format!("staff_sanctions[{i}]"))?;
        }
        for (i, r) in self.reporting_routes.iter().enumerate() {
            r.validate(&format!("reporting_routes[{i}]"))?;
        }
        Ok(())
    }
}

/// A table has 1 to [`MAX_ROWS`] rows with distinct ids.
fn check_table<T>(name: &str, rows: &[T], id: impl Fn(&T) -> &Slug) -> Result<(), Invalid> {
    if rows.is_empty() {
        return Err(Invalid::new(name, "must have at least one row"));
    }
    if rows.len() > MAX_ROWS {
        return Err(Invalid::new(
            name,
            format!("has {} rows; the most allowed is {MAX_ROWS}", rows.len()),
        ));
    }
    for (i, row) in rows.iter().enumerate() {
        if let Some(first) = rows[..i].iter().position(|r| id(r) == id(row)) {
            return Err(Invalid::new(
                format!("{name}[{i}].id"),
                format!("{:?} is already the id of row {first}", id(row).as_str()),
            ));
        }
    }
    Ok(())
}

/// A row's wording: one line of at most [`MAX_DESCRIPTION_CHARS`].
fn check_description(field: &str, value: &str) -> Result<(), Invalid> {
    validate::line(field, value, MAX_DESCRIPTION_CHARS)
}

/// A list that must not be empty or repeat itself.
fn check_list<T: PartialEq>(field: &str, items: &[T]) -> Result<(), Invalid> {
    if items.is_empty() {
        return Err(Invalid::new(field, "must name at least one"));
    }
    for (i, item) in items.iter().enumerate() {
        if items[..i].contains(item) {
            return Err(Invalid::new(field, format!("item {i} is listed twice")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_tables_are_valid() {
        assert_eq!(RuleTables::trust_default().validate(), Ok(()));
    }

    #[test]
    fn the_default_tables_survive_a_json_round_trip() {
        let tables = RuleTables::trust_default();
        let json = serde_json::to_string(&tables).unwrap();
        let back: RuleTables = serde_json::from_str(&json).unwrap();
        assert_eq!(back, tables);
    }

    #[test]
    fn an_empty_table_is_refused() {
        let mut tables = RuleTables::trust_default();
        tables.reporting_routes.clear();
        assert_eq!(tables.validate().unwrap_err().field, "reporting_routes");
    }

    #[test]
    fn a_repeated_id_is_refused_with_where_it_first_appears() {
        let mut tables = RuleTables::trust_default();
        let first = tables.staff_sanctions[0].clone();
        tables.staff_sanctions.push(first);
        let err = tables.validate().unwrap_err();
        assert_eq!(
            err.field,
            format!("staff_sanctions[{}].id", tables.staff_sanctions.len() - 1)
        );
        assert!(err.problem.contains("row 0"), "{err}");
    }

    #[test]
    fn unknown_fields_anywhere_in_the_tables_are_refused() {
        let mut json = serde_json::to_value(RuleTables::trust_default()).unwrap();
        json["pupil_sanctions"][0]["detention_minutes"] = 30.into();
        let err = serde_json::from_value::<RuleTables>(json).unwrap_err();
        assert!(err.to_string().contains("detention_minutes"), "{err}");
    }

    #[test]
    fn incident_types_come_from_the_table_for_the_person_involved() {
        let tables = RuleTables::trust_default();
        assert_eq!(tables.incident_types(Involved::PupilInLesson).len(), 16);
        assert_eq!(tables.incident_types(Involved::Headteacher).len(), 18);
    }
}
