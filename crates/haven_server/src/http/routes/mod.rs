//! The API under `/api`: one module per resource.

pub(crate) mod academies;
pub(crate) mod agreements;
pub(crate) mod attachments;
pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod compliance;
pub(crate) mod devices;
pub(crate) mod health;
pub(crate) mod incidents;
pub(crate) mod parents;
pub(crate) mod policies;
pub(crate) mod pull;
pub(crate) mod reception;
pub(crate) mod roster;
pub(crate) mod rules;
pub(crate) mod settings;
pub(crate) mod staff;
pub(crate) mod sync;
pub(crate) mod sync_credentials;
pub(crate) mod trust;
pub(crate) mod verify;

use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, OriginalUri};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, Method};
use axum::routing::{get, post, put};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;
use uuid::Uuid;

/// Largest push body, in bytes: 100 agreements with long drawn signatures,
/// or one incident at its largest, and room. (Incident attachments travel
/// apart, in pieces: `/attachments`.)
pub const PUSH_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// Routes of `/api`, to be nested there. Unknown paths and methods answer JSON.
pub fn api() -> Router<AppState> {
    let v1 = Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/openapi.json", get(crate::http::openapi::serve))
        .route("/policies", get(policies::list).post(policies::publish))
        .route("/policies/{version_id}", get(policies::get_version))
        .route("/policies/{policy_id}/versions", get(policies::versions))
        .route("/rules", get(rules::get).put(rules::put))
        .route("/academies", get(academies::list))
        .route("/academies/{academy_id}", put(academies::put))
        .route(
            "/academies/{academy_id}/reception",
            put(reception::put_settings),
        )
        .route("/trust", get(trust::get).put(trust::put))
        .route("/pull", get(pull::pull))
        // A push of 100 agreements may be more than the default 2 MiB.
        .route(
            "/sync/push",
            post(sync::push).layer(DefaultBodyLimit::max(PUSH_BODY_LIMIT)),
        )
        .route("/attachments/{sha256}", get(attachments::status))
        .route(
            "/attachments/{sha256}/pieces/{index}",
            put(attachments::put_piece).layer(DefaultBodyLimit::max(attachments::PIECE_BODY_LIMIT)),
        )
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/logout-everywhere", post(auth::logout_everywhere))
        .route("/auth/me", get(auth::me))
        .route("/auth/sync-credential", post(sync_credentials::create))
        .route("/auth/totp/setup", post(auth::totp_setup))
        .route("/auth/totp/confirm", post(auth::totp_confirm))
        .route("/auth/totp/remove", post(auth::totp_remove))
        .route("/auth/setup", post(auth::setup))
        .route("/auth/invitations/accept", post(auth::accept_invitation))
        .route("/staff", get(staff::list).post(staff::invite))
        .route("/staff/import", post(staff::import))
        // A large trust's roster export may be more than the default 2 MiB.
        .route(
            "/roster/import",
            post(roster::import).layer(DefaultBodyLimit::max(roster::ROSTER_BODY_LIMIT)),
        )
        .route("/staff/{user_id}/roles", put(staff::put_roles))
        .route("/staff/{user_id}/active", put(staff::set_active))
        .route(
            "/staff/{user_id}/second-factor/reset",
            post(staff::reset_second_factor),
        )
        .route("/settings/accounts", get(settings::get).put(settings::put))
        .route(
            "/settings/reminders",
            get(settings::get_reminders).put(settings::put_reminders),
        )
        .route("/devices", get(devices::list))
        .route("/devices/codes", post(devices::create_code))
        .route("/devices/enrol", post(devices::enrol))
        .route("/devices/{device_id}/revoke", post(devices::revoke))
        .route("/parent-invitations", get(parents::list))
        .route("/parent-invitations/import", post(parents::import))
        .route("/parent-invitations/redeem", post(parents::redeem))
        .route("/parent-invitations/mine", get(parents::mine))
        .route(
            "/parent-invitations/{invitation_id}/link",
            post(parents::reissue),
        )
        .route("/audit", get(audit::list))
        .route("/agreements", get(agreements::list))
        .route("/verify/{code}", get(verify::verify))
        .route("/compliance", get(compliance::academy))
        .route("/compliance/mine", get(compliance::mine))
        .route("/compliance/chase", get(compliance::chase))
        .route("/compliance/reminders", post(compliance::remind))
        .route("/reception/{academy_id}", get(reception::snapshot))
        .route("/incidents", get(incidents::list))
        .route("/incidents/key", get(incidents::key))
        .route("/incidents/alerts", get(incidents::alerts))
        .route("/incidents/report", get(incidents::report))
        .route("/incidents/report.csv", get(incidents::report_csv))
        .route("/incidents/person", get(incidents::person))
        .route("/incidents/{incident_id}", get(incidents::get))
        .route(
            "/incidents/{incident_id}/attachments/{sha256}",
            get(incidents::attachment),
        )
        .route(
            "/incidents/{incident_id}/follow-ups",
            post(incidents::add_follow_up),
        )
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .nest("/v1", v1)
        .fallback(not_found)
        // API answers can hold personal data and are never to be reused from an
        // HTTP cache; the PWA keeps its own copy in IndexedDB.
        .layer(SetResponseHeaderLayer::if_not_present(
            CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

/// A UUID from a path segment, or a 400 that says what was expected.
fn parse_id(s: &str, what: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(s)
        .map_err(|_| AppError::BadRequest(format!("{s:?} is not a {what}; expected a UUID")))
}

async fn not_found(OriginalUri(uri): OriginalUri) -> AppError {
    AppError::NotFound(format!("there is no API endpoint at {}", uri.path()))
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> AppError {
    AppError::MethodNotAllowed(format!("{method} {}", uri.path()))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("the routes folder") {
            let path = entry.expect("a routes entry").path();
            if path.is_dir() {
                rust_files(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }

    /// Handlers extract, authorise, call a store module and answer: none
    /// names the database driver. (The word is split so this file passes.)
    #[test]
    fn no_handler_touches_the_database_driver() {
        let driver = concat!("sq", "lx");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/routes");
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        assert!(files.len() > 10, "found only {files:?} under {dir:?}");
        let offenders: Vec<String> = files
            .iter()
            .filter(|path| {
                std::fs::read_to_string(path)
                    .expect("a readable route file")
                    .contains(driver)
            })
            .map(|path| path.display().to_string())
            .collect();
        assert!(
            offenders.is_empty(),
            "route handlers use the database driver; move the queries into a store module: \
             {offenders:?}"
        );
    }
}
