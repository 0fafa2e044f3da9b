//! `event-core`: turns raw JSON events into normalized events and their identity hash.
//!
//! Pure by design: no I/O, no async runtime, no AWS, and no clock (the caller passes the
//! time the event was received), so the same code runs in Lambda and, compiled to
//! `wasm32-unknown-unknown`, in the browser.

pub mod amount;
pub mod batch;
pub mod body;
pub mod error;
pub mod event;
pub mod fields;
pub mod hash;
pub mod limits;
pub mod normalized;
pub mod timestamp;

pub use amount::{Amount, AmountSum};
pub use batch::BatchDeduper;
pub use body::{parse_body, Body};
pub use error::{BodyError, EventError};
pub use event::{normalize_event, peek_client_id, ParsedEvent};
pub use fields::{ClientId, EventId, Metric, Source};
pub use hash::EventHash;
pub use normalized::NormalizedEvent;
pub use timestamp::EventTimestamp;
