//! Operational counters as CloudWatch Embedded Metric Format (EMF) lines in the function's
//! logs: namespace `EventIngest`, dimension `function`. `init` installs the `metrics`
//! recorder of `metrics_cloudwatch_embedded` once per process; handlers count event outcomes
//! here, `serve` counts each answer's status class and then `flush`es, so every invocation
//! writes its own counts (and nothing when it counted nothing). The store counts its retries
//! through the same facade (`dynamodb_retries`, `dynamodb_exhausted`).
//!
//! Without `init` (handler tests, tools) every count is a no-op.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use lambda_http::http::StatusCode;
use metrics::Counter;
use metrics_cloudwatch_embedded::{Builder, Collector};

use crate::EventStatus;

/// The CloudWatch namespace of every metric of the service.
pub const NAMESPACE: &str = "EventIngest";
/// The one dimension every metric carries: the function's name.
pub const FUNCTION_DIMENSION: &str = "function";

/// The installed recorder, where its lines go, and the outcome counters registered once
/// (an increment is then one atomic add, even for the 500 items of a batch).
struct Metrics {
    collector: &'static Collector,
    sink: Sink,
    counters: Counters,
}

enum Sink {
    /// The function's logs. One locked `write_all` per flush, so an EMF line never shares a
    /// line with a JSON log line written by another thread.
    Stdout,
    /// What `capture` reads (tests).
    #[cfg_attr(not(feature = "test-support"), allow(dead_code))]
    Buffer(Mutex<Vec<u8>>),
}

struct Counters {
    processed: Counter,
    duplicate: Counter,
    rejected: Counter,
    failed: Counter,
    unavailable: Counter,
    refused: Counter,
    retried: Counter,
    rate_limited: Counter,
    quota_exceeded: Counter,
    reads_rate_limited: Counter,
    ratelimit_storage_errors: Counter,
    http_4xx: Counter,
    http_5xx: Counter,
}

impl Counters {
    fn register() -> Self {
        Counters {
            processed: metrics::counter!("events_processed"),
            duplicate: metrics::counter!("events_duplicate"),
            rejected: metrics::counter!("events_rejected"),
            failed: metrics::counter!("events_failed"),
            unavailable: metrics::counter!("events_unavailable"),
            refused: metrics::counter!("events_refused"),
            retried: metrics::counter!("events_retried"),
            rate_limited: metrics::counter!("events_rate_limited"),
            quota_exceeded: metrics::counter!("events_quota_exceeded"),
            reads_rate_limited: metrics::counter!("reads_rate_limited"),
            ratelimit_storage_errors: metrics::counter!("ratelimit_storage_errors"),
            http_4xx: metrics::counter!("http_4xx"),
            http_5xx: metrics::counter!("http_5xx"),
        }
    }
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// The value of dimension `function`: `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda and by
/// `cargo lambda watch`), else the name of the running binary.
pub fn function_name() -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.file_stem()?.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Install the EMF recorder for this process, writing to stdout (the cold start calls it).
/// A second call does nothing.
pub fn init() {
    install(&function_name(), Sink::Stdout);
}

fn install(function: &str, sink: Sink) -> Option<&'static Metrics> {
    if let Some(metrics) = METRICS.get() {
        return Some(metrics);
    }
    // Registers a global recorder: fails only if another one is installed, and then the
    // counts go there instead; the service keeps answering either way.
    let collector = match Builder::new()
        .cloudwatch_namespace(NAMESPACE)
        .with_dimension(FUNCTION_DIMENSION, function.to_owned())
        .init()
    {
        Ok(collector) => collector,
        Err(error) => {
            tracing::warn!(%error, "metrics recorder not installed");
            return None;
        }
    };
    let metrics = Metrics {
        collector,
        sink,
        counters: Counters::register(),
    };
    Some(METRICS.get_or_init(|| metrics))
}

/// Count one event's outcome (a single event, a batch item or a retry), once, when it is
/// answered.
pub fn count_event(status: EventStatus) {
    let Some(metrics) = METRICS.get() else {
        return;
    };
    let counters = &metrics.counters;
    let counter = match status {
        EventStatus::Processed => &counters.processed,
        EventStatus::Duplicate => &counters.duplicate,
        EventStatus::Rejected => &counters.rejected,
        EventStatus::Failed => &counters.failed,
        EventStatus::Unavailable => &counters.unavailable,
        EventStatus::Refused => &counters.refused,
    };
    counter.increment(1);
}

/// Count a failed record that a retry settled (its event is now counted).
pub fn count_retried() {
    if let Some(metrics) = METRICS.get() {
        metrics.counters.retried.increment(1);
    }
}

/// What the rate limiter counts: events refused by a rate (`events_rate_limited`) or the
/// daily quota (`events_quota_exceeded`), read requests refused (`reads_rate_limited`), and
/// its own storage failures (`ratelimit_storage_errors`). Per tenant only in the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimiterCount {
    EventsRateLimited,
    EventsQuotaExceeded,
    ReadsRateLimited,
    StorageErrors,
}

pub fn count_limiter(what: LimiterCount, n: u64) {
    let Some(metrics) = METRICS.get() else {
        return;
    };
    let counters = &metrics.counters;
    let counter = match what {
        LimiterCount::EventsRateLimited => &counters.rate_limited,
        LimiterCount::EventsQuotaExceeded => &counters.quota_exceeded,
        LimiterCount::ReadsRateLimited => &counters.reads_rate_limited,
        LimiterCount::StorageErrors => &counters.ratelimit_storage_errors,
    };
    counter.increment(n);
}

/// Count one answer by status class (`http_4xx`, `http_5xx`).
pub fn count_response(status: StatusCode) {
    let Some(metrics) = METRICS.get() else {
        return;
    };
    if status.is_server_error() {
        metrics.counters.http_5xx.increment(1);
    } else if status.is_client_error() {
        metrics.counters.http_4xx.increment(1);
    }
}

/// Write what this invocation counted as EMF lines (one per dimension set, each with
/// `request_id` as a property) and reset the counts. Called once per invocation by `serve`.
pub fn flush(request_id: &str) {
    let Some(metrics) = METRICS.get() else {
        return;
    };
    // The whole flush is serialized first, then written in one call: the recorder writes a
    // document in many small pieces, and stdout is shared with the JSON logs.
    let mut lines = Vec::new();
    let written = metrics
        .collector
        .set_property("request_id", request_id)
        .flush(&mut lines);
    if let Err(error) = written {
        tracing::warn!(%error, "metrics not serialized");
        return;
    }
    if lines.is_empty() {
        return;
    }
    match &metrics.sink {
        Sink::Stdout => {
            if let Err(error) = std::io::stdout().lock().write_all(&lines) {
                tracing::warn!(%error, "metrics not written");
            }
        }
        Sink::Buffer(buffer) => buffer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend_from_slice(&lines),
    }
}

/// Tests: the EMF lines that `work` produced.
#[cfg(feature = "test-support")]
pub mod capture {
    use std::future::Future;
    use std::sync::Mutex;

    use serde_json::Value;

    use super::{install, Sink, METRICS};

    /// The counts are process-wide: one captured test at a time.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    /// Run `work` with the EMF recorder installed (dimension `function` = `function`, fixed
    /// by the first call of the process) and return the EMF lines it flushed, each parsed.
    /// Every test of a test binary that installs the recorder must count through here.
    pub async fn emf_lines<T>(function: &str, work: impl Future<Output = T>) -> (T, Vec<Value>) {
        let _turn = ONE_AT_A_TIME.lock().await;
        let metrics = match METRICS.get() {
            Some(metrics) => metrics,
            None => install(function, Sink::Buffer(Mutex::new(Vec::new())))
                .expect("no other metrics recorder in this test binary"),
        };
        let Sink::Buffer(buffer) = &metrics.sink else {
            panic!("metrics::init wrote to stdout before the capture");
        };
        // Whatever was counted outside a capture is not this test's.
        metrics
            .collector
            .flush(std::io::sink())
            .expect("flushing to nowhere");
        buffer.lock().unwrap().clear();
        let output = work.await;
        let bytes = std::mem::take(&mut *buffer.lock().unwrap());
        let text = String::from_utf8(bytes).expect("EMF output is UTF-8");
        let lines = text
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("EMF line {line:?}: {e}"))
            })
            .collect();
        (output, lines)
    }

    /// The value of metric `name` across `lines` (0 when no line has it): the sum, as
    /// CloudWatch would sum the lines of one period.
    pub fn metric(lines: &[Value], name: &str) -> u64 {
        lines.iter().filter_map(|line| line[name].as_u64()).sum()
    }
}
