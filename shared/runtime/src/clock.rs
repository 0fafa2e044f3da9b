//! "Now", injected: the core never reads the clock, the functions read it through a `Clock`,
//! and tests pin it (`testing::fixed_now`).

use std::time::{SystemTime, UNIX_EPOCH};

use event_core::EventTimestamp;

/// Where "now" comes from: `system_now` in a function, a fixed time in tests.
pub type Clock = fn() -> EventTimestamp;

/// The system clock as an `EventTimestamp` (a clock before 1970 reads as 1970).
pub fn system_now() -> EventTimestamp {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    EventTimestamp::from_unix_nanos(nanos).unwrap_or(EventTimestamp::MIN)
}
