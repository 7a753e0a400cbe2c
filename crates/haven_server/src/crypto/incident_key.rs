//! The incident key pair: a 2048-bit RSA key in a file beside the database,
//! made the first time it is needed and readable only by the server's user.
//!
//! Devices seal each incident for it (see `haven_core::incident`): the
//! record's JSON under a fresh AES-256-GCM key, that key wrapped with
//! RSA-OAEP (SHA-256, MGF1 SHA-256, no label) as WebCrypto does. Only the
//! public half leaves the server (`GET /api/v1/incidents/key`).
//!
//! Like the server key ([`crate::crypto::keys`]) it is kept out of SQLite, so a copy
//! of the database alone opens no incident still queued on a device. It is
//! made lazily because most servers (and most tests) never need it, and RSA
//! key generation takes a while. A state built without a database file
//! (tests) keeps its pair in memory only.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use haven_core::incident::{IncidentKey, IncidentRecord, SealedIncident, MAX_SEALED_CHARS};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::{Oaep, RsaPrivateKey};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Size of the RSA modulus, in bits.
pub const KEY_BITS: usize = 2048;
const AES_KEY_LEN: usize = 32;
const IV_LEN: usize = 12;

/// Why the incident key cannot be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum IncidentKeyError {
    #[error("cannot read the incident key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write a new incident key to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the incident key {path} is not an RSA private key in PKCS#8 PEM ({reason}); restore it \
         from backup (without it, incidents still queued on devices cannot be opened)"
    )]
    Malformed { path: PathBuf, reason: String },
    #[error("cannot make an incident key: {0}")]
    Generate(String),
}

/// Why a sealed incident cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Sealed for another key (an older server key, another server).
    #[error("sealed for key {got}, but this server's incident key is {ours}")]
    UnknownKey { got: String, ours: String },
    /// Not base64, the wrong length, altered, or not made with this key.
    #[error("{0}")]
    CannotDecrypt(&'static str),
    /// Too large to be an incident within the attachment limits.
    #[error("the sealed incident is {0} characters; the most is {MAX_SEALED_CHARS}")]
    TooLarge(usize),
    /// Decrypted, but the JSON is not an incident record.
    #[error("{0}")]
    NotARecord(String),
}

/// The key pair, loaded.
pub struct IncidentKeyPair {
    private: RsaPrivateKey,
    public: IncidentKey,
}

impl std::fmt::Debug for IncidentKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IncidentKeyPair({})", self.public.key_id)
    }
}

/// Where the incident key of the database at `database` lives:
/// `haven.sqlite3` → `haven.sqlite3.incident-key.pem`.
pub fn incident_key_path_for(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".incident-key.pem");
    PathBuf::from(name)
}

impl IncidentKeyPair {
    /// A new random pair (slow: call it from a blocking task).
    pub fn generate() -> Result<IncidentKeyPair, IncidentKeyError> {
        let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, KEY_BITS)
            .map_err(|e| IncidentKeyError::Generate(e.to_string()))?;
        IncidentKeyPair::from_private(private).map_err(IncidentKeyError::Generate)
    }

    fn from_private(private: RsaPrivateKey) -> Result<IncidentKeyPair, String> {
        let spki = private
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| e.to_string())?;
        let digest = Sha256::digest(spki.as_bytes());
        let public = IncidentKey {
            key_id: hex::encode(digest)[..16].to_owned(),
            spki: STANDARD.encode(spki.as_bytes()),
        };
        Ok(IncidentKeyPair { private, public })
    }

    /// The pair in `pem`, read from the key file `path` (named in the error
    /// if it is not a key).
    pub fn from_file(path: &Path, pem: &str) -> Result<IncidentKeyPair, IncidentKeyError> {
        let malformed = |reason: String| IncidentKeyError::Malformed {
            path: path.to_owned(),
            reason,
        };
        let private = RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| malformed(e.to_string()))?;
        IncidentKeyPair::from_private(private).map_err(malformed)
    }

    /// Reads the pair at `path`, or makes a new one there if there is none
    /// (slow then: call it from a blocking task).
    pub fn load_or_create(path: &Path) -> Result<IncidentKeyPair, IncidentKeyError> {
        match std::fs::read_to_string(path) {
            Ok(pem) => IncidentKeyPair::from_file(path, &pem),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pair = IncidentKeyPair::generate()?;
                let pem = pair
                    .private
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| IncidentKeyError::Generate(e.to_string()))?;
                match crate::crypto::keys::write_private(path, pem.as_bytes()) {
                    Ok(()) => Ok(pair),
                    // Another process made it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        IncidentKeyPair::load_or_create(path)
                    }
                    Err(source) => Err(IncidentKeyError::Write {
                        path: path.to_owned(),
                        source,
                    }),
                }
            }
            Err(source) => Err(IncidentKeyError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The public half, as devices fetch it.
    pub fn public(&self) -> &IncidentKey {
        &self.public
    }

    /// Unwraps the AES key and decrypts the record. Checks nothing about the
    /// record beyond its being one (the caller validates it).
    pub fn open(&self, sealed: &SealedIncident) -> Result<IncidentRecord, OpenError> {
        if sealed.key_id != self.public.key_id {
            return Err(OpenError::UnknownKey {
                got: sealed.key_id.clone(),
                ours: self.public.key_id.clone(),
            });
        }
        if sealed.ciphertext.len() > MAX_SEALED_CHARS {
            return Err(OpenError::TooLarge(sealed.ciphertext.len()));
        }
        let decode = |field: &'static str, value: &str| {
            STANDARD
                .decode(value)
                .map_err(|_| OpenError::CannotDecrypt(field))
        };
        let wrapped = decode("wrapped_key is not base64", &sealed.wrapped_key)?;
        let iv = decode("iv is not base64", &sealed.iv)?;
        let ciphertext = decode("ciphertext is not base64", &sealed.ciphertext)?;
        if iv.len() != IV_LEN {
            return Err(OpenError::CannotDecrypt("iv is not 12 bytes"));
        }
        // Blinded: the exponentiation runs on c·r^e for a fresh random r, so
        // its timing is not a function of the caller's chosen ciphertext
        // (RUSTSEC-2023-0071; see .cargo/audit.toml for what remains).
        let key = self
            .private
            .decrypt_blinded(&mut rand::rngs::OsRng, Oaep::new::<Sha256>(), &wrapped)
            .map_err(|_| OpenError::CannotDecrypt("the wrapped key does not open with this key"))?;
        if key.len() != AES_KEY_LEN {
            return Err(OpenError::CannotDecrypt("the wrapped key is not 32 bytes"));
        }
        let cipher = Aes256Gcm::new_from_slice(&key)
            .map_err(|_| OpenError::CannotDecrypt("the wrapped key is not 32 bytes"))?;
        let json = cipher
            .decrypt(Nonce::from_slice(&iv), ciphertext.as_slice())
            .map_err(|_| OpenError::CannotDecrypt("the ciphertext was altered or is incomplete"))?;
        serde_json::from_slice(&json).map_err(|e| OpenError::NotARecord(e.to_string()))
    }
}

/// Where the pair comes from, and the pair once it is needed.
#[derive(Debug)]
pub struct IncidentKeyStore {
    /// The key file; `None` keeps a pair in memory for the process's life.
    path: Option<PathBuf>,
    pair: tokio::sync::OnceCell<Arc<IncidentKeyPair>>,
}

impl IncidentKeyStore {
    /// A pair made on first need and never written anywhere (tests).
    pub fn in_memory() -> IncidentKeyStore {
        IncidentKeyStore {
            path: None,
            pair: tokio::sync::OnceCell::new(),
        }
    }

    /// The pair in `path`, made there on first need.
    pub fn file(path: PathBuf) -> IncidentKeyStore {
        IncidentKeyStore {
            path: Some(path),
            pair: tokio::sync::OnceCell::new(),
        }
    }

    /// The pair, loaded or made on the first call (off the async threads).
    pub async fn get(&self) -> Result<Arc<IncidentKeyPair>, IncidentKeyError> {
        self.pair
            .get_or_try_init(|| async {
                let path = self.path.clone();
                let made = tokio::task::spawn_blocking(move || match path {
                    Some(path) => IncidentKeyPair::load_or_create(&path),
                    None => IncidentKeyPair::generate(),
                })
                .await
                .map_err(|e| IncidentKeyError::Generate(e.to_string()))??;
                tracing::info!(key_id = %made.public.key_id, "incident key ready");
                Ok(Arc::new(made))
            })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePublicKey;
    use rsa::RsaPublicKey;

    /// What a device does: seal `json` for `public`.
    fn seal(public: &IncidentKey, json: &[u8]) -> SealedIncident {
        let der = STANDARD.decode(&public.spki).unwrap();
        let rsa = RsaPublicKey::from_public_key_der(&der).unwrap();
        let key = [9u8; 32];
        let iv = [3u8; 12];
        let ciphertext = Aes256Gcm::new_from_slice(&key)
            .unwrap()
            .encrypt(Nonce::from_slice(&iv), json)
            .unwrap();
        let wrapped = rsa
            .encrypt(&mut rand::rngs::OsRng, Oaep::new::<Sha256>(), &key)
            .unwrap();
        SealedIncident {
            id: uuid::Uuid::nil(),
            device_id: uuid::Uuid::nil(),
            key_id: public.key_id.clone(),
            wrapped_key: STANDARD.encode(wrapped),
            iv: STANDARD.encode(iv),
            ciphertext: STANDARD.encode(ciphertext),
        }
    }

    #[test]
    fn the_key_file_is_private_reused_and_opens_what_was_sealed_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = incident_key_path_for(&dir.path().join("haven.sqlite3"));
        assert!(path.ends_with("haven.sqlite3.incident-key.pem"));
        let first = IncidentKeyPair::load_or_create(&path).unwrap();
        let again = IncidentKeyPair::load_or_create(&path).unwrap();
        assert_eq!(first.public(), again.public());
        assert_eq!(first.public().key_id.len(), 16);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        let sealed = seal(first.public(), b"{\"not\": \"a record\"}");
        assert!(matches!(again.open(&sealed), Err(OpenError::NotARecord(_))));
        let mut tampered = sealed.clone();
        let mut bytes = STANDARD.decode(&tampered.ciphertext).unwrap();
        bytes[0] ^= 1;
        tampered.ciphertext = STANDARD.encode(bytes);
        assert!(matches!(
            again.open(&tampered),
            Err(OpenError::CannotDecrypt(_))
        ));
        let other = SealedIncident {
            key_id: "0000000000000000".into(),
            ..sealed
        };
        assert!(matches!(
            again.open(&other),
            Err(OpenError::UnknownKey { .. })
        ));

        std::fs::write(&path, "not a key").unwrap();
        assert!(matches!(
            IncidentKeyPair::load_or_create(&path),
            Err(IncidentKeyError::Malformed { .. })
        ));
    }
}
