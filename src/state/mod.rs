//! App-wide state shared through Leptos context, and the background sync loop.

mod db;
mod sync_status;

pub use db::app_db;
pub use sync_status::{provide_sync_status, request_sync, use_sync_status, SyncStatus};
