//! The EMF lines an invocation writes: namespace `EventIngest`, dimension `function`, one
//! count per event outcome and per error status class, and, on stdout, one JSON document per
//! line beside the JSON logs. Every request here runs inside `emf_lines`: the recorder is
//! process-wide, so captures take turns, and a request outside one would count into another.

mod common;

use common::*;
use event_core::ClientId;
use event_http::metrics::capture::{emf_lines, metric};
use event_store::{new_failed_id, FailedRecord, FailedStatus, FailureReason, MemoryStore, Store};
use lambda_http::http::StatusCode;
use serde_json::{json, Value};

const FUNCTION: &str = "ingest";

const EVENT_METRICS: [&str; 7] = [
    "events_processed",
    "events_duplicate",
    "events_rejected",
    "events_failed",
    "events_unavailable",
    "events_refused",
    "events_retried",
];

/// `(status, the one EMF line)` of `req` on `app`.
async fn one_invocation(app: &event_runtime::App<MemoryStore>, body: &str) -> (Answer, Value) {
    let (answer, mut lines) = emf_lines(FUNCTION, call(app, post(body))).await;
    assert_eq!(lines.len(), 1, "one EMF line per invocation: {lines:?}");
    (answer, lines.remove(0))
}

/// The line is an EMF document of namespace `EventIngest` with dimension `function`, naming
/// in its directive exactly the metrics it has values for, and they are `expected`.
fn assert_emf(line: &Value, expected: &[(&str, u64)]) {
    let directive = &line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "EventIngest", "{line}");
    assert_eq!(directive["Dimensions"], json!([["function"]]), "{line}");
    assert_eq!(line["function"], FUNCTION, "{line}");
    assert!(line["_aws"]["Timestamp"].as_u64().is_some(), "{line}");
    assert!(line["request_id"].as_str().is_some(), "{line}");
    let mut named: Vec<&str> = directive["Metrics"]
        .as_array()
        .expect("a Metrics list")
        .iter()
        .map(|metric| metric["Name"].as_str().expect("a metric name"))
        .collect();
    named.sort_unstable();
    let mut wanted: Vec<&str> = expected.iter().map(|(name, _)| *name).collect();
    wanted.sort_unstable();
    assert_eq!(named, wanted, "{line}");
    for (name, value) in expected {
        assert_eq!(line[*name], json!(value), "{name} in {line}");
    }
}

#[tokio::test]
async fn a_processed_event_counts_events_processed_once() {
    let app = app();

    let (answer, line) = one_invocation(&app, EVENT).await;

    assert_eq!(answer.status, StatusCode::CREATED);
    assert_emf(&line, &[("events_processed", 1)]);
}

#[tokio::test]
async fn a_duplicate_counts_events_duplicate_and_nothing_processed() {
    let app = app();
    seed_event(&app.store, EVENT).await;

    let (answer, line) = one_invocation(&app, EVENT).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_emf(&line, &[("events_duplicate", 1)]);
}

#[tokio::test]
async fn an_invalid_event_counts_events_rejected_and_a_4xx() {
    let app = app();
    let no_timestamp = r#"{"client_id":"acme-prod","payload":{"amount":"1"}}"#;

    let (answer, line) = one_invocation(&app, no_timestamp).await;

    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_emf(&line, &[("events_rejected", 1), ("http_4xx", 1)]);
}

#[tokio::test]
async fn a_simulated_failure_counts_events_failed_and_a_5xx() {
    let app = app();
    let failing =
        r#"{"client_id":"acme-prod","payload":{"timestamp":1763625600},"simulateFailure":true}"#;

    let (answer, line) = one_invocation(&app, failing).await;

    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_emf(&line, &[("events_failed", 1), ("http_5xx", 1)]);
}

#[tokio::test]
async fn a_batch_counts_each_item_by_its_outcome_in_one_line() {
    let app = app();
    let seeded = event_with_amount("\"7\"");
    seed_event(&app.store, &seeded).await;
    let new = event_with_amount("\"1\"");
    let invalid = r#"{"client_id":"acme-prod","payload":{"amount":"x","timestamp":1763625600}}"#;
    let simulated =
        r#"{"client_id":"acme-prod","payload":{"timestamp":1763625600},"simulateFailure":true}"#;
    let body = format!(r#"{{"events":[{new},{seeded},{invalid},{new},{simulated}]}}"#);

    let (answer, line) = one_invocation(&app, &body).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["processed"], 1);
    assert_eq!(answer.body["duplicates"], 2);
    assert_emf(
        &line,
        &[
            ("events_processed", 1),
            ("events_duplicate", 2),
            ("events_rejected", 1),
            ("events_failed", 1),
        ],
    );
}

#[tokio::test]
async fn a_retried_failed_record_counts_events_retried_and_its_outcome() {
    let app = app();
    let failing =
        r#"{"client_id":"acme-prod","payload":{"timestamp":1763625600},"simulateFailure":true}"#;
    // Its own capture: a request outside one would count into another test's.
    let (failed, _) = emf_lines(FUNCTION, call(&app, post(failing))).await;
    let id = failed.body["failed_id"].as_str().unwrap().to_owned();

    let (answer, lines) = emf_lines(FUNCTION, call(&app, retry(&id))).await;

    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_emf(&lines[0], &[("events_processed", 1), ("events_retried", 1)]);
}

#[tokio::test]
async fn a_bulk_replay_counts_each_record_as_its_single_retry_would_and_skipped_ones_not_at_all() {
    // Two failed records of one event, one of another, and a rejected one, kept without a
    // request (a request outside a capture would count into another test's).
    let app = app();
    let kept = |n: u32, status| FailedRecord {
        failed_id: new_failed_id(fixed_now(), 4),
        client_id: Some(ClientId::parse("acme-prod").unwrap()),
        reason: FailureReason {
            code: "storage_failed".to_owned(),
            message: "kept".to_owned(),
            field: None,
        },
        raw: event_with_amount(&n.to_string()),
        raw_truncated: false,
        received_at: fixed_now(),
        attempts: 1,
        status,
    };
    for record in [
        kept(1, FailedStatus::Failed),
        kept(1, FailedStatus::Failed),
        kept(2, FailedStatus::Failed),
        kept(3, FailedStatus::Rejected),
    ] {
        app.store.put_failed(&record).await.unwrap();
    }

    let (answer, lines) = emf_lines(FUNCTION, call(&app, replay_text("{}"))).await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_emf(
        &lines[0],
        &[
            ("events_processed", 2),
            ("events_duplicate", 1),
            ("events_retried", 3),
        ],
    );
}

#[tokio::test]
async fn a_commit_that_fails_is_counted_failed_and_one_that_cannot_be_kept_unavailable() {
    let app = app();

    app.store.fail_next_commits(1);
    let (kept, line) = one_invocation(&app, EVENT).await;
    assert_eq!(kept.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_emf(&line, &[("events_failed", 1), ("http_5xx", 1)]);

    app.store.fail_next_commits(1);
    app.store.fail_next_failed_writes(1);
    let (lost, line) = one_invocation(&app, EVENT).await;
    assert_eq!(lost.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_emf(&line, &[("events_unavailable", 1), ("http_5xx", 1)]);
}

#[tokio::test]
async fn an_event_answered_by_the_deadline_backstop_counts_events_unavailable() {
    // a store that would keep the request 30 s, deadline or not
    let app = event_runtime::App::new(
        common::slow_store::SlowStore::new(std::time::Duration::from_secs(30)),
        config_with_deadline(std::time::Duration::from_millis(200), 16),
    )
    .with_clock(fixed_now);

    let (answer, lines) = emf_lines(FUNCTION, call(&app, post(EVENT))).await;

    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_emf(&lines[0], &[("events_unavailable", 1), ("http_5xx", 1)]);
}

#[tokio::test]
async fn a_batch_on_a_store_that_is_down_counts_every_item_unavailable() {
    let app = event_runtime::App::new(
        FailingStore::unavailable(),
        event_runtime::testing::test_config(),
    )
    .with_clock(fixed_now);
    let body = format!(
        r#"{{"events":[{},{}]}}"#,
        event_with_amount("1"),
        event_with_amount("2")
    );

    let (answer, lines) = emf_lines(FUNCTION, call(&app, post(&body))).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(metric(&lines, "events_unavailable"), 2, "{lines:?}");
    for name in EVENT_METRICS.iter().filter(|n| **n != "events_unavailable") {
        assert_eq!(metric(&lines, name), 0, "{name}: {lines:?}");
    }
}

#[tokio::test]
async fn a_request_refused_before_any_event_counts_only_its_status_class() {
    let app = app();

    let (answer, lines) = emf_lines(FUNCTION, call(&app, post("[1,2]"))).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_emf(&lines[0], &[("http_4xx", 1)]);
}

// --- stdout: EMF lines and JSON log lines, one JSON document per line ---

const CHILD: &str = "stdout_child_logs_and_metrics_of_concurrent_requests";
const CHILD_ENV: &str = "INGEST_METRICS_STDOUT_CHILD";
const CHILD_REQUESTS: usize = 200;

/// Run by `stdout_keeps_one_json_document_per_line` in a process of its own (the recorder
/// there writes to the real stdout); a no-op in the normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_child_logs_and_metrics_of_concurrent_requests() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    event_http::telemetry::init_tracing();
    event_http::metrics::init();
    let app: &'static _ = Box::leak(Box::new(app()));
    let tasks: Vec<_> = (0..CHILD_REQUESTS)
        .map(|n| {
            tokio::spawn(async move {
                // New events, invalid ones (kept as rejected) and bodies that are not JSON.
                let body = match n % 3 {
                    0 => event_with_amount(&format!("\"{n}\"")),
                    1 => r#"{"client_id":"acme-prod","payload":{}}"#.to_owned(),
                    _ => "not json".to_owned(),
                };
                call(app, post(&body)).await.status
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a request task");
    }
}

#[test]
fn stdout_keeps_one_json_document_per_line() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([CHILD, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .env("RUST_LOG", "debug")
        .env("AWS_LAMBDA_FUNCTION_NAME", "ingest-stdout-test")
        .output()
        .expect("the test binary runs again");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");

    let (mut emf, mut logs) = (Vec::new(), 0);
    for line in stdout.lines() {
        // libtest's own lines ("running 1 test", "test NAME ... ", "ok", "test result: ...");
        // with --nocapture it may write "test NAME ... " in front of the test's first line.
        let json = match line.find('{') {
            Some(start) => {
                let prefix = &line[..start];
                assert!(
                    prefix.is_empty() || prefix == format!("test {CHILD} ... "),
                    "text before a JSON document: {line:?}"
                );
                &line[start..]
            }
            None => {
                assert!(
                    line.is_empty()
                        || line == "ok"
                        || line.starts_with("running ")
                        || line.starts_with("test "),
                    "a line that is not JSON: {line:?}"
                );
                continue;
            }
        };
        let document: Value = serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("not one JSON document per line ({e}): {line:?}"));
        if document.get("_aws").is_some() {
            assert_eq!(document["function"], "ingest-stdout-test");
            emf.push(document);
        } else {
            assert!(
                document["level"].is_string(),
                "a log line has a level: {line}"
            );
            logs += 1;
        }
    }
    // Concurrent invocations in one process share the counts, so only the totals are exact.
    let new = CHILD_REQUESTS.div_ceil(3) as u64;
    let invalid = ((CHILD_REQUESTS + 1) / 3) as u64;
    let not_json = (CHILD_REQUESTS / 3) as u64;
    assert_eq!(metric(&emf, "events_processed"), new);
    assert_eq!(metric(&emf, "events_rejected"), invalid);
    assert_eq!(metric(&emf, "http_4xx"), invalid + not_json);
    assert!(
        logs >= CHILD_REQUESTS,
        "an answered line per request: {logs}"
    );
}

/// An app whose tenant `default` may send `per_second` events a second, `burst` at once.
async fn limited_app(per_second: u64, burst: u64) -> event_runtime::App<MemoryStore> {
    let app = app_with(test_config());
    let limits = event_store::TenantLimits {
        rate_per_second: Some(per_second),
        burst: Some(burst),
        daily: Some(0),
        reads_per_second: Some(0),
    };
    let tenant = event_store::TenantId::default();
    assert!(app.store.set_tenant_limits(&tenant, &limits).await.unwrap());
    app
}

fn batch_of_three() -> String {
    let items: Vec<String> = ["1", "2", "3"]
        .iter()
        .map(|a| event_with_amount(a))
        .collect();
    format!(r#"{{"events":[{}]}}"#, items.join(","))
}

#[tokio::test]
async fn when_the_limiter_storage_fails_the_request_is_admitted_and_counted() {
    let app = limited_app(100, 100).await;
    app.store.fail_next_limiter_calls(100);
    let (answer, lines) = emf_lines("ingest", call(&app, post(EVENT))).await;
    assert_eq!(
        answer.status,
        StatusCode::CREATED,
        "fail-open: {}",
        answer.body
    );
    assert_eq!(metric(&lines, "ratelimit_storage_errors"), 1);
}

#[tokio::test]
async fn refused_events_are_counted_in_their_own_metric() {
    let app = limited_app(1, 1).await;
    emf_lines("ingest", call(&app, post(EVENT))).await;
    let (answer, lines) = emf_lines("ingest", call(&app, post(&batch_of_three()))).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(metric(&lines, "events_rate_limited"), 3);
    assert_eq!(metric(&lines, "http_4xx"), 1);
}
