//! Durations on the command line (`500ms`, `2s`, `10m`, `1h`, `1.5s`, `1h30m`) and sizes
//! (`512`, `64KiB`, `100MiB`, `16GiB`).

use std::time::Duration;

/// The longest duration accepted: 100 days (a wait longer than that is a typo).
const MAX: Duration = Duration::from_secs(100 * 24 * 3600);

/// Parses a positive duration written as one or more `<number><unit>` pieces, the units
/// being `ms`, `s`, `m` and `h` (`1h30m`, `1.5s`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let examples = "write e.g. 500ms, 2s, 10m or 1h";
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(format!("an empty duration: {examples}"));
    }
    if rest.starts_with('-') {
        return Err(format!(
            "`{text}` is negative: a duration must be greater than zero ({examples})"
        ));
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a duration: {examples}"))?;
        let unit_secs = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("`{text}` has no unit: {examples}")),
            other => {
                return Err(format!(
                    "`{text}` has an unknown unit `{other}`: use ms, s, m or h"
                ));
            }
        };
        let secs = value * unit_secs;
        if !secs.is_finite() || secs > MAX.as_secs_f64() {
            return Err(format!("`{text}` is too long (at most 100 days)"));
        }
        total += Duration::from_secs_f64(secs);
        rest = after;
    }
    if total.is_zero() {
        return Err(format!("`{text}` must be greater than zero"));
    }
    if total > MAX {
        return Err(format!("`{text}` is too long (at most 100 days)"));
    }
    Ok(total)
}

/// Writes a duration back in the largest unit that holds it exactly (`2s`, `10m`,
/// `1500ms`), so that [`parse_duration`] reads the same value.
pub fn format_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms == 0 {
        return format!("{}ms", duration.as_secs_f64() * 1000.0);
    }
    for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1000)] {
        if ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// Parses a size in bytes: a whole number, with an optional binary unit `KiB`, `MiB`,
/// `GiB` or `TiB` (`K`, `M`, `G`, `T` too), e.g. `512`, `64KiB`, `16GiB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let examples = "write e.g. 1048576, 512MiB or 16GiB";
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    if number.is_empty() {
        return Err(format!("`{text}` is not a size: {examples}"));
    }
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        "T" | "TiB" => 40,
        other => {
            return Err(format!(
                "`{text}` has an unknown unit `{other}`: use KiB, MiB, GiB or TiB ({examples})"
            ));
        }
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is too large"))?;
    let bytes = value
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("`{text}` is too large"))?;
    if bytes == 0 {
        return Err(format!("`{text}` must be greater than zero"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_unit_fractions_and_sequences() {
        for (text, expected) in [
            ("500ms", Duration::from_millis(500)),
            ("2s", Duration::from_secs(2)),
            ("10m", Duration::from_secs(600)),
            ("1h", Duration::from_secs(3600)),
            ("1.5s", Duration::from_millis(1500)),
            ("1h30m", Duration::from_secs(5400)),
            (" 3s ", Duration::from_secs(3)),
        ] {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn refuses_with_a_reason() {
        for (text, reason) in [
            ("", "empty"),
            ("10", "no unit"),
            ("2x", "unknown unit `x`"),
            ("ms", "not a duration"),
            ("1..2s", "not a duration"),
            ("0s", "greater than zero"),
            ("101d", "unknown unit"),
            ("99999h", "too long"),
            ("1e400s", "unknown unit `e`"),
        ] {
            let error = parse_duration(text).unwrap_err();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }

    #[test]
    fn formats_back_to_the_same_value() {
        for text in ["500ms", "2s", "10m", "1h", "1500ms", "90m"] {
            let duration = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn sizes_read_binary_units_and_refuse_with_a_reason() {
        for (text, expected) in [
            ("512", 512),
            ("64KiB", 64 << 10),
            ("100M", 100 << 20),
            ("16GiB", 16 << 30),
            (" 2 TiB ", 2 << 40),
        ] {
            assert_eq!(parse_size(text), Ok(expected), "{text}");
        }
        for (text, reason) in [
            ("", "not a size"),
            ("GiB", "not a size"),
            ("-1", "not a size"),
            ("1.5GiB", "unknown unit `.5GiB`"),
            ("10GB", "unknown unit `GB`"),
            ("0", "greater than zero"),
            ("99999999999TiB", "too large"),
            ("99999999999999999999", "too large"),
        ] {
            let error = parse_size(text).unwrap_err();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }
}
