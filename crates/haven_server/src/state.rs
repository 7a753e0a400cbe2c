//! What every handler can reach.

use sqlx::SqlitePool;
use std::path::PathBuf;

/// Shared state of the app: cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: SqlitePool,
    /// Folder holding the built PWA.
    pub static_dir: PathBuf,
}

impl AppState {
    pub fn new(pool: SqlitePool, static_dir: impl Into<PathBuf>) -> Self {
        AppState {
            pool,
            static_dir: static_dir.into(),
        }
    }
}
