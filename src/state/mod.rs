//! App-wide state shared through Leptos context, and the background sync loop.

pub mod background_sync;
mod db;
pub mod device_role;
pub mod lifecycle;
pub mod session;
mod sync_status;
pub mod tabs;

pub use db::app_db;
pub use sync_status::{
    nudge_sync, provide_sync_status, refresh_counts, request_sync, use_sync_status, Connection,
    SyncStatus, STALE_AFTER_MS,
};
