//! Demo data for a fictional trust, loaded into an empty database so a first
//! run shows something real: Riverside Learning Trust, its two academies
//! (Oakfield Primary Academy and Hilltop Secondary Academy) with their key
//! personnel, its online safety policy (about 40 KB, which doubles as the
//! benchmark document), one agreement of each signable kind, and one admin.
//! The default rule tables are published at every start-up, demo or not
//! ([`crate::store::rules::ensure_default`]).
//!
//! The policy texts live in `crates/haven_server/demo/*.md`. All names and
//! contacts are made up (`example.org` addresses, Ofcom's drama numbers).
//!
//! The ids are fixed so that tests and bookmarks are stable.

use super::{org, policies};
use crate::error::ServerError;
use haven_core::accounts::roles::Role;
use haven_core::org::{AcademyInput, Contact, KeyPersonnel, TrustInput};
use haven_core::policy::{text_hash, Audience, PolicyKind, PolicyOwner, PolicyVersion};
use sqlx::AnyPool;
use uuid::Uuid;

pub const ADMIN_EMAIL: &str = "admin@riverside.example";
pub const ADMIN_PASSWORD: &str = "haven-demo-2026";
const ADMIN_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0001);

/// Demo staff, one per role, all with [`ADMIN_PASSWORD`]: (id, name, email,
/// role, academy).
pub const DEMO_STAFF: [(Uuid, &str, &str, Role, Uuid); 5] = [
    (
        Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0011),
        "Helen Okafor",
        "head@oakfield.example",
        Role::Headteacher,
        OAKFIELD_ID,
    ),
    (
        Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0012),
        "Sam Patel",
        "esafety@oakfield.example",
        Role::EsafetyLead,
        OAKFIELD_ID,
    ),
    (
        Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0013),
        "Grace Mensah",
        "dsl@oakfield.example",
        Role::Dsl,
        OAKFIELD_ID,
    ),
    (
        Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0014),
        "Tom Reilly",
        "teacher@oakfield.example",
        Role::Staff,
        OAKFIELD_ID,
    ),
    (
        Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0015),
        "Priya Shah",
        "head@hilltop.example",
        Role::Headteacher,
        HILLTOP_ID,
    ),
];

pub const ONLINE_SAFETY_VERSION_ID: Uuid =
    Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0101);
pub const STAFF_AUA_VERSION_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0102);
pub const VISITOR_AUA_VERSION_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0103);
pub const PUPIL_AUA_VERSION_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0104);
pub const PARENT_AUA_VERSION_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0105);
pub const COMMUNITY_AUA_VERSION_ID: Uuid =
    Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0106);
pub const BYOD_VERSION_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0107);
pub const PHOTO_CONSENT_VERSION_ID: Uuid =
    Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0108);

const ONLINE_SAFETY_POLICY_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0201);
const STAFF_AUA_POLICY_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0202);
const VISITOR_AUA_POLICY_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0203);
const PUPIL_AUA_POLICY_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0204);
const PARENT_AUA_POLICY_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0205);
const COMMUNITY_AUA_POLICY_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0206);
const BYOD_POLICY_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0207);
const PHOTO_CONSENT_POLICY_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0208);

pub const TRUST_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0301);
pub const OAKFIELD_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0302);
pub const HILLTOP_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0303);

/// 2026-07-14 09:00 UTC, when the board approved this set.
const PUBLISHED_AT: i64 = 1_784_019_600_000;
const APPROVED_BY: &str = "Riverside Learning Trust Board of Trustees";
const EFFECTIVE: &str = "2026-09-01";
const LAST_REVIEWED: &str = "2026-07-14";
const NEXT_REVIEW: &str = "2027-07-31";

pub const ONLINE_SAFETY_BODY: &str = include_str!("../../demo/online-safety-policy.md");
const STAFF_AUA_BODY: &str = include_str!("../../demo/staff-aua.md");
const VISITOR_AUA_BODY: &str = include_str!("../../demo/visitor-aua.md");
const PUPIL_AUA_BODY: &str = include_str!("../../demo/pupil-aua.md");
const PARENT_AUA_BODY: &str = include_str!("../../demo/parent-carer-aua.md");
const COMMUNITY_AUA_BODY: &str = include_str!("../../demo/community-user-aua.md");
const BYOD_BODY: &str = include_str!("../../demo/byod-authorisation.md");
const PHOTO_CONSENT_BODY: &str = include_str!("../../demo/photo-video-consent.md");

/// One demo policy: its ids, words and readers.
struct Demo {
    version_id: Uuid,
    policy_id: Uuid,
    title: &'static str,
    kind: PolicyKind,
    audiences: &'static [Audience],
    owner: PolicyOwner,
    body: &'static str,
}

fn demos() -> [Demo; 8] {
    use Audience::*;
    let trust = PolicyOwner::Trust;
    [
        Demo {
            version_id: ONLINE_SAFETY_VERSION_ID,
            policy_id: ONLINE_SAFETY_POLICY_ID,
            title: "Online Safety Policy",
            kind: PolicyKind::EsafetyPolicy,
            audiences: &[Staff, Governor, Trustee, Volunteer, ParentCarer],
            owner: trust,
            body: ONLINE_SAFETY_BODY,
        },
        Demo {
            version_id: STAFF_AUA_VERSION_ID,
            policy_id: STAFF_AUA_POLICY_ID,
            title: "Staff Acceptable Use Agreement",
            kind: PolicyKind::StaffAua,
            audiences: &[Staff, Governor, Trustee, Volunteer],
            owner: trust,
            body: STAFF_AUA_BODY,
        },
        Demo {
            version_id: VISITOR_AUA_VERSION_ID,
            policy_id: VISITOR_AUA_POLICY_ID,
            title: "Visitor Acceptable Use Agreement",
            kind: PolicyKind::VisitorAua,
            audiences: &[Visitor, Contractor, SupplyTeacher, TraineeTeacher],
            owner: trust,
            body: VISITOR_AUA_BODY,
        },
        Demo {
            version_id: PUPIL_AUA_VERSION_ID,
            policy_id: PUPIL_AUA_POLICY_ID,
            title: "Pupil Acceptable Use Agreement",
            kind: PolicyKind::PupilAua,
            audiences: &[Pupil, ParentCarer],
            owner: trust,
            body: PUPIL_AUA_BODY,
        },
        Demo {
            version_id: PARENT_AUA_VERSION_ID,
            policy_id: PARENT_AUA_POLICY_ID,
            title: "Parent and Carer Acceptable Use Agreement",
            kind: PolicyKind::ParentAua,
            audiences: &[ParentCarer],
            owner: trust,
            body: PARENT_AUA_BODY,
        },
        Demo {
            version_id: COMMUNITY_AUA_VERSION_ID,
            policy_id: COMMUNITY_AUA_POLICY_ID,
            title: "Community User Acceptable Use Agreement",
            kind: PolicyKind::CommunityAua,
            audiences: &[CommunityUser],
            owner: trust,
            body: COMMUNITY_AUA_BODY,
        },
        Demo {
            version_id: BYOD_VERSION_ID,
            policy_id: BYOD_POLICY_ID,
            title: "Bring Your Own Device Authorisation",
            kind: PolicyKind::ByodAuthorisation,
            audiences: &[Pupil, ParentCarer],
            // Only Hilltop's sixth form brings its own devices.
            owner: PolicyOwner::Academy {
                academy_id: HILLTOP_ID,
            },
            body: BYOD_BODY,
        },
        Demo {
            version_id: PHOTO_CONSENT_VERSION_ID,
            policy_id: PHOTO_CONSENT_POLICY_ID,
            title: "Photo and Video Consent",
            kind: PolicyKind::PhotoConsent,
            audiences: &[ParentCarer, Pupil],
            owner: trust,
            body: PHOTO_CONSENT_BODY,
        },
    ]
}

/// The demo policy versions, with their digests computed from their text.
pub fn policy_versions() -> Vec<PolicyVersion> {
    demos()
        .into_iter()
        .map(|d| PolicyVersion {
            id: d.version_id,
            policy_id: d.policy_id,
            version: 1,
            title: d.title.to_owned(),
            kind: d.kind,
            audiences: d.audiences.to_vec(),
            owner: d.owner,
            body_markdown: d.body.to_owned(),
            approved_by: APPROVED_BY.to_owned(),
            effective_date: EFFECTIVE.to_owned(),
            last_reviewed: LAST_REVIEWED.to_owned(),
            next_review_due: NEXT_REVIEW.to_owned(),
            published_at: PUBLISHED_AT,
            text_sha256: text_hash(d.title, d.body),
            change_summary: None,
        })
        .collect()
}

fn contact(name: &str, email: &str, phone: &str) -> Contact {
    Contact {
        name: name.to_owned(),
        email: email.to_owned(),
        phone: Some(phone.to_owned()),
    }
}

/// Riverside Learning Trust.
pub fn trust() -> TrustInput {
    TrustInput {
        name: "Riverside Learning Trust".to_owned(),
        chief_executive: contact(
            "Dr Helen Marsh",
            "h.marsh@riverside.example.org",
            "01632 960100",
        ),
        chair_of_trustees: contact(
            "Mr Gareth Okafor",
            "chair@riverside.example.org",
            "01632 960101",
        ),
        data_protection_officer: contact(
            "Ms Priya Raman",
            "dpo@riverside.example.org",
            "01632 960102",
        ),
    }
}

/// The two academies. One online safety lead serves both.
pub fn academies() -> [(Uuid, AcademyInput); 2] {
    let esafety_lead = contact(
        "Mr Tom Ashworth",
        "t.ashworth@riverside.example.org",
        "01632 960110",
    );
    [
        (
            OAKFIELD_ID,
            AcademyInput {
                name: "Oakfield Primary Academy".to_owned(),
                key_personnel: KeyPersonnel {
                    headteacher: contact(
                        "Mrs Joanna Whitfield",
                        "head@oakfield.example.org",
                        "01632 960200",
                    ),
                    esafety_lead: esafety_lead.clone(),
                    dsl: contact(
                        "Mrs Sarah Bennett",
                        "dsl@oakfield.example.org",
                        "01632 960201",
                    ),
                },
            },
        ),
        (
            HILLTOP_ID,
            AcademyInput {
                name: "Hilltop Secondary Academy".to_owned(),
                key_personnel: KeyPersonnel {
                    headteacher: contact(
                        "Mr Daniel Osei",
                        "head@hilltop.example.org",
                        "01632 960300",
                    ),
                    esafety_lead,
                    dsl: contact("Mr Marcus Hale", "dsl@hilltop.example.org", "01632 960301"),
                },
            },
        ),
    ]
}

fn demo_err(e: impl std::fmt::Display) -> ServerError {
    ServerError::Demo(e.to_string())
}

/// Loads the demo trust, academies, policies and admin if the database has no
/// policies yet. Returns whether it loaded anything.
pub async fn load_if_empty(pool: &AnyPool) -> Result<bool, ServerError> {
    if policies::count(pool).await? > 0 {
        return Ok(false);
    }
    let password_hash =
        tokio::task::spawn_blocking(|| crate::crypto::tokens::hash_password(ADMIN_PASSWORD))
            .await
            .map_err(demo_err)?
            .map_err(demo_err)?;

    let mut tx = crate::store::db::begin_write(pool).await?;
    org::put_trust(&mut tx, trust(), Some(TRUST_ID))
        .await
        .map_err(demo_err)?;
    for (id, academy) in academies() {
        org::put_academy(&mut tx, id, academy)
            .await
            .map_err(demo_err)?;
    }
    let versions = policy_versions();
    for version in &versions {
        policies::insert_version(&mut *tx, version).await?;
    }
    // One hash for every demo account (same password, same salt): argon2 is
    // slow on purpose, and the demo is loaded at every test server's start.
    let people = std::iter::once((
        ADMIN_ID,
        "Riverside Trust Admin",
        ADMIN_EMAIL,
        Role::TrustAdmin,
        None,
    ))
    .chain(
        DEMO_STAFF
            .iter()
            .map(|&(id, name, email, role, academy)| (id, name, email, role, Some(academy))),
    );
    for (id, name, email, role, academy) in people {
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, role, name, active, created_at) \
             VALUES ($1, $2, $3, 'staff', $4, 1, $5) ON CONFLICT (email) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(email)
        .bind(&password_hash)
        .bind(name)
        .bind(PUBLISHED_AT)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO user_roles (user_id, role, academy_id) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(id.to_string())
        .bind(role.as_str())
        .bind(academy.map(|a| a.to_string()).unwrap_or_default())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    tracing::info!(
        "loaded the demo trust: 2 academies, {} policies, the demo admin and 5 staff",
        versions.len()
    );
    Ok(true)
}

/// Whether the demo admin account exists (so its sign-in is worth printing).
pub async fn admin_exists(pool: &AnyPool) -> Result<bool, ServerError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = $1")
        .bind(ADMIN_EMAIL)
        .fetch_one(pool)
        .await?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use haven_core::policy::PublishPolicyVersion;

    #[test]
    fn demo_policies_have_consistent_hashes_and_distinct_ids() {
        let versions = policy_versions();
        assert_eq!(versions.len(), 8);
        for v in &versions {
            assert!(v.hash_is_consistent(), "{}", v.title);
        }
        let mut ids: Vec<_> = versions.iter().map(|v| v.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 8);
        let mut policy_ids: Vec<_> = versions.iter().map(|v| v.policy_id).collect();
        policy_ids.sort();
        policy_ids.dedup();
        assert_eq!(policy_ids.len(), 8);
    }

    #[test]
    fn there_is_one_agreement_of_each_signable_kind_and_one_e_safety_policy() {
        let versions = policy_versions();
        for kind in PolicyKind::ALL {
            let n = versions.iter().filter(|v| v.kind == kind).count();
            let expected = usize::from(kind.is_signable() || kind == PolicyKind::EsafetyPolicy);
            assert_eq!(n, expected, "{kind:?}");
        }
    }

    #[test]
    fn every_demo_policy_would_pass_the_publish_checks() {
        for v in policy_versions() {
            let request = PublishPolicyVersion {
                policy_id: Some(v.policy_id),
                title: v.title.clone(),
                kind: v.kind,
                audiences: v.audiences.clone(),
                owner: v.owner,
                body_markdown: v.body_markdown.clone(),
                approved_by: v.approved_by.clone(),
                effective_date: v.effective_date.clone(),
                last_reviewed: v.last_reviewed.clone(),
                next_review_due: v.next_review_due.clone(),
                change_summary: None,
            };
            assert_eq!(request.validate(), Ok(()), "{}", v.title);
            assert!(request.is_published_as(&v));
        }
    }

    #[test]
    fn the_online_safety_policy_is_a_realistic_size() {
        let len = ONLINE_SAFETY_BODY.len();
        assert!((30_000..=50_000).contains(&len), "{len} bytes");
        assert!(ONLINE_SAFETY_BODY.contains("## 5. Reporting routes"));
        assert!(ONLINE_SAFETY_BODY.contains("| Immediately |"));
        assert!(ONLINE_SAFETY_BODY.contains("| Same day |"));
        let tables = ONLINE_SAFETY_BODY.matches("\n| --- |").count();
        assert!(tables >= 8, "{tables} tables");
        let sections = ONLINE_SAFETY_BODY.matches("\n## ").count();
        assert!(sections >= 20, "{sections} sections");
    }

    #[test]
    fn the_staff_and_visitor_agreements_keep_the_text_devices_may_have_signed() {
        // Pinned: signatures already made bind to these digests.
        let pinned = [
            (
                STAFF_AUA_VERSION_ID,
                "26deedfebf04a3f2c7b2f0143ecaa0194e65bb237fdfef2177a153f0d7de36f7",
            ),
            (
                VISITOR_AUA_VERSION_ID,
                "a4c3b8b5c45d95e7f19faea69aeb15beaf2364c2cbf16c93364b13afdfad98ca",
            ),
        ];
        for (id, digest) in pinned {
            let v = policy_versions().into_iter().find(|v| v.id == id).unwrap();
            assert_eq!(v.text_sha256.as_str(), digest, "{}", v.title);
        }
    }

    #[test]
    fn the_demo_trust_and_academies_are_valid() {
        assert_eq!(trust().validate(), Ok(()));
        for (_, academy) in academies() {
            assert_eq!(academy.validate(), Ok(()), "{}", academy.name);
        }
    }

    #[test]
    fn the_byod_authorisation_belongs_to_hilltop() {
        let byod = policy_versions()
            .into_iter()
            .find(|v| v.id == BYOD_VERSION_ID)
            .unwrap();
        assert_eq!(byod.owner.academy_id(), Some(HILLTOP_ID));
    }
}
