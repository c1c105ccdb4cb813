//! Human durations such as `"300ms"`, `"15m"` or `"2h30m"`.

use std::time::Duration;

/// Parses a duration written as one or more `<integer><unit>` groups (units `ms`, `s`, `m`,
/// `h`, `d`), e.g. `"300ms"`, `"1s"`, `"15m"`, `"2h30m"`. A unit is mandatory so that a bare
/// `60` can never be misread as milliseconds or minutes; zero is refused because every
/// duration in the config is an interval or a timeout where zero would spin or fail at once.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    if text.is_empty() {
        return Err("empty duration; expected a number with a unit such as \"60s\"".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a duration; expected a number followed by a unit (ms, s, m, h, d), e.g. \"60s\" or \"2h30m\""
            ));
        }
        let value: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}`: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let millis_per_unit: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => {
                return Err(format!(
                    "`{text}` has no unit; expected a unit (ms, s, m, h, d), e.g. \"{value}s\""
                ));
            }
            other => {
                return Err(format!(
                    "`{text}` has unknown unit `{other}`; expected one of ms, s, m, h, d"
                ));
            }
        };
        let millis = value
            .checked_mul(millis_per_unit)
            .ok_or_else(|| format!("`{text}` is too large"))?;
        total = total
            .checked_add(Duration::from_millis(millis))
            .ok_or_else(|| format!("`{text}` is too large"))?;
    }
    if total.is_zero() {
        return Err(format!("`{text}` is zero; expected a positive duration"));
    }
    Ok(total)
}

/// Formats a duration the way the config writes them, for warnings and `status`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 || out.is_empty() {
        out.push_str(&format!("{sec}s"));
    }
    out
}
