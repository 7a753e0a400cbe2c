//! The binary's maintenance commands (`haven_server COMMAND`), one module
//! each: what it parses, what it calls in the library, and what it prints.

pub mod backup;
pub mod import;
pub mod ledger;
pub mod migrate_data;
pub mod purge;
