//! Event timestamps: many spellings in, one UTC instant out.

use crate::EventError;

/// An instant at or after 1970-01-01T00:00:00Z with nanosecond precision.
/// `Display` gives RFC 3339 UTC with `Z` and sub-second digits without trailing zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventTimestamp {
    unix_nanos: i64,
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
    pub fn parse(text: &str) -> Result<Self, EventError> {
        let _ = text;
        todo!()
    }
    /// Like `parse`, for query bounds (`from`/`to`): an instant past the representable range
    /// (year 2262) saturates to `EventTimestamp::MAX` instead of failing.
    pub fn parse_bound(text: &str) -> Result<Self, EventError> {
        let _ = text;
        todo!()
    }
    /// Parse the raw text of a JSON number as epoch seconds (ms above 10^11).
    pub fn from_epoch_number(text: &str) -> Result<Self, EventError> {
        let _ = text;
        todo!()
    }
    /// The UTC hour this instant falls in, as `yyyymmddhh` (aggregate item keys).
    pub fn hour_key(self) -> String {
        todo!()
    }
    /// Start of the UTC hour this instant falls in.
    pub fn floor_hour(self) -> EventTimestamp {
        const HOUR: i64 = 3_600_000_000_000;
        EventTimestamp {
            unix_nanos: self.unix_nanos - self.unix_nanos % HOUR,
        }
    }
}

impl std::fmt::Display for EventTimestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let _ = f;
        todo!()
    }
}

impl serde::Serialize for EventTimestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
