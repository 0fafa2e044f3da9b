//! `event-ingest`, the client library: send events to the event-ingest API so that each is
//! counted exactly once, whatever happens on the way.
//!
//! - [`Client`]: one typed call per operation (`send`, `send_batch`, failed events,
//!   aggregates), the API's own codes in [`Outcome`] and [`ApiError`], and the retry rules
//!   of [`retry`] (Retry-After honoured, full-jitter backoff, 4xx never retried);
//! - [`Sender`]: the batching sender behind `event-ingest send` (local validation with
//!   `event-core`, batches within the server's limits, adaptive concurrency, resends of
//!   `unavailable` items, resumable progress in a state file).
//!
//! ```no_run
//! # async fn example() -> Result<(), event_ingest::ApiError> {
//! use event_ingest::Client;
//! let client = Client::builder("http://127.0.0.1:9000", "eik_…").build()?;
//! let event = serde_json::value::RawValue::from_string(
//!     r#"{"client_id":"acme","payload":{"amount":"1.5","timestamp":"2026-11-20T10:00:00Z"}}"#.into(),
//! ).unwrap();
//! println!("{:?}", client.send(&event).await?);
//! # Ok(()) }
//! ```

pub mod aimd;
pub mod batch;
pub mod client;
mod delivery;
pub mod input;
mod reader;
pub mod record;
pub mod retry;
pub mod sender;
pub mod state;
pub mod stats;

pub use client::{ApiError, Client, ClientBuilder, Outcome, ReplaySelection, StatsQuery};
pub use retry::RetryPolicy;
pub use sender::{Ending, InputSpec, RunSummary, SendOptions, Sender};
