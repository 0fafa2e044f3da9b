//! The normalized event: the data every rule of `event.rs` produces and `hash.rs` encodes.
//! Its own module so the dependencies go one way (`event` -> `hash` -> `normalized`).

use crate::{Amount, ClientId, EventId, EventTimestamp, Metric, Source};

/// An event after normalization. Serializes to the `event` object of the API's responses
/// (`amount` as a string, `timestamp` as RFC 3339 UTC, `event_id` only when present).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NormalizedEvent {
    pub client_id: ClientId,
    pub source: Source,
    pub metric: Metric,
    pub amount: Amount,
    pub timestamp: EventTimestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
}
