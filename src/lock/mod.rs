//! The on-device key of each staff member on a shared tablet.
//!
//! Sensitive local data (drafts now, safeguarding records later) is sealed with
//! AES-GCM under a random per-person *data key* that lives in memory only as a
//! non-extractable WebCrypto key. On the device the data key is kept twice,
//! wrapped:
//!
//! - by a *PIN key* (PBKDF2-SHA256 over the PIN, 600,000 rounds: one const,
//!   `crypto::PBKDF2_ITERATIONS`), so the person can unlock offline;
//! - by an *online key* the server hands out at each online sign-in (never
//!   stored here), so that after [`MAX_WRONG_PINS`] wrong PINs, when the PIN
//!   copy is deleted, signing in online brings the same key and drafts back.
//!
//! Wrong PINs are counted in IndexedDB *before* each try, so closing the tab
//! during the slow PIN check does not give a free guess.
//!
//! What this does not protect against: someone who copies the browser's files
//! off the tablet can try all PINs at their own speed against the PIN copy
//! (the try limit lives in the same files). The PIN keeps a colleague or a
//! pupil picking up the tablet out; disk encryption and MDM do the rest.

mod bytes;
mod crypto;
mod drafts;

pub use drafts::{delete_draft, drafts, save_draft, Draft};
pub use haven_core::accounts::pin::{MAX_WRONG_PINS, MIN_PIN_DIGITS};

use crate::db::{self, from_js, Db, DbError, LOCAL_USERS};
use crypto::{context, Failure};
use haven_core::sync::staff_proof;
use haven_core::sync::wire::{Change, StaffProof};
use rexie::TransactionMode;
use serde::{Deserialize, Serialize};
use std::rc::Rc;
use wasm_bindgen::JsValue;
use web_sys::CryptoKey;

/// Why the device could not unlock or protect someone's data, for the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    #[error(
        "That PIN is not right. {} left before this device forgets your key.",
        tries(*.remaining)
    )]
    WrongPin { remaining: u32 },
    #[error("Too many wrong PINs: sign in online to use Haven on this device again.")]
    Wiped,
    /// No profile here, or one without a PIN (never set): either way the way
    /// in is an online sign-in.
    #[error("Haven cannot unlock for you on this device yet: sign in online first.")]
    UnknownUser,
    /// The PIN breaks a rule; the text says which.
    #[error("{0}")]
    WeakPin(String),
    #[error("Haven could not unlock or protect your data on this device. {0}")]
    Crypto(String),
    /// The profile on this device is from before staff proofs: it holds no
    /// proof key yet, and only an online sign-in brings one.
    #[error(
        "Haven needs you to sign in online once more on this device before you can sign or log \
         this here: on a shared device the school's server only accepts it with proof that you \
         were signed in, and that proof comes with an online sign-in. Nothing was saved."
    )]
    NoProofKey,
    #[error(transparent)]
    Db(#[from] DbError),
}

fn tries(n: u32) -> String {
    match n {
        1 => "1 try".into(),
        n => format!("{n} tries"),
    }
}

/// A person who can be chosen on this device's sign-in screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalUserSummary {
    pub user_id: String,
    pub name: String,
    pub email: String,
    /// A PIN is set and not wiped.
    pub can_unlock_offline: bool,
}

/// Who has just signed in online (from the server's answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedInUser {
    pub user_id: String,
    pub name: String,
    pub email: String,
}

/// The API session of a person, kept sealed under their data key.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSecret {
    pub token: String,
    /// Milliseconds since the epoch; checking it is the caller's job.
    pub expires_at: f64,
}

impl std::fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A token in a log or panic message is a credential leaked.
        f.debug_struct("SessionSecret")
            .field("token", &"…")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// AES-GCM output: a fresh random 12-byte IV per seal, and the ciphertext
/// with its 16-byte tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    #[serde(with = "bytes")]
    pub iv: Vec<u8>,
    #[serde(with = "bytes")]
    pub ciphertext: Vec<u8>,
}

/// The unlocked key of one person, in memory only. Clone is cheap.
#[derive(Clone)]
pub struct Unlocked {
    inner: Rc<UnlockedInner>,
}

struct UnlockedInner {
    /// As it was at unlock; [`local_users`] has the current state.
    user: LocalUserSummary,
    /// Non-extractable, encrypt/decrypt only.
    key: CryptoKey,
    /// The person's staff proof key (`staff_proof::proof_key` of their
    /// online key), opened from their record at unlock; `None` for a record
    /// from before proofs. Dropped with the rest at lock.
    proof_key: Option<[u8; 32]>,
    /// WebCrypto can only wrap an extractable key, and [`set_pin`] must work
    /// offline. So instead of an extractable key, this keeps the wrap the data
    /// key was unlocked from and its (non-extractable) wrapping key, from which
    /// `set_pin` takes a short-lived extractable copy.
    rewrap: Rewrap,
}

struct Rewrap {
    wrapping_key: CryptoKey,
    wrapped: Sealed,
    aad: Vec<u8>,
}

impl Rewrap {
    /// An extractable copy of the data key, only to wrap it under a new PIN.
    async fn extractable(&self) -> Result<CryptoKey, LockError> {
        crypto::unwrap(&self.wrapped, &self.wrapping_key, &self.aad, true)
            .await
            .map_err(|e| e.into_lock_error("Your key could not be copied"))
    }
}

impl std::fmt::Debug for Unlocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unlocked")
            .field("user", &self.inner.user)
            .finish_non_exhaustive()
    }
}

impl Unlocked {
    pub fn user(&self) -> &LocalUserSummary {
        &self.inner.user
    }

    /// The data key, for checks such as `extractable` (always false).
    pub fn data_key(&self) -> &CryptoKey {
        &self.inner.key
    }

    /// Encrypts under this person's key; only they can [`open`](Self::open) it.
    pub async fn seal(&self, plaintext: &[u8]) -> Result<Sealed, LockError> {
        crypto::encrypt(&self.inner.key, &self.aad_sealed(), plaintext)
            .await
            .map_err(|e| e.into_lock_error("Could not protect this"))
    }

    /// Fails with [`LockError::Crypto`] for anything not sealed by this
    /// person with [`seal`](Self::seal), or altered since.
    pub async fn open(&self, sealed: &Sealed) -> Result<Vec<u8>, LockError> {
        crypto::decrypt(&self.inner.key, &self.aad_sealed(), sealed)
            .await
            .map_err(|e| e.into_lock_error("This cannot be opened with your key"))
    }

    /// The stored session, decrypted; `None` after sign-out or a wipe.
    pub async fn session(&self, db: &Db) -> Result<Option<SessionSecret>, LockError> {
        let user_id = &self.inner.user.user_id;
        let Some(record) = get_user(db, user_id).await? else {
            return Ok(None);
        };
        let Some(sealed) = record.session else {
            return Ok(None);
        };
        let json = crypto::decrypt(&self.inner.key, &context("session", &[user_id]), &sealed)
            .await
            .map_err(|e| e.into_lock_error("Your saved sign-in could not be read"))?;
        serde_json::from_slice(&json)
            .map(Some)
            .map_err(|e| LockError::Crypto(format!("Your saved sign-in could not be read: {e}")))
    }

    fn aad_sealed(&self) -> Vec<u8> {
        context("sealed", &[&self.inner.user.user_id])
    }

    /// Whether records this person makes here can carry a staff proof.
    pub fn has_proof_key(&self) -> bool {
        self.inner.proof_key.is_some()
    }

    /// The proof that this person, unlocked here now, made `change`
    /// (`haven_core::sync::staff_proof`). A shared or enrolled device's
    /// staff record is refused by the server without one.
    pub fn staff_proof(&self, change: &Change) -> Result<StaffProof, LockError> {
        let key = self.inner.proof_key.as_ref().ok_or(LockError::NoProofKey)?;
        let account = uuid::Uuid::parse_str(&self.inner.user.user_id)
            .map_err(|e| LockError::Crypto(format!("your account id is not readable: {e}")))?;
        Ok(staff_proof::sign(key, account, change))
    }
}

/// The proof a staff record made now by `who` carries, if it needs one: a
/// change that names staff always gets one when the person has a proof key
/// (the device may be enrolled later, and a staff session's push ignores
/// it); without a key, an enrolled device refuses to queue what the server
/// would refuse, and any other device queues it bare (its own staff
/// session pushes it, which needs no proof).
pub async fn proof_for(
    db: &Db,
    who: &Unlocked,
    change: &Change,
) -> Result<Option<StaffProof>, LockError> {
    if !staff_proof::needs_proof(change) {
        return Ok(None);
    }
    match who.staff_proof(change) {
        Ok(proof) => Ok(Some(proof)),
        Err(LockError::NoProofKey) => {
            let enrolled = db
                .credential()
                .await?
                .is_some_and(|c| c.kind == db::CredentialKind::Device);
            if enrolled {
                Err(LockError::NoProofKey)
            } else {
                Ok(None)
            }
        }
        Err(e) => Err(e),
    }
}

/// One person's record in `local_users`. Holds no plaintext secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LocalUser {
    user_id: String,
    name: String,
    email: String,
    /// `None` until a PIN is set, and again after a wipe.
    pin: Option<PinWrap>,
    /// The data key wrapped by the online key.
    online_wrapped_key: Sealed,
    /// Wrong PINs in a row; [`MAX_WRONG_PINS`] or more means wiped.
    wrong_pins: u32,
    /// The JSON of a [`SessionSecret`], sealed with the data key.
    session: Option<Sealed>,
    /// The staff proof key, sealed with the data key, so a PIN unlock
    /// offline can still prove who made a record; `None` in a record from
    /// before proofs, until the next online sign-in.
    #[serde(default)]
    proof_key: Option<Sealed>,
    updated_at: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PinWrap {
    #[serde(with = "bytes")]
    salt: Vec<u8>,
    iterations: u32,
    /// The data key wrapped by the PIN key.
    wrapped_key: Sealed,
}

impl LocalUser {
    fn summary(&self) -> LocalUserSummary {
        LocalUserSummary {
            user_id: self.user_id.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            can_unlock_offline: self.pin.is_some() && self.wrong_pins < MAX_WRONG_PINS,
        }
    }

    /// Forgets what only the PIN could open: the PIN wrap and the session.
    fn wipe(&mut self) {
        self.pin = None;
        self.session = None;
        self.proof_key = None;
        self.wrong_pins = self.wrong_pins.max(MAX_WRONG_PINS);
    }
}

/// After an online sign-in: creates this person's profile, or refreshes it
/// (name, email, the new session, wrong PINs back to 0). An existing profile
/// keeps its data key, recovered with the online key, so drafts made before
/// (even before a wipe) stay readable. `pin: Some` (re)sets the PIN; `None`
/// keeps the current PIN, or none.
pub async fn after_online_sign_in(
    db: &Db,
    user: &SignedInUser,
    online_secret: &[u8],
    session: &SessionSecret,
    pin: Option<&str>,
) -> Result<Unlocked, LockError> {
    if let Some(pin) = pin {
        check_pin(pin)?;
    }
    let user_id = user.user_id.as_str();
    let online_key = crypto::online_key(online_secret)
        .await
        .map_err(|e| e.into_lock_error("The sign-in key from the server could not be used"))?;
    let online_aad = context("online", &[user_id]);
    let existing = get_user(db, user_id).await?;
    let (online_wrapped_key, new_key) = match &existing {
        Some(record) => (record.online_wrapped_key.clone(), None),
        None => {
            let key = crypto::generate_data_key()
                .await
                .map_err(|e| e.into_lock_error("A new key could not be made"))?;
            let wrapped = crypto::wrap(&key, &online_key, &online_aad)
                .await
                .map_err(|e| e.into_lock_error("A new key could not be saved"))?;
            (wrapped, Some(key))
        }
    };
    let rewrap = Rewrap {
        wrapping_key: online_key,
        wrapped: online_wrapped_key.clone(),
        aad: online_aad,
    };
    let key = crypto::unwrap(&rewrap.wrapped, &rewrap.wrapping_key, &rewrap.aad, false)
        .await
        .map_err(|e| match e {
            // The server's key for this person changed, or the record was
            // altered. Nothing is deleted: the PIN may still open it.
            Failure::Rejected => LockError::Crypto(
                "The key saved on this device for you does not match your account. \
                 Ask your IT support to reset Haven on this device."
                    .into(),
            ),
            other => other.into_lock_error("Your key could not be recovered"),
        })?;
    let pin_wrap = match pin {
        Some(pin) => {
            let extractable = match new_key {
                Some(key) => key,
                None => rewrap.extractable().await?,
            };
            Some(pin_wrap(&extractable, pin, user_id).await?)
        }
        None => existing
            .as_ref()
            .filter(|r| r.wrong_pins < MAX_WRONG_PINS)
            .and_then(|r| r.pin.clone()),
    };
    // Only an online sign-in brings the online key, so this is where the
    // proof key is made and sealed for later PIN unlocks.
    let online_bytes: [u8; 32] = online_secret
        .try_into()
        .map_err(|_| LockError::Crypto("the sign-in key from the server is not 32 bytes".into()))?;
    let proof_key = staff_proof::proof_key(&online_bytes);
    let sealed_proof_key = crypto::encrypt(&key, &context("proof", &[user_id]), &proof_key)
        .await
        .map_err(|e| e.into_lock_error("Your sign-in could not be saved"))?;
    let session_json = serde_json::to_vec(session).map_err(|e| LockError::Crypto(e.to_string()))?;
    let sealed_session = crypto::encrypt(&key, &context("session", &[user_id]), &session_json)
        .await
        .map_err(|e| e.into_lock_error("Your sign-in could not be saved"))?;
    let record = LocalUser {
        user_id: user_id.to_owned(),
        name: user.name.clone(),
        email: user.email.clone(),
        pin: pin_wrap,
        online_wrapped_key,
        wrong_pins: 0,
        session: Some(sealed_session),
        proof_key: Some(sealed_proof_key),
        updated_at: crate::clock::now_ms() as f64,
    };
    put_user(db, &record).await?;
    Ok(Unlocked {
        inner: Rc::new(UnlockedInner {
            user: record.summary(),
            key,
            proof_key: Some(proof_key),
            rewrap,
        }),
    })
}

/// Sets (or changes) the PIN of an unlocked person; wrong PINs go back to 0.
pub async fn set_pin(db: &Db, unlocked: &Unlocked, pin: &str) -> Result<(), LockError> {
    check_pin(pin)?;
    let user_id = unlocked.user().user_id.clone();
    let key = unlocked.inner.rewrap.extractable().await?;
    let wrap = pin_wrap(&key, pin, &user_id).await?;
    let now = crate::clock::now_ms() as f64;
    update_user(db, &user_id, move |u| {
        u.pin = Some(wrap);
        u.wrong_pins = 0;
        u.updated_at = now;
    })
    .await?
    .ok_or(LockError::UnknownUser)?;
    Ok(())
}

/// Unlocks offline with the PIN. The try is counted (and saved) first; a right
/// PIN sets the count back to 0; the [`MAX_WRONG_PINS`]th wrong one deletes
/// the PIN copy of the key and the saved session.
pub async fn unlock_with_pin(db: &Db, user_id: &str, pin: &str) -> Result<Unlocked, LockError> {
    // Read, check and count in one transaction, so tabs trying at once each
    // use up a try; with strict durability, so a try counted is still
    // counted after a power cut.
    let mut verdict: Result<(PinWrap, u32), LockError> = Err(LockError::UnknownUser);
    let mut decode_error = None;
    db.update_strict(LOCAL_USERS, &JsValue::from_str(user_id), |value| {
        let mut record: LocalUser = match value.map(from_js).transpose() {
            Ok(Some(record)) => record,
            Ok(None) => return None,
            Err(e) => {
                decode_error = Some(e);
                return None;
            }
        };
        if record.wrong_pins >= MAX_WRONG_PINS {
            // Wiped, or the tab closed during the last allowed try: finish the wipe.
            verdict = Err(LockError::Wiped);
            if record.pin.is_none() && record.session.is_none() {
                return None;
            }
            record.wipe();
        } else {
            let wrap = record.pin.clone()?;
            record.wrong_pins += 1;
            verdict = Ok((wrap, record.wrong_pins));
        }
        to_js(&record).ok()
    })
    .await?;
    if let Some(e) = decode_error {
        return Err(e.into());
    }
    let (wrap, attempt) = verdict?;

    match pin_unwrap(&wrap, pin, user_id).await {
        Ok((key, rewrap)) => {
            let now = crate::clock::now_ms() as f64;
            let record = update_user(db, user_id, move |u| {
                u.wrong_pins = 0;
                u.updated_at = now;
            })
            .await?
            .ok_or(LockError::UnknownUser)?;
            let proof_key = open_proof_key(&key, &record).await;
            return Ok(Unlocked {
                inner: Rc::new(UnlockedInner {
                    user: record.summary(),
                    key,
                    proof_key,
                    rewrap,
                }),
            });
        }
        Err(Failure::Rejected) => {}
        // Not a verdict on the PIN; the try stays counted, to be safe.
        Err(other) => return Err(other.into_lock_error("Your PIN could not be checked")),
    }
    if attempt >= MAX_WRONG_PINS {
        update_user(db, user_id, LocalUser::wipe).await?;
        Err(LockError::Wiped)
    } else {
        Err(LockError::WrongPin {
            remaining: MAX_WRONG_PINS - attempt,
        })
    }
}

/// The proof key from `record`, opened with the data key; `None` if the
/// record has none (from before proofs) or it does not open (then the
/// person signs in online once, which seals a fresh one).
async fn open_proof_key(key: &CryptoKey, record: &LocalUser) -> Option<[u8; 32]> {
    let sealed = record.proof_key.as_ref()?;
    let bytes = crypto::decrypt(key, &context("proof", &[&record.user_id]), sealed)
        .await
        .ok()?;
    bytes.try_into().ok()
}

/// Everyone with a profile on this device, by name.
pub async fn local_users(db: &Db) -> Result<Vec<LocalUserSummary>, LockError> {
    let tx = db.tx(&[LOCAL_USERS], TransactionMode::ReadOnly)?;
    let values = tx
        .store(LOCAL_USERS)
        .map_err(db::read_err)?
        .get_all(None, None)
        .await
        .map_err(db::read_err)?;
    let mut users = values
        .into_iter()
        .map(|v| from_js::<LocalUser>(v).map(|u| u.summary()))
        .collect::<Result<Vec<_>, _>>()?;
    users.sort_by(|a, b| {
        (a.name.to_lowercase(), &a.user_id).cmp(&(b.name.to_lowercase(), &b.user_id))
    });
    Ok(users)
}

/// Signing out: drops the saved session; the key and drafts stay. Nothing to
/// do for someone with no profile here.
pub async fn forget_session(db: &Db, user_id: &str) -> Result<(), LockError> {
    let now = crate::clock::now_ms() as f64;
    update_user(db, user_id, move |u| {
        u.session = None;
        u.updated_at = now;
    })
    .await?;
    Ok(())
}

/// The PIN rules shared with the server (haven_core).
fn check_pin(pin: &str) -> Result<(), LockError> {
    haven_core::accounts::pin::check_new_pin(pin).map_err(|p| LockError::WeakPin(p.to_string()))
}

/// The data key wrapped under a new PIN key (fresh salt).
async fn pin_wrap(key: &CryptoKey, pin: &str, user_id: &str) -> Result<PinWrap, LockError> {
    let salt = crypto::new_salt();
    let iterations = crypto::PBKDF2_ITERATIONS;
    let pin_key = crypto::pin_key(pin, &salt, iterations)
        .await
        .map_err(|e| e.into_lock_error("Your PIN could not be set"))?;
    let wrapped_key = crypto::wrap(key, &pin_key, &context("pin", &[user_id]))
        .await
        .map_err(|e| e.into_lock_error("Your PIN could not be set"))?;
    Ok(PinWrap {
        salt,
        iterations,
        wrapped_key,
    })
}

/// The data key (non-extractable) from the PIN wrap. The unwrap is the PIN
/// check: AES-GCM's tag fails, `Failure::Rejected`, for a wrong PIN.
async fn pin_unwrap(
    wrap: &PinWrap,
    pin: &str,
    user_id: &str,
) -> Result<(CryptoKey, Rewrap), Failure> {
    let pin_key = crypto::pin_key(pin, &wrap.salt, wrap.iterations).await?;
    let aad = context("pin", &[user_id]);
    let key = crypto::unwrap(&wrap.wrapped_key, &pin_key, &aad, false).await?;
    let rewrap = Rewrap {
        wrapping_key: pin_key,
        wrapped: wrap.wrapped_key.clone(),
        aad,
    };
    Ok((key, rewrap))
}

/// Values as IndexedDB stores them: bytes as `Uint8Array`, maps as objects.
pub(crate) fn to_js<T: Serialize>(value: &T) -> Result<JsValue, DbError> {
    let ser = serde_wasm_bindgen::Serializer::json_compatible().serialize_bytes_as_arrays(false);
    value
        .serialize(&ser)
        .map_err(|e| DbError::Write(e.to_string()))
}

async fn get_user(db: &Db, user_id: &str) -> Result<Option<LocalUser>, DbError> {
    let tx = db.tx(&[LOCAL_USERS], TransactionMode::ReadOnly)?;
    let store = tx.store(LOCAL_USERS).map_err(db::read_err)?;
    get_user_in(&store, user_id).await
}

async fn get_user_in(store: &rexie::Store, user_id: &str) -> Result<Option<LocalUser>, DbError> {
    match store
        .get(JsValue::from_str(user_id))
        .await
        .map_err(db::read_err)?
    {
        Some(v) if !v.is_undefined() => from_js(v).map(Some),
        _ => Ok(None),
    }
}

async fn put_user_in(store: &rexie::Store, record: &LocalUser) -> Result<(), DbError> {
    store
        .put(&to_js(record)?, None)
        .await
        .map_err(db::write_err)?;
    Ok(())
}

async fn put_user(db: &Db, record: &LocalUser) -> Result<(), DbError> {
    let tx = db.tx(&[LOCAL_USERS], TransactionMode::ReadWrite)?;
    let store = tx.store(LOCAL_USERS).map_err(db::read_err)?;
    put_user_in(&store, record).await?;
    db::commit(tx).await
}

/// Read, change and write one record in a single transaction (no crypto in
/// between: an `await` on anything but IndexedDB would end the transaction).
async fn update_user(
    db: &Db,
    user_id: &str,
    change: impl FnOnce(&mut LocalUser),
) -> Result<Option<LocalUser>, DbError> {
    let tx = db.tx(&[LOCAL_USERS], TransactionMode::ReadWrite)?;
    let store = tx.store(LOCAL_USERS).map_err(db::read_err)?;
    let Some(mut record) = get_user_in(&store, user_id).await? else {
        return Ok(None);
    };
    change(&mut record);
    put_user_in(&store, &record).await?;
    db::commit(tx).await?;
    Ok(Some(record))
}

/// Seals an incident for the server with its public incident key: what the
/// outbox holds and sync sends, unreadable on this device.
pub async fn seal_incident(
    key: &haven_core::incident::IncidentKey,
    record: &haven_core::incident::IncidentRecord,
) -> Result<haven_core::incident::SealedIncident, LockError> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let spki = STANDARD
        .decode(&key.spki)
        .map_err(|e| LockError::Crypto(format!("the school's incident key is damaged: {e}")))?;
    let json = serde_json::to_vec(record)
        .map_err(|e| LockError::Crypto(format!("the incident could not be written: {e}")))?;
    let sealed = crypto::seal_for_server(&spki, &json)
        .await
        .map_err(|e| e.into_lock_error("The incident could not be protected"))?;
    Ok(haven_core::incident::SealedIncident {
        id: record.id,
        device_id: record.device_id,
        key_id: key.key_id.clone(),
        wrapped_key: STANDARD.encode(sealed.wrapped_key),
        iv: STANDARD.encode(sealed.iv),
        ciphertext: STANDARD.encode(sealed.ciphertext),
    })
}

/// Encrypts a picked file for the incident it is attached to: the
/// [`haven_core::incident::Attachment`] that goes inside the sealed record
/// (with the file's own key), and the ciphertext the device keeps and
/// uploads apart, in pieces (`crate::attachments`).
pub async fn seal_attachment(
    name: &str,
    content_type: &str,
    file: &[u8],
) -> Result<(haven_core::incident::Attachment, Vec<u8>), LockError> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let sealed = crypto::encrypt_attachment(file)
        .await
        .map_err(|e| e.into_lock_error(&format!("{name} could not be protected")))?;
    let attachment = haven_core::incident::Attachment {
        name: name.to_owned(),
        content_type: content_type.to_owned(),
        size: file.len() as u64,
        sha256: sealed.sha256.iter().map(|b| format!("{b:02x}")).collect(),
        key: STANDARD.encode(sealed.key),
        iv: STANDARD.encode(sealed.iv),
    };
    Ok((attachment, sealed.ciphertext))
}
