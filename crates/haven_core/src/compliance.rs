//! Who has signed what: for each person and each agreement they are asked to
//! sign, whether they signed its current version, only an older one (so they
//! are due to re-sign), declined it, or have not signed; and, for people who
//! joined recently, by when they must. The server's compliance view and the
//! app's "to sign" list both read it from here.

use crate::policy::{Audience, PolicyKind, PolicyOwner, PolicySummary, PolicyVersion};
use crate::Millis;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const DAY_MS: Millis = 24 * 60 * 60 * 1000;

/// Where one person stands on one agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SignStatus {
    /// Agreed to the current version.
    SignedCurrent,
    /// Agreed to an earlier version only: due to re-sign.
    SignedOlder,
    /// Declined the current version.
    Declined,
    /// Never signed any version.
    NotSigned,
}

impl SignStatus {
    pub fn label(self) -> &'static str {
        match self {
            SignStatus::SignedCurrent => "Signed",
            SignStatus::SignedOlder => "Due to re-sign",
            SignStatus::Declined => "Declined",
            SignStatus::NotSigned => "Not signed",
        }
    }

    /// Someone to chase: anything but a signature of the current version.
    pub fn needs_action(self) -> bool {
        self != SignStatus::SignedCurrent
    }
}

/// What compliance needs of a policy's latest version, whether the caller
/// holds the whole version (the app) or a summary (the server's list).
pub trait PolicyFacts {
    fn policy_id(&self) -> Uuid;
    fn version(&self) -> u32;
    fn title(&self) -> &str;
    fn kind(&self) -> PolicyKind;
    fn audiences(&self) -> &[Audience];
    fn owner(&self) -> PolicyOwner;
}

macro_rules! policy_facts {
    ($t:ty) => {
        impl PolicyFacts for $t {
            fn policy_id(&self) -> Uuid {
                self.policy_id
            }
            fn version(&self) -> u32 {
                self.version
            }
            fn title(&self) -> &str {
                &self.title
            }
            fn kind(&self) -> PolicyKind {
                self.kind
            }
            fn audiences(&self) -> &[Audience] {
                &self.audiences
            }
            fn owner(&self) -> PolicyOwner {
                self.owner
            }
        }
    };
}
policy_facts!(PolicyVersion);
policy_facts!(PolicySummary);

/// One of a person's records, reduced to what the status needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signed {
    pub policy_id: Uuid,
    pub version: u32,
    pub agreed: bool,
    pub signed_at: Millis,
}

/// A person's status on `policy` (whose current version is `policy.version`)
/// from all their records. Agreeing to the current version settles it, even
/// after a decline; a decline of the current version counts only when it is
/// the person's last word on it.
pub fn status(policy: &impl PolicyFacts, records: &[Signed]) -> (SignStatus, Option<Signed>) {
    let (policy_id, version) = (policy.policy_id(), policy.version());
    let mine = records.iter().filter(|r| r.policy_id == policy_id);
    let latest = |it: &mut dyn Iterator<Item = &Signed>| it.max_by_key(|r| r.signed_at).copied();
    let current: Vec<&Signed> = mine.clone().filter(|r| r.version == version).collect();
    if let Some(agreed) = latest(&mut current.iter().copied().filter(|r| r.agreed)) {
        return (SignStatus::SignedCurrent, Some(agreed));
    }
    if let Some(declined) = latest(&mut current.iter().copied()) {
        return (SignStatus::Declined, Some(declined));
    }
    if let Some(older) = latest(&mut mine.filter(|r| r.agreed && r.version < version)) {
        return (SignStatus::SignedOlder, Some(older));
    }
    (SignStatus::NotSigned, None)
}

/// The agreements a staff member at `academies` is asked to sign: the latest
/// signable versions written for staff, owned by the trust or one of those
/// academies. `latest` holds the latest version of each policy.
pub fn staff_agreements<'a, P: PolicyFacts>(latest: &'a [P], academies: &[Uuid]) -> Vec<&'a P> {
    agreements_for(latest, academies, &[Audience::Staff])
}

/// The agreements someone signing as any of `audiences` (from their roles:
/// staff, governor, volunteer, community user) at `academies` is asked to
/// sign, by title.
pub fn agreements_for<'a, P: PolicyFacts>(
    latest: &'a [P],
    academies: &[Uuid],
    audiences: &[Audience],
) -> Vec<&'a P> {
    let mut list: Vec<&P> = latest
        .iter()
        .filter(|p| p.kind().is_signable() && p.audiences().iter().any(|a| audiences.contains(a)))
        .filter(|p| match p.owner() {
            PolicyOwner::Trust => true,
            PolicyOwner::Academy { academy_id } => academies.contains(&academy_id),
        })
        .collect();
    list.sort_by(|a, b| a.title().cmp(b.title()));
    list
}

/// When someone who joined at `joined_at` must have signed, given `days`.
pub fn due_by(joined_at: Millis, days: u32) -> Millis {
    joined_at + Millis::from(days) * DAY_MS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyKind;

    fn policy(version: u32) -> PolicyVersion {
        PolicyVersion {
            id: Uuid::from_u128(u128::from(version)),
            policy_id: Uuid::from_u128(100),
            version,
            title: "Staff AUA".into(),
            kind: PolicyKind::StaffAua,
            audiences: vec![Audience::Staff],
            owner: PolicyOwner::Trust,
            body_markdown: String::new(),
            approved_by: String::new(),
            effective_date: String::new(),
            last_reviewed: String::new(),
            next_review_due: String::new(),
            published_at: 0,
            text_sha256: crate::hash::Sha256Hex::default(),
            change_summary: None,
        }
    }

    fn rec(version: u32, agreed: bool, at: Millis) -> Signed {
        Signed {
            policy_id: Uuid::from_u128(100),
            version,
            agreed,
            signed_at: at,
        }
    }

    #[test]
    fn each_status_comes_from_the_records() {
        let p = policy(3);
        assert_eq!(status(&p, &[]).0, SignStatus::NotSigned);
        assert_eq!(status(&p, &[rec(2, true, 1)]).0, SignStatus::SignedOlder);
        assert_eq!(
            status(&p, &[rec(2, true, 1), rec(3, true, 2)]).0,
            SignStatus::SignedCurrent
        );
        assert_eq!(
            status(&p, &[rec(2, true, 1), rec(3, false, 2)]).0,
            SignStatus::Declined
        );
        assert_eq!(
            status(&p, &[rec(3, false, 1), rec(3, true, 2)]).0,
            SignStatus::SignedCurrent,
            "agreeing after declining"
        );
        assert_eq!(
            status(&p, &[rec(2, false, 1)]).0,
            SignStatus::NotSigned,
            "declining an old version signs nothing"
        );
        let other = Signed {
            policy_id: Uuid::from_u128(999),
            ..rec(3, true, 5)
        };
        assert_eq!(
            status(&p, &[other]).0,
            SignStatus::NotSigned,
            "another policy's record"
        );
        assert_eq!(status(&p, &[rec(3, true, 7)]).1.unwrap().signed_at, 7);
    }

    #[test]
    fn staff_are_asked_to_sign_staff_agreements_of_the_trust_and_their_academy() {
        let mine = Uuid::from_u128(1);
        let theirs = Uuid::from_u128(2);
        let mut trust = policy(1);
        trust.title = "B".into();
        let mut academy = policy(1);
        academy.title = "A".into();
        academy.owner = PolicyOwner::Academy { academy_id: mine };
        let mut elsewhere = policy(1);
        elsewhere.owner = PolicyOwner::Academy { academy_id: theirs };
        let mut pupils = policy(1);
        pupils.audiences = vec![Audience::Pupil];
        let mut readonly = policy(1);
        readonly.kind = PolicyKind::EsafetyPolicy;
        let all = [trust, academy, elsewhere, pupils, readonly];
        let titles: Vec<&str> = staff_agreements(&all, &[mine])
            .iter()
            .map(|p| p.title.as_str())
            .collect();
        assert_eq!(titles, ["A", "B"]);
    }

    #[test]
    fn governors_and_community_users_are_asked_to_sign_what_is_written_for_them() {
        let mut staff = policy(1);
        staff.title = "Staff".into();
        let mut community = policy(1);
        community.title = "Community".into();
        community.kind = PolicyKind::CommunityAua;
        community.audiences = vec![Audience::CommunityUser];
        let mut both = policy(1);
        both.title = "Both".into();
        both.audiences = vec![Audience::Staff, Audience::Governor];
        let all = [staff, community, both];
        let titles = |a: &[Audience]| -> Vec<String> {
            agreements_for(&all, &[], a)
                .iter()
                .map(|p| p.title.clone())
                .collect()
        };
        assert_eq!(titles(&[Audience::Governor]), ["Both"]);
        assert_eq!(titles(&[Audience::CommunityUser]), ["Community"]);
        assert_eq!(
            titles(&[Audience::Staff, Audience::CommunityUser]),
            ["Both", "Community", "Staff"]
        );
    }

    #[test]
    fn new_staff_are_due_a_set_number_of_days_after_joining() {
        assert_eq!(due_by(0, 14), 14 * DAY_MS);
    }
}
