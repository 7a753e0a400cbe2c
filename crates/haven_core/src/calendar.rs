//! The civil (Gregorian) calendar in UTC, as the report and the PWA's dates
//! name it: month names and the month a time falls in.
//!
//! Hand-written rather than a date crate: two functions over Howard Hinnant's
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
    // Howard Hinnant's civil_from_days.
    let z = millis.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let name = month_name(u32::try_from(month - 1).unwrap_or(0));
    (format!("{year:04}-{month:02}"), format!("{name} {year}"))
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
    fn month_names_count_from_zero() {
        assert_eq!(month_name(0), "January");
        assert_eq!(month_name(11), "December");
        assert_eq!(month_name(12), "");
    }
}
