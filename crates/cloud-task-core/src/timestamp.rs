//! The API's timestamps (integer epoch milliseconds) as RFC 3339 text, without a clock:
//! `createdAt: 1700000000123` reads `2023-11-14T22:13:20.123Z`.

/// `epoch_ms` as RFC 3339 UTC with milliseconds, e.g. `2023-11-14T22:13:20.123Z` (the form
/// of the upload API's `expires_at`).
///
/// ```
/// # use cloud_task_core::timestamp::to_rfc3339_millis;
/// assert_eq!(to_rfc3339_millis(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
/// assert_eq!(to_rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
/// ```
pub fn to_rfc3339_millis(epoch_ms: i64) -> String {
    let (date, time) = split(epoch_ms);
    format!("{date}T{time}.{:03}Z", epoch_ms.rem_euclid(1000))
}

/// `epoch_ms` as RFC 3339 UTC to the second, e.g. `2023-11-14T22:13:20Z`.
///
/// ```
/// # use cloud_task_core::timestamp::to_rfc3339;
/// assert_eq!(to_rfc3339(951_782_400_999), "2000-02-29T00:00:00Z");
/// ```
pub fn to_rfc3339(epoch_ms: i64) -> String {
    let (date, time) = split(epoch_ms);
    format!("{date}T{time}Z")
}

/// The date and the time of day of `epoch_ms`, as `YYYY-MM-DD` and `hh:mm:ss`.
fn split(epoch_ms: i64) -> (String, String) {
    let secs = epoch_ms.div_euclid(1000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let time = secs.rem_euclid(86_400);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!(
            "{:02}:{:02}:{:02}",
            time / 3600,
            time % 3600 / 60,
            time % 60
        ),
    )
}

/// The civil date of a day count since 1970-01-01 (H. Hinnant's algorithm), valid for
/// every `i64` day count a timestamp can give.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(to_rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            to_rfc3339_millis(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(to_rfc3339(1), "1970-01-01T00:00:00Z");
        assert_eq!(to_rfc3339(1_735_689_599_000), "2024-12-31T23:59:59Z");
        // The extremes do not panic.
        let _ = to_rfc3339(i64::MAX);
        let _ = to_rfc3339_millis(i64::MIN);
    }
}
