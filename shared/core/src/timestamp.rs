//! Event timestamps: many spellings in, one UTC instant out.
//!
//! Accepted text (`EventTimestamp::parse`):
//! - `YYYY-MM-DD`, optionally followed by `T`, `t` or a space and `HH:MM`, `:SS`, and a
//!   fraction of 1 to 9 digits (`.` or `,`); then an offset: none (UTC), `Z`/`z`,
//!   `±HH:MM`, `±HHMM`, `±HH`, or a single space instead of `+` (query strings turn `+`
//!   into a space: `2026-11-20T10:00:00 02:00`). Seconds `60` (leap seconds) are refused.
//! - An epoch number (JSON number grammar, also inside a string): seconds, or
//!   milliseconds when above 10^11, with at most nanosecond precision.
//!
//! The instant must lie between 1970-01-01T00:00:00Z and the last instant an `i64` of
//! nanoseconds can hold (2262-04-11T23:47:16.854775807Z). The date arithmetic is done by
//! hand (it is on the hot path of every event); chrono validates calendar dates.

use std::borrow::Cow;

use chrono::{Datelike, NaiveDate};

use crate::amount::{scan_epoch, EpochNumber};
use crate::error::echo;
use crate::EventError;

const NANOS_PER_SECOND: i128 = 1_000_000_000;
/// `NaiveDate::num_days_from_ce` of 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// An instant at or after 1970-01-01T00:00:00Z with nanosecond precision.
/// `Display` gives RFC 3339 UTC with `Z` and sub-second digits without trailing zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventTimestamp {
    unix_nanos: i64,
}

/// Why timestamp text is not an `EventTimestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimestampError {
    /// Not a timestamp in any accepted form (the message says which forms are).
    Syntax,
    /// More precise than a nanosecond.
    TooPrecise,
    /// A well-formed instant before 1970.
    BeforeEpoch,
    /// A well-formed instant after 2262-04-11T23:47:16.854775807Z.
    AfterMax,
}

impl TimestampError {
    /// `invalid_timestamp` about `payload.timestamp`, echoing `got`.
    pub(crate) fn into_event_error(self, got: &str) -> EventError {
        let detail = match self {
            TimestampError::Syntax => format!(
                "must be an RFC 3339 date-time such as \"2026-11-20T10:00:00+02:00\" (no offset means UTC) or epoch seconds (milliseconds above 10^11); got {}.",
                echo(got)
            ),
            TimestampError::TooPrecise => format!(
                "must not be more precise than a nanosecond (at most 9 digits after the point of the seconds); got {}.",
                echo(got)
            ),
            TimestampError::BeforeEpoch => format!(
                "must not be before 1970-01-01T00:00:00Z; got {}.",
                echo(got)
            ),
            TimestampError::AfterMax => format!(
                "must not be after 2262-04-11T23:47:16Z, the latest instant this service can store; got {}.",
                echo(got)
            ),
        };
        EventError::InvalidTimestamp {
            field: Cow::Borrowed("payload.timestamp"),
            detail,
        }
    }
}

impl EventTimestamp {
    pub const MIN: EventTimestamp = EventTimestamp { unix_nanos: 0 };
    pub const MAX: EventTimestamp = EventTimestamp {
        unix_nanos: i64::MAX,
    };

    /// `None` when negative.
    pub fn from_unix_nanos(unix_nanos: i64) -> Option<Self> {
        (unix_nanos >= 0).then_some(EventTimestamp { unix_nanos })
    }
    pub fn unix_nanos(self) -> i64 {
        self.unix_nanos
    }
    /// Parse text: RFC 3339 / ISO 8601 with or without offset (none = UTC; a space before
    /// the offset is read as `+`), or epoch digits (seconds; milliseconds above 10^11).
    /// Errors with `invalid_timestamp` (field `payload.timestamp`).
    pub fn parse(text: &str) -> Result<Self, EventError> {
        parse_text(text)
            .and_then(from_nanos)
            .map_err(|e| e.into_event_error(text))
    }
    /// Like `parse`, for query bounds (`from`/`to`): an instant past the representable range
    /// (year 2262) saturates to `EventTimestamp::MAX` instead of failing, and one before
    /// 1970 saturates to `EventTimestamp::MIN` (no event can be earlier, so the range it
    /// bounds is the same).
    pub fn parse_bound(text: &str) -> Result<Self, EventError> {
        match parse_text(text).and_then(from_nanos) {
            Ok(ts) => Ok(ts),
            Err(TimestampError::AfterMax) => Ok(EventTimestamp::MAX),
            Err(TimestampError::BeforeEpoch) => Ok(EventTimestamp::MIN),
            Err(e) => Err(e.into_event_error(text)),
        }
    }
    /// Parse the raw text of a JSON number as epoch seconds (ms above 10^11).
    pub fn from_epoch_number(text: &str) -> Result<Self, EventError> {
        parse_epoch(text)
            .and_then(from_nanos)
            .map_err(|e| e.into_event_error(text))
    }
    /// The UTC hour this instant falls in, as `yyyymmddhh` (aggregate item keys).
    pub fn hour_key(self) -> String {
        let parts = Parts::of(self);
        format!(
            "{:04}{:02}{:02}{:02}",
            parts.year, parts.month, parts.day, parts.hour
        )
    }
    /// Start of the UTC hour this instant falls in.
    pub fn floor_hour(self) -> EventTimestamp {
        const HOUR: i64 = 3_600_000_000_000;
        EventTimestamp {
            unix_nanos: self.unix_nanos - self.unix_nanos % HOUR,
        }
    }
    /// `self + seconds`, saturating at `MIN`/`MAX`.
    pub fn saturating_add_seconds(self, seconds: i64) -> EventTimestamp {
        let nanos = i128::from(self.unix_nanos) + i128::from(seconds) * NANOS_PER_SECOND;
        EventTimestamp {
            unix_nanos: nanos.clamp(0, i128::from(i64::MAX)) as i64,
        }
    }

    /// The canonical RFC 3339 text in a stack buffer (used for the identity hash).
    pub(crate) fn write_canonical(self, buf: &mut [u8; 40]) -> &str {
        let p = Parts::of(self);
        let mut n = 0;
        let mut put = |value: u32, width: usize, after: u8| {
            let mut v = value;
            for k in (0..width).rev() {
                buf[n + k] = b'0' + (v % 10) as u8;
                v /= 10;
            }
            buf[n + width] = after;
            n += width + 1;
        };
        put(p.year, 4, b'-');
        put(p.month, 2, b'-');
        put(p.day, 2, b'T');
        put(p.hour, 2, b':');
        put(p.minute, 2, b':');
        put(p.second, 2, b'.');
        if p.nanos == 0 {
            n -= 1; // drop the '.'
        } else {
            let mut frac = p.nanos;
            let mut width = 9;
            while frac % 10 == 0 {
                frac /= 10;
                width -= 1;
            }
            for k in (0..width).rev() {
                buf[n + k] = b'0' + (frac % 10) as u8;
                frac /= 10;
            }
            n += width;
        }
        buf[n] = b'Z';
        n += 1;
        // Only ASCII was written.
        std::str::from_utf8(&buf[..n]).unwrap_or("")
    }
}

/// Classify nanoseconds since the epoch.
pub(crate) fn from_nanos(nanos: i128) -> Result<EventTimestamp, TimestampError> {
    if nanos < 0 {
        Err(TimestampError::BeforeEpoch)
    } else if nanos > i128::from(i64::MAX) {
        Err(TimestampError::AfterMax)
    } else {
        Ok(EventTimestamp {
            unix_nanos: nanos as i64,
        })
    }
}

/// Text (a JSON string's content) to nanoseconds since the epoch (may be out of range).
pub(crate) fn parse_text(text: &str) -> Result<i128, TimestampError> {
    let bytes = text.as_bytes();
    // A date starts with 4 digits and a '-', which JSON number grammar never accepts
    // (a '-' after a digit needs an 'e' before it), so the two forms cannot be confused.
    if bytes.len() >= 5 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-' {
        parse_date_time(bytes)
    } else {
        parse_epoch(text)
    }
}

/// JSON number text as epoch seconds, or milliseconds above 10^11.
pub(crate) fn parse_epoch(text: &str) -> Result<i128, TimestampError> {
    match scan_epoch(text) {
        None => Err(TimestampError::Syntax),
        Some(EpochNumber::Zero) => Ok(0),
        Some(EpochNumber::Negative) => Err(TimestampError::BeforeEpoch),
        Some(EpochNumber::Huge) => Err(TimestampError::AfterMax),
        Some(EpochNumber::TooPrecise) => Err(TimestampError::TooPrecise),
        Some(EpochNumber::Positive {
            mantissa,
            digits,
            exponent,
        }) => {
            // value = mantissa * 10^exponent, mantissa without trailing zeros, so
            // 10^(digits+exponent-1) <= value < 10^(digits+exponent).
            let magnitude = digits + exponent; // value < 10^magnitude
            let millis = magnitude > 12 || (magnitude == 12 && !(mantissa == 1 && exponent == 11));
            let unit_exponent = exponent + if millis { 6 } else { 9 };
            if unit_exponent < 0 {
                return Err(TimestampError::TooPrecise);
            }
            if unit_exponent > 38 {
                return Err(TimestampError::AfterMax);
            }
            mantissa
                .checked_mul(10i128.pow(unit_exponent as u32))
                .ok_or(TimestampError::AfterMax)
        }
    }
}

fn digits_at(bytes: &[u8], at: usize, count: usize) -> Option<u32> {
    let slice = bytes.get(at..at + count)?;
    let mut value = 0u32;
    for &b in slice {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    Some(value)
}

fn parse_date_time(bytes: &[u8]) -> Result<i128, TimestampError> {
    use TimestampError::Syntax;
    let year = digits_at(bytes, 0, 4).ok_or(Syntax)?;
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return Err(Syntax);
    }
    let month = digits_at(bytes, 5, 2).ok_or(Syntax)?;
    let day = digits_at(bytes, 8, 2).ok_or(Syntax)?;
    let date = NaiveDate::from_ymd_opt(year as i32, month, day).ok_or(Syntax)?;
    let days = i64::from(date.num_days_from_ce()) - UNIX_EPOCH_DAYS_FROM_CE;

    let mut seconds_of_day: i64 = 0;
    let mut nanos: i64 = 0;
    let mut offset_seconds: i64 = 0;
    let mut i = 10;
    if i < bytes.len() {
        if !matches!(bytes[i], b'T' | b't' | b' ') {
            return Err(Syntax);
        }
        let hour = digits_at(bytes, i + 1, 2).ok_or(Syntax)?;
        if bytes.get(i + 3) != Some(&b':') {
            return Err(Syntax);
        }
        let minute = digits_at(bytes, i + 4, 2).ok_or(Syntax)?;
        i += 6;
        let mut second = 0;
        if bytes.get(i) == Some(&b':') {
            second = digits_at(bytes, i + 1, 2).ok_or(Syntax)?;
            i += 3;
            if matches!(bytes.get(i), Some(b'.') | Some(b',')) {
                i += 1;
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    if i - start == 9 {
                        return Err(TimestampError::TooPrecise);
                    }
                    nanos = nanos * 10 + i64::from(bytes[i] - b'0');
                    i += 1;
                }
                if i == start {
                    return Err(Syntax);
                }
                nanos *= 10i64.pow(9 - (i - start) as u32);
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(Syntax);
        }
        seconds_of_day = i64::from(hour * 3600 + minute * 60 + second);
        // Offset.
        match bytes.get(i) {
            None => {}
            Some(b'Z') | Some(b'z') if i + 1 == bytes.len() => {}
            Some(&sign @ (b'+' | b'-' | b' ')) => {
                let oh = digits_at(bytes, i + 1, 2).ok_or(Syntax)?;
                let om = match bytes.len() - (i + 3) {
                    0 => 0,
                    2 => digits_at(bytes, i + 3, 2).ok_or(Syntax)?,
                    3 if bytes[i + 3] == b':' => digits_at(bytes, i + 4, 2).ok_or(Syntax)?,
                    _ => return Err(Syntax),
                };
                if oh > 23 || om > 59 {
                    return Err(Syntax);
                }
                offset_seconds = i64::from(oh * 3600 + om * 60);
                if sign == b'-' {
                    offset_seconds = -offset_seconds;
                }
            }
            Some(_) => return Err(Syntax),
        }
    }
    let seconds = days * 86_400 + seconds_of_day - offset_seconds;
    Ok(i128::from(seconds) * NANOS_PER_SECOND + i128::from(nanos))
}

/// Calendar fields of an instant (UTC).
struct Parts {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
}

impl Parts {
    fn of(ts: EventTimestamp) -> Parts {
        let nanos_total = ts.unix_nanos; // >= 0
        let secs = nanos_total / 1_000_000_000;
        let nanos = (nanos_total % 1_000_000_000) as u32;
        let days = secs / 86_400;
        let sod = (secs % 86_400) as u32;
        // days is below 2^63 / 86400 / 10^9, far inside i32.
        let date = NaiveDate::from_num_days_from_ce_opt((days + UNIX_EPOCH_DAYS_FROM_CE) as i32)
            .unwrap_or(NaiveDate::MIN);
        Parts {
            year: date.year() as u32,
            month: date.month(),
            day: date.day(),
            hour: sod / 3600,
            minute: sod / 60 % 60,
            second: sod % 60,
            nanos,
        }
    }
}

impl std::fmt::Display for EventTimestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.write_canonical(&mut [0; 40]))
    }
}

impl serde::Serialize for EventTimestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
