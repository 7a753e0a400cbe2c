//! Demo data for a fictional trust, loaded into an empty database so a first
//! run shows something real: Riverside Learning Trust, with Oakfield Primary
//! Academy and Hilltop Secondary Academy, three published policies and one admin.
//!
//! The ids are fixed so that tests and bookmarks are stable.

use crate::error::ServerError;
use crate::policies;
use haven_core::policy::{text_hash, PolicyKind, PolicyVersion};
use sqlx::SqlitePool;
use uuid::Uuid;

pub const ADMIN_EMAIL: &str = "admin@riverside.example";
pub const ADMIN_PASSWORD: &str = "haven-demo-2026";
const ADMIN_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0001);

pub const ONLINE_SAFETY_VERSION_ID: Uuid =
    Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0101);
pub const STAFF_AUA_VERSION_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0102);
pub const VISITOR_AUA_VERSION_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0103);

const ONLINE_SAFETY_POLICY_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0201);
const STAFF_AUA_POLICY_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0202);
const VISITOR_AUA_POLICY_ID: Uuid = Uuid::from_u128(0x0198_0a00_0000_7000_8000_0000_0000_0203);

/// 2026-07-14 09:00 UTC, when the board approved this set.
const PUBLISHED_AT: i64 = 1_784_019_600_000;
const APPROVED_BY: &str = "Riverside Learning Trust Board of Trustees";
const EFFECTIVE: &str = "2026-09-01";
const NEXT_REVIEW: &str = "2027-07-31";

/// The demo policy versions, with their digests computed from their text.
pub fn policy_versions() -> Vec<PolicyVersion> {
    let make = |id, policy_id, title: &str, kind, body: &str| PolicyVersion {
        id,
        policy_id,
        version: 1,
        title: title.to_owned(),
        kind,
        body_markdown: body.to_owned(),
        approved_by: APPROVED_BY.to_owned(),
        effective_date: EFFECTIVE.to_owned(),
        next_review_due: NEXT_REVIEW.to_owned(),
        published_at: PUBLISHED_AT,
        text_sha256: text_hash(title, body),
    };
    vec![
        make(
            ONLINE_SAFETY_VERSION_ID,
            ONLINE_SAFETY_POLICY_ID,
            "Online Safety Policy",
            PolicyKind::EsafetyPolicy,
            ONLINE_SAFETY_BODY,
        ),
        make(
            STAFF_AUA_VERSION_ID,
            STAFF_AUA_POLICY_ID,
            "Staff Acceptable Use Agreement",
            PolicyKind::StaffAua,
            STAFF_AUA_BODY,
        ),
        make(
            VISITOR_AUA_VERSION_ID,
            VISITOR_AUA_POLICY_ID,
            "Visitor Acceptable Use Agreement",
            PolicyKind::VisitorAua,
            VISITOR_AUA_BODY,
        ),
    ]
}

/// Loads the demo policies and admin if the database has no policies yet.
/// Returns whether it loaded anything.
pub async fn load_if_empty(pool: &SqlitePool) -> Result<bool, ServerError> {
    if policies::count(pool).await? > 0 {
        return Ok(false);
    }
    let password_hash = tokio::task::spawn_blocking(|| crate::auth::hash_password(ADMIN_PASSWORD))
        .await
        .map_err(|e| ServerError::Demo(e.to_string()))?
        .map_err(|e| ServerError::Demo(e.to_string()))?;

    let mut tx = pool.begin().await?;
    for version in policy_versions() {
        policies::insert_version(&mut *tx, &version).await?;
    }
    sqlx::query(
        "INSERT INTO users (id, email, password_hash, role) VALUES (?, ?, ?, ?) \
         ON CONFLICT (email) DO NOTHING",
    )
    .bind(ADMIN_ID.to_string())
    .bind(ADMIN_EMAIL)
    .bind(password_hash)
    .bind(crate::auth::ROLE_ADMIN)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!("loaded the demo trust: 3 policies and the demo admin");
    Ok(true)
}

/// Whether the demo admin account exists (so its sign-in is worth printing).
pub async fn admin_exists(pool: &SqlitePool) -> Result<bool, ServerError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = ?")
        .bind(ADMIN_EMAIL)
        .fetch_one(pool)
        .await?;
    Ok(n > 0)
}

const ONLINE_SAFETY_BODY: &str = r#"Riverside Learning Trust, for Oakfield Primary Academy and Hilltop Secondary Academy.

## 1. Why this policy exists

Being online is part of how our pupils learn, play and keep in touch, and part of how our staff teach and work. This policy sets out how the Trust keeps everyone in our academies safe while they do so, what we expect of each person, and what happens when something goes wrong. It applies to pupils, staff, governors, volunteers, visitors and community users whenever they use Trust devices, networks or accounts, on site or away from it, and to personal devices brought onto an academy site.

Online safety is a safeguarding matter first and a technical matter second. A worry about a child seen through a screen is handled exactly like any other safeguarding worry.

## 2. Who does what

- **Trust Board** approves this policy, checks each year that it is working, and receives a termly summary of incidents.
- **Headteacher** of each academy makes sure the policy is followed, that staff are trained, and that serious incidents are handled properly.
- **Online Safety Lead** in each academy keeps the incident log, reviews filtering reports every week and leads training for staff, pupils and parents.
- **Designated Safeguarding Lead (DSL)** takes the lead on any incident that could mean a child is at risk of harm.
- **Technical staff** run the filtering and monitoring, keep systems patched, and never change the state of a device involved in a suspected illegal incident.
- **All staff** model good practice, teach online safety in their subject, and report every concern on the day they notice it.
- **Pupils** follow their acceptable use agreement and tell a trusted adult when something online upsets or worries them.
- **Parents and carers** support the agreement their child signs and talk with them about what they do online.

## 3. Teaching and learning

3.1 Every year group follows a planned online safety curriculum covering privacy, online relationships, managing online information, health and wellbeing, and reporting.

3.2 Pupils are taught to question what they read, to recognise persuasion and grooming tactics, and to know where to get help.

3.3 Staff check websites, apps and videos before using them in a lesson.

## 4. Systems, filtering and monitoring

4.1 All internet access on Trust networks passes through a filtering service. Requests to unblock a site go to the Online Safety Lead and are recorded.

4.2 Monitoring alerts are reviewed every school day. Any attempt to get round the filtering, including proxy sites and VPNs, is treated as a breach of this policy.

4.3 Personal data taken off site on a laptop or removable media must be encrypted and password protected, and deleted securely once it has been transferred.

## 5. Reporting routes

Every concern is logged the same day. Some must be reported at once:

| When | What happened | Report to |
| --- | --- | --- |
| Immediately | Illegal activity by a pupil, or illegal content seen by a pupil | Designated Safeguarding Lead |
| Immediately | Illegal or inappropriate activity by a member of staff | Headteacher and Online Safety Lead |
| Immediately | Illegal or inappropriate activity by a headteacher | Chief Executive Officer |
| Immediately | Illegal or inappropriate activity by the Chief Executive Officer | Chair of the Trust Board |
| Immediately | Content that must be removed or blocked, or that needs extra filtering | Technical staff and Online Safety Lead |
| Same day | Inappropriate (not child protection) activity by a pupil in a lesson | Head of subject or pastoral leader |
| Same day | Inappropriate (not child protection) activity by a pupil outside lessons | Head of year |

## 6. Suspected illegal material

6.1 If you suspect images of child abuse, grooming, criminally racist or extremist material, or an offence under the Computer Misuse Act, stop and report it to the DSL and the police straight away.

6.2 Do not take, print or save screenshots of suspected child abuse images. Isolate the device without switching it off or changing it.

6.3 Every other investigation involves at least two senior members of staff, uses one designated computer throughout, and records the web addresses and a description of what was found.

## 7. Breaches of this policy

A breach is taken seriously. For pupils it is dealt with under the behaviour policy; for staff it may lead to disciplinary action. Where the law may have been broken, the Trust will involve the police.

## 8. Review

The Online Safety Lead reviews this policy every year, and sooner after a serious incident or a change in the law.
"#;

const STAFF_AUA_BODY: &str = r#"For all staff, governors and volunteers of Riverside Learning Trust, at Oakfield Primary Academy, Hilltop Secondary Academy and the central team. Please read this agreement and sign it, giving your job title, before you are given access to Trust systems.

## 1. My responsibilities

1. I will use Trust devices, email and networks for my work, and keep personal use brief and appropriate.
2. I will keep my passwords to myself, use a different one for each Trust system, and lock my screen whenever I step away.
3. I will report at once any breach of security, any suspected virus and any content that worries me.

## 2. Communicating with pupils and parents

1. I will contact pupils and parents only through Trust systems: school email, the learning platform and approved apps.
2. I will not use personal email, social media or messaging apps to talk to pupils, and I will not accept pupils as friends or followers.
3. I will keep what I post online in my own time compatible with my professional role.

## 3. Data and images

1. I will take photos or videos of pupils only on Trust devices, and only where parents have given consent.
2. I will keep personal data encrypted when it leaves the site and delete it from any device once it has been transferred.
3. I will not store pupils' personal data on my own devices.

## 4. Systems

1. I will not try to get round the filtering or monitoring, or install software without permission from technical staff.
2. I will not access, copy or pass on material that is illegal, discriminatory, extremist or pornographic.

## 5. What happens if I do not follow this agreement

I understand that my use of Trust systems is monitored, and that a breach of this agreement may lead to disciplinary action and, where the law has been broken, to the police being informed.
"#;

const VISITOR_AUA_BODY: &str = r#"For visitors, supply and trainee teachers, contractors and other guests at Oakfield Primary Academy and Hilltop Secondary Academy. Please read this before using any Riverside Learning Trust system or the guest Wi-Fi.

## While I am on site

1. I will use only the guest Wi-Fi, or the account I have been given, and only for the purpose of my visit.
2. I will not take photos, video or audio recordings of pupils.
3. I will keep my phone and other devices secure and out of pupils' reach.
4. I will not share my login details, and I will log off when I finish.
5. I will not try to get round the filtering, or access or share anything illegal or offensive.
6. I will not contact pupils through personal email, social media or messaging apps, during or after my visit.
7. If I see anything online that worries me about a pupil's safety, I will tell the Designated Safeguarding Lead before I leave.

I understand that the academy monitors the use of its systems, and that my access may be withdrawn if I do not follow this agreement.
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_policies_have_consistent_hashes_and_distinct_ids() {
        let versions = policy_versions();
        assert_eq!(versions.len(), 3);
        for v in &versions {
            assert!(v.hash_is_consistent(), "{}", v.title);
        }
        let mut ids: Vec<_> = versions.iter().map(|v| v.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn the_online_safety_policy_is_a_realistic_size() {
        let len = ONLINE_SAFETY_BODY.len();
        assert!((3_000..=6_500).contains(&len), "{len} bytes");
        assert!(ONLINE_SAFETY_BODY.contains("| Immediately |"));
        assert!(ONLINE_SAFETY_BODY.contains("| Same day |"));
    }
}
