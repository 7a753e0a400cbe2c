//! Pieces shared by several pages.

pub mod badge_scanner;
pub mod error_summary;
pub mod header;
pub mod qr;
pub mod resign;
pub mod signature_pad;
pub mod storage;
pub mod sync_badge;
pub mod text_size;
