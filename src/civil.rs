//! Calendar arithmetic on days since 1970-01-01 (UTC), without a date crate.
//!
//! Generated dates never come from the wall clock; they come from a profile's window and the
//! keyed draws, and are encoded straight into output buffers with no allocation.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe as u32 * 365 + yoe as u32 / 4 - yoe as u32 / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

/// (year, month 1-12, day 1-31) of a day number.
pub fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// 0 = Monday … 6 = Sunday.
pub fn weekday(days: i32) -> u32 {
    ((days + 3).rem_euclid(7)) as u32
}

/// Months since year 0 (y*12 + m-1): handy for month arithmetic.
pub fn month_index(days: i32) -> i32 {
    let (y, m, _) = civil_from_days(days);
    y * 12 + m as i32 - 1
}

/// First day of a month index.
pub fn month_start(mi: i32) -> i32 {
    days_from_civil(mi.div_euclid(12), (mi.rem_euclid(12) + 1) as u32, 1)
}

pub fn days_in_month(mi: i32) -> u32 {
    (month_start(mi + 1) - month_start(mi)) as u32
}

/// Parse `YYYY-MM-DD`; `None` when malformed or not a real date.
pub fn parse_date(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i32 = s[0..4].parse().ok()?;
    let m: u32 = s[5..7].parse().ok()?;
    let d: u32 = s[8..10].parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let mi = y * 12 + m as i32 - 1;
    if d > days_in_month(mi) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

#[inline]
fn push2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// Days covered by the date-text cache: 1970-01-01 to 2099-12-31.
const CACHE_DAYS: usize = 47_482;

/// `YYYY-MM-DD` of every day in the cache range, so encoding a date is a 10-byte copy.
static DATE_TEXT: std::sync::LazyLock<Vec<[u8; 10]>> = std::sync::LazyLock::new(|| {
    (0..CACHE_DAYS as i32)
        .map(|d| {
            let mut v = Vec::with_capacity(10);
            format_date(&mut v, d);
            v.try_into().expect("ten bytes")
        })
        .collect()
});

/// Appends `YYYY-MM-DD`.
#[inline]
pub fn write_date(out: &mut Vec<u8>, days: i32) {
    match DATE_TEXT.get(days as usize) {
        Some(t) if days >= 0 => out.extend_from_slice(t),
        _ => format_date(out, days),
    }
}

fn format_date(out: &mut Vec<u8>, days: i32) {
    let (y, m, d) = civil_from_days(days);
    let y = y as u32;
    push2(out, y / 100);
    push2(out, y % 100);
    out.push(b'-');
    push2(out, m);
    out.push(b'-');
    push2(out, d);
}

/// Appends `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch.
pub fn write_timestamp(out: &mut Vec<u8>, secs: i64) {
    let days = secs.div_euclid(86_400) as i32;
    let s = secs.rem_euclid(86_400) as u32;
    write_date(out, days);
    out.push(b'T');
    push2(out, s / 3600);
    out.push(b':');
    push2(out, s / 60 % 60);
    out.push(b':');
    push2(out, s % 60);
    out.push(b'Z');
}

pub fn date_string(days: i32) -> String {
    let mut v = Vec::with_capacity(10);
    write_date(&mut v, days);
    String::from_utf8(v).expect("ascii")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 1, 1), 10_957);
        for z in -1000..40_000 {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(weekday(days_from_civil(2026, 11, 27)), 4); // a Friday
        assert_eq!(parse_date("2024-02-29"), Some(days_from_civil(2024, 2, 29)));
        assert_eq!(parse_date("2023-02-29"), None);
        let mut v = Vec::new();
        write_timestamp(&mut v, 86_400 * 10_957 + 3723);
        assert_eq!(v, b"2000-01-01T01:02:03Z");
        assert_eq!(days_in_month(2024 * 12 + 1), 29);
        for d in [-5, 0, 20_000, 47_481, 47_482, 60_000] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            write_date(&mut a, d);
            format_date(&mut b, d);
            assert_eq!(a, b);
        }
    }
}
