//! Haven's domain, shared by the PWA and the server.
//!
//! This crate does no IO: it never touches the network, storage, the clock or a
//! random source. Callers pass time (milliseconds since the Unix epoch) and ids in,
//! which is what lets the sync protocol run in memory in tests.

pub mod accounts;
pub mod agreement;
pub mod api;
pub mod calendar;
pub mod compliance;
pub mod crockford;
pub mod device_role;
pub mod hash;
pub mod import;
pub mod incident;
pub mod incident_log;
pub mod ledger;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod org;
pub mod policy;
pub mod policy_diff;
pub mod pull;
pub mod reminders;
pub mod render;
pub mod rules;
pub mod shell;
pub mod signature;
pub mod slug;
pub mod sync;
pub mod validate;
pub mod visit;

/// Milliseconds since the Unix epoch, as read by the shell (JS `Date.now()` on
/// the device, the system clock on the server).
pub type Millis = i64;
