//! What every handler can reach.

use sqlx::SqlitePool;
use std::path::PathBuf;

/// Shared state of the app: cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: SqlitePool,
    /// Folder holding the built PWA.
    pub static_dir: PathBuf,
    /// Whether `X-Forwarded-Proto` from a reverse proxy is believed (see
    /// [`crate::Config::trust_proxy`]).
    pub trust_proxy: bool,
}

impl AppState {
    pub fn new(pool: SqlitePool, static_dir: impl Into<PathBuf>) -> Self {
        AppState {
            pool,
            static_dir: static_dir.into(),
            trust_proxy: false,
        }
    }

    /// The same state, believing `X-Forwarded-Proto` or not.
    pub fn with_trust_proxy(mut self, trust_proxy: bool) -> Self {
        self.trust_proxy = trust_proxy;
        self
    }
}
