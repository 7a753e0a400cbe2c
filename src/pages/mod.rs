//! One module per route.

pub mod home;
pub mod not_found;
pub mod policies;
pub mod reader;
pub mod sign;
pub mod status;
