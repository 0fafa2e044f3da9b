//! `POST /events/failed/{failed_id}/retry`: 201, 200, 404, 409 and 500.

mod common;

use std::sync::atomic::{AtomicI64, Ordering};

use common::*;
use event_core::EventTimestamp;
use event_runtime::App;
use event_store::{FailedStatus, MemoryStore};
use lambda_http::http::StatusCode;

const SIMULATED: &str = r#"{"client_id":"acme-prod","simulateFailure":true,"payload":{"metric":"purchase","amount":"12.50","timestamp":"2026-11-20T10:00:00+02:00"}}"#;

async fn kept_failed(app: &App<MemoryStore>) -> String {
    let answer = call(app, post(SIMULATED)).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    answer.body["failed_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn given_a_failed_event_when_retried_then_201_processed_and_the_record_is_retried() {
    let app = app();
    let id = kept_failed(&app).await;

    let answer = call(&app, retry(&id)).await;

    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(answer.body["status"], "processed");
    assert_eq!(answer.body["event"]["amount"], "12.5");
    let processed = app.store.processed_records();
    assert_eq!(processed.len(), 1);
    assert_eq!(processed[0].received_at, fixed_now());
    let record = app.store.failed_records().pop().unwrap();
    assert_eq!(record.status, FailedStatus::Retried);
}

#[tokio::test]
async fn given_a_retried_event_when_retried_again_then_200_duplicate_and_one_count() {
    let app = app();
    let id = kept_failed(&app).await;
    let first = call(&app, retry(&id)).await;

    let answer = call(&app, retry(&id)).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["status"], "duplicate");
    assert_eq!(answer.body["event_hash"], first.body["event_hash"]);
    assert_eq!(app.store.processed_records().len(), 1);
}

#[tokio::test]
async fn given_a_failed_event_counted_meanwhile_when_retried_then_200_duplicate() {
    let app = app();
    let id = kept_failed(&app).await;
    assert_eq!(call(&app, post(EVENT)).await.status, StatusCode::CREATED);

    let answer = call(&app, retry(&id)).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["status"], "duplicate");
    assert_eq!(app.store.failed_records()[0].status, FailedStatus::Retried);
}

#[tokio::test]
async fn given_an_unknown_or_malformed_id_when_retried_then_404_not_found() {
    let app = app();
    for id in [
        "1795176000000000000-1-0123456789abcdef",
        "nope",
        "..%2F..%2Fetc",
    ] {
        let answer = call(&app, retry(id)).await;

        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(answer.body["error"]["code"], "not_found");
        assert_eq!(answer.body["error"]["request_id"], "http-req-retry");
    }
}

#[tokio::test]
async fn given_a_rejected_event_when_retried_then_409_not_retryable() {
    let app = app();
    let rejected = call(&app, post(&event_with_amount(r#""twelve""#))).await;
    let id = rejected.body["failed_id"].as_str().unwrap();

    let answer = call(&app, retry(id)).await;

    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(answer.body["error"]["code"], "not_retryable");
}

#[tokio::test]
async fn given_storage_still_failing_when_retried_then_500_retryable_and_the_attempt_is_counted() {
    let app = app();
    let id = kept_failed(&app).await;
    app.store.fail_next_commits(1);

    let answer = call(&app, retry(&id)).await;

    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body["status"], "failed");
    assert_eq!(answer.body["retryable"], true);
    assert_eq!(answer.body["failed_id"], id);
    let record = app.store.failed_records().pop().unwrap();
    assert_eq!(record.status, FailedStatus::Failed);
    assert_eq!(record.attempts, 2);
    assert!(app.store.processed_records().is_empty());
}

#[tokio::test]
async fn given_a_url_encoded_id_when_retried_then_it_is_decoded() {
    let app = app();
    let id = kept_failed(&app).await;

    let answer = call(&app, retry(&id.replace('-', "%2D"))).await;

    assert_eq!(answer.status, StatusCode::CREATED);
}

static CLOCK: AtomicI64 = AtomicI64::new(NOW_NANOS);

fn movable_now() -> EventTimestamp {
    EventTimestamp::from_unix_nanos(CLOCK.load(Ordering::SeqCst)).unwrap()
}

#[tokio::test]
async fn given_an_event_near_the_future_limit_when_retried_days_later_then_it_is_judged_at_its_receipt(
) {
    let app = App::new(memory_store(), test_config()).with_clock(movable_now);
    // 23 h after "now": valid when received.
    let body = r#"{"client_id":"acme-prod","simulateFailure":true,"payload":{"amount":1,"timestamp":"2026-11-21T11:00:00Z"}}"#;
    let kept = call(&app, post(body)).await;
    let id = kept.body["failed_id"].as_str().unwrap();
    CLOCK.store(NOW_NANOS - 3 * 86_400 * 1_000_000_000, Ordering::SeqCst);

    let answer = call(&app, retry(id)).await;

    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(app.store.processed_records()[0].received_at, fixed_now());
}
