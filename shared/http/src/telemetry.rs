//! JSON logs: one object per line, filtered by `RUST_LOG` (default `info`), with the
//! fields of the current request span (request id, method, path) on every line.
//!
//! `RUST_LOG` is read as a list of [`Targets`] directives, comma-separated: a bare level
//! (`info`, `debug`, `off`, ...), `target=level` (`event_store=debug`,
//! `event_store::dynamo::retry=debug`: a target matches itself and every module under it), or
//! a bare target (everything from it). Blank entries are skipped; unset or blank means `info`.
//! What `EnvFilter` adds on top — span and field directives (`[request]=debug`,
//! `target[{field}]=...`) and regex field values — is not accepted: it would link a regex
//! engine into every function for a form nobody uses here. A setting that does not parse
//! falls back to `info`, and the first line logged says why.

use std::time::Instant;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Install the JSON subscriber. Safe to call twice (the second call does nothing).
pub fn init_tracing() {
    let (filter, problem) = match log_filter(std::env::var("RUST_LOG").ok().as_deref()) {
        Ok(filter) => (filter, None),
        Err(problem) => (default_filter(), Some(problem)),
    };
    let json_lines = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        // CloudWatch stamps each line itself and does not render ANSI colours.
        .without_time()
        .with_ansi(false);
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(json_lines)
        .try_init()
        .is_ok();
    if let (true, Some(problem)) = (installed, problem) {
        tracing::warn!(%problem, "RUST_LOG not understood; logging at info");
    }
}

fn default_filter() -> Targets {
    Targets::new().with_default(tracing::Level::INFO)
}

/// The filter `RUST_LOG` asks for (see the module doc for the accepted forms).
pub fn log_filter(setting: Option<&str>) -> Result<Targets, String> {
    let directives: Vec<&str> = setting
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty())
        .collect();
    if directives.is_empty() {
        return Ok(default_filter());
    }
    if let Some(span_form) = directives.iter().find(|d| d.contains(['[', '{', '/'])) {
        return Err(format!(
            "{span_form:?}: span and field directives are not supported, only LEVEL, \
             TARGET=LEVEL and TARGET"
        ));
    }
    directives
        .join(",")
        .parse::<Targets>()
        .map_err(|err| format!("{setting:?}: {err}"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn enables(setting: &str, target: &str, level: Level) -> bool {
        log_filter(Some(setting))
            .expect("parses")
            .would_enable(target, &level)
    }

    #[test]
    fn unset_or_blank_means_info() {
        for setting in [None, Some(""), Some("  "), Some(",")] {
            let filter = log_filter(setting).expect("parses");
            assert!(filter.would_enable("ingest", &Level::INFO), "{setting:?}");
            assert!(!filter.would_enable("ingest", &Level::DEBUG), "{setting:?}");
        }
    }

    #[test]
    fn a_bare_level_applies_to_every_target() {
        assert!(enables("debug", "event_store::dynamo", Level::DEBUG));
        assert!(!enables("debug", "event_store::dynamo", Level::TRACE));
        assert!(enables("WARN", "ingest", Level::WARN));
        assert!(!enables("warn", "ingest", Level::INFO));
        assert!(!enables("off", "ingest", Level::ERROR));
    }

    #[test]
    fn a_target_directive_covers_its_modules_and_nothing_else() {
        assert!(enables(
            "event_store=debug",
            "event_store::dynamo::retry",
            Level::DEBUG
        ));
        assert!(!enables("event_store=debug", "ingest", Level::ERROR));
        let setting = "info, event_store::dynamo::retry=debug,";
        assert!(enables(setting, "event_store::dynamo::retry", Level::DEBUG));
        assert!(!enables(
            setting,
            "event_store::dynamo::commit",
            Level::DEBUG
        ));
        assert!(enables(setting, "event_store::dynamo::commit", Level::INFO));
        assert!(enables("event_http", "event_http::serve", Level::TRACE));
    }

    #[test]
    fn span_forms_and_nonsense_are_refused() {
        assert!(log_filter(Some("[request]=debug")).is_err());
        assert!(log_filter(Some("event_store[{tenant}]=debug")).is_err());
        assert!(log_filter(Some("event_store=loud")).is_err());
        assert!(log_filter(Some("a=b=c")).is_err());
    }
}
