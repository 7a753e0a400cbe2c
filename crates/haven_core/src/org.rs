//! The trust, its academies, and the people to contact in each.
//!
//! A trust runs several academies. Each academy names its headteacher, its
//! online (e-safety) lead and its Designated Safeguarding Lead; one person may
//! hold a role at several academies. The trust names its chief executive (the
//! person a concern about a headteacher goes to), the chair of trustees (a
//! concern about the chief executive) and its data protection officer.

use crate::validate::{self, Invalid};
use crate::Millis;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest name of a person or an organisation accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// A named person and how to reach them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::name))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::email))]
    pub email: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::phone))]
    pub phone: Option<String>,
}

impl Contact {
    pub fn validate(&self, field: &str) -> Result<(), Invalid> {
        validate::line(&format!("{field}.name"), &self.name, MAX_NAME_CHARS)?;
        validate::email(&format!("{field}.email"), &self.email)?;
        if let Some(phone) = &self.phone {
            validate::phone(&format!("{field}.phone"), phone)?;
        }
        Ok(())
    }
}

/// The people every academy must name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyPersonnel {
    pub headteacher: Contact,
    /// The online safety (e-safety) lead.
    pub esafety_lead: Contact,
    /// The Designated Safeguarding Lead.
    pub dsl: Contact,
}

impl KeyPersonnel {
    pub fn validate(&self) -> Result<(), Invalid> {
        self.headteacher.validate("key_personnel.headteacher")?;
        self.esafety_lead.validate("key_personnel.esafety_lead")?;
        self.dsl.validate("key_personnel.dsl")
    }
}

/// One school of the trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Academy {
    pub id: Uuid,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::name))]
    pub name: String,
    pub key_personnel: KeyPersonnel,
    /// Server clock when this was last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub updated_at: Millis,
}

/// `PUT /api/v1/academies/{id}`: an academy as an admin writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AcademyInput {
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::name))]
    pub name: String,
    pub key_personnel: KeyPersonnel,
}

impl AcademyInput {
    pub fn validate(&self) -> Result<(), Invalid> {
        validate::line("name", &self.name, MAX_NAME_CHARS)?;
        self.key_personnel.validate()
    }

    pub fn into_academy(self, id: Uuid, updated_at: Millis) -> Academy {
        Academy {
            id,
            name: self.name,
            key_personnel: self.key_personnel,
            updated_at,
        }
    }
}

/// The trust itself: one per server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Trust {
    pub id: Uuid,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::name))]
    pub name: String,
    /// Chief executive (or executive headteacher): hears concerns about a headteacher.
    pub chief_executive: Contact,
    /// Chair of the trust board: hears concerns about the chief executive.
    pub chair_of_trustees: Contact,
    /// Handles subject access requests and data breaches.
    pub data_protection_officer: Contact,
    /// Server clock when this was last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub updated_at: Millis,
}

/// `PUT /api/v1/trust`: the trust as an admin writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrustInput {
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::name))]
    pub name: String,
    pub chief_executive: Contact,
    pub chair_of_trustees: Contact,
    pub data_protection_officer: Contact,
}

impl TrustInput {
    pub fn validate(&self) -> Result<(), Invalid> {
        validate::line("name", &self.name, MAX_NAME_CHARS)?;
        self.chief_executive.validate("chief_executive")?;
        self.chair_of_trustees.validate("chair_of_trustees")?;
        self.data_protection_officer
            .validate("data_protection_officer")
    }

    pub fn into_trust(self, id: Uuid, updated_at: Millis) -> Trust {
        Trust {
            id,
            name: self.name,
            chief_executive: self.chief_executive,
            chair_of_trustees: self.chair_of_trustees,
            data_protection_officer: self.data_protection_officer,
            updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(name: &str) -> Contact {
        Contact {
            name: name.into(),
            email: "someone@school.example.org".into(),
            phone: Some("01632 960001".into()),
        }
    }

    fn academy() -> AcademyInput {
        AcademyInput {
            name: "Oakfield Primary Academy".into(),
            key_personnel: KeyPersonnel {
                headteacher: contact("A Head"),
                esafety_lead: contact("An Lead"),
                dsl: contact("A DSL"),
            },
        }
    }

    #[test]
    fn a_complete_academy_is_valid() {
        assert_eq!(academy().validate(), Ok(()));
    }

    #[test]
    fn a_bad_contact_is_named_by_its_path() {
        let mut a = academy();
        a.key_personnel.dsl.email = "not an email".into();
        let err = a.validate().unwrap_err();
        assert_eq!(err.field, "key_personnel.dsl.email");

        let mut a = academy();
        a.key_personnel.headteacher.name = " ".into();
        assert_eq!(
            a.validate().unwrap_err().field,
            "key_personnel.headteacher.name"
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let json = r#"{"name":"X","key_personnel":{"headteacher":{"name":"a","email":"a@b.org"},
            "esafety_lead":{"name":"a","email":"a@b.org"},"dsl":{"name":"a","email":"a@b.org"},
            "caretaker":{"name":"a","email":"a@b.org"}}}"#;
        let err = serde_json::from_str::<AcademyInput>(json).unwrap_err();
        assert!(err.to_string().contains("caretaker"), "{err}");
    }
}
