//! The sync protocol: wire messages, the device's outbox rules, retry timing,
//! the device's push state machine and the server's push rules.
//!
//! Each device numbers its mutations 1, 2, 3, ... The server applies a mutation
//! and records the device's last applied number in one transaction, so a
//! replayed mutation is acknowledged without effect. See docs/sync-protocol.md.

pub mod backoff;
pub mod machine;
pub mod outbox;
pub mod server_rules;
pub mod staff_proof;
pub mod wire;
