//! One module per route.

pub mod account;
pub mod admin;
pub mod drafts;
pub mod enrol;
pub mod home;
pub mod incident;
pub mod invite;
pub mod join;
pub mod kiosk;
pub mod manage;
pub mod not_found;
pub mod policies;
pub mod publish;
pub mod reader;
pub mod sign;
pub mod signin;
pub mod status;
pub mod unlock;
pub mod verify;
