//! Time and fresh ids, read in the browser and passed into haven_core.

use haven_core::Millis;
use uuid::Uuid;

/// Milliseconds since the Unix epoch from the browser's clock.
pub fn now_ms() -> Millis {
    js_sys::Date::now() as Millis
}

/// A UUID v7 (time-ordered), so records made offline sort by creation time.
pub fn new_id() -> Uuid {
    let ms = now_ms().max(0) as u64;
    let mut random = [0u8; 10];
    // crypto.getRandomValues; it cannot fail in a browser that runs wasm.
    getrandom::fill(&mut random).expect("crypto.getRandomValues is available");
    uuid::Builder::from_unix_timestamp_millis(ms, &random).into_uuid()
}

/// The time of day `at`, `HH:MM`, in the device's own zone.
pub fn local_time(at: Millis) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at as f64));
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}

pub fn local_date(at: Millis) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at as f64));
    format!(
        "{}/{:02}/{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date()
    )
}

/// The day `at` in the device's own zone, as a person writes it: "7 March
/// 2027".
pub fn long_date(at: Millis) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at as f64));
    let month = haven_core::calendar::month_name(date.get_month());
    format!("{} {month} {}", date.get_date(), date.get_full_year())
}

/// The device's offset from UTC in minutes, for "today".
pub fn utc_offset_minutes() -> i64 {
    -(js_sys::Date::new_0().get_timezone_offset() as i64)
}

/// "3 minutes ago", "2 days ago": how long since `at`.
pub fn ago(at: i64) -> String {
    let secs = (now_ms() - at).max(0) / 1000;
    match secs {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}
