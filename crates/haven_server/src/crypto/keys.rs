//! The server key: 32 random bytes in a file beside the database, made at
//! first start and readable only by the server's user.
//!
//! It is kept out of SQLite on purpose, so that a copy of the database alone
//! (a backup, a stolen file) opens nothing. It seals the TOTP secrets (which
//! the server must be able to read back, so they cannot be hashed) and derives
//! each staff member's *online key*: the secret a shared tablet needs to
//! recover that person's local key after too many wrong PINs.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::path::{Path, PathBuf};

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;

/// Why the server key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the server key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write a new server key to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the server key {path} is {len} bytes, not 32; restore it from backup \
         (without it, TOTP second factors must be enrolled again)"
    )]
    WrongLength { path: PathBuf, len: usize },
}

/// The server key, loaded.
#[derive(Clone)]
pub struct ServerKey {
    key: [u8; KEY_LEN],
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(..)")
    }
}

/// Where the key of the database at `database` lives: `haven.sqlite3` →
/// `haven.sqlite3.key`.
pub fn key_path_for(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

impl ServerKey {
    /// Reads the key at `path`, or makes a new one there if there is none.
    pub fn load_or_create(path: &Path) -> Result<ServerKey, KeyError> {
        match std::fs::read(path) {
            Ok(bytes) => ServerKey::from_file(path, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; KEY_LEN];
                rand::rngs::OsRng.fill_bytes(&mut key);
                match write_private(path, &key) {
                    Ok(()) => Ok(ServerKey { key }),
                    // Another instance sharing the key folder made it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        ServerKey::load_or_create(path)
                    }
                    Err(source) => Err(KeyError::Write {
                        path: path.to_owned(),
                        source,
                    }),
                }
            }
            Err(source) => Err(KeyError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The key in `bytes`, read from the key file `path` (named in the
    /// error if they are not a key).
    pub fn from_file(path: &Path, bytes: &[u8]) -> Result<ServerKey, KeyError> {
        let key: [u8; KEY_LEN] = bytes.try_into().map_err(|_| KeyError::WrongLength {
            path: path.to_owned(),
            len: bytes.len(),
        })?;
        Ok(ServerKey { key })
    }

    /// A key that lives only as long as the process: for a state built
    /// without a database file (tests), where nothing sealed must outlive it.
    pub fn random() -> ServerKey {
        let mut key = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut key);
        ServerKey { key }
    }

    /// A key for tests.
    pub fn from_bytes(key: [u8; KEY_LEN]) -> ServerKey {
        ServerKey { key }
    }

    /// Seals `plaintext` (AES-256-GCM, random nonce) as base64 text; `context`
    /// is bound in as associated data so a sealed value cannot be moved to
    /// another row.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let cipher = Aes256Gcm::new(&self.key.into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = aes_gcm::aead::Payload {
            msg: plaintext,
            aad: context.as_bytes(),
        };
        // Encryption with a 32-byte key and 12-byte nonce cannot fail.
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    /// Opens what [`ServerKey::seal`] made with the same `context`; `None` if
    /// it was altered, sealed for another context, or under another key.
    pub fn open(&self, sealed: &str, context: &str) -> Option<Vec<u8>> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let payload = aes_gcm::aead::Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        Aes256Gcm::new(&self.key.into())
            .decrypt(Nonce::from_slice(nonce), payload)
            .ok()
    }

    /// The online key of a staff member: stable for that person, different
    /// for everyone, and useless without this server.
    pub fn online_key(&self, user_id: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC takes a key of any length");
        mac.update(b"haven online key v1\0");
        mac.update(user_id.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Writes a new file only the owner can read (0600 on Unix), whole or not
/// at all: the bytes go to a temporary file first, which is then linked
/// under `path`. So instances starting at once on a shared key folder never
/// read a half-written key, and all but the first get `AlreadyExists`.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent {
        std::fs::create_dir_all(parent)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(
        ".new-{}-{}",
        std::process::id(),
        rand::rngs::OsRng.next_u64()
    ));
    let temporary = std::path::PathBuf::from(temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    // A hard link fails if `path` exists: the first writer wins.
    let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    linked?;
    if let Some(parent) = parent {
        // The new name, durable too (an fsync of the folder; best effort).
        let _ = std::fs::File::open(parent).and_then(|dir| dir.sync_all());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_context_and_key() {
        let key = ServerKey::from_bytes([7; 32]);
        let sealed = key.seal(b"JBSWY3DPEHPK3PXP", "totp:u1");
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(key.open(&sealed, "totp:u1").unwrap(), b"JBSWY3DPEHPK3PXP");
        assert_eq!(key.open(&sealed, "totp:u2"), None);
        assert_eq!(
            ServerKey::from_bytes([8; 32]).open(&sealed, "totp:u1"),
            None
        );
        assert_ne!(
            sealed,
            key.seal(b"JBSWY3DPEHPK3PXP", "totp:u1"),
            "fresh nonce"
        );
    }

    #[test]
    fn the_key_file_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = key_path_for(&dir.path().join("haven.sqlite3"));
        assert!(path.ends_with("haven.sqlite3.key"));
        let first = ServerKey::load_or_create(&path).unwrap();
        let again = ServerKey::load_or_create(&path).unwrap();
        assert_eq!(first.online_key("u1"), again.online_key("u1"));
        assert_ne!(first.online_key("u1"), first.online_key("u2"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            ServerKey::load_or_create(&path),
            Err(KeyError::WrongLength { len: 5, .. })
        ));
    }

    #[test]
    fn instances_starting_at_once_on_one_key_folder_all_get_the_same_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("haven.key");
            let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
                let starts: Vec<_> = (0..8)
                    .map(|_| s.spawn(|| ServerKey::load_or_create(&path).unwrap().online_key("u")))
                    .collect();
                starts.into_iter().map(|t| t.join().unwrap()).collect()
            });
            assert!(keys.iter().all(|k| *k == keys[0]), "two keys were made");
            // Nothing left behind but the key.
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        }
    }
}
