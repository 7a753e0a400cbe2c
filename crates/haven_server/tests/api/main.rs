//! Black-box tests of the HTTP API: each test starts the real server on a free
//! port with a fresh SQLite file and talks to it over HTTP.

mod auth;
mod database;
mod headers;
mod health;
mod helpers;
mod policies;
mod static_files;
mod sync;
