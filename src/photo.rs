//! Makes a phone camera's photo small enough to attach, on the device,
//! before it is sealed: a photo whose longest side is above
//! [`MAX_IMAGE_SIDE_PX`] (or whose file is over the limit) is redrawn at
//! that size as a JPEG. A 12-megapixel photo of 3-6 MB becomes about
//! 0.5-1.5 MB, still sharp enough to read a message in it. Anything else is
//! kept as picked.

use haven_core::incident::{
    MAX_ATTACHMENT_BYTES, MAX_IMAGE_SIDE_PX, SHRINKABLE_TYPES, SHRUNK_JPEG_QUALITY,
};
use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, CanvasRenderingContext2d, HtmlCanvasElement, ImageBitmap};

/// A picked file, ready to be sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// The size picked, when the photo was made smaller.
    pub shrunk_from: Option<u64>,
    /// Width and height after shrinking (photos only).
    pub dimensions: Option<(u32, u32)>,
}

/// Reads `file`, making it smaller first if it is a large photo. The error
/// says, in words for the person who picked it, why it cannot be read.
pub async fn prepare(file: &web_sys::File) -> Result<Prepared, String> {
    let name = file.name();
    let content_type = file.type_();
    let size = file.size() as u64;
    if SHRINKABLE_TYPES.contains(&content_type.as_str()) {
        let bitmap = decode(file)
            .await
            .map_err(|_| format!("{name} cannot be opened as a photo; it may be damaged"))?;
        let (w, h) = (bitmap.width(), bitmap.height());
        let longest = w.max(h);
        if longest > MAX_IMAGE_SIDE_PX || size as usize > MAX_ATTACHMENT_BYTES {
            let scale = (MAX_IMAGE_SIDE_PX as f64 / longest as f64).min(1.0);
            let (tw, th) = (
                ((w as f64 * scale).round() as u32).max(1),
                ((h as f64 * scale).round() as u32).max(1),
            );
            let bytes = redraw_as_jpeg(&bitmap, tw, th)
                .await
                .map_err(|_| format!("{name} could not be made smaller on this device"))?;
            bitmap.close();
            return Ok(Prepared {
                name: as_jpeg_name(&name),
                content_type: "image/jpeg".into(),
                bytes,
                shrunk_from: Some(size),
                dimensions: Some((tw, th)),
            });
        }
        bitmap.close();
        return Ok(Prepared {
            bytes: read(file)
                .await
                .map_err(|_| format!("{name} could not be read"))?,
            name,
            content_type,
            shrunk_from: None,
            dimensions: Some((w, h)),
        });
    }
    Ok(Prepared {
        bytes: read(file)
            .await
            .map_err(|_| format!("{name} could not be read"))?,
        name,
        content_type,
        shrunk_from: None,
        dimensions: None,
    })
}

/// "IMG_2041.HEIC.png" → "IMG_2041.HEIC.jpg": the name says what it now is.
fn as_jpeg_name(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => format!("{stem}.jpg"),
        _ => format!("{name}.jpg"),
    }
}

async fn read(blob: &Blob) -> Result<Vec<u8>, JsValue> {
    let buffer = JsFuture::from(blob.array_buffer()).await?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The photo decoded, turned upright as its EXIF says (the browser's
/// default for `createImageBitmap`).
async fn decode(file: &Blob) -> Result<ImageBitmap, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let bitmap = JsFuture::from(window.create_image_bitmap_with_blob(file)?).await?;
    bitmap.dyn_into()
}

async fn redraw_as_jpeg(bitmap: &ImageBitmap, width: u32, height: u32) -> Result<Vec<u8>, JsValue> {
    let canvas: HtmlCanvasElement = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?
        .create_element("canvas")?
        .dyn_into()?;
    canvas.set_width(width);
    canvas.set_height(height);
    let context: CanvasRenderingContext2d = canvas
        .get_context("2d")?
        .ok_or("no 2d context")?
        .dyn_into()?;
    // A transparent PNG would turn black as a JPEG: paint it on white.
    context.set_fill_style_str("#fff");
    context.fill_rect(0.0, 0.0, width as f64, height as f64);
    context.set_image_smoothing_enabled(true);
    context.draw_image_with_image_bitmap_and_dw_and_dh(
        bitmap,
        0.0,
        0.0,
        width as f64,
        height as f64,
    )?;
    let blob = JsFuture::from(Promise::new(&mut |resolve, reject| {
        let reject_now = reject.clone();
        let callback = Closure::once_into_js(move |blob: JsValue| {
            if blob.is_null() {
                let _ = reject.call1(&JsValue::NULL, &"toBlob gave nothing".into());
            } else {
                let _ = resolve.call1(&JsValue::NULL, &blob);
            }
        });
        if let Err(e) = canvas.to_blob_with_type_and_encoder_options(
            callback.unchecked_ref(),
            "image/jpeg",
            &SHRUNK_JPEG_QUALITY.into(),
        ) {
            // The callback will not run: settle here instead.
            let _ = reject_now.call1(&JsValue::NULL, &e);
        }
    }))
    .await?;
    // Free the canvas's memory at once: a few of these are large.
    canvas.set_width(0);
    canvas.set_height(0);
    read(blob.unchecked_ref()).await
}
