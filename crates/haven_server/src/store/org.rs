//! The trust and its academies in the database.
//!
//! Edits go through [`put_academy`] and [`put_trust`], which write only when
//! something changed, so sending the same edit twice does not move the pull
//! cursor. Triggers number each insert and update for pull (migration 0003).

use crate::clock;
use crate::error::AppError;
use crate::store::db::parse_id;
use haven_core::org::{Academy, AcademyInput, Contact, KeyPersonnel, Trust, TrustInput};
use serde::de::DeserializeOwned;
use sqlx::{AnyConnection, AnyExecutor};
use uuid::Uuid;

/// What a put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Created,
    Updated,
    /// The stored record already said this; nothing was written.
    Unchanged,
}

fn json_from_db<T: DeserializeOwned>(what: &str, s: &str) -> Result<T, AppError> {
    serde_json::from_str(s)
        .map_err(|e| AppError::Internal(format!("bad {what} in the database: {e}")))
}

fn json_to_db<T: serde::Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(|e| AppError::Internal(format!("cannot store JSON: {e}")))
}

#[derive(Debug, sqlx::FromRow)]
struct AcademyRow {
    id: String,
    name: String,
    key_personnel: String,
    updated_at: i64,
}

impl TryFrom<AcademyRow> for Academy {
    type Error = AppError;

    fn try_from(row: AcademyRow) -> Result<Self, AppError> {
        Ok(Academy {
            id: parse_id(&row.id)?,
            name: row.name,
            key_personnel: json_from_db::<KeyPersonnel>("key personnel", &row.key_personnel)?,
            updated_at: row.updated_at,
        })
    }
}

pub async fn academy_exists(db: impl AnyExecutor<'_>, id: Uuid) -> Result<bool, AppError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM academies WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(db)
        .await?;
    Ok(n > 0)
}

pub async fn find_academy(db: impl AnyExecutor<'_>, id: Uuid) -> Result<Option<Academy>, AppError> {
    let row: Option<AcademyRow> =
        sqlx::query_as("SELECT id, name, key_personnel, updated_at FROM academies WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(db)
            .await?;
    row.map(Academy::try_from).transpose()
}

/// Every academy, by name.
pub async fn academies(db: impl AnyExecutor<'_>) -> Result<Vec<Academy>, AppError> {
    let rows: Vec<AcademyRow> = sqlx::query_as(
        "SELECT id, name, key_personnel, updated_at FROM academies ORDER BY lower(name), id",
    )
    .fetch_all(db)
    .await?;
    rows.into_iter().map(Academy::try_from).collect()
}

/// Every academy's id and name, by name: what role checks and CSV imports need.
pub async fn academy_names(db: impl AnyExecutor<'_>) -> Result<Vec<(Uuid, String)>, AppError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT id, name FROM academies ORDER BY lower(name), id")
            .fetch_all(db)
            .await?;
    rows.into_iter()
        .map(|(id, name)| Ok((crate::store::db::parse_id(&id)?, name)))
        .collect()
}

/// Every academy's id.
pub async fn academy_ids(db: impl AnyExecutor<'_>) -> Result<Vec<Uuid>, AppError> {
    Ok(academy_names(db)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect())
}

/// Academies added or edited in changes `since + 1` to `upto`, as they are now, by name.
pub async fn academies_changed_between(
    db: impl AnyExecutor<'_>,
    since: i64,
    upto: i64,
) -> Result<Vec<Academy>, AppError> {
    let rows: Vec<AcademyRow> = sqlx::query_as(
        "SELECT id, name, key_personnel, updated_at FROM academies WHERE id IN \
         (SELECT entity_id FROM changes WHERE entity = 'academy' AND seq > $1 AND seq <= $2) \
         ORDER BY lower(name), id",
    )
    .bind(since)
    .bind(upto)
    .fetch_all(db)
    .await?;
    rows.into_iter().map(Academy::try_from).collect()
}

/// Adds or replaces academy `id`, after checking the input. Call it inside a
/// write transaction.
pub async fn put_academy(
    conn: &mut AnyConnection,
    id: Uuid,
    input: AcademyInput,
) -> Result<(Academy, Put), AppError> {
    input
        .validate()
        .map_err(|e| AppError::invalid("invalid_academy", e))?;
    let existing = find_academy(&mut *conn, id).await?;
    if let Some(existing) = existing
        .as_ref()
        .filter(|a| a.name == input.name && a.key_personnel == input.key_personnel)
    {
        return Ok((existing.clone(), Put::Unchanged));
    }
    let academy = input.into_academy(id, clock::now_ms());
    let personnel = json_to_db(&academy.key_personnel)?;
    let outcome = if existing.is_some() {
        sqlx::query(
            "UPDATE academies SET name = $1, key_personnel = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(&academy.name)
        .bind(&personnel)
        .bind(academy.updated_at)
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
        Put::Updated
    } else {
        sqlx::query(
            "INSERT INTO academies (id, name, key_personnel, updated_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id.to_string())
        .bind(&academy.name)
        .bind(&personnel)
        .bind(academy.updated_at)
        .execute(&mut *conn)
        .await?;
        Put::Created
    };
    Ok((academy, outcome))
}

#[derive(Debug, sqlx::FromRow)]
struct TrustRow {
    id: String,
    name: String,
    chief_executive: String,
    chair_of_trustees: String,
    data_protection_officer: String,
    updated_at: i64,
}

impl TryFrom<TrustRow> for Trust {
    type Error = AppError;

    fn try_from(row: TrustRow) -> Result<Self, AppError> {
        Ok(Trust {
            id: parse_id(&row.id)?,
            name: row.name,
            chief_executive: json_from_db::<Contact>("contact", &row.chief_executive)?,
            chair_of_trustees: json_from_db::<Contact>("contact", &row.chair_of_trustees)?,
            data_protection_officer: json_from_db::<Contact>(
                "contact",
                &row.data_protection_officer,
            )?,
            updated_at: row.updated_at,
        })
    }
}

const TRUST_COLUMNS: &str =
    "id, name, chief_executive, chair_of_trustees, data_protection_officer, updated_at";

/// The trust's name, once it has been set up.
pub async fn trust_name(db: impl AnyExecutor<'_>) -> Result<Option<String>, AppError> {
    Ok(sqlx::query_scalar("SELECT name FROM trust")
        .fetch_optional(db)
        .await?)
}

/// The trust, once it has been set up.
pub async fn trust(db: impl AnyExecutor<'_>) -> Result<Option<Trust>, AppError> {
    let row: Option<TrustRow> = sqlx::query_as(&format!("SELECT {TRUST_COLUMNS} FROM trust"))
        .fetch_optional(db)
        .await?;
    row.map(Trust::try_from).transpose()
}

/// The trust, if it was added or edited in changes `since + 1` to `upto`.
pub async fn trust_changed_between(
    db: impl AnyExecutor<'_>,
    since: i64,
    upto: i64,
) -> Result<Option<Trust>, AppError> {
    let row: Option<TrustRow> = sqlx::query_as(&format!(
        "SELECT {TRUST_COLUMNS} FROM trust WHERE id IN \
         (SELECT entity_id FROM changes WHERE entity = 'trust' AND seq > $1 AND seq <= $2)"
    ))
    .bind(since)
    .bind(upto)
    .fetch_optional(db)
    .await?;
    row.map(Trust::try_from).transpose()
}

/// Sets up or edits the trust, after checking the input. Call it inside a
/// write transaction. `id` is used only when the trust is first set up.
pub async fn put_trust(
    conn: &mut AnyConnection,
    input: TrustInput,
    id: Option<Uuid>,
) -> Result<(Trust, Put), AppError> {
    input
        .validate()
        .map_err(|e| AppError::invalid("invalid_trust", e))?;
    let existing = trust(&mut *conn).await?;
    if let Some(existing) = &existing {
        let same = existing.name == input.name
            && existing.chief_executive == input.chief_executive
            && existing.chair_of_trustees == input.chair_of_trustees
            && existing.data_protection_officer == input.data_protection_officer;
        if same {
            return Ok((existing.clone(), Put::Unchanged));
        }
    }
    let trust_id = existing
        .as_ref()
        .map(|t| t.id)
        .or(id)
        .unwrap_or_else(clock::new_id);
    let trust = input.into_trust(trust_id, clock::now_ms());
    let outcome = if existing.is_some() {
        Put::Updated
    } else {
        Put::Created
    };
    let sql = if existing.is_some() {
        "UPDATE trust SET name = $2, chief_executive = $3, chair_of_trustees = $4, \
         data_protection_officer = $5, updated_at = $6 WHERE id = $1"
    } else {
        "INSERT INTO trust (id, name, chief_executive, chair_of_trustees, \
         data_protection_officer, updated_at) VALUES ($1, $2, $3, $4, $5, $6)"
    };
    sqlx::query(sql)
        .bind(trust.id.to_string())
        .bind(&trust.name)
        .bind(json_to_db(&trust.chief_executive)?)
        .bind(json_to_db(&trust.chair_of_trustees)?)
        .bind(json_to_db(&trust.data_protection_officer)?)
        .bind(trust.updated_at)
        .execute(&mut *conn)
        .await?;
    Ok((trust, outcome))
}
