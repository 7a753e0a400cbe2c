//! Who each OneRoster import's people are in Haven (`roster_staff`,
//! `roster_families`), and the changes an import makes to accounts and
//! invitations. `http/routes/roster` plans with
//! `haven_core::accounts::oneroster` and applies the plan through these.

use crate::error::AppError;
use crate::store::db::parse_id;
use haven_core::accounts::class_list::Child;
use haven_core::accounts::oneroster::{CurrentRoster, KnownFamily, KnownStaff};
use sqlx::{AnyConnection, AnyExecutor};
use std::collections::HashSet;
use uuid::Uuid;

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, AppError> {
    serde_json::from_str(text).map_err(|e| AppError::Internal(format!("stored {what}: {e}")))
}

/// What earlier imports made: staff with their accounts, and families whose
/// invitations are still open.
pub async fn current(db: &mut AnyConnection) -> Result<CurrentRoster, AppError> {
    let staff: Vec<(String, String, String, String, String, i64)> = sqlx::query_as(
        "SELECT r.source_id, r.user_id, u.name, u.email, r.academies, u.active \
         FROM roster_staff r JOIN users u ON u.id = r.user_id ORDER BY r.source_id",
    )
    .fetch_all(&mut *db)
    .await?;
    let families: Vec<(String, String, String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT f.parent_source_id, f.academy_id, f.invitation_id, i.parent_name, \
         i.parent_email, i.children FROM roster_families f \
         JOIN parent_invitations i ON i.id = f.invitation_id \
         WHERE f.closed_at IS NULL ORDER BY f.parent_source_id, f.academy_id",
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(CurrentRoster {
        staff: staff
            .into_iter()
            .map(|(source_id, user_id, name, email, academies, active)| {
                Ok(KnownStaff {
                    source_id,
                    user_id: parse_id(&user_id)?,
                    name,
                    email: email.to_lowercase(),
                    academies: from_json(&academies, "roster academies")?,
                    active: active != 0,
                })
            })
            .collect::<Result<_, AppError>>()?,
        families: families
            .into_iter()
            .map(|(source, academy, invitation, name, email, children)| {
                Ok(KnownFamily {
                    parent_source_id: source,
                    academy_id: parse_id(&academy)?,
                    invitation_id: parse_id(&invitation)?,
                    parent_name: name,
                    parent_email: email,
                    children: from_json(&children, "children")?,
                })
            })
            .collect::<Result<_, AppError>>()?,
    })
}

/// Records that `source_id` is account `user_id`, given `academies`.
pub async fn link_staff(
    db: impl AnyExecutor<'_>,
    source_id: &str,
    user_id: &str,
    academies: &[Uuid],
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO roster_staff (source_id, user_id, academies) VALUES ($1, $2, $3) \
         ON CONFLICT (source_id) DO UPDATE SET academies = excluded.academies",
    )
    .bind(source_id)
    .bind(user_id)
    .bind(to_json(&academies))
    .execute(db)
    .await?;
    Ok(())
}

/// Whether account `user_id` is already some other roster entry's.
pub async fn staff_source_of(
    db: impl AnyExecutor<'_>,
    user_id: &str,
) -> Result<Option<String>, AppError> {
    Ok(
        sqlx::query_scalar("SELECT source_id FROM roster_staff WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(db)
            .await?,
    )
}

/// A person's name and email as the MIS now has them.
pub async fn set_name_and_email(
    db: impl AnyExecutor<'_>,
    user_id: &str,
    name: &str,
    email: &str,
) -> Result<(), AppError> {
    sqlx::query("UPDATE users SET name = $1, email = $2 WHERE id = $3")
        .bind(name)
        .bind(email)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Takes back the staff role at `academy` (one the roster gave); roles given
/// by hand stay.
pub async fn remove_staff_role(
    db: impl AnyExecutor<'_>,
    user_id: &str,
    academy: Uuid,
) -> Result<(), AppError> {
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role = 'staff' AND academy_id = $2")
        .bind(user_id)
        .bind(academy.to_string())
        .execute(db)
        .await?;
    Ok(())
}

/// Records that the family of `parent_source_id` at `academy` is invitation
/// `invitation_id` (open).
pub async fn link_family(
    db: impl AnyExecutor<'_>,
    parent_source_id: &str,
    academy: Uuid,
    invitation_id: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO roster_families (parent_source_id, academy_id, invitation_id, closed_at) \
         VALUES ($1, $2, $3, NULL) ON CONFLICT (parent_source_id, academy_id) \
         DO UPDATE SET invitation_id = excluded.invitation_id, closed_at = NULL",
    )
    .bind(parent_source_id)
    .bind(academy.to_string())
    .bind(invitation_id)
    .execute(db)
    .await?;
    Ok(())
}

/// The invitations of families the roster closed: they have left the
/// school, so nobody reminds them or gives them a new link.
pub async fn closed_invitations(db: impl AnyExecutor<'_>) -> Result<HashSet<String>, AppError> {
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT invitation_id FROM roster_families WHERE closed_at IS NOT NULL")
            .fetch_all(db)
            .await?;
    Ok(ids.into_iter().collect())
}

/// An invitation's parent/carer and children as the MIS now has them.
pub async fn update_invitation(
    db: impl AnyExecutor<'_>,
    invitation_id: &str,
    parent_name: &str,
    parent_email: Option<&str>,
    children: &[Child],
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE parent_invitations SET parent_name = $1, parent_email = $2, children = $3 \
         WHERE id = $4",
    )
    .bind(parent_name)
    .bind(parent_email)
    .bind(to_json(&children))
    .bind(invitation_id)
    .execute(db)
    .await?;
    Ok(())
}

/// A family that has left: its link stops working at `now` and its parent
/// sessions end; the invitation and what was signed stay.
pub async fn close_family(
    tx: &mut AnyConnection,
    invitation_id: &str,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query("UPDATE roster_families SET closed_at = $1 WHERE invitation_id = $2")
        .bind(now)
        .bind(invitation_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE parent_invitations SET expires_at = $1 WHERE id = $2 AND expires_at > $1")
        .bind(now)
        .bind(invitation_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM parent_sessions WHERE invitation_id = $1")
        .bind(invitation_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
