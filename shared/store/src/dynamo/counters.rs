//! The retry counters of `with_retry`: `dynamodb_retries` (one per retried attempt, with
//! dimension `reason`: throttled, conflict, server_error, timeout, connection) and
//! `dynamodb_exhausted` (one per operation that spent its retry budget). They go through the
//! `metrics` facade: the function installs the recorder that writes them as EMF lines;
//! without one (tests, tools) they cost nothing.

/// Count one retried attempt whose transient fault is described by `reason`.
pub(crate) fn count_retry(reason: &str) {
    metrics::counter!("dynamodb_retries", "reason" => reason_class(reason)).increment(1);
}

/// Count one operation that gave up: its retry budget is spent.
pub(crate) fn count_exhausted() {
    metrics::counter!("dynamodb_exhausted").increment(1);
}

/// The class of a transient fault from the text `retry::classify` and the commits write
/// (an error code, a cancellation reason list, or the SDK's description of a lost answer):
/// few classes, so the dimension stays cheap and alarms can name one.
pub(crate) fn reason_class(reason: &str) -> &'static str {
    const THROTTLED: &[&str] = &[
        "Throttl",
        "ThroughputExceeded",
        "RequestLimitExceeded",
        "LimitExceeded",
        "HTTP 429",
    ];
    const CONFLICT: &[&str] = &["Conflict", "TransactionInProgress"];
    const TIMEOUT: &[&str] = &["timed out", "timeout", "Timeout"];
    const CONNECTION: &[&str] = &["dispatch failure", "response error", "connect", "io error"];
    let any = |needles: &[&str]| needles.iter().any(|needle| reason.contains(needle));
    if any(THROTTLED) {
        "throttled"
    } else if any(CONFLICT) {
        "conflict"
    } else if any(TIMEOUT) {
        "timeout"
    } else if any(CONNECTION) {
        "connection"
    } else {
        // InternalServerError, ServiceUnavailable, any other 5xx.
        "server_error"
    }
}

#[cfg(test)]
mod tests {
    use super::reason_class;

    #[test]
    fn every_transient_text_falls_in_its_class() {
        let cases = [
            (
                "commit: ProvisionedThroughputExceededException (HTTP 400)",
                "throttled",
            ),
            ("get failed: ThrottlingException (HTTP 400)", "throttled"),
            (
                "commit cancelled: [\"None\", \"ThrottlingError\"]",
                "throttled",
            ),
            ("put failed: RequestLimitExceeded (HTTP 400)", "throttled"),
            ("query: Unknown (HTTP 429)", "throttled"),
            (
                "commit cancelled: [\"TransactionConflict\", \"None\"]",
                "conflict",
            ),
            (
                "commit: TransactionConflictException (HTTP 400)",
                "conflict",
            ),
            (
                "commit: TransactionInProgressException (HTTP 400)",
                "conflict",
            ),
            ("commit: request has timed out: timeout", "timeout"),
            (
                "commit: dispatch failure: io error: connection reset",
                "connection",
            ),
            ("commit: response error: unexpected EOF", "connection"),
            ("commit: InternalServerError (HTTP 500)", "server_error"),
            ("commit: ServiceUnavailable (HTTP 503)", "server_error"),
        ];
        for (text, class) in cases {
            assert_eq!(reason_class(text), class, "{text}");
        }
    }
}
