//! `GET /api/v1/compliance` (per academy, for its headteacher and e-safety
//! lead) and `GET /api/v1/compliance/mine` (a person's own "to sign"): each
//! person × each agreement their roles sign (staff, governor, volunteer,
//! community user), with where they stand on it (`haven_core::compliance`).

use crate::clock::now_ms;
use crate::error::AppError;
use crate::http::auth::{ClientAddr, Staff};
use crate::http::json::Json;
use crate::http::openapi::{Forbidden, Internal, Unauthorized};
use crate::http::query::Query;
use crate::state::AppState;
use crate::store::audit::{Action, Entry};
use crate::store::db::parse_id;
use crate::store::policies::latest_versions;
use axum::extract::State;
use haven_core::accounts::permissions::Capability;
use haven_core::accounts::roles::Role;
use haven_core::api::accounts::ComplianceRow;
use haven_core::api::ApiError;
use haven_core::compliance::{agreements_for, due_by, status, PolicyFacts, Signed};
use serde::Deserialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Days a new member of staff has to sign, unless the query says otherwise.
pub const DEFAULT_DUE_DAYS: u32 = 14;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ComplianceQuery {
    /// The academy whose staff to list.
    pub academy_id: Uuid,
    /// Days after joining within which new staff must sign: 1 to 90 (14).
    pub due_days: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MineQuery {
    /// Days after joining within which new staff must sign: 1 to 90 (14).
    pub due_days: Option<u32>,
}

/// A person with their roles at one academy.
struct Person {
    id: String,
    name: String,
    email: String,
    joined_at: i64,
    roles: Vec<Role>,
}

fn due_days(given: Option<u32>) -> Result<u32, AppError> {
    let days = given.unwrap_or(DEFAULT_DUE_DAYS);
    if (1..=90).contains(&days) {
        Ok(days)
    } else {
        Err(AppError::BadRequest(format!(
            "due_days must be 1 to 90; it was {days}"
        )))
    }
}

/// Active staff with a role at `academy` (only `only` if given).
async fn people(
    state: &AppState,
    academy: Uuid,
    only: Option<&str>,
) -> Result<Vec<Person>, AppError> {
    let rows = crate::store::accounts::active_role_holders(&state.pool, academy, only).await?;
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
async fn records(state: &AppState) -> Result<BTreeMap<String, Vec<Signed>>, AppError> {
    let rows = crate::store::agreements::signed_by_accounts(&state.pool).await?;
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
struct Library {
    latest: Vec<haven_core::policy::PolicySummary>,
    records: BTreeMap<String, Vec<Signed>>,
}

async fn library(state: &AppState) -> Result<Library, AppError> {
    Ok(Library {
        latest: latest_versions(&state.pool).await?,
        records: records(state).await?,
    })
}

async fn rows_for(
    state: &AppState,
    library: &Library,
    academy: Uuid,
    only: Option<&str>,
    days: u32,
) -> Result<Vec<ComplianceRow>, AppError> {
    let people = people(state, academy, only).await?;
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

/// Who at an academy has signed the staff agreements' current versions, who
/// signed an older one, who declined and who has not signed.
#[utoipa::path(
    get,
    path = "/api/v1/compliance",
    tag = "agreements",
    operation_id = "compliance",
    security(("bearer" = [])),
    params(ComplianceQuery),
    responses(
        (status = 200, description = "One row per person and agreement, by name", body = Vec<ComplianceRow>),
        (status = 400, description = "`bad_request`: no or a bad `academy_id`, or `due_days` out of range", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn academy(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(caller): Staff,
    Query(query): Query<ComplianceQuery>,
) -> Result<Json<Vec<ComplianceRow>>, AppError> {
    caller.require(Some(query.academy_id), Capability::ViewCompliance)?;
    let days = due_days(query.due_days)?;
    Entry::new(caller.actor(), Action::ReadCompliance)
        .academy(query.academy_id)
        .client(&client)
        .write(&state.pool)
        .await?;
    let library = library(&state).await?;
    Ok(Json(
        rows_for(&state, &library, query.academy_id, None, days).await?,
    ))
}

/// The signed-in person's own agreements, at each academy they work at.
#[utoipa::path(
    get,
    path = "/api/v1/compliance/mine",
    tag = "agreements",
    operation_id = "my_compliance",
    security(("bearer" = [])),
    params(MineQuery),
    responses(
        (status = 200, description = "One row per academy and agreement", body = Vec<ComplianceRow>),
        (status = 400, description = "`bad_request`: `due_days` out of range", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn mine(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Query(query): Query<MineQuery>,
) -> Result<Json<Vec<ComplianceRow>>, AppError> {
    let days = due_days(query.due_days)?;
    let mut academies: Vec<Uuid> = caller
        .grants
        .0
        .iter()
        .filter_map(|g| g.academy_id)
        .collect();
    academies.sort();
    academies.dedup();
    let library = library(&state).await?;
    let mut rows = Vec::new();
    for academy in academies {
        rows.extend(rows_for(&state, &library, academy, Some(&caller.user_id), days).await?);
    }
    Ok(Json(rows))
}
