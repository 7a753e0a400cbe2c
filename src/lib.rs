//! Haven's PWA: Leptos, client-side rendered, offline first.
//!
//! `main.rs` only mounts [`App`]. Pages and components read and write through
//! [`db`] and [`state`]; [`sync`] moves the outbox to the server.

pub mod api;
pub mod app;
pub mod attachments;
pub mod clock;
pub mod components;
pub mod db;
pub mod lock;
pub mod pages;
pub mod photo;
pub mod prerender;
pub mod state;
pub mod sync;

pub use app::{App, ReaderApp};
