//! Incident attachments on the device: a large camera photo is redrawn at
//! 2,048 px as JPEG, a small one is kept as picked; each file is encrypted
//! under its own key (the key opens it, its digest names the ciphertext),
//! and the ciphertext waits in IndexedDB until it is forgotten.

use haven::db::{Db, StoredAttachment};
use haven_core::incident::{ciphertext_len, MAX_IMAGE_SIDE_PX};
use uuid::Uuid;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen(module = "/tests/web/browser.js")]
extern "C" {
    async fn photo(width: u32, height: u32, content_type: &str) -> JsValue;
    async fn image_size(bytes: &[u8]) -> JsValue;
    async fn open_file(key: &str, iv: &str, ciphertext: &[u8]) -> JsValue;
    async fn sha256_hex(bytes: &[u8]) -> JsValue;
}

async fn size_of(bytes: &[u8]) -> (u32, u32) {
    let pair: js_sys::Array = image_size(bytes).await.unchecked_into();
    (
        pair.get(0).as_f64().unwrap() as u32,
        pair.get(1).as_f64().unwrap() as u32,
    )
}

#[wasm_bindgen_test]
async fn a_large_photo_is_redrawn_at_2048_px_as_jpeg_and_a_small_one_kept() {
    let large: web_sys::File = photo(4000, 3000, "image/png").await.unchecked_into();
    let p = haven::photo::prepare(&large).await.unwrap();
    assert_eq!(p.content_type, "image/jpeg");
    assert_eq!(p.name, "IMG_0001.jpg", "the name says what it now is");
    assert_eq!(p.shrunk_from, Some(large.size() as u64));
    assert_eq!(p.dimensions, Some((MAX_IMAGE_SIDE_PX, 1536)));
    assert_eq!(&p.bytes[..3], &[0xFF, 0xD8, 0xFF], "a JPEG");
    assert_eq!(size_of(&p.bytes).await, (2048, 1536));

    let portrait: web_sys::File = photo(1500, 3000, "image/jpeg").await.unchecked_into();
    let p = haven::photo::prepare(&portrait).await.unwrap();
    assert_eq!(
        size_of(&p.bytes).await,
        (1024, 2048),
        "the longest side, either way"
    );

    let small: web_sys::File = photo(800, 600, "image/png").await.unchecked_into();
    let p = haven::photo::prepare(&small).await.unwrap();
    assert_eq!(p.content_type, "image/png", "kept as picked");
    assert_eq!(p.shrunk_from, None);
    assert_eq!(p.bytes.len() as f64, small.size());
}

#[wasm_bindgen_test]
async fn each_file_is_sealed_under_its_own_key_and_waits_until_forgotten() {
    let file = b"%PDF-1.7 the letter the pupil was sent".to_vec();
    let (a, ciphertext) = haven::lock::seal_attachment("letter.pdf", "application/pdf", &file)
        .await
        .unwrap();
    let (b, _) = haven::lock::seal_attachment("letter.pdf", "application/pdf", &file)
        .await
        .unwrap();
    assert_ne!(a.key, b.key, "a fresh key for every file");
    assert_ne!(a.sha256, b.sha256);
    assert_eq!(a.size, file.len() as u64);
    assert_eq!(ciphertext.len() as u64, ciphertext_len(a.size));
    assert_eq!(sha256_hex(&ciphertext).await.as_string().unwrap(), a.sha256);
    let opened: js_sys::Uint8Array = open_file(&a.key, &a.iv, &ciphertext).await.unchecked_into();
    assert_eq!(opened.to_vec(), file);
    assert!(
        !ciphertext.windows(8).any(|w| w == b"the lett"),
        "nothing readable in what is kept"
    );

    let name = format!("haven-test-attachments-{}", haven::clock::new_id());
    let db = Db::open(&name).await.unwrap();
    let incident = Uuid::now_v7();
    db.store_attachments(&[StoredAttachment {
        sha256: a.sha256.clone(),
        incident_id: incident,
        ciphertext: ciphertext.clone(),
    }])
    .await
    .unwrap();
    assert_eq!(
        db.waiting_attachments().await.unwrap(),
        std::slice::from_ref(&a.sha256)
    );
    let kept = db.attachment(&a.sha256).await.unwrap().unwrap();
    assert_eq!(kept.incident_id, incident);
    assert_eq!(kept.ciphertext, ciphertext);
    db.delete_attachment(&a.sha256).await.unwrap();
    assert!(db.waiting_attachments().await.unwrap().is_empty());
    assert!(db.attachment(&a.sha256).await.unwrap().is_none());
    db.close();
    Db::delete(&name).await.unwrap();
}
