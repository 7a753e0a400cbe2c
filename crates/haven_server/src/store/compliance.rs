//! What the compliance rows are made from: each active person with a role
//! at an academy, the latest policy versions and every record a staff
//! account made, judged by `haven_core::compliance`. Read by the compliance
//! routes and the reminders to sign (`jobs::reminders`).

use crate::clock::now_ms;
use crate::error::AppError;
use crate::store::db::parse_id;
use crate::store::policies::latest_versions;
use haven_core::accounts::roles::Role;
use haven_core::api::accounts::ComplianceRow;
use haven_core::compliance::{agreements_for, due_by, status, PolicyFacts, Signed};
use sqlx::AnyPool;
use std::collections::BTreeMap;
use uuid::Uuid;

/// A person with their roles at one academy.
struct Person {
    id: String,
    name: String,
    email: String,
    joined_at: i64,
    roles: Vec<Role>,
}

/// Active staff with a role at `academy` (only `only` if given).
async fn people(
    pool: &AnyPool,
    academy: Uuid,
    only: Option<&str>,
) -> Result<Vec<Person>, AppError> {
    let rows = crate::store::accounts::active_role_holders(pool, academy, only).await?;
    let mut people: Vec<Person> = Vec::new();
    for (id, name, email, joined_at, role) in rows {
        let role = Role::parse(&role)
            .ok_or_else(|| AppError::Internal(format!("unknown stored role {role:?}")))?;
        match people.last_mut() {
            Some(p) if p.id == id => p.roles.push(role),
            _ => people.push(Person {
                id,
                name,
                email,
                joined_at,
                roles: vec![role],
            }),
        }
    }
    Ok(people)
}

/// Every record made by a staff account, by account.
async fn records(pool: &AnyPool) -> Result<BTreeMap<String, Vec<Signed>>, AppError> {
    let rows = crate::store::agreements::signed_by_accounts(pool).await?;
    let mut by_account: BTreeMap<String, Vec<Signed>> = BTreeMap::new();
    for (account, agreed, signed_at, policy_id, version) in rows {
        by_account.entry(account).or_default().push(Signed {
            policy_id: parse_id(&policy_id)?,
            version: u32::try_from(version).unwrap_or(0),
            agreed: agreed != 0,
            signed_at,
        });
    }
    Ok(by_account)
}

/// What every academy's rows are made from, read once per request.
pub struct Library {
    latest: Vec<haven_core::policy::PolicySummary>,
    records: BTreeMap<String, Vec<Signed>>,
}

pub async fn library(pool: &AnyPool) -> Result<Library, AppError> {
    Ok(Library {
        latest: latest_versions(pool).await?,
        records: records(pool).await?,
    })
}

/// The rows of `academy` (only person `only`'s, if given); also what the
/// reminders to sign chase (`jobs::reminders`).
pub async fn rows_for(
    pool: &AnyPool,
    library: &Library,
    academy: Uuid,
    only: Option<&str>,
    days: u32,
) -> Result<Vec<ComplianceRow>, AppError> {
    let people = people(pool, academy, only).await?;
    let Library { latest, records } = library;
    let now = now_ms();
    let mut rows = Vec::new();
    for person in &people {
        let mine = records.get(&person.id).map(Vec::as_slice).unwrap_or(&[]);
        let due = due_by(person.joined_at, days);
        // What they sign depends on their roles: staff, governor, volunteer...
        let audiences: Vec<_> = person.roles.iter().filter_map(|r| r.audience()).collect();
        for policy in agreements_for(latest, &[academy], &audiences) {
            let (status, record) = status(policy, mine);
            rows.push(ComplianceRow {
                user_id: parse_id(&person.id)?,
                name: person.name.clone(),
                email: person.email.clone(),
                academy_id: academy,
                roles: person.roles.clone(),
                policy_id: policy.policy_id(),
                version_id: policy.id,
                policy_title: policy.title().to_owned(),
                current_version: policy.version(),
                status,
                signed_version: record.map(|r| r.version),
                signed_at: record.map(|r| r.signed_at),
                joined_at: person.joined_at,
                due_by: due,
                overdue: status.needs_action() && now > due,
            });
        }
    }
    Ok(rows)
}
