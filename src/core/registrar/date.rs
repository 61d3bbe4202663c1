//! The `Date` header value (RFC 3261 §20.17, RFC 1123 form, always GMT)
//! from unix seconds, without a date library.

/// Appends e.g. `Thu, 26 Nov 2026 06:30:00 GMT`.
pub fn write_http_date(unix: u64, out: &mut Vec<u8>) {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = unix / 86400;
    let secs = unix % 86400;
    let (y, m, d) = civil_from_days(days as i64);
    let s = format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    out.extend_from_slice(s.as_bytes());
}

/// Howard Hinnant's days-to-civil: (year, month 1..=12, day 1..=31).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(unix: u64) -> String {
        let mut v = Vec::new();
        write_http_date(unix, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn known_dates() {
        assert_eq!(date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(date(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(date(1795674600), "Thu, 26 Nov 2026 06:30:00 GMT");
    }
}
