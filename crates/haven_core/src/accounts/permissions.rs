//! Who may do what, written once: each [`Capability`] names the roles that
//! have it at their academy (a trust admin has every capability everywhere),
//! and a [`Scope`] is where a person has it. The server checks requests with
//! these and the PWA decides which admin links and controls to show with the
//! same ones.
//!
//! A manager may change a person (roles, active, anything) only if every
//! role that person holds is within the academies the manager manages
//! ([`Scope::may_change`]): one academy's headteacher never reaches a person
//! who also works somewhere else, nor a trust admin.

use super::roles::{Grants, Role, RoleGrant};
use uuid::Uuid;

/// Something a person may be allowed to do at an academy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Invite and import staff, change their roles, deactivate them.
    ManageStaff,
    /// Enrol reception kiosks and shared tablets, list and revoke them.
    ManageDevices,
    /// Invite parents and carers from a class list, list and reissue links.
    ManageParentLinks,
    /// See who at the academy has signed the staff agreements.
    ViewCompliance,
    /// Change the academy's details and its reception rules.
    ManageAcademy,
    /// Read every incident at the academy, its reports and alerts, and add
    /// follow-ups.
    FollowUpIncidents,
}

impl Capability {
    pub const ALL: [Capability; 6] = [
        Capability::ManageStaff,
        Capability::ManageDevices,
        Capability::ManageParentLinks,
        Capability::ViewCompliance,
        Capability::ManageAcademy,
        Capability::FollowUpIncidents,
    ];

    /// The academy roles that have this capability at their academy (trust
    /// admins have it everywhere).
    pub const fn roles(self) -> &'static [Role] {
        match self {
            Capability::ManageStaff | Capability::ManageAcademy => &[Role::Headteacher],
            Capability::ManageDevices
            | Capability::ManageParentLinks
            | Capability::ViewCompliance => &[Role::Headteacher, Role::EsafetyLead],
            Capability::FollowUpIncidents => &[Role::Dsl, Role::EsafetyLead, Role::Headteacher],
        }
    }
}

/// Where a person has a capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every academy, and the trust itself: a trust admin.
    Trust,
    /// These academies only (possibly none).
    Academies(Vec<Uuid>),
}

impl Scope {
    /// Has the capability somewhere.
    pub fn is_empty(&self) -> bool {
        matches!(self, Scope::Academies(a) if a.is_empty())
    }

    /// Includes `academy`.
    pub fn contains(&self, academy: Uuid) -> bool {
        match self {
            Scope::Trust => true,
            Scope::Academies(mine) => mine.contains(&academy),
        }
    }

    /// A grant within the scope: a trust-wide role only for a trust admin.
    pub fn covers(&self, grant: &RoleGrant) -> bool {
        match (self, grant.academy_id) {
            (Scope::Trust, _) => true,
            (Scope::Academies(mine), Some(academy)) => mine.contains(&academy),
            (Scope::Academies(_), None) => false,
        }
    }

    /// Whether a person holding `target` is in this scope's lists: they hold
    /// a role at one of its academies (everyone, for a trust admin).
    pub fn sees(&self, target: &Grants) -> bool {
        matches!(self, Scope::Trust) || target.0.iter().any(|g| self.covers(g))
    }

    /// Whether a person holding `target` may be changed (roles, active,
    /// anything) from this scope: every role they hold is within it, and
    /// they hold at least one (a person with no role left is the trust
    /// admin's to handle).
    pub fn may_change(&self, target: &Grants) -> bool {
        match self {
            Scope::Trust => true,
            Scope::Academies(_) => !target.0.is_empty() && target.0.iter().all(|g| self.covers(g)),
        }
    }

    /// The academies, or `None` for the whole trust.
    pub fn academies(&self) -> Option<&[Uuid]> {
        match self {
            Scope::Trust => None,
            Scope::Academies(mine) => Some(mine),
        }
    }
}

impl Grants {
    /// Where this person has `capability`.
    pub fn scope(&self, capability: Capability) -> Scope {
        if self.is_trust_admin() {
            Scope::Trust
        } else {
            Scope::Academies(self.academies_with(capability.roles(), &[]))
        }
    }

    /// Has `capability` at `academy` (anywhere, when `None`).
    pub fn can(&self, capability: Capability, academy: Option<Uuid>) -> bool {
        self.allows(academy, capability.roles())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OAK: Uuid = Uuid::from_u128(1);
    const HILL: Uuid = Uuid::from_u128(2);

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
    fn each_capability_is_held_by_its_roles_at_their_academy() {
        let head = Grants(vec![at(Role::Headteacher, HILL)]);
        let esafety = Grants(vec![at(Role::EsafetyLead, HILL)]);
        let dsl = Grants(vec![at(Role::Dsl, HILL)]);
        let staff = Grants(vec![at(Role::Staff, HILL)]);
        for cap in Capability::ALL {
            assert!(head.can(cap, Some(HILL)), "{cap:?}");
            assert!(!head.can(cap, Some(OAK)), "{cap:?}");
            assert!(!staff.can(cap, None), "{cap:?}");
            assert!(Grants(vec![admin()]).can(cap, Some(OAK)), "{cap:?}");
        }
        assert!(!esafety.can(Capability::ManageStaff, None));
        assert!(!esafety.can(Capability::ManageAcademy, None));
        assert!(esafety.can(Capability::ManageDevices, Some(HILL)));
        assert!(esafety.can(Capability::ManageParentLinks, Some(HILL)));
        assert!(esafety.can(Capability::ViewCompliance, Some(HILL)));
        assert!(dsl.can(Capability::FollowUpIncidents, Some(HILL)));
        assert!(!dsl.can(Capability::ManageDevices, None));
    }

    #[test]
    fn a_scope_is_the_academies_of_the_capable_roles() {
        let grants = Grants(vec![at(Role::Staff, OAK), at(Role::Headteacher, HILL)]);
        assert_eq!(
            grants.scope(Capability::ManageStaff),
            Scope::Academies(vec![HILL])
        );
        assert!(Grants(vec![at(Role::Staff, OAK)])
            .scope(Capability::ManageStaff)
            .is_empty());
        assert_eq!(
            Grants(vec![admin()]).scope(Capability::ManageStaff),
            Scope::Trust
        );
    }

    #[test]
    fn a_manager_changes_only_people_wholly_within_their_academies() {
        let hill = Scope::Academies(vec![HILL]);
        let theirs = Grants(vec![at(Role::Staff, HILL), at(Role::Dsl, HILL)]);
        let shared = Grants(vec![at(Role::Staff, HILL), at(Role::Headteacher, OAK)]);
        let elsewhere = Grants(vec![at(Role::Headteacher, OAK)]);
        let trust_admin = Grants(vec![admin(), at(Role::Staff, HILL)]);
        assert!(hill.may_change(&theirs));
        assert!(!hill.may_change(&shared));
        assert!(!hill.may_change(&elsewhere));
        assert!(!hill.may_change(&trust_admin));
        assert!(!hill.may_change(&Grants::default()));
        assert!(hill.sees(&shared) && !hill.sees(&elsewhere));
        for g in [
            &theirs,
            &shared,
            &elsewhere,
            &trust_admin,
            &Grants::default(),
        ] {
            assert!(Scope::Trust.may_change(g));
            assert!(Scope::Trust.sees(g));
        }
    }
}
