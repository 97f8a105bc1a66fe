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
pub fn format_unix_utc(seconds: i64, out: &mut impl Write) {
    let mut text = Vec::with_capacity(24);
    write_unix_utc(seconds, &mut text);
    write_ascii(&text, out);
}

/// Formats the UTC date of Unix seconds, `2018-01-26`.
pub fn format_unix_date(seconds: i64, out: &mut impl Write) {
    let mut text = Vec::with_capacity(16);
    write_unix_date(seconds, &mut text);
    write_ascii(&text, out);
}

/// Appends [`format_unix_utc`]'s text as bytes, for the serializer, which
/// writes every time stamp of every row through here: the text is built
/// on the stack and appended at once, digits taken from a table. Pushed
/// character by character through `fmt::Write`, each with its own
/// capacity check, it took twice the instructions (382 against 189 per
/// time stamp, with the calendar arithmetic).
pub fn write_unix_utc(seconds: i64, out: &mut Vec<u8>) {
    let (y, m, d) = civil_from_days(seconds.div_euclid(SECONDS_PER_DAY));
    let time = time_text(seconds.rem_euclid(SECONDS_PER_DAY));
    match year_text(y) {
        Some(year) => {
            let mut text = [0u8; 20];
            text[..4].copy_from_slice(&year);
            text[4..10].copy_from_slice(&month_day_text(m, d));
            text[10..].copy_from_slice(&time);
            out.extend_from_slice(&text);
        }
        None => {
            write_wide_year(y, out);
            out.extend_from_slice(&month_day_text(m, d));
            out.extend_from_slice(&time);
        }
    }
}

/// Appends [`format_unix_date`]'s text as bytes (see [`write_unix_utc`]).
pub fn write_unix_date(seconds: i64, out: &mut Vec<u8>) {
    let (y, m, d) = civil_from_days(seconds.div_euclid(SECONDS_PER_DAY));
    match year_text(y) {
        Some(year) => {
            let mut text = [0u8; 10];
            text[..4].copy_from_slice(&year);
            text[4..].copy_from_slice(&month_day_text(m, d));
            out.extend_from_slice(&text);
        }
        None => {
            write_wide_year(y, out);
            out.extend_from_slice(&month_day_text(m, d));
        }
    }
}

/// `YYYY` for a year in 0..=9999; `None` for one that needs a sign or
/// more digits.
fn year_text(y: i64) -> Option<[u8; 4]> {
    let y = u32::try_from(y).ok().filter(|&y| y < 10_000)?;
    let [a, b] = two_digits(y / 100);
    let [c, d] = two_digits(y % 100);
    Some([a, b, c, d])
}

/// `-MM-DD`.
fn month_day_text(m: u32, d: u32) -> [u8; 6] {
    let [m1, m2] = two_digits(m);
    let [d1, d2] = two_digits(d);
    [b'-', m1, m2, b'-', d1, d2]
}

/// `THH:MM:SSZ` of `0 <= secs < 86,400`.
fn time_text(secs: i64) -> [u8; 10] {
    // In range by construction (a remainder of a day's seconds).
    let secs = u32::try_from(secs).unwrap_or(0);
    let [h1, h2] = two_digits(secs / 3600);
    let [m1, m2] = two_digits(secs / 60 % 60);
    let [s1, s2] = two_digits(secs % 60);
    [b'T', h1, h2, b':', m1, m2, b':', s1, s2, b'Z']
}

/// The two-digit numbers 00 to 99, one after the other.
const TWO_DIGITS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// `n % 100` as two ASCII digits.
fn two_digits(n: u32) -> [u8; 2] {
    let at = (n % 100) as usize * 2;
    [TWO_DIGITS[at], TWO_DIGITS[at + 1]]
}

/// Appends ASCII text to a text sink. The sinks used (`String`) cannot
/// fail.
fn write_ascii(text: &[u8], out: &mut impl Write) {
    if let Ok(text) = std::str::from_utf8(text) {
        let _ = out.write_str(text);
    }
}

/// A year outside 0..=9999: with its sign, at least four digits.
fn write_wide_year(y: i64, out: &mut Vec<u8>) {
    use std::io::Write as _;
    // Writing into a `Vec` cannot fail.
    let _ = if y < 0 {
        write!(out, "-{:04}", y.unsigned_abs())
    } else {
        write!(out, "{y:04}")
    };
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
