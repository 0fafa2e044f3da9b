//! `POST /events` with one event: every status code of docs/contract.md "Outcomes".

mod common;

use common::*;
use event_core::limits::{MAX_BATCH_EVENTS, MAX_BODY_BYTES, MAX_EVENT_BYTES};
use event_store::{AggregateQuery, FailedStatus, Store};
use lambda_http::http::{header, StatusCode};

#[tokio::test]
async fn given_a_new_event_via_rest_v1_when_posted_then_201_with_the_normalized_event() {
    let app = app();

    let answer = call(&app, post_v1(EVENT)).await;

    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(answer.body["status"], "processed");
    let hash = answer.body["event_hash"].as_str().unwrap();
    assert_eq!(hash.len(), 64);
    assert!(hash
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    let event = &answer.body["event"];
    assert_eq!(event["client_id"], "acme-prod");
    assert_eq!(event["source"], "web");
    assert_eq!(event["metric"], "purchase");
    assert_eq!(event["amount"], "12.5");
    assert_eq!(event["timestamp"], "2026-11-20T08:00:00Z");
    assert!(event.get("event_id").is_none());
    assert_eq!(app.store.processed_records().len(), 1);
}

#[tokio::test]
async fn given_a_new_event_via_http_v2_when_posted_then_201() {
    let app = app();

    let answer = call(&app, post(EVENT)).await;

    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(answer.body["status"], "processed");
}

#[tokio::test]
async fn given_a_counted_event_when_sent_again_in_another_spelling_then_200_duplicate_and_one_count(
) {
    let app = app();
    let first = call(&app, post(EVENT)).await;
    let respelled = r#"{"client_id":"acme-prod","source":"mobile","payload":{"metric":"purchase","amount":12.500,"timestamp":"2026-11-20T08:00:00.000Z"}}"#;

    let answer = call(&app, post(respelled)).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["status"], "duplicate");
    assert_eq!(answer.body["event_hash"], first.body["event_hash"]);
    assert!(answer.body.get("event").is_none());
    let totals = app
        .store
        .aggregate(&AggregateQuery {
            client_id: event_core::ClientId::parse("acme-prod").unwrap(),
            from: None,
            to: None,
            metric: None,
        })
        .await
        .unwrap();
    assert_eq!(totals.count, 1);
    assert_eq!(totals.total.to_string(), "12.5");
}

#[tokio::test]
async fn given_each_kind_of_invalid_event_when_posted_then_422_and_a_rejected_record_with_the_raw_body(
) {
    let ts = r#""timestamp":"2026-11-20T08:00:00Z""#;
    let cases = [
        (
            format!(r#"{{"payload":{{"amount":1,{ts}}}}}"#),
            "missing_client_id",
            Some("client_id"),
        ),
        (
            format!(r#"{{"client_id":"a b","payload":{{"amount":1,{ts}}}}}"#),
            "invalid_client_id",
            Some("client_id"),
        ),
        (
            format!(r#"{{"client_id":"c","source":"  ","payload":{{"amount":1,{ts}}}}}"#),
            "invalid_source",
            Some("source"),
        ),
        (
            format!(r#"{{"client_id":"c","payload":{{"metric":"a\u0007b","amount":1,{ts}}}}}"#),
            "invalid_metric",
            Some("payload.metric"),
        ),
        (
            format!(r#"{{"client_id":"c","payload":{{"amount":"twelve",{ts}}}}}"#),
            "invalid_amount",
            Some("payload.amount"),
        ),
        (
            format!(r#"{{"client_id":"c","payload":{{"amount":1e400,{ts}}}}}"#),
            "invalid_amount",
            Some("payload.amount"),
        ),
        (
            r#"{"client_id":"c","payload":{"amount":1}}"#.to_owned(),
            "missing_timestamp",
            Some("payload.timestamp"),
        ),
        (
            r#"{"client_id":"c","payload":{"amount":1,"timestamp":"yesterday"}}"#.to_owned(),
            "invalid_timestamp",
            Some("payload.timestamp"),
        ),
        (
            r#"{"client_id":"c","payload":{"amount":1,"timestamp":"1969-12-31T23:59:59Z"}}"#
                .to_owned(),
            "invalid_timestamp",
            Some("payload.timestamp"),
        ),
        (
            r#"{"client_id":"c","payload":{"amount":1,"timestamp":"2026-11-22T12:00:00Z"}}"#
                .to_owned(),
            "timestamp_in_future",
            Some("payload.timestamp"),
        ),
        (
            format!(r#"{{"client_id":"c","event_id":"has space","payload":{{"amount":1,{ts}}}}}"#),
            "invalid_event_id",
            Some("event_id"),
        ),
        (
            format!(r#"{{"client_id":"c","simulateFailure":"yes","payload":{{"amount":1,{ts}}}}}"#),
            "invalid_field",
            Some("simulateFailure"),
        ),
    ];
    for (body, code, field) in cases {
        let app = app();

        let answer = call(&app, post(&body)).await;

        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(answer.body["status"], "failed", "{body}");
        assert_eq!(answer.body["retryable"], false, "{body}");
        assert_eq!(answer.body["error"]["code"], code, "{body}");
        assert_eq!(answer.body["error"]["field"].as_str(), field, "{body}");
        assert_eq!(answer.body["error"]["request_id"], "http-req-0001");
        let record = failed_record(&app.store, &answer).await;
        assert_eq!(record.status, FailedStatus::Rejected);
        assert_eq!(record.raw, body);
        assert_eq!(record.reason.code, code);
        assert!(app.store.processed_records().is_empty());
    }
}

#[tokio::test]
async fn given_an_invalid_event_with_a_valid_client_id_when_rejected_then_the_record_names_the_client(
) {
    let app = app();

    let answer = call(&app, post(&event_with_amount(r#""NaN""#))).await;

    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let record = failed_record(&app.store, &answer).await;
    assert_eq!(record.client_id.unwrap().as_str(), "acme-prod");
}

#[tokio::test]
async fn given_a_body_that_is_not_json_when_posted_then_400_invalid_json_with_line_and_column() {
    let app = app();

    let answer = call(&app, post_v1("{\n  \"client_id\": ,\n}")).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"]["code"], "invalid_json");
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("line 2, column"), "{message}");
    assert_eq!(answer.body["error"]["request_id"], "rest-req-0001");
    assert!(app.store.failed_records().is_empty());
}

#[tokio::test]
async fn given_an_empty_body_when_posted_then_400_invalid_json() {
    let app = app();

    let answer = call(&app, post("")).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"]["code"], "invalid_json");
}

#[tokio::test]
async fn given_json_that_is_not_an_object_when_posted_then_400_not_an_object() {
    for body in ["[1,2]", "\"event\"", "42", "null"] {
        let app = app();

        let answer = call(&app, post(body)).await;

        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.body["error"]["code"], "not_an_object", "{body}");
    }
}

#[tokio::test]
async fn given_a_body_over_1_mib_when_posted_then_413_body_too_large() {
    let app = app();
    let body = format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));

    let answer = call(&app, post(&body)).await;

    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.body["error"]["code"], "body_too_large");
}

#[tokio::test]
async fn given_one_event_over_32_kib_when_posted_then_413_event_too_large() {
    let app = app();
    let body = format!(
        r#"{{"client_id":"c","pad":"{}","payload":{{"amount":1,"timestamp":0}}}}"#,
        "x".repeat(MAX_EVENT_BYTES)
    );

    let answer = call(&app, post(&body)).await;

    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.body["error"]["code"], "event_too_large");
}

#[tokio::test]
async fn given_a_batch_over_500_events_when_posted_then_413_too_many_events() {
    let app = app();
    let events = vec!["{}"; MAX_BATCH_EVENTS + 1].join(",");

    let answer = call(&app, post(&format!(r#"{{"events":[{events}]}}"#))).await;

    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.body["error"]["code"], "too_many_events");
    assert_eq!(answer.body["error"]["field"], "events");
}

#[tokio::test]
async fn given_simulation_disabled_when_simulate_failure_is_sent_then_400_and_nothing_kept() {
    let app = app_with(config_without_simulation());
    let body = r#"{"client_id":"acme-prod","simulateFailure":true,"payload":{"amount":1,"timestamp":"2026-11-20T08:00:00Z"}}"#;

    let answer = call(&app, post(body)).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"]["code"], "simulate_failure_disabled");
    assert_eq!(answer.body["error"]["field"], "simulateFailure");
    assert!(app.store.failed_records().is_empty());
    assert!(app.store.processed_records().is_empty());
}

#[tokio::test]
async fn given_simulate_failure_when_posted_then_500_retryable_and_the_raw_body_is_kept() {
    let app = app();
    let body = r#"{"client_id":"acme-prod","simulateFailure":true,"extra":[1,2],"payload":{"amount":"3.10","timestamp":"2026-11-20T08:00:00Z"}}"#;

    let answer = call(&app, post(body)).await;

    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body["status"], "failed");
    assert_eq!(answer.body["retryable"], true);
    assert_eq!(answer.body["error"]["code"], "simulated_failure");
    let record = failed_record(&app.store, &answer).await;
    assert_eq!(record.raw, body);
    assert_eq!(record.status, FailedStatus::Failed);
    assert_eq!(record.received_at, fixed_now());
    assert_eq!(record.client_id.unwrap().as_str(), "acme-prod");
    assert!(app.store.processed_records().is_empty());
}

#[tokio::test]
async fn given_commits_failing_when_posted_then_500_retryable_and_a_failed_record_exists() {
    let app = app();
    app.store.fail_next_commits(1);

    let answer = call(&app, post(EVENT)).await;

    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body["retryable"], true);
    assert_eq!(answer.body["error"]["code"], "storage_failed");
    assert!(!answer.body.to_string().contains("injected"));
    let record = failed_record(&app.store, &answer).await;
    assert_eq!(record.status, FailedStatus::Failed);
    assert_eq!(record.reason.code, "storage_failed");
    assert_eq!(record.raw, EVENT);
    assert!(app.store.processed_records().is_empty());
}

#[tokio::test]
async fn given_commit_and_failed_write_both_failing_when_posted_then_503_with_retry_after() {
    let app = app();
    app.store.fail_next_commits(1);
    app.store.fail_next_failed_writes(1);

    let answer = call(&app, post(EVENT)).await;

    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.headers[header::RETRY_AFTER], "1");
    assert_eq!(answer.body["error"]["code"], "storage_unavailable");
    assert_eq!(answer.body["error"]["request_id"], "http-req-0001");
    assert!(app.store.failed_records().is_empty());
    assert!(app.store.processed_records().is_empty());
}

#[tokio::test]
async fn given_an_invalid_event_and_failed_writes_failing_when_posted_then_503_so_the_client_resends(
) {
    let app = app();
    app.store.fail_next_failed_writes(1);

    let answer = call(&app, post(&event_with_amount("true"))).await;

    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.headers[header::RETRY_AFTER], "1");
}

#[tokio::test]
async fn given_the_answer_of_a_503_lost_when_resent_then_it_is_processed_once() {
    let app = app();
    app.store.fail_next_commits(1);
    app.store.fail_next_failed_writes(1);
    assert_eq!(
        call(&app, post(EVENT)).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let answer = call(&app, post(EVENT)).await;

    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(app.store.processed_records().len(), 1);
}

#[tokio::test]
async fn given_json_content_when_answered_then_the_content_type_is_json() {
    let app = app();

    let answer = call(&app, post(EVENT)).await;

    assert_eq!(answer.headers[header::CONTENT_TYPE], "application/json");
}
