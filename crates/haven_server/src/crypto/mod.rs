//! Keys and secrets: the server key that seals TOTP secrets and derives
//! online keys (`keys`), the RSA incident key (`incident_key`), RFC 6238
//! codes (`totp`), passwords and bearer tokens (`tokens`), and argon2id
//! hashing off the async threads (`hashing`).

pub mod hashing;
pub mod incident_key;
pub mod keys;
pub mod tokens;
pub mod totp;
