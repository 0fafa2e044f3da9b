//! Exact decimal amounts: never a float.
//!
//! Text is read digit by digit into an integer count of nano-units (10^-9), so `12.50`,
//! `1.25e1` and `"12.5"` are the same `Amount` and no value is ever rounded. Limits are
//! checked on the *normalized* value (leading zeros and trailing fractional zeros do not
//! count): at most 18 digits before the point and 9 after, so the sum of up to 10^11
//! amounts stays within the 38 digits of a DynamoDB number. Huge exponents
//! (`1e999999999`) are rejected by arithmetic on the exponent, never by expanding digits.

use std::borrow::Cow;

use crate::error::echo;
use crate::EventError;

/// Nano-units per unit.
const SCALE_DIGITS: i64 = 9;
/// Most digits before the point an `Amount` may have.
const MAX_INT_DIGITS: i64 = 18;

/// A finite decimal read from text: `value = ±mantissa × 10^exponent`, where `mantissa`
/// has no trailing zeros (it is 0 only for zero) and `digits` significant digits (from
/// the first to the last non-zero digit). When there are more than the caller's
/// `max_digits`, `exact` is false and `mantissa` is meaningless, but `digits` and
/// `exponent` still give the magnitude: `10^(digits+exponent-1) <= |value|`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decimal {
    pub(crate) negative: bool,
    pub(crate) mantissa: i128,
    pub(crate) digits: i64,
    pub(crate) exponent: i64,
    pub(crate) exact: bool,
}

/// Reads `[+-]?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` (JSON number grammar plus an
/// optional `+`); `None` when `text` does not match. `max_digits` must be at most 38.
pub(crate) fn scan_decimal(text: &str, max_digits: i64) -> Option<Decimal> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut negative = false;
    match bytes.first() {
        Some(b'-') => {
            negative = true;
            i = 1;
        }
        Some(b'+') => i = 1,
        _ => {}
    }
    let mut mantissa: i128 = 0;
    let mut digits: i64 = 0;
    let mut exact = true;
    // Zeros seen after the last non-zero digit, not yet multiplied into `mantissa`.
    let mut pending_zeros: i64 = 0;
    let mut fraction_len: i64 = 0;

    let mut push = |d: u8| {
        if d == 0 {
            if digits > 0 {
                pending_zeros += 1;
            }
            return;
        }
        digits += pending_zeros + 1;
        if digits > max_digits {
            exact = false;
        } else {
            // digits <= 38 here, so the power and the product fit in i128 (< 10^38).
            mantissa = mantissa * 10i128.pow((pending_zeros + 1) as u32) + i128::from(d);
        }
        pending_zeros = 0;
    };

    // Integer part.
    match bytes.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while let Some(&b) = bytes.get(i) {
                if !b.is_ascii_digit() {
                    break;
                }
                push(b - b'0');
                i += 1;
            }
        }
        _ => return None,
    }
    // Fraction.
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(&b) = bytes.get(i) {
            if !b.is_ascii_digit() {
                break;
            }
            push(b - b'0');
            fraction_len += 1;
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    // Exponent, saturated far beyond any limit so that it cannot overflow.
    let mut exponent: i64 = 0;
    if matches!(bytes.get(i), Some(b'e') | Some(b'E')) {
        i += 1;
        let mut exp_negative = false;
        match bytes.get(i) {
            Some(b'-') => {
                exp_negative = true;
                i += 1;
            }
            Some(b'+') => i += 1,
            _ => {}
        }
        let start = i;
        while let Some(&b) = bytes.get(i) {
            if !b.is_ascii_digit() {
                break;
            }
            exponent = (exponent * 10 + i64::from(b - b'0')).min(1 << 40);
            i += 1;
        }
        if i == start {
            return None;
        }
        if exp_negative {
            exponent = -exponent;
        }
    }
    if i != bytes.len() {
        return None;
    }
    Some(Decimal {
        negative,
        mantissa,
        digits,
        exponent: exponent - fraction_len + pending_zeros,
        exact,
    })
}

/// An epoch number, classified.
pub(crate) enum EpochNumber {
    Zero,
    Negative,
    /// Too many significant digits to hold, and at least 10^16 (even as ms past 2262).
    Huge,
    /// Too many significant digits to hold, and below 10^16: then over 22 of them are
    /// fractional, finer than a nanosecond.
    TooPrecise,
    Positive {
        mantissa: i128,
        digits: i64,
        exponent: i64,
    },
}

/// JSON number text (or `+` number) for timestamps; `None` when it is not a number.
pub(crate) fn scan_epoch(text: &str) -> Option<EpochNumber> {
    let d = scan_decimal(text, 38)?;
    Some(if d.digits == 0 {
        EpochNumber::Zero
    } else if d.negative {
        EpochNumber::Negative
    } else if !d.exact {
        if d.digits + d.exponent > 16 {
            EpochNumber::Huge
        } else {
            EpochNumber::TooPrecise
        }
    } else {
        EpochNumber::Positive {
            mantissa: d.mantissa,
            digits: d.digits,
            exponent: d.exponent,
        }
    })
}

/// Writes `nanos` (units of 10^-9) canonically into `buf`: no `+`, no trailing zeros, no
/// point for whole numbers, `0` for zero.
fn format_nanos(nanos: i128, buf: &mut [u8; 48]) -> &str {
    let mut magnitude = nanos.unsigned_abs();
    let mut end = buf.len();
    let mut frac = (magnitude % 1_000_000_000) as u32;
    magnitude /= 1_000_000_000;
    if frac != 0 {
        let mut width = 9;
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        for _ in 0..width {
            end -= 1;
            buf[end] = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        end -= 1;
        buf[end] = b'.';
    }
    loop {
        end -= 1;
        buf[end] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if nanos < 0 {
        end -= 1;
        buf[end] = b'-';
    }
    // Only ASCII digits, '.', '-' were written.
    std::str::from_utf8(&buf[end..]).unwrap_or("0")
}

/// An exact decimal with at most 18 digits before the point and 9 after, held as a
/// count of nano-units (10^-9). `Display` gives the canonical form (`12.5`, `0`, `-3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Amount {
    nanos: i128,
}

impl Amount {
    pub const ZERO: Amount = Amount { nanos: 0 };
    /// The largest amount: 18 nines, a point, 9 nines.
    pub const MAX: Amount = Amount {
        nanos: 999_999_999_999_999_999_999_999_999,
    };
    /// The smallest (most negative) amount.
    pub const MIN: Amount = Amount {
        nanos: -999_999_999_999_999_999_999_999_999,
    };

    /// Parse decimal text as found in a JSON number (`12.50`, `1e1`, `-0`) or a numeric
    /// JSON string (`"12.50"`, `"+1e1"`). Never goes through f64.
    ///
    /// Strict: JSON number grammar plus an optional leading `+`; no whitespace, no `.5`,
    /// no `1.`, no leading zeros, no `NaN`/`Infinity`. Errors with `invalid_amount`
    /// (field `payload.amount`).
    pub fn parse(text: &str) -> Result<Self, EventError> {
        let invalid = || Amount::invalid(format!("got {}", echo(text)));
        // 27 = 18 + 9: any more significant digits cannot fit either limit.
        let decimal = scan_decimal(text, MAX_INT_DIGITS + SCALE_DIGITS).ok_or_else(invalid)?;
        if !decimal.exact {
            return Err(invalid());
        }
        if decimal.mantissa == 0 {
            return Ok(Amount::ZERO);
        }
        if decimal.exponent < -SCALE_DIGITS || decimal.digits + decimal.exponent > MAX_INT_DIGITS {
            return Err(invalid());
        }
        // 0 <= shift and digits + shift <= 27, so the product is below 10^27.
        let shift = (decimal.exponent + SCALE_DIGITS) as u32;
        let magnitude = decimal.mantissa * 10i128.pow(shift);
        Ok(Amount {
            nanos: if decimal.negative {
                -magnitude
            } else {
                magnitude
            },
        })
    }

    /// From a count of nano-units; `None` outside the 18.9-digit range.
    pub fn from_nano_units(nanos: i128) -> Option<Self> {
        (Amount::MIN.nanos..=Amount::MAX.nanos)
            .contains(&nanos)
            .then_some(Amount { nanos })
    }

    /// The value in units of 10^-9.
    pub fn nano_units(self) -> i128 {
        self.nanos
    }

    /// `invalid_amount` with `got` describing what was received (e.g. `got a boolean`).
    pub(crate) fn invalid(got: String) -> EventError {
        EventError::InvalidAmount {
            field: Cow::Borrowed("payload.amount"),
            detail: format!(
                "must be a decimal number with at most 18 digits before the point and 9 after; {got}."
            ),
        }
    }

    /// The canonical text in a stack buffer (used for the identity hash).
    pub(crate) fn write_canonical(self, buf: &mut [u8; 48]) -> &str {
        format_nanos(self.nanos, buf)
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(format_nanos(self.nanos, &mut [0; 48]))
    }
}

impl serde::Serialize for Amount {
    /// Amounts leave the service as JSON strings so that no client loses digits.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// An exact sum of amounts (aggregates). Same scale as `Amount` (nano-units) but up to
/// 38 significant digits, as DynamoDB numbers hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct AmountSum {
    nanos: i128,
}

impl AmountSum {
    pub const ZERO: AmountSum = AmountSum { nanos: 0 };

    /// Parse a decimal as DynamoDB returns a number attribute (`123.45`, `-7`, `1E+3`).
    /// `None` when it is not a number, has more than 9 digits after the point, or does not
    /// fit (more than 38 digits in nano-units).
    pub fn parse(text: &str) -> Option<Self> {
        let decimal = scan_decimal(text, 38)?;
        if !decimal.exact {
            return None;
        }
        if decimal.mantissa == 0 {
            return Some(AmountSum::ZERO);
        }
        if decimal.exponent < -SCALE_DIGITS || decimal.digits + decimal.exponent > 38 - 9 {
            return None;
        }
        let shift = u32::try_from(decimal.exponent + SCALE_DIGITS).ok()?;
        let magnitude = decimal.mantissa.checked_mul(10i128.checked_pow(shift)?)?;
        Some(AmountSum {
            nanos: if decimal.negative {
                -magnitude
            } else {
                magnitude
            },
        })
    }
    /// `None` on overflow.
    pub fn checked_add(self, amount: AmountSum) -> Option<Self> {
        self.nanos
            .checked_add(amount.nanos)
            .map(|nanos| AmountSum { nanos })
    }
    /// From a count of nano-units (any i128).
    pub fn from_nano_units(nanos: i128) -> Self {
        AmountSum { nanos }
    }
    pub fn nano_units(self) -> i128 {
        self.nanos
    }
}

impl From<Amount> for AmountSum {
    fn from(amount: Amount) -> Self {
        AmountSum {
            nanos: amount.nano_units(),
        }
    }
}

impl std::fmt::Display for AmountSum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(format_nanos(self.nanos, &mut [0; 48]))
    }
}

impl serde::Serialize for AmountSum {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_i128_extremes_when_formatted_then_all_digits_are_written() {
        let mut buf = [0; 48];
        assert_eq!(
            format_nanos(i128::MIN, &mut buf),
            "-170141183460469231731687303715.884105728"
        );
        assert_eq!(
            format_nanos(i128::MAX, &mut buf),
            "170141183460469231731687303715.884105727"
        );
    }
}
