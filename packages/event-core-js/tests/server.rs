//! The bindings answer what the server answers: every case of `common::cases` is sent to the
//! ingest function's handler (on `MemoryStore`, its clock at the case's receive time) and
//! to `normalize_json`, and the two answers must agree: the same `event_hash` and the same
//! `event` JSON byte for byte for a processed event, the same code, message and field for
//! a refused one.

mod common;

use std::sync::atomic::{AtomicI64, Ordering};

use common::cases::{cases, NOW_MS};
use event_core::EventTimestamp;
use event_core_js::{normalize_json, received_at, BATCH_NOT_SUPPORTED};
use event_runtime::testing::{app, request_from, TEST_KEY};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// The server's clock in these tests: the receive time of the case being checked.
static NOW_NANOS: AtomicI64 = AtomicI64::new(0);

fn case_clock() -> EventTimestamp {
    EventTimestamp::from_unix_nanos(NOW_NANOS.load(Ordering::SeqCst)).unwrap_or(EventTimestamp::MIN)
}

/// `POST /events` with `body`, as an API Gateway HTTP API (v2) event.
fn post(body: &str) -> Request {
    request_from(&json!({
        "version": "2.0",
        "routeKey": "POST /events",
        "rawPath": "/events",
        "rawQueryString": "",
        "headers": {"x-api-key": TEST_KEY, "content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "http": {"method": "POST", "path": "/events", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "req-1",
            "routeKey": "POST /events",
            "stage": "$default",
            "timeEpoch": 0
        },
        "body": body,
        "isBase64Encoded": false
    }))
}

/// The parts of an answer (the server's or ours) that must agree; `event` verbatim.
#[derive(Debug, Deserialize)]
struct Parts<'a> {
    event_hash: Option<String>,
    #[serde(borrow)]
    event: Option<&'a RawValue>,
    error: Option<Value>,
}

fn error_parts(error: &Value) -> (Value, Value, Value) {
    (
        error["code"].clone(),
        error["message"].clone(),
        error.get("field").cloned().unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn given_every_case_when_normalized_then_the_answer_is_the_ingest_functions() {
    let all = cases(500);
    assert!(all.len() > 600, "{} cases", all.len());
    let (mut processed, mut refused) = (0, 0);
    for (index, case) in all.iter().enumerate() {
        let now = received_at(case.now_ms).expect("finite receive time");
        NOW_NANOS.store(now.unix_nanos(), Ordering::SeqCst);
        let app = app().with_clock(case_clock);

        let response = ingest::handle(post(&case.body), &app).await;
        let status = response.status();
        let server_text = std::str::from_utf8(response.body().as_ref()).expect("UTF-8 answer");
        let server: Parts = serde_json::from_str(server_text).expect("a JSON answer");
        let ours_text = normalize_json(&case.body, now);
        let ours: Parts = serde_json::from_str(&ours_text).expect("our answer is JSON");

        let context = || {
            format!("case {index}: {:.300}\nserver {status}: {server_text:.600}\nours: {ours_text:.600}", case.body)
        };
        match (&ours.event, &ours.error) {
            (Some(event), None) => {
                if status == StatusCode::CREATED {
                    assert_eq!(server.event_hash, ours.event_hash, "{}", context());
                    let server_event = server.event.map(RawValue::get);
                    assert_eq!(server_event, Some(event.get()), "{}", context());
                    processed += 1;
                } else {
                    // A valid event with `simulateFailure: true`: kept as failed, not counted.
                    let code = server.error.as_ref().map(|e| e["code"].clone());
                    assert!(
                        code == Some(json!("simulated_failure"))
                            || code == Some(json!("simulate_failure_disabled")),
                        "{}",
                        context()
                    );
                }
            }
            (None, Some(error)) if error["code"] == BATCH_NOT_SUPPORTED => {
                assert!(server.error.is_none(), "{}", context());
                assert!(status.is_success(), "{}", context());
            }
            (None, Some(error)) => {
                let server_error = server
                    .error
                    .as_ref()
                    .unwrap_or_else(|| panic!("{}", context()));
                assert_eq!(
                    error_parts(server_error),
                    error_parts(error),
                    "{}",
                    context()
                );
                assert!(status.is_client_error(), "{}", context());
                refused += 1;
            }
            _ => panic!("neither event nor error: {}", context()),
        }
    }
    // The cases exercise both sides of the rules.
    assert!(
        processed > 100 && refused > 200,
        "{processed} processed, {refused} refused"
    );
}

#[test]
fn given_whole_milliseconds_when_converted_then_the_nanoseconds_are_exact() {
    let at = |ms: f64| received_at(ms).map(EventTimestamp::unix_nanos);
    assert_eq!(at(NOW_MS), Some(1_795_176_000_000_000_000));
    assert_eq!(at(1_795_176_000_123.0), Some(1_795_176_000_123_000_000));
    assert_eq!(at(0.0), Some(0));
    assert_eq!(at(-0.0), Some(0));
    assert_eq!(at(1.5), Some(1_500_000));
    assert_eq!(at(0.000_001), Some(1));
    // 2^53 ms, the last whole millisecond a double holds exactly, is after 2262: the top.
    assert_eq!(at(9_007_199_254_740_992.0), Some(i64::MAX));
    assert_eq!(at(9_223_372_036_854.0), Some(9_223_372_036_854_000_000));
}

#[test]
fn given_a_time_out_of_range_when_converted_then_it_saturates_and_nan_is_refused() {
    let at = |ms: f64| received_at(ms).map(EventTimestamp::unix_nanos);
    assert_eq!(at(-5.0), Some(0));
    assert_eq!(at(-1e300), Some(0));
    assert_eq!(at(1e300), Some(i64::MAX));
    assert_eq!(at(f64::NAN), None);
    assert_eq!(at(f64::INFINITY), None);
    assert_eq!(at(f64::NEG_INFINITY), None);
}

#[test]
fn given_a_valid_event_when_normalized_then_the_answer_is_ok_with_hash_and_event() {
    let body = r#"{"client_id":"acme-prod","source":"web","payload":{"metric":"purchase","amount":"12.50","timestamp":"2026-11-20T10:00:00+02:00"}}"#;
    let now = received_at(NOW_MS).unwrap();
    assert_eq!(
        normalize_json(body, now),
        concat!(
            r#"{"ok":true,"event_hash":"ecb033f0946ea0890f020f7906619a8afb5e4d2af1765898210df7528a321bfa","#,
            r#""event":{"amount":"12.5","client_id":"acme-prod","metric":"purchase","source":"web","timestamp":"2026-11-20T08:00:00Z"}}"#
        )
    );
}

#[test]
fn given_invalid_bodies_when_normalized_then_the_error_has_code_message_and_field_only_when_known()
{
    let now = received_at(NOW_MS).unwrap();
    assert_eq!(
        normalize_json("[]", now),
        r#"{"ok":false,"error":{"code":"not_an_object","message":"The request body must be a JSON object (one event, or {\"events\": [...]}); got an array."}}"#
    );
    let amount = normalize_json(
        r#"{"client_id":"a","payload":{"amount":"x","timestamp":0}}"#,
        now,
    );
    assert!(
        amount.starts_with(r#"{"ok":false,"error":{"code":"invalid_amount","message":"#),
        "{amount}"
    );
    assert!(
        amount.ends_with(r#","field":"payload.amount"}}"#),
        "{amount}"
    );
    let batch = normalize_json(r#"{"events":[{},{}]}"#, now);
    assert!(batch.contains(r#""code":"batch_not_supported""#), "{batch}");
    assert!(batch.contains("of 2 events."), "{batch}");
    let one = normalize_json(r#"{"events":[{}]}"#, now);
    assert!(one.contains("of 1 event."), "{one}");
}
