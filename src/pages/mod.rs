//! One module per route.

pub mod admin;
pub mod home;
pub mod not_found;
pub mod policies;
pub mod publish;
pub mod reader;
pub mod sign;
pub mod status;
