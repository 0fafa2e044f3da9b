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
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use metrics::{Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, SharedString};

    use super::reason_class;
    use crate::dynamo::retry::{with_retry, AttemptError, Limits};
    use crate::RetryBudget;

    /// A recorder that only adds up counters, by `name{label=value,...}`.
    #[derive(Default)]
    struct Counts(Arc<Mutex<BTreeMap<String, u64>>>);

    struct Named(String, Arc<Mutex<BTreeMap<String, u64>>>);

    impl CounterFn for Named {
        fn increment(&self, value: u64) {
            *self.1.lock().unwrap().entry(self.0.clone()).or_default() += value;
        }
        fn absolute(&self, value: u64) {
            self.1.lock().unwrap().insert(self.0.clone(), value);
        }
    }

    impl metrics::Recorder for Counts {
        fn describe_counter(&self, _: KeyName, _: Option<metrics::Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<metrics::Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<metrics::Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let labels: Vec<String> = key
                .labels()
                .map(|label| format!("{}={}", label.key(), label.value()))
                .collect();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            Counter::from_arc(Arc::new(Named(name, Arc::clone(&self.0))))
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    /// What `with_retry` counted for attempts that fail with `faults` (in order, then succeed).
    fn counted(faults: &'static [&'static str]) -> BTreeMap<String, u64> {
        let budget = RetryBudget {
            max_attempts: 3,
            base_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            max_elapsed: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(1),
        };
        let recorder = Counts::default();
        metrics::with_local_recorder(&recorder, || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            let mut calls = 0;
            let limits = Limits {
                budget: &budget,
                deadline: None,
            };
            let _ = runtime.block_on(with_retry(limits, "test", || {
                calls += 1;
                let fault = faults.get(calls - 1).copied();
                async move {
                    match fault {
                        Some(reason) => Err(AttemptError::Transient(reason.to_owned())),
                        None => Ok(()),
                    }
                }
            }));
        });
        let counts = recorder.0.lock().unwrap().clone();
        counts
    }

    #[test]
    fn each_retried_attempt_is_counted_by_its_class_and_a_spent_budget_once() {
        let recovered = counted(&[
            "commit: ThrottlingException (HTTP 400)",
            "commit cancelled: [\"TransactionConflict\"]",
        ]);
        assert_eq!(
            recovered,
            BTreeMap::from([
                ("dynamodb_retries{reason=conflict}".to_owned(), 1),
                ("dynamodb_retries{reason=throttled}".to_owned(), 1),
            ])
        );

        let spent = counted(&["a: InternalServerError (HTTP 500)"; 3]);
        assert_eq!(
            spent,
            BTreeMap::from([
                ("dynamodb_exhausted{}".to_owned(), 1),
                ("dynamodb_retries{reason=server_error}".to_owned(), 2),
            ])
        );
    }

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
