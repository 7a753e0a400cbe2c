//! The reception desk in the database: visits and their ends (append-only,
//! written by a push; the rules are in `push.rs`), each academy's reception
//! settings, the roll call a reception device asks for, and the retention
//! purge.
//!
//! Triggers refuse any change to a stored visit or end (migration 0007);
//! only [`purge`] deletes them, once their academy's retention has passed.

use crate::error::AppError;
use crate::store::audit::{Action, Entry};
use crate::store::db::begin_write;
use crate::store::db::parse_id;
use haven_core::visit::{
    server_may_forget, sign_in_clock_wrong, sign_out_clock_wrong, Host, ReceptionDevice,
    ReceptionSettings, ReceptionSnapshot, VisitEnd, VisitRecord, DAY_MS,
};
use haven_core::Millis;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::{Any, AnyExecutor, AnyPool, Transaction};
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// How often the running server looks for visits past their retention.
pub const PURGE_EVERY: Duration = Duration::from_secs(60 * 60);

/// How far back the roll call lists ended visits, so a device that missed a
/// sign-out made on another desk still drops the visitor.
pub const ENDED_RECENTLY_MS: Millis = DAY_MS;

/// The name serde gives a unit variant (`"badge_scan"`), as stored.
fn wire_name<T: Serialize>(value: T) -> Result<String, AppError> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => Ok(name),
        other => Err(AppError::Internal(format!("not a unit variant: {other:?}"))),
    }
}

/// A stored wire name read back.
fn from_wire_name<T: DeserializeOwned>(what: &str, name: &str) -> Result<T, AppError> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|e| AppError::Internal(format!("bad {what} {name:?} in the database: {e}")))
}

fn days_from_db(what: &str, days: i64) -> Result<u32, AppError> {
    u32::try_from(days)
        .map_err(|_| AppError::Internal(format!("bad {what} {days} in the database")))
}

/// Stores a visit as received at server time `received_at`, marked if its
/// device's clock was wrong. `false` when a visit with its id is stored
/// already (the same sign-in pushed again): that one is kept.
pub async fn insert_visit(
    tx: &mut Transaction<'static, Any>,
    visit: &VisitRecord,
    mutation_id: i64,
    received_at: Millis,
    identified_by: &str,
) -> Result<bool, AppError> {
    let record_json = serde_json::to_string(visit)
        .map_err(|e| AppError::Internal(format!("cannot serialise a visit: {e}")))?;
    let inserted = sqlx::query(
        "INSERT INTO visits (id, academy_id, device_id, mutation_id, visitor_name, organisation, \
         visitor_type, host_name, host_staff_id, badge_code, signed_in_at, escort_required, \
         agreement_id, agreement_version_id, record_json, identified_by, received_at, \
         clock_skew) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(visit.id.to_string())
    .bind(visit.academy_id.to_string())
    .bind(visit.device_id.to_string())
    .bind(mutation_id)
    .bind(&visit.visitor_name)
    .bind(&visit.organisation)
    .bind(visit.visitor_type.wire_name())
    .bind(&visit.host.name)
    .bind(visit.host.staff_id.map(|id| id.to_string()))
    .bind(&visit.badge_code)
    .bind(visit.signed_in_at)
    .bind(i64::from(visit.escort_required))
    .bind(visit.agreement_id.to_string())
    .bind(visit.agreement_version_id.to_string())
    .bind(record_json)
    .bind(identified_by)
    .bind(received_at)
    .bind(i64::from(sign_in_clock_wrong(visit.signed_in_at, received_at)))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// What an end is checked against: where and when the visit began.
#[derive(Debug, Clone, Copy)]
pub struct StoredVisit {
    pub academy_id: Uuid,
    pub signed_in_at: Millis,
}

pub async fn find_visit(
    db: impl AnyExecutor<'_>,
    id: Uuid,
) -> Result<Option<StoredVisit>, AppError> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT academy_id, signed_in_at FROM visits WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(db)
            .await?;
    row.map(|(academy, signed_in_at)| {
        Ok(StoredVisit {
            academy_id: parse_id(&academy)?,
            signed_in_at,
        })
    })
    .transpose()
}

/// Stores the end of `visit` as received at server time `received_at`,
/// marked if a device's clock was wrong (a sign-out before the sign-in is
/// kept, not refused). `false` when that end, or any end of the same visit,
/// is stored already: the first one is kept.
pub async fn insert_end(
    tx: &mut Transaction<'static, Any>,
    visit: &StoredVisit,
    end: &VisitEnd,
    mutation_id: i64,
    received_at: Millis,
    identified_by: &str,
) -> Result<bool, AppError> {
    let inserted = sqlx::query(
        "INSERT INTO visit_ends (id, visit_id, device_id, mutation_id, signed_out_at, method, \
         identified_by, received_at, clock_skew) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT DO NOTHING",
    )
    .bind(end.id.to_string())
    .bind(end.visit_id.to_string())
    .bind(end.device_id.to_string())
    .bind(mutation_id)
    .bind(end.signed_out_at)
    .bind(wire_name(end.method)?)
    .bind(identified_by)
    .bind(received_at)
    .bind(i64::from(sign_out_clock_wrong(
        visit.signed_in_at,
        end.signed_out_at,
        received_at,
    )))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// An academy's reception rules: the stored ones, or the defaults.
pub async fn settings(
    db: impl AnyExecutor<'_>,
    academy: Uuid,
) -> Result<ReceptionSettings, AppError> {
    let row: Option<(String, i64, i64)> = sqlx::query_as(
        "SELECT escort_rule, device_retention_days, server_retention_days \
         FROM reception_settings WHERE academy_id = $1",
    )
    .bind(academy.to_string())
    .fetch_optional(db)
    .await?;
    let Some((escort_rule, device_days, server_days)) = row else {
        return Ok(ReceptionSettings::default());
    };
    Ok(ReceptionSettings {
        escort_rule: from_wire_name("escort rule", &escort_rule)?,
        device_retention_days: days_from_db("device retention", device_days)?,
        server_retention_days: days_from_db("server retention", server_days)?,
    })
}

/// Replaces an academy's reception rules (already validated).
pub async fn put_settings(
    db: impl AnyExecutor<'_>,
    academy: Uuid,
    settings: &ReceptionSettings,
    now: Millis,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO reception_settings (academy_id, escort_rule, device_retention_days, \
         server_retention_days, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (academy_id) DO UPDATE SET escort_rule = excluded.escort_rule, \
         device_retention_days = excluded.device_retention_days, \
         server_retention_days = excluded.server_retention_days, updated_at = excluded.updated_at",
    )
    .bind(academy.to_string())
    .bind(wire_name(settings.escort_rule)?)
    .bind(i64::from(settings.device_retention_days))
    .bind(i64::from(settings.server_retention_days))
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// The academy's roll call at server time `now`: its rules, its active
/// staff as hosts, every visit without an end (from whichever device), the
/// visits whose end arrived in the last day, which of those have times from
/// a wrong clock, and its reception kiosks with when each last pushed.
pub async fn snapshot(
    pool: &AnyPool,
    academy: Uuid,
    now: Millis,
) -> Result<ReceptionSnapshot, AppError> {
    let academy_id = academy.to_string();
    let hosts: Vec<(String, String)> = sqlx::query_as(
        "SELECT u.id, u.name FROM users u WHERE u.active = 1 AND EXISTS \
         (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.academy_id = $1) \
         ORDER BY lower(u.name), u.id",
    )
    .bind(&academy_id)
    .fetch_all(pool)
    .await?;
    let on_site: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT v.record_json, v.id, v.clock_skew FROM visits v \
         LEFT JOIN visit_ends e ON e.visit_id = v.id \
         WHERE v.academy_id = $1 AND e.id IS NULL ORDER BY v.signed_in_at, v.id",
    )
    .bind(&academy_id)
    .fetch_all(pool)
    .await?;
    let ended: Vec<(String, i64)> = sqlx::query_as(
        "SELECT v.id, CAST(CASE WHEN v.clock_skew = 1 OR e.clock_skew = 1 THEN 1 ELSE 0 END AS BIGINT) \
         FROM visit_ends e \
         JOIN visits v ON v.id = e.visit_id \
         WHERE v.academy_id = $1 AND e.received_at >= $2 ORDER BY e.received_at, v.id",
    )
    .bind(&academy_id)
    .bind(now.saturating_sub(ENDED_RECENTLY_MS))
    .fetch_all(pool)
    .await?;
    // The sync row's `last_seen_at` is the server's clock at the device's
    // last push, which says how fresh its visitors are; `last_contact_at`
    // (any request, this poll included) would not.
    let devices: Vec<(String, String, Option<i64>)> = sqlx::query_as(
        "SELECT e.sync_device_id, e.label, d.last_seen_at FROM enrolled_devices e \
         LEFT JOIN devices d ON d.device_id = (SELECT device_id FROM devices \
         WHERE binding = 'enrolled:' || e.id ORDER BY last_seen_at DESC LIMIT 1) \
         WHERE e.academy_id = $1 AND e.kind = 'reception_kiosk' AND e.revoked_at IS NULL \
         ORDER BY lower(e.label), e.id",
    )
    .bind(&academy_id)
    .fetch_all(pool)
    .await?;

    let clock_wrong = on_site
        .iter()
        .map(|(_, id, skew)| (id, skew))
        .chain(ended.iter().map(|(id, skew)| (id, skew)))
        .filter(|(_, skew)| **skew != 0)
        .map(|(id, _)| parse_id(id))
        .collect::<Result<_, _>>()?;

    Ok(ReceptionSnapshot {
        academy_id: academy,
        settings: settings(pool, academy).await?,
        hosts: hosts
            .into_iter()
            .map(|(id, name)| {
                Ok(Host {
                    staff_id: Some(parse_id(&id)?),
                    name,
                })
            })
            .collect::<Result<_, AppError>>()?,
        on_site: on_site
            .into_iter()
            .map(|(json, _, _)| {
                serde_json::from_str(&json)
                    .map_err(|e| AppError::Internal(format!("bad visit in the database: {e}")))
            })
            .collect::<Result<_, AppError>>()?,
        ended_recently: ended
            .iter()
            .map(|(id, _)| parse_id(id))
            .collect::<Result<_, _>>()?,
        clock_wrong,
        devices: devices
            .into_iter()
            .map(|(id, label, last_seen_at)| {
                Ok(ReceptionDevice {
                    device_id: parse_id(&id)?,
                    label,
                    last_seen_at,
                })
            })
            .collect::<Result<_, AppError>>()?,
        generated_at: now,
    })
}

/// Deletes every visit (with its end) whose end the server received longer
/// ago than its academy's `server_retention_days` at server time `now`
/// ([`server_may_forget`]): the server's clock both times, never the
/// device's sign-out time. A visit that never ended is kept. Writes one
/// audit entry per academy it removed visits from, and says how many went.
pub async fn purge(pool: &AnyPool, now: Millis) -> Result<u64, AppError> {
    let default_days = i64::from(ReceptionSettings::default().server_retention_days);
    let mut tx = begin_write(pool).await?;
    // The shortest retention is one day, which the index narrows to; the
    // exact rule is applied below.
    let candidates: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT v.id, v.academy_id, e.received_at, COALESCE(s.server_retention_days, $1) \
         FROM visit_ends e JOIN visits v ON v.id = e.visit_id \
         LEFT JOIN reception_settings s ON s.academy_id = v.academy_id \
         WHERE e.received_at <= $2",
    )
    .bind(default_days)
    .bind(now.saturating_sub(DAY_MS))
    .fetch_all(&mut *tx)
    .await?;
    // Per academy: how many went, and the retention they went under.
    let mut removed: BTreeMap<String, (u64, u32)> = BTreeMap::new();
    for (id, academy, end_received_at, days) in candidates {
        let days = days_from_db("server retention", days)?;
        if !server_may_forget(Some(end_received_at), now, days) {
            continue;
        }
        // The end goes with its visit (ON DELETE CASCADE); said outright so
        // the purge does not depend on the connection's foreign_keys setting.
        sqlx::query("DELETE FROM visit_ends WHERE visit_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM visits WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        removed.entry(academy).or_insert((0, days)).0 += 1;
    }
    let mut total = 0;
    for (academy, (count, days)) in &removed {
        Entry::new(SYSTEM_ACTOR, Action::VisitsPurged)
            .academy(academy)
            .detail(format!(
                "{count} visit(s) whose end arrived more than {days} days ago removed"
            ))
            .write(&mut *tx)
            .await?;
        total += count;
    }
    tx.commit().await?;
    Ok(total)
}

/// The audit actor of what the server does by itself.
pub const SYSTEM_ACTOR: &str = "system";
