//! JSON logs: one object per line, filtered by `RUST_LOG` (default `info`), with the
//! fields of the current request span (request id, method, path) on every line.

use std::time::Instant;

use tracing_subscriber::EnvFilter;

/// Install the JSON subscriber. Safe to call twice (the second call does nothing).
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        // CloudWatch stamps each line itself and does not render ANSI colours.
        .without_time()
        .with_ansi(false)
        .try_init();
}

/// The span every request runs in: its fields appear on every log line inside it.
/// `client_id`, `event_hash` and `outcome` are recorded once known.
#[macro_export]
macro_rules! request_span {
    ($meta:expr) => {
        ::tracing::info_span!(
            "request",
            request_id = %$meta.request_id,
            method = %$meta.method,
            path = %$meta.path(),
            tenant = ::tracing::field::Empty,
            client_id = ::tracing::field::Empty,
            event_hash = ::tracing::field::Empty,
        )
    };
}

/// The one summary line per request.
pub fn log_response(status: u16, outcome: &str, started: Instant) {
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(status, outcome, latency_ms, "answered");
    } else {
        tracing::info!(status, outcome, latency_ms, "answered");
    }
}
