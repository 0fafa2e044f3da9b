//! The request limits of the HTTP contract (docs/contract.md, "Event").

/// One event, as JSON text, at most 32 KiB.
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
/// A request body at most 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// A batch at most 500 events.
pub const MAX_BATCH_EVENTS: usize = 500;
/// A timestamp may be at most this far after the time the event was received.
pub const MAX_FUTURE_SKEW_SECONDS: i64 = 24 * 60 * 60;
