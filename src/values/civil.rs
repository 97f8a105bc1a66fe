//! Calendar arithmetic between Unix time and proleptic Gregorian dates.
//!
//! Two closed-form conversions (Howard Hinnant's `days_from_civil` and
//! `civil_from_days`) are all the gateway needs to turn ZeyOS time stamps
//! into OData date/time values and back; they are exact for every date the
//! types can hold, which is why no date-time crate is pulled in for them.

use std::fmt::Write;

/// Seconds in a day.
pub const SECONDS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Whether `year` is a leap year in the Gregorian calendar.
pub fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Number of days in a month (1-based), `None` for a month out of range.
pub fn days_in_month(year: i64, month: u32) -> Option<u32> {
    Some(match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => return None,
    })
}

/// Formats Unix seconds as an ISO 8601 UTC time stamp, `2018-01-26T17:15:00Z`.
///
/// Digits are pushed directly rather than through `format!`, and into any
/// text sink (the serializer writes straight into its output): every time
/// stamp of every row written goes through here.
pub fn format_unix_utc(seconds: i64, out: &mut impl Write) {
    let secs = seconds.rem_euclid(SECONDS_PER_DAY);
    format_unix_date(seconds, out);
    push(out, 'T');
    push_two_digits(secs / 3600, out);
    push(out, ':');
    push_two_digits(secs / 60 % 60, out);
    push(out, ':');
    push_two_digits(secs % 60, out);
    push(out, 'Z');
}

/// Formats the UTC date of Unix seconds, `2018-01-26`.
pub fn format_unix_date(seconds: i64, out: &mut impl Write) {
    let (y, m, d) = civil_from_days(seconds.div_euclid(SECONDS_PER_DAY));
    write_year(y, out);
    push(out, '-');
    push_two_digits(i64::from(m), out);
    push(out, '-');
    push_two_digits(i64::from(d), out);
}

/// Appends one character. The sinks used (`String`, the serializer's
/// byte buffer) cannot fail.
fn push(out: &mut impl Write, c: char) {
    let _ = out.write_char(c);
}

/// Appends `0 <= n < 100` as two digits.
fn push_two_digits(n: i64, out: &mut impl Write) {
    push(out, char::from(b'0' + (n / 10 % 10) as u8));
    push(out, char::from(b'0' + (n % 10) as u8));
}

fn write_year(y: i64, out: &mut impl Write) {
    if (0..10_000).contains(&y) {
        push_two_digits(y / 100, out);
        push_two_digits(y % 100, out);
        return;
    }
    if y < 0 {
        let _ = write!(out, "-{:04}", -y);
    } else {
        let _ = write!(out, "{y:04}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_day_over_several_centuries() {
        for days in -200_000..200_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            assert!(d <= days_in_month(y, m).unwrap());
        }
    }

    /// The digit-pushing formatters against `format!` over years before 0,
    /// around 1970 and after 9999.
    #[test]
    fn formats_as_format_would() {
        let reference = |seconds: i64| {
            let days = seconds.div_euclid(SECONDS_PER_DAY);
            let secs = seconds.rem_euclid(SECONDS_PER_DAY);
            let (y, m, d) = civil_from_days(days);
            let year = if y < 0 {
                format!("-{:04}", -y)
            } else {
                format!("{y:04}")
            };
            format!(
                "{year}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
                secs / 3600,
                secs / 60 % 60,
                secs % 60
            )
        };
        let mut seconds = -400_000_000_000_i64;
        while seconds < 400_000_000_000 {
            let mut s = String::new();
            format_unix_utc(seconds, &mut s);
            assert_eq!(s, reference(seconds));
            let mut date = String::new();
            format_unix_date(seconds, &mut date);
            assert_eq!(date, s[..s.len() - 10]);
            seconds += 7_777_777_777 / 100 + 13;
        }
    }

    #[test]
    fn formats_known_instants() {
        let mut s = String::new();
        format_unix_utc(872_838_840, &mut s);
        assert_eq!(s, "1997-08-29T07:14:00Z");
        s.clear();
        format_unix_utc(-1, &mut s);
        assert_eq!(s, "1969-12-31T23:59:59Z");
        s.clear();
        format_unix_date(951_782_400, &mut s);
        assert_eq!(s, "2000-02-29");
        assert_eq!(
            days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28),
            2
        );
    }
}
