//! The WebCrypto calls the lock makes, typed. Every key here is AES-GCM-256;
//! keys that wrap other keys carry only wrapKey/unwrapKey, data keys only
//! encrypt/decrypt, so no key can be misused for the other job.

use super::{LockError, Sealed};
use js_sys::{Array, ArrayBuffer, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Crypto, CryptoKey, DomException, SubtleCrypto};

/// PBKDF2-SHA256 rounds for a PIN key (OWASP 2023). Stored with each PIN wrap,
/// so raising it later still opens wraps made before.
pub(crate) const PBKDF2_ITERATIONS: u32 = 600_000;
const SALT_LEN: usize = 16;
/// AES-GCM's standard nonce; random per encryption, never reused with a key.
const IV_LEN: usize = 12;
/// Length of the online secret and of every AES key here.
pub(crate) const KEY_LEN: usize = 32;
const AES_GCM: &str = "AES-GCM";

/// Why a WebCrypto call failed: `Rejected` is AES-GCM refusing the key or the
/// data (wrong PIN, another person's key, altered bytes); anything else is
/// the browser failing.
pub(crate) enum Failure {
    Rejected,
    Browser(String),
}

impl Failure {
    /// For callers to whom a refusal is no different from another failure.
    pub(crate) fn into_lock_error(self, what: &str) -> LockError {
        match self {
            Failure::Rejected => LockError::Crypto(format!(
                "{what}: it was locked with a different key, or has been damaged"
            )),
            Failure::Browser(detail) => LockError::Crypto(format!("{what}: {detail}")),
        }
    }
}

fn failure(err: JsValue) -> Failure {
    match err.dyn_ref::<DomException>() {
        Some(e) if e.name() == "OperationError" => Failure::Rejected,
        Some(e) => Failure::Browser(format!("{}: {}", e.name(), e.message())),
        None => Failure::Browser(
            err.as_string()
                .or_else(|| err.dyn_ref::<js_sys::Error>().map(|e| e.message().into()))
                .unwrap_or_else(|| format!("{err:?}")),
        ),
    }
}

fn subtle() -> Result<SubtleCrypto, Failure> {
    let crypto: Crypto = Reflect::get(&js_sys::global(), &"crypto".into())
        .ok()
        .and_then(|c| c.dyn_into().ok())
        .ok_or_else(|| Failure::Browser("this browser has no Web Crypto".into()))?;
    // `crypto.subtle` exists only on https (or localhost) pages.
    let subtle = Reflect::get(&crypto, &"subtle".into()).unwrap_or(JsValue::UNDEFINED);
    if subtle.is_undefined() {
        return Err(Failure::Browser(
            "encryption needs Haven to be opened over https".into(),
        ));
    }
    Ok(subtle.unchecked_into())
}

async fn settle(promise: Result<Promise, JsValue>) -> Result<JsValue, Failure> {
    JsFuture::from(promise.map_err(failure)?)
        .await
        .map_err(failure)
}

/// Fresh random bytes from `crypto.getRandomValues`.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // It cannot fail in a browser that runs wasm (see clock::new_id).
    getrandom::fill(&mut bytes).expect("crypto.getRandomValues is available");
    bytes
}

pub(crate) fn new_salt() -> Vec<u8> {
    random::<SALT_LEN>().to_vec()
}

/// A JS object from name/value pairs, for algorithm parameters.
fn params(pairs: &[(&str, JsValue)]) -> Object {
    let object = Object::new();
    for (name, value) in pairs {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&object, &JsValue::from_str(name), value);
    }
    object
}

/// A copy in JS memory: a view into wasm memory would go stale if it grew.
fn js_bytes(bytes: &[u8]) -> JsValue {
    Uint8Array::from(bytes).into()
}

fn usages(names: &[&str]) -> JsValue {
    names
        .iter()
        .map(|n| JsValue::from_str(n))
        .collect::<Array>()
        .into()
}

fn aes_key_algorithm() -> Object {
    params(&[
        ("name", AES_GCM.into()),
        ("length", (KEY_LEN as u32 * 8).into()),
    ])
}

fn gcm(iv: &[u8], aad: &[u8]) -> Object {
    params(&[
        ("name", AES_GCM.into()),
        ("iv", js_bytes(iv)),
        ("additionalData", js_bytes(aad)),
    ])
}

fn to_vec(buffer: JsValue) -> Vec<u8> {
    Uint8Array::new(&buffer.unchecked_into::<ArrayBuffer>()).to_vec()
}

/// A new data key. Extractable only so that it can be wrapped; the copy used
/// for sealing is unwrapped again as non-extractable.
pub(crate) async fn generate_data_key() -> Result<CryptoKey, Failure> {
    let key = settle(subtle()?.generate_key_with_object(
        &aes_key_algorithm(),
        true,
        &usages(&["encrypt", "decrypt"]),
    ))
    .await?;
    Ok(key.unchecked_into())
}

/// The online secret as a non-extractable key-wrapping key.
pub(crate) async fn online_key(secret: &[u8]) -> Result<CryptoKey, Failure> {
    if secret.len() != KEY_LEN {
        return Err(Failure::Browser(format!(
            "the server sent a sign-in key of {} bytes, not {KEY_LEN}",
            secret.len()
        )));
    }
    let key = settle(subtle()?.import_key_with_object(
        "raw",
        &Uint8Array::from(secret),
        &params(&[("name", AES_GCM.into())]),
        false,
        &usages(&["wrapKey", "unwrapKey"]),
    ))
    .await?;
    Ok(key.unchecked_into())
}

/// The PIN stretched with PBKDF2 into a non-extractable key-wrapping key.
pub(crate) async fn pin_key(pin: &str, salt: &[u8], iterations: u32) -> Result<CryptoKey, Failure> {
    let subtle = subtle()?;
    let base: CryptoKey = settle(subtle.import_key_with_object(
        "raw",
        &Uint8Array::from(pin.as_bytes()),
        &params(&[("name", "PBKDF2".into())]),
        false,
        &usages(&["deriveKey"]),
    ))
    .await?
    .unchecked_into();
    let key = settle(subtle.derive_key_with_object_and_object(
        &params(&[
            ("name", "PBKDF2".into()),
            ("hash", "SHA-256".into()),
            ("salt", js_bytes(salt)),
            ("iterations", iterations.into()),
        ]),
        &base,
        &aes_key_algorithm(),
        false,
        &usages(&["wrapKey", "unwrapKey"]),
    ))
    .await?;
    Ok(key.unchecked_into())
}

/// `key` (which must be extractable) encrypted under `wrapping_key`, bound to `aad`.
pub(crate) async fn wrap(
    key: &CryptoKey,
    wrapping_key: &CryptoKey,
    aad: &[u8],
) -> Result<Sealed, Failure> {
    let iv = random::<IV_LEN>().to_vec();
    let wrapped =
        settle(subtle()?.wrap_key_with_object("raw", key, wrapping_key, &gcm(&iv, aad))).await?;
    Ok(Sealed {
        iv,
        ciphertext: to_vec(wrapped),
    })
}

/// The data key back from a wrap; `Failure::Rejected` if `wrapping_key` or
/// `aad` is not the one it was wrapped with.
pub(crate) async fn unwrap(
    wrapped: &Sealed,
    wrapping_key: &CryptoKey,
    aad: &[u8],
    extractable: bool,
) -> Result<CryptoKey, Failure> {
    let key = settle(subtle()?.unwrap_key_with_u8_array_and_object_and_object(
        "raw",
        &wrapped.ciphertext,
        wrapping_key,
        &gcm(&wrapped.iv, aad),
        &params(&[("name", AES_GCM.into())]),
        extractable,
        &usages(&["encrypt", "decrypt"]),
    ))
    .await?;
    Ok(key.unchecked_into())
}

pub(crate) async fn encrypt(
    key: &CryptoKey,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Sealed, Failure> {
    let iv = random::<IV_LEN>().to_vec();
    let ciphertext =
        settle(subtle()?.encrypt_with_object_and_u8_array(&gcm(&iv, aad), key, plaintext)).await?;
    Ok(Sealed {
        iv,
        ciphertext: to_vec(ciphertext),
    })
}

pub(crate) async fn decrypt(
    key: &CryptoKey,
    aad: &[u8],
    sealed: &Sealed,
) -> Result<Vec<u8>, Failure> {
    if sealed.iv.len() != IV_LEN {
        return Err(Failure::Rejected);
    }
    let plaintext = settle(subtle()?.decrypt_with_object_and_u8_array(
        &gcm(&sealed.iv, aad),
        key,
        &sealed.ciphertext,
    ))
    .await?;
    Ok(to_vec(plaintext))
}

/// Associated data naming what a ciphertext is and whose: a wrapped key, a
/// session or a draft cannot be moved to another person, record or purpose.
/// Each part is length-prefixed so no two lists encode alike.
pub(crate) fn context(purpose: &str, parts: &[&str]) -> Vec<u8> {
    let mut out = b"haven-lock-v1".to_vec();
    for part in std::iter::once(&purpose).chain(parts) {
        out.extend_from_slice(&(part.len() as u32).to_le_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// What [`seal_for_server`] makes: an AES-256-GCM ciphertext (tag appended)
/// under a fresh key, and that key encrypted with the server's RSA key.
pub(crate) struct ServerSealed {
    pub wrapped_key: Vec<u8>,
    pub iv: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// Seals `plaintext` so that only the holder of the RSA private key behind
/// `spki` (SubjectPublicKeyInfo DER) can read it: RSA-OAEP with SHA-256 over
/// a one-off AES-256-GCM key (no associated data). The device keeps no key
/// that opens it, which is the point: an incident waiting in the outbox of a
/// shared tablet is unreadable there, yet sync can send it while locked.
pub(crate) async fn seal_for_server(
    spki: &[u8],
    plaintext: &[u8],
) -> Result<ServerSealed, Failure> {
    let rsa = params(&[("name", "RSA-OAEP".into()), ("hash", "SHA-256".into())]);
    let public: CryptoKey = settle(subtle()?.import_key_with_object(
        "spki",
        &Uint8Array::from(spki).into(),
        &rsa,
        false,
        &usages(&["wrapKey"]),
    ))
    .await?
    .unchecked_into();
    // Extractable only so it can be wrapped; it lives for this call.
    let key: CryptoKey = settle(subtle()?.generate_key_with_object(
        &aes_key_algorithm(),
        true,
        &usages(&["encrypt"]),
    ))
    .await?
    .unchecked_into();
    let iv = random::<IV_LEN>().to_vec();
    let aes = params(&[("name", AES_GCM.into()), ("iv", js_bytes(&iv))]);
    let ciphertext =
        to_vec(settle(subtle()?.encrypt_with_object_and_u8_array(&aes, &key, plaintext)).await?);
    let wrapped_key = to_vec(
        settle(subtle()?.wrap_key_with_object(
            "raw",
            &key,
            &public,
            &params(&[("name", "RSA-OAEP".into())]),
        ))
        .await?,
    );
    Ok(ServerSealed {
        wrapped_key,
        iv,
        ciphertext,
    })
}

/// What [`encrypt_attachment`] makes: the file under a fresh AES-256-GCM key
/// of its own (tag appended), that key and nonce, and the SHA-256 of the
/// ciphertext, which names it on the server.
pub(crate) struct AttachmentSealed {
    pub key: Vec<u8>,
    pub iv: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub sha256: Vec<u8>,
}

/// Encrypts an attachment with a key used for nothing else. The key goes
/// into the incident record, which is sealed for the server, so only the
/// server can open the file; the device keeps only the ciphertext.
pub(crate) async fn encrypt_attachment(plaintext: &[u8]) -> Result<AttachmentSealed, Failure> {
    // Extractable so it can go, raw, into the sealed record.
    let key: CryptoKey = settle(subtle()?.generate_key_with_object(
        &aes_key_algorithm(),
        true,
        &usages(&["encrypt"]),
    ))
    .await?
    .unchecked_into();
    let iv = random::<IV_LEN>().to_vec();
    let aes = params(&[("name", AES_GCM.into()), ("iv", js_bytes(&iv))]);
    let ciphertext =
        to_vec(settle(subtle()?.encrypt_with_object_and_u8_array(&aes, &key, plaintext)).await?);
    let raw = to_vec(settle(subtle()?.export_key("raw", &key)).await?);
    let sha256 =
        to_vec(settle(subtle()?.digest_with_str_and_u8_array("SHA-256", &ciphertext)).await?);
    Ok(AttachmentSealed {
        key: raw,
        iv,
        ciphertext,
        sha256,
    })
}
