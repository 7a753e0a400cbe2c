//! The on-device key: drafts sealed per person, PIN unlock with a try limit,
//! recovery by signing in online. Real WebCrypto (600,000 PBKDF2 rounds) and
//! real IndexedDB, so each PIN check here takes a noticeable moment.

use crate::support::holds;
use haven::db::Db;
use haven::lock::{
    after_online_sign_in, delete_draft, drafts, forget_session, local_users, save_draft, set_pin,
    unlock_with_pin, LockError, SessionSecret, SignedInUser, Unlocked, MAX_WRONG_PINS,
};
use js_sys::{Uint8Array, JSON};
use rexie::{Rexie, TransactionMode};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

pub(crate) const PIN: &str = "284615";
const OTHER_PIN: &str = "902731";
const WRONG_PIN: &str = "558203";

fn unique_name(test: &str) -> String {
    format!("haven-test-lock-{test}-{}", haven::clock::new_id())
}

fn person(id: &str, name: &str) -> SignedInUser {
    SignedInUser {
        user_id: id.into(),
        name: name.into(),
        email: format!("{}@riverside.example", name.to_lowercase()),
    }
}

fn secret_of(id: &str) -> [u8; 32] {
    // Stable per person, as the server's online key is.
    let mut secret = [0u8; 32];
    for (i, b) in id.bytes().cycle().take(32).enumerate() {
        secret[i] = b.wrapping_mul(31).wrapping_add(i as u8);
    }
    secret
}

fn session(token: &str) -> SessionSecret {
    SessionSecret {
        token: token.into(),
        expires_at: 1_900_000_000_000.0,
    }
}

/// Signs `name` in online on this device, as the server would, choosing `pin`.
pub(crate) async fn sign_in(db: &Db, id: &str, name: &str, pin: Option<&str>) -> Unlocked {
    after_online_sign_in(
        db,
        &person(id, name),
        &secret_of(id),
        &session(&format!("token-of-{id}")),
        pin,
    )
    .await
    .unwrap()
}

/// Every record of `store`, as IndexedDB holds it.
async fn raw_records(name: &str, store: &str) -> Vec<JsValue> {
    let raw = Rexie::builder(name).build().await.unwrap();
    let tx = raw
        .transaction(&[store], TransactionMode::ReadOnly)
        .unwrap();
    let all = tx.store(store).unwrap().get_all(None, None).await.unwrap();
    drop(tx);
    raw.close();
    all
}

async fn finish(db: Db, name: &str) {
    db.close();
    Db::delete(name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_draft_round_trips_for_its_author_and_only_ciphertext_is_stored() {
    let name = unique_name("roundtrip");
    let db = Db::open(&name).await.unwrap();
    let alice = sign_in(&db, "u-alice", "Alice", Some(PIN)).await;
    let body = b"Pupil disclosed something at break: see DSL.";
    save_draft(&db, &alice, "d-1", "incident", body, 1_000.0)
        .await
        .unwrap();

    let mine = drafts(&db, &alice).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].id, "d-1");
    assert_eq!(mine[0].kind, "incident");
    assert_eq!(mine[0].updated_at, 1_000.0);
    assert_eq!(mine[0].body, body);

    let stored = raw_records(&name, "drafts").await;
    assert_eq!(stored.len(), 1);
    // The search does see what is stored in the clear, text and bytes alike.
    assert!(holds(&stored[0], b"incident"));
    assert!(holds(&Uint8Array::from(&b"[Pupil]"[..]).into(), b"Pupil"));
    assert!(!holds(&stored[0], body), "the draft is stored in the clear");
    assert!(!holds(&stored[0], b"Pupil disclosed"));
    let json = JSON::stringify(&stored[0]).unwrap().as_string().unwrap();
    assert!(!json.contains("Pupil"), "{json}");

    // The profile holds neither the PIN nor the session token in the clear.
    let users = raw_records(&name, "local_users").await;
    assert_eq!(users.len(), 1);
    assert!(holds(&users[0], b"Alice"));
    assert!(!holds(&users[0], PIN.as_bytes()));
    assert!(!holds(&users[0], b"token-of-u-alice"));
    finish(db, &name).await;
}

#[wasm_bindgen_test]
async fn another_person_sees_none_of_the_drafts_and_cannot_open_them() {
    let name = unique_name("isolation");
    let db = Db::open(&name).await.unwrap();
    // No PIN: these checks need no PBKDF2.
    let alice = sign_in(&db, "u-alice", "Alice", None).await;
    let bob = sign_in(&db, "u-bob", "Bob", None).await;
    save_draft(&db, &alice, "d-1", "incident", b"alice's note", 1.0)
        .await
        .unwrap();
    save_draft(&db, &bob, "d-2", "incident", b"bob's note", 2.0)
        .await
        .unwrap();

    let bobs = drafts(&db, &bob).await.unwrap();
    assert_eq!(bobs.len(), 1);
    assert_eq!(bobs[0].id, "d-2");

    let sealed = alice.seal(b"for alice only").await.unwrap();
    assert_eq!(sealed.iv.len(), 12);
    assert_eq!(alice.open(&sealed).await.unwrap(), b"for alice only");
    assert!(matches!(bob.open(&sealed).await, Err(LockError::Crypto(_))));
    // A fresh IV each time: the same text never seals the same way twice.
    assert_ne!(alice.seal(b"for alice only").await.unwrap(), sealed);

    // Bob can neither overwrite nor delete Alice's draft through its id.
    assert!(save_draft(&db, &bob, "d-1", "incident", b"overwrite", 3.0)
        .await
        .is_err());
    delete_draft(&db, &bob, "d-1").await.unwrap();
    let alices = drafts(&db, &alice).await.unwrap();
    assert_eq!(alices.len(), 1);
    assert_eq!(alices[0].body, b"alice's note");

    delete_draft(&db, &alice, "d-1").await.unwrap();
    assert!(drafts(&db, &alice).await.unwrap().is_empty());
    finish(db, &name).await;
}

#[wasm_bindgen_test]
async fn the_session_is_kept_sealed_and_dropped_at_sign_out() {
    let name = unique_name("session");
    let db = Db::open(&name).await.unwrap();
    let alice = sign_in(&db, "u-alice", "Alice", None).await;
    assert_eq!(
        alice.session(&db).await.unwrap(),
        Some(session("token-of-u-alice"))
    );
    forget_session(&db, "u-alice").await.unwrap();
    assert_eq!(alice.session(&db).await.unwrap(), None);
    let users = local_users(&db).await.unwrap();
    assert_eq!(users.len(), 1, "signing out keeps the profile");
    assert!(!users[0].can_unlock_offline, "no PIN was set");
    assert_eq!(
        unlock_with_pin(&db, "u-alice", PIN).await.unwrap_err(),
        LockError::UnknownUser
    );
    assert_eq!(
        unlock_with_pin(&db, "u-nobody", PIN).await.unwrap_err(),
        LockError::UnknownUser
    );
    finish(db, &name).await;
}

#[wasm_bindgen_test]
async fn five_wrong_pins_wipe_the_device_copy_until_an_online_sign_in_recovers_it() {
    let name = unique_name("wipe");
    let db = Db::open(&name).await.unwrap();
    let alice = sign_in(&db, "u-alice", "Alice", Some(PIN)).await;
    save_draft(&db, &alice, "d-1", "incident", b"before the wipe", 1.0)
        .await
        .unwrap();
    db.close();

    // A reload: nothing in memory, only what IndexedDB kept.
    let db = Db::open(&name).await.unwrap();
    let started = js_sys::Date::now();
    let alice = unlock_with_pin(&db, "u-alice", PIN).await.unwrap();
    let unlock_ms = js_sys::Date::now() - started;
    console_log!("one PIN unlock (600,000 PBKDF2 rounds): {unlock_ms} ms");
    assert_eq!(alice.user().name, "Alice");
    assert_eq!(
        drafts(&db, &alice).await.unwrap()[0].body,
        b"before the wipe"
    );

    for remaining in (1..MAX_WRONG_PINS).rev() {
        let err = unlock_with_pin(&db, "u-alice", WRONG_PIN)
            .await
            .unwrap_err();
        assert_eq!(err, LockError::WrongPin { remaining });
    }
    assert_eq!(
        LockError::WrongPin { remaining: 1 }.to_string(),
        "That PIN is not right. 1 try left before this device forgets your key."
    );
    assert_eq!(
        unlock_with_pin(&db, "u-alice", WRONG_PIN)
            .await
            .unwrap_err(),
        LockError::Wiped
    );
    assert_eq!(
        unlock_with_pin(&db, "u-alice", PIN).await.unwrap_err(),
        LockError::Wiped,
        "after a wipe even the right PIN is refused"
    );
    let users = local_users(&db).await.unwrap();
    assert!(!users[0].can_unlock_offline);
    assert_eq!(
        alice.session(&db).await.unwrap(),
        None,
        "the wipe drops the saved session"
    );

    // Signing in online with the same person brings the same key back.
    let again = after_online_sign_in(
        &db,
        &person("u-alice", "Alice"),
        &secret_of("u-alice"),
        &session("new-token"),
        Some(OTHER_PIN),
    )
    .await
    .unwrap();
    assert_eq!(
        drafts(&db, &again).await.unwrap()[0].body,
        b"before the wipe"
    );
    assert!(local_users(&db).await.unwrap()[0].can_unlock_offline);
    db.close();
    let db = Db::open(&name).await.unwrap();
    let alice = unlock_with_pin(&db, "u-alice", OTHER_PIN).await.unwrap();
    assert_eq!(
        alice.session(&db).await.unwrap(),
        Some(session("new-token"))
    );
    assert_eq!(
        drafts(&db, &alice).await.unwrap()[0].body,
        b"before the wipe"
    );
    finish(db, &name).await;
}

#[wasm_bindgen_test]
async fn wrong_pins_are_still_counted_after_a_reload() {
    let name = unique_name("count");
    let db = Db::open(&name).await.unwrap();
    sign_in(&db, "u-alice", "Alice", Some(PIN)).await;
    for remaining in [4, 3] {
        let err = unlock_with_pin(&db, "u-alice", WRONG_PIN)
            .await
            .unwrap_err();
        assert_eq!(err, LockError::WrongPin { remaining });
    }
    db.close();

    let db = Db::open(&name).await.unwrap();
    for remaining in [2, 1] {
        let err = unlock_with_pin(&db, "u-alice", WRONG_PIN)
            .await
            .unwrap_err();
        assert_eq!(err, LockError::WrongPin { remaining });
    }
    assert_eq!(
        unlock_with_pin(&db, "u-alice", WRONG_PIN)
            .await
            .unwrap_err(),
        LockError::Wiped
    );
    finish(db, &name).await;
}

#[wasm_bindgen_test]
async fn a_right_pin_resets_the_wrong_count() {
    let name = unique_name("reset");
    let db = Db::open(&name).await.unwrap();
    sign_in(&db, "u-alice", "Alice", Some(PIN)).await;
    for _ in 1..MAX_WRONG_PINS {
        unlock_with_pin(&db, "u-alice", WRONG_PIN)
            .await
            .unwrap_err();
    }
    unlock_with_pin(&db, "u-alice", PIN).await.unwrap();
    assert_eq!(
        unlock_with_pin(&db, "u-alice", WRONG_PIN)
            .await
            .unwrap_err(),
        LockError::WrongPin {
            remaining: MAX_WRONG_PINS - 1
        }
    );
    finish(db, &name).await;
}

#[wasm_bindgen_test]
async fn weak_pins_are_refused() {
    let name = unique_name("weak");
    let db = Db::open(&name).await.unwrap();
    for pin in ["12345", "123456", "000000", "12a456"] {
        let refused = after_online_sign_in(
            &db,
            &person("u-alice", "Alice"),
            &secret_of("u-alice"),
            &session("t"),
            Some(pin),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(refused, LockError::WeakPin(_)),
            "{pin}: {refused:?}"
        );
    }
    assert!(
        local_users(&db).await.unwrap().is_empty(),
        "a refused PIN saves nothing"
    );
    let alice = sign_in(&db, "u-alice", "Alice", None).await;
    for pin in ["12345", "123456", "000000", "12a456"] {
        let refused = set_pin(&db, &alice, pin).await.unwrap_err();
        assert!(
            matches!(refused, LockError::WeakPin(_)),
            "{pin}: {refused:?}"
        );
    }
    assert_eq!(
        set_pin(&db, &alice, "12345").await.unwrap_err().to_string(),
        "Use at least 6 digits"
    );
    assert!(!local_users(&db).await.unwrap()[0].can_unlock_offline);
    finish(db, &name).await;
}

#[wasm_bindgen_test]
async fn the_data_key_in_memory_cannot_be_extracted() {
    let name = unique_name("extract");
    let db = Db::open(&name).await.unwrap();
    let alice = sign_in(&db, "u-alice", "Alice", None).await;
    assert!(!alice.data_key().extractable());
    // set_pin still works from an online unlock (it re-wraps the key).
    set_pin(&db, &alice, PIN).await.unwrap();
    let by_pin = unlock_with_pin(&db, "u-alice", PIN).await.unwrap();
    let key = by_pin.data_key();
    assert!(!key.extractable());
    let mut usages: Vec<String> = key.usages().iter().filter_map(|u| u.as_string()).collect();
    usages.sort();
    assert_eq!(usages, ["decrypt", "encrypt"]);
    // And the browser agrees: exporting it is refused.
    let subtle = web_sys::window().unwrap().crypto().unwrap().subtle();
    let export = wasm_bindgen_futures::JsFuture::from(subtle.export_key("raw", key).unwrap()).await;
    assert!(export.is_err());
    // Both unlocks hold the same key.
    let sealed = alice.seal(b"same key").await.unwrap();
    assert_eq!(by_pin.open(&sealed).await.unwrap(), b"same key");
    finish(db, &name).await;
}

#[wasm_bindgen_test]
async fn a_device_on_schema_2_keeps_its_data_when_upgraded() {
    use rexie::ObjectStore;
    let name = unique_name("upgrade");
    // The stores as version 2 made them, with one fact saved.
    let old = Rexie::builder(&name)
        .version(2)
        .add_object_store(ObjectStore::new("policies").key_path("id"))
        .add_object_store(ObjectStore::new("agreements").key_path("record.id"))
        .add_object_store(ObjectStore::new("outbox").key_path("mutation.id"))
        .add_object_store(ObjectStore::new("meta"))
        .add_object_store(ObjectStore::new("academies").key_path("id"))
        .add_object_store(ObjectStore::new("reference"))
        .build()
        .await
        .unwrap();
    let tx = old
        .transaction(&["meta"], TransactionMode::ReadWrite)
        .unwrap();
    tx.store("meta")
        .unwrap()
        .put(&JsValue::from_f64(42.0), Some(&"last_sync_at".into()))
        .await
        .unwrap();
    tx.done().await.unwrap();
    old.close();

    let db = Db::open(&name).await.unwrap();
    assert_eq!(db.last_sync_at().await.unwrap(), Some(42));
    assert!(local_users(&db).await.unwrap().is_empty());
    let alice = sign_in(&db, "u-alice", "Alice", None).await;
    save_draft(&db, &alice, "d-1", "incident", b"note", 1.0)
        .await
        .unwrap();
    assert_eq!(drafts(&db, &alice).await.unwrap().len(), 1);
    finish(db, &name).await;
}
