//! The user-actions table: what people may and may not do with the trust's
//! systems, and which of those things are against the law.

use super::check_description;
use crate::slug::Slug;
use crate::validate::{self, Invalid};
use serde::{Deserialize, Serialize};

/// Longest name of an Act accepted, in characters.
pub const MAX_LEGISLATION_CHARS: usize = 200;

/// How the trust regards an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Acceptable,
    /// For example at break or after school, or in a lesson when a teacher allows it.
    AcceptableAtCertainTimes,
    /// Only for people whose role needs it, named by the academy.
    AcceptableForNominatedUsers,
    Unacceptable,
    /// Against the law as well as the rules: the police are involved.
    UnacceptableAndIllegal,
}

impl ActionStatus {
    pub const ALL: [ActionStatus; 5] = [
        ActionStatus::Acceptable,
        ActionStatus::AcceptableAtCertainTimes,
        ActionStatus::AcceptableForNominatedUsers,
        ActionStatus::Unacceptable,
        ActionStatus::UnacceptableAndIllegal,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ActionStatus::Acceptable => "Acceptable",
            ActionStatus::AcceptableAtCertainTimes => "Acceptable at certain times",
            ActionStatus::AcceptableForNominatedUsers => "Acceptable for nominated users",
            ActionStatus::Unacceptable => "Unacceptable",
            ActionStatus::UnacceptableAndIllegal => "Unacceptable and illegal",
        }
    }

    pub fn is_illegal(self) -> bool {
        self == ActionStatus::UnacceptableAndIllegal
    }

    /// Whether the action is allowed at all (perhaps only at times or for some).
    pub fn is_allowed(self) -> bool {
        matches!(
            self,
            ActionStatus::Acceptable
                | ActionStatus::AcceptableAtCertainTimes
                | ActionStatus::AcceptableForNominatedUsers
        )
    }
}

/// Headings the table is read under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActionGroup {
    /// Material no one may look at, make, keep, post or pass on.
    Content,
    /// Misuse of computers, networks and data.
    Systems,
    /// Other conduct the trust does not allow on its systems.
    Conduct,
    /// Personal use, where trusts differ and staff and pupils often differ.
    PersonalUse,
}

impl ActionGroup {
    pub fn label(self) -> &'static str {
        match self {
            ActionGroup::Content => "Material no one may view, make, keep or share",
            ActionGroup::Systems => "Computers, networks and data",
            ActionGroup::Conduct => "Other conduct",
            ActionGroup::PersonalUse => "Personal use",
        }
    }
}

/// One row of the user-actions table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UserAction {
    pub id: Slug,
    pub group: ActionGroup,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::description))]
    pub description: String,
    /// Its status for staff (and other adults: governors, volunteers, visitors).
    pub staff: ActionStatus,
    /// Its status for pupils.
    pub pupils: ActionStatus,
    /// The Act that makes it illegal; required when it is.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::legislation))]
    pub legislation: Option<String>,
}

impl UserAction {
    /// Its status for a pupil (`pupil == true`) or for an adult.
    pub fn status_for(&self, pupil: bool) -> ActionStatus {
        if pupil {
            self.pupils
        } else {
            self.staff
        }
    }

    pub fn is_illegal(&self) -> bool {
        self.staff.is_illegal() || self.pupils.is_illegal()
    }

    /// A row is complete; an illegal action names its Act and is illegal for
    /// everyone (the law does not depend on who breaks it).
    pub fn validate(&self, at: &str) -> Result<(), Invalid> {
        check_description(&format!("{at}.description"), &self.description)?;
        if self.staff.is_illegal() != self.pupils.is_illegal() {
            return Err(Invalid::new(
                at,
                format!(
                    "{:?} is illegal for only one of staff and pupils; the law applies to both",
                    self.id.as_str()
                ),
            ));
        }
        match &self.legislation {
            Some(act) => validate::line(&format!("{at}.legislation"), act, MAX_LEGISLATION_CHARS)?,
            None if self.is_illegal() => {
                return Err(Invalid::new(
                    format!("{at}.legislation"),
                    format!(
                        "{:?} is marked illegal, so name the Act it breaks",
                        self.id.as_str()
                    ),
                ))
            }
            None => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(staff: ActionStatus, pupils: ActionStatus, act: Option<&str>) -> UserAction {
        UserAction {
            id: Slug::parse("test-action").unwrap(),
            group: ActionGroup::Content,
            description: "Something".into(),
            staff,
            pupils,
            legislation: act.map(Into::into),
        }
    }

    #[test]
    fn an_illegal_action_must_name_its_act() {
        use ActionStatus::UnacceptableAndIllegal as I;
        let err = action(I, I, None).validate("user_actions[0]").unwrap_err();
        assert_eq!(err.field, "user_actions[0].legislation");
        assert!(action(I, I, Some("Computer Misuse Act 1990"))
            .validate("x")
            .is_ok());
    }

    #[test]
    fn an_action_cannot_be_illegal_for_pupils_only() {
        let a = action(
            ActionStatus::Unacceptable,
            ActionStatus::UnacceptableAndIllegal,
            Some("Some Act"),
        );
        assert!(a.validate("x").is_err());
    }

    #[test]
    fn staff_and_pupils_may_differ_in_the_middle_columns() {
        let a = action(
            ActionStatus::AcceptableAtCertainTimes,
            ActionStatus::Unacceptable,
            None,
        );
        assert_eq!(a.validate("x"), Ok(()));
        assert_eq!(a.status_for(true), ActionStatus::Unacceptable);
        assert_eq!(a.status_for(false), ActionStatus::AcceptableAtCertainTimes);
    }
}
