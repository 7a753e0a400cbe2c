//! Black-box tests of the HTTP API: each test starts the real server on a free
//! port with a fresh SQLite file and talks to it over HTTP.

mod academies;
mod academy_scope;
mod accounts;
mod admin_audit;
mod attachments;
mod auth;
mod authorization;
mod backup;
mod compliance;
mod cross_academy;
mod database;
mod device_binding;
mod headers;
mod health;
mod helpers;
mod import_cli;
mod incidents;
mod instances;
mod ledger;
mod library_client;
mod metrics;
mod migrate_data;
mod openapi;
mod policies;
mod publishing;
mod pull;
mod rate_limits;
mod request_ids;
mod rules;
mod second_factor;
mod static_files;
mod sync;
mod sync_credentials;
mod timeouts;
mod visits;
