//! The civil (Gregorian) calendar in UTC, as the report and the PWA's dates
//! name it: month names, the month a time falls in, and a UTC timestamp.
//!
//! Hand-written rather than a date crate: three functions over Howard Hinnant's
//! `civil_from_days`, and haven_core stays free of a clock-aware dependency.

use crate::Millis;

/// The months' names, January first.
pub const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The name of month `index` counted from 0 (JavaScript's `getMonth()`);
/// empty for an index out of range.
pub fn month_name(index: u32) -> &'static str {
    MONTH_NAMES.get(index as usize).copied().unwrap_or_default()
}

/// The UTC month of a time: (`YYYY-MM`, "September 2026").
pub fn month_of(millis: Millis) -> (String, String) {
    let (year, month, _) = civil_from_days(millis.div_euclid(86_400_000));
    let name = month_name(month - 1);
    (format!("{year:04}-{month:02}"), format!("{name} {year}"))
}

/// A time as an RFC 3339 UTC timestamp to the second,
/// `2026-09-01T12:34:56Z` (what a backup's manifest says it was taken at).
pub fn utc_timestamp(millis: Millis) -> String {
    let (year, month, day) = civil_from_days(millis.div_euclid(86_400_000));
    let secs = millis.rem_euclid(86_400_000) / 1000;
    let (hour, minute, second) = (secs / 3600, secs / 60 % 60, secs % 60);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

/// The UTC day of a time, `YYYY-MM-DD`.
pub fn utc_date(millis: Millis) -> String {
    let (year, month, day) = civil_from_days(millis.div_euclid(86_400_000));
    format!("{year:04}-{month:02}-{day:02}")
}

/// (year, month 1–12, day 1–31) of a count of days since 1970-01-01:
/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are within 1..=31 by construction.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_utc_calendar_months() {
        assert_eq!(month_of(0).0, "1970-01");
        // 2026-09-01T00:00:00Z and a millisecond before.
        assert_eq!(
            month_of(1_788_220_800_000),
            ("2026-09".into(), "September 2026".into())
        );
        assert_eq!(month_of(1_788_220_799_999).0, "2026-08");
        assert_eq!(month_of(951_782_400_000).0, "2000-02", "29 February 2000");
        assert_eq!(month_of(-1).0, "1969-12", "before the epoch");
    }

    #[test]
    fn timestamps_are_utc_to_the_second() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_788_220_800_000), "2026-09-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_788_220_799_999), "2026-08-31T23:59:59Z");
        assert_eq!(utc_timestamp(951_827_696_789), "2000-02-29T12:34:56Z");
        assert_eq!(utc_timestamp(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn days_are_computed_from_unix_time() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(1_784_019_600_000), "2026-07-14");
        assert_eq!(utc_date(951_782_400_000), "2000-02-29");
        assert_eq!(utc_date(86_400_000 - 1), "1970-01-01");
    }

    #[test]
    fn month_names_count_from_zero() {
        assert_eq!(month_name(0), "January");
        assert_eq!(month_name(11), "December");
        assert_eq!(month_name(12), "");
    }
}
