//! The sync protocol: wire messages, the device's outbox rules and retry timing.
//!
//! Each device numbers its mutations 1, 2, 3, ... The server applies a mutation
//! and records the device's last applied number in one transaction, so a
//! replayed mutation is acknowledged without effect. See docs/sync-protocol.md.

pub mod backoff;
pub mod outbox;
pub mod wire;
