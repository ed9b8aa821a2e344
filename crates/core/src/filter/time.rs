//! RFC 3339 times for filters: `2026-11-30T12:00:00Z`, `2026-11-30T12:00:00.5+01:00`, or a bare
//! date (`2026-11-30`, midnight UTC).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

fn digits(s: &str) -> Option<i64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// Parses an RFC 3339 time at or after 1970.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let (date, rest) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let (y, m, d) = (digits(parts.next()?)?, digits(parts.next()?)?, digits(parts.next()?)?);
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) || date.len() != 10 {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if civil_from_days(days_from_civil(y, m, d)) != (y, m, d) {
        return None; // 2026-02-30
    }
    let mut nanos = 0u32;
    if let Some(rest) = rest {
        let (clock, offset) = if let Some(r) = rest.strip_suffix(['Z', 'z']) {
            (r, 0)
        } else {
            let i = rest.rfind(['+', '-'])?;
            let (h, mi) = rest[i + 1..].split_once(':')?;
            let (h, mi) = (digits(h)?, digits(mi)?);
            if h > 23 || mi > 59 {
                return None;
            }
            let sign = if rest.as_bytes()[i] == b'-' { -1 } else { 1 };
            (&rest[..i], sign * (h * 3_600 + mi * 60))
        };
        let (hms, frac) = match clock.split_once('.') {
            Some((hms, frac)) => (hms, Some(frac)),
            None => (clock, None),
        };
        let mut hms = hms.split(':');
        let (h, mi, sec) = (digits(hms.next()?)?, digits(hms.next()?)?, digits(hms.next()?)?);
        if hms.next().is_some() || h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        if let Some(frac) = frac {
            if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            nanos = format!("{frac:0<9}").parse().ok()?;
        }
        secs += h * 3_600 + mi * 60 + sec - offset;
    }
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_and_rejects_nonsense() {
        let t = parse_rfc3339("2026-11-30T12:34:56.789Z").unwrap();
        assert_eq!(t, UNIX_EPOCH + Duration::new(1_796_042_096, 789_000_000));
        assert_eq!(parse_rfc3339("2026-11-30T13:34:56.789+01:00"), Some(t));
        assert_eq!(parse_rfc3339("1970-01-01"), Some(UNIX_EPOCH));
        assert_eq!(parse_rfc3339("2024-02-29"), Some(UNIX_EPOCH + Duration::from_secs(1_709_164_800)));
        for bad in
            ["2026-02-30", "2026-13-01", "yesterday", "2026-11-30T25:00:00Z", "1969-12-31", "2026-1-1", ""]
        {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
