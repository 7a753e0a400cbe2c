//! Who may do what: the roles a person holds, each at one academy (or, for a
//! trust admin, across the trust).

use crate::validate::Invalid;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A role in Haven. Every role but [`Role::TrustAdmin`] is held at one academy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Runs Haven for the whole trust: academies, policies, rules, accounts.
    TrustAdmin,
    Headteacher,
    /// The online safety (e-safety) lead.
    EsafetyLead,
    /// The Designated Safeguarding Lead.
    Dsl,
    Staff,
    /// A governor of the academy: signs, manages nothing.
    Governor,
    /// A volunteer at the academy: signs, manages nothing.
    Volunteer,
    /// Someone from the community using the academy's systems: signs,
    /// manages nothing.
    CommunityUser,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::TrustAdmin,
        Role::Headteacher,
        Role::EsafetyLead,
        Role::Dsl,
        Role::Staff,
        Role::Governor,
        Role::Volunteer,
        Role::CommunityUser,
    ];

    /// The form on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::TrustAdmin => "trust_admin",
            Role::Headteacher => "headteacher",
            Role::EsafetyLead => "esafety_lead",
            Role::Dsl => "dsl",
            Role::Staff => "staff",
            Role::Governor => "governor",
            Role::Volunteer => "volunteer",
            Role::CommunityUser => "community_user",
        }
    }

    /// Whom the role signs agreements as: the audiences a policy is written
    /// for (every employee role signs as staff).
    pub fn audience(self) -> Option<crate::policy::Audience> {
        use crate::policy::Audience;
        match self {
            Role::TrustAdmin => None,
            Role::Headteacher | Role::EsafetyLead | Role::Dsl | Role::Staff => {
                Some(Audience::Staff)
            }
            Role::Governor => Some(Audience::Governor),
            Role::Volunteer => Some(Audience::Volunteer),
            Role::CommunityUser => Some(Audience::CommunityUser),
        }
    }

    /// The name a person reads.
    pub fn label(self) -> &'static str {
        match self {
            Role::TrustAdmin => "Trust admin",
            Role::Headteacher => "Headteacher",
            Role::EsafetyLead => "E-safety lead",
            Role::Dsl => "Designated safeguarding lead (DSL)",
            Role::Staff => "Staff",
            Role::Governor => "Governor",
            Role::Volunteer => "Volunteer",
            Role::CommunityUser => "Community user",
        }
    }

    /// A role as written on the wire, or as a person writes it in a
    /// spreadsheet: case, spaces, hyphens, underscores and other punctuation
    /// are ignored, so "Head teacher", "E-Safety Lead" and each
    /// [`label`](Role::label) all read.
    pub fn parse(s: &str) -> Option<Role> {
        let key: String = s
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        Some(match key.as_str() {
            "trustadmin" | "trustadministrator" => Role::TrustAdmin,
            "headteacher" | "head" | "principal" => Role::Headteacher,
            "esafetylead" | "onlinesafetylead" | "esafety" | "onlinesafety" => Role::EsafetyLead,
            "dsl" | "designatedsafeguardinglead" | "designatedsafeguardingleaddsl" => Role::Dsl,
            "staff" | "teacher" | "staffmember" => Role::Staff,
            "governor" | "localgovernor" => Role::Governor,
            "volunteer" => Role::Volunteer,
            "communityuser" | "community" => Role::CommunityUser,
            _ => return None,
        })
    }

    /// Every role but trust admin is held at one academy.
    pub fn is_academy_role(self) -> bool {
        self != Role::TrustAdmin
    }

    /// The roles that see the most (reports, incidents, every account), for
    /// which the trust can require a second factor (TOTP).
    pub fn second_factor_may_be_required(self) -> bool {
        matches!(self, Role::TrustAdmin | Role::Dsl | Role::EsafetyLead)
    }
}

/// One role held by one person, at one academy unless it is trust admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleGrant {
    pub role: Role,
    /// The academy the role is held at; none for a trust admin.
    pub academy_id: Option<Uuid>,
}

impl RoleGrant {
    /// An academy role names its academy; a trust admin's names none.
    pub fn validate(&self) -> Result<(), Invalid> {
        match (self.role.is_academy_role(), self.academy_id) {
            (true, None) => Err(Invalid::new(
                "academy_id",
                format!(
                    "the role {} is held at one academy; choose which",
                    self.role.label()
                ),
            )),
            (false, Some(_)) => Err(Invalid::new(
                "academy_id",
                "a trust admin acts across the whole trust; leave the academy empty",
            )),
            _ => Ok(()),
        }
    }
}

/// Everything one person holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Grants(pub Vec<RoleGrant>);

impl Grants {
    pub fn is_trust_admin(&self) -> bool {
        self.0.iter().any(|g| g.role == Role::TrustAdmin)
    }

    /// Trust admins may do everything everywhere; others need one of `roles` at `academy` (any academy when None).
    pub fn allows(&self, academy: Option<Uuid>, roles: &[Role]) -> bool {
        self.is_trust_admin()
            || self
                .0
                .iter()
                .any(|g| roles.contains(&g.role) && (academy.is_none() || g.academy_id == academy))
    }

    /// Academies where the person holds one of `roles` (all of `all_academies` for a trust admin).
    ///
    /// Others get the academies of their grants, in grant order, each once.
    pub fn academies_with(&self, roles: &[Role], all_academies: &[Uuid]) -> Vec<Uuid> {
        if self.is_trust_admin() {
            return all_academies.to_vec();
        }
        let mut found = Vec::new();
        for g in &self.0 {
            if let Some(id) = g.academy_id.filter(|_| roles.contains(&g.role)) {
                if !found.contains(&id) {
                    found.push(id);
                }
            }
        }
        found
    }

    /// Holds any role in `required_for` (the roles the trust requires a
    /// second factor for).
    pub fn needs_second_factor(&self, required_for: &[Role]) -> bool {
        self.0.iter().any(|g| required_for.contains(&g.role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OAK: Uuid = Uuid::from_u128(1);
    const ELM: Uuid = Uuid::from_u128(2);

    fn at(role: Role, academy: Uuid) -> RoleGrant {
        RoleGrant {
            role,
            academy_id: Some(academy),
        }
    }

    fn admin() -> RoleGrant {
        RoleGrant {
            role: Role::TrustAdmin,
            academy_id: None,
        }
    }

    #[test]
    fn roles_round_trip_through_their_wire_form_and_serde() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(Role::parse(role.label()), Some(role));
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
    }

    #[test]
    fn roles_parse_from_the_forms_people_write() {
        for (s, role) in [
            ("DSL", Role::Dsl),
            ("Designated safeguarding lead", Role::Dsl),
            ("E-safety lead", Role::EsafetyLead),
            ("Online safety lead", Role::EsafetyLead),
            ("Head teacher", Role::Headteacher),
            ("HEADTEACHER", Role::Headteacher),
            ("Head", Role::Headteacher),
            ("staff", Role::Staff),
            ("Teacher", Role::Staff),
            ("Trust admin", Role::TrustAdmin),
            ("trust-admin", Role::TrustAdmin),
            (" esafety_lead ", Role::EsafetyLead),
            ("Governor", Role::Governor),
            ("Volunteer", Role::Volunteer),
            ("Community user", Role::CommunityUser),
        ] {
            assert_eq!(Role::parse(s), Some(role), "{s}");
        }
        for s in ["", "caretaker", "trustee", "head of year"] {
            assert_eq!(Role::parse(s), None, "{s}");
        }
    }

    #[test]
    fn only_trust_admin_is_held_across_the_trust() {
        let trust_wide: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| !r.is_academy_role())
            .collect();
        assert_eq!(trust_wide, [Role::TrustAdmin]);
    }

    #[test]
    fn a_second_factor_may_be_required_of_admins_dsls_and_esafety_leads() {
        let may: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.second_factor_may_be_required())
            .collect();
        assert_eq!(may, [Role::TrustAdmin, Role::EsafetyLead, Role::Dsl]);
    }

    #[test]
    fn an_academy_role_needs_an_academy_and_a_trust_admin_has_none() {
        assert_eq!(at(Role::Dsl, OAK).validate(), Ok(()));
        assert_eq!(admin().validate(), Ok(()));
        let no_academy = RoleGrant {
            role: Role::Staff,
            academy_id: None,
        };
        assert_eq!(no_academy.validate().unwrap_err().field, "academy_id");
        assert!(at(Role::TrustAdmin, OAK).validate().is_err());
    }

    #[test]
    fn a_trust_admin_is_allowed_everything_everywhere() {
        let grants = Grants(vec![admin()]);
        assert!(grants.is_trust_admin());
        assert!(grants.allows(Some(OAK), &[Role::Dsl]));
        assert!(grants.allows(None, &[]));
        assert_eq!(grants.academies_with(&[Role::Dsl], &[OAK, ELM]), [OAK, ELM]);
    }

    #[test]
    fn others_are_allowed_only_their_roles_at_their_academies() {
        let grants = Grants(vec![at(Role::Dsl, OAK), at(Role::Staff, ELM)]);
        assert!(!grants.is_trust_admin());
        assert!(grants.allows(Some(OAK), &[Role::Dsl, Role::Headteacher]));
        assert!(!grants.allows(Some(ELM), &[Role::Dsl]));
        assert!(grants.allows(Some(ELM), &[Role::Staff]));
        assert!(grants.allows(None, &[Role::Dsl]));
        assert!(!grants.allows(None, &[Role::Headteacher]));
        assert!(!Grants::default().allows(None, &Role::ALL));
    }

    #[test]
    fn academies_with_lists_each_matching_academy_once_in_grant_order() {
        let grants = Grants(vec![
            at(Role::Staff, ELM),
            at(Role::Dsl, OAK),
            at(Role::EsafetyLead, OAK),
        ]);
        let all = [OAK, ELM, Uuid::from_u128(3)];
        assert_eq!(
            grants.academies_with(&[Role::Dsl, Role::EsafetyLead], &all),
            [OAK]
        );
        assert_eq!(grants.academies_with(&Role::ALL, &all), [ELM, OAK]);
        assert!(grants.academies_with(&[Role::Headteacher], &all).is_empty());
    }

    #[test]
    fn a_second_factor_is_needed_when_any_role_held_requires_it() {
        let grants = Grants(vec![at(Role::Staff, OAK), at(Role::Dsl, ELM)]);
        assert!(grants.needs_second_factor(&[Role::Dsl]));
        assert!(!grants.needs_second_factor(&[Role::TrustAdmin, Role::EsafetyLead]));
        assert!(!grants.needs_second_factor(&[]));
    }

    #[test]
    fn grants_serialise_as_a_list() {
        let grants = Grants(vec![admin()]);
        assert_eq!(
            serde_json::to_string(&grants).unwrap(),
            r#"[{"role":"trust_admin","academy_id":null}]"#
        );
    }
}
