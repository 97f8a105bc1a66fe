//! Writing JSON numbers, with a fast path for the amounts ZeyOS sends.
//!
//! A page of 1,000 transactions carries some 20,000 doubles (prices,
//! amounts, tax rates), nearly all of them short decimal fractions such as
//! `19.99`. Formatting each through serde_json's general shortest-digits
//! algorithm was about 5 % of the gateway's CPU for that page. For a
//! double that is exactly the nearest double to a decimal with at most
//! [`FAST_FRACTION_DIGITS`] fraction digits, those digits are the shortest
//! that read back as it, so they can be written with integer formatting;
//! everything else goes the general way. The output is byte for byte what
//! serde_json writes (checked against it by the tests below).

use serde_json::Number;

/// Fraction digits the fast path tries before giving up.
const FAST_FRACTION_DIGITS: usize = 4;

/// Powers of ten that doubles hold exactly, by exponent.
const POWERS_OF_TEN: [f64; FAST_FRACTION_DIGITS + 1] = [1.0, 10.0, 100.0, 1_000.0, 10_000.0];

/// The largest digit string (as an integer) the fast path writes: below
/// 2^50 the doubles near it are closer together than one unit of the last
/// digit, so at most one decimal of that many digits reads back as the
/// double, and it is the one serde_json's shortest-digits algorithm picks.
const FAST_DIGITS_LIMIT: f64 = (1u64 << 50) as f64;

/// Appends a JSON number as serde_json writes it.
pub fn write_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(i) = n.as_i64() {
        out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
    } else if let Some(u) = n.as_u64() {
        out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
    } else if let Some(f) = n.as_f64() {
        write_f64(out, f);
    }
}

/// Appends a finite double as serde_json writes it.
pub fn write_f64(out: &mut Vec<u8>, f: f64) {
    if !write_short_decimal(out, f) {
        let _ = serde_json::to_writer(&mut *out, &f);
    }
}

/// Writes `f` as its shortest decimal if that has at most
/// [`FAST_FRACTION_DIGITS`] fraction digits and `f` lies where serde_json
/// writes plain decimals, not exponents (from 10^-3 to below 10^15);
/// `false` (having written nothing) otherwise.
fn write_short_decimal(out: &mut Vec<u8>, f: f64) -> bool {
    let magnitude = f.abs();
    // Also false for NaN.
    if !(1e-3..1e15).contains(&magnitude) {
        return false;
    }
    for (digits, &scale) in POWERS_OF_TEN.iter().enumerate() {
        let product = magnitude * scale;
        if product >= FAST_DIGITS_LIMIT {
            return false;
        }
        // The nearest integer, by a cast rather than `f64::round` (a libm
        // call on the baseline x86-64 target). Halves may round either
        // way: a product that is the scaled decimal sought lies within a
        // few units in the last place of an integer, far from a half, and
        // any other candidate fails the check below.
        let scaled = (product + 0.5) as u64;
        let scaled_f = scaled as f64;
        if scaled_f >= FAST_DIGITS_LIMIT {
            return false;
        }
        // `scaled` (an integer below 2^50) and `scale` are exact, so the
        // division is correctly rounded: equality means the decimal
        // `scaled`·10^-digits reads back as `f`, and no shorter one did.
        if scaled_f / scale != magnitude {
            continue;
        }
        if f.is_sign_negative() {
            out.push(b'-');
        }
        let pow = 10u64.pow(digits as u32);
        let mut buffer = itoa::Buffer::new();
        out.extend_from_slice(buffer.format(scaled / pow).as_bytes());
        out.push(b'.');
        if digits == 0 {
            out.push(b'0');
        } else {
            let fraction = buffer.format(scaled % pow).as_bytes();
            out.extend(std::iter::repeat_n(b'0', digits - fraction.len()));
            out.extend_from_slice(fraction);
        }
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ours(f: f64) -> String {
        let mut out = Vec::new();
        write_number(&mut out, &Number::from_f64(f).expect("finite"));
        String::from_utf8(out).expect("ASCII")
    }

    fn serde(f: f64) -> String {
        serde_json::to_string(&f).expect("finite")
    }

    #[test]
    fn amounts_are_written_as_serde_json_writes_them() {
        for f in [
            19.99,
            -19.99,
            0.1,
            0.3,
            0.1 + 0.2,
            1.0,
            -0.0,
            0.0,
            100.0,
            0.001,
            0.0001,
            0.00012,
            1e-5,
            123456789.1234,
            999999999999999.9,
            1e15,
            1e16,
            4503599627370495.5,
            2.5e-3,
            1.005,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            assert_eq!(ours(f), serde(f), "{f:?}");
        }
        for (n, text) in [
            (Number::from(7), "7"),
            (Number::from(u64::MAX), "18446744073709551615"),
        ] {
            let mut out = Vec::new();
            write_number(&mut out, &n);
            assert_eq!(out, text.as_bytes());
        }
    }

    #[test]
    fn the_fast_path_takes_short_decimals() {
        let mut out = Vec::new();
        for f in [19.99, 0.001, 5.0, -12.5, 99999999999.9999] {
            out.clear();
            assert!(write_short_decimal(&mut out, f), "{f}");
        }
        for f in [0.0001, 1.23456, 1e15, f64::NAN, 0.1 + 0.2] {
            out.clear();
            assert!(!write_short_decimal(&mut out, f), "{f}");
            assert!(out.is_empty());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn decimals_are_written_as_serde_json_writes_them(
            mantissa in -10i64.pow(16)..10i64.pow(16),
            digits in 0u32..8,
        ) {
            let text = format!("{mantissa}e-{digits}");
            let f: f64 = text.parse().expect("a number");
            prop_assert_eq!(ours(f), serde(f), "{}", text);
        }

        #[test]
        fn any_double_is_written_as_serde_json_writes_it(bits in any::<u64>()) {
            let f = f64::from_bits(bits);
            prop_assume!(f.is_finite());
            prop_assert_eq!(ours(f), serde(f));
        }
    }
}
