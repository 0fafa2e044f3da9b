//! `POST /events` with `{"events":[...]}`: per-item outcomes, in-batch dedupe, the
//! concurrency bound and the deadline.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::slow_store::SlowStore;
use common::*;
use event_runtime::App;
use event_store::{FailedId, FailedStatus, Store};
use lambda_http::http::StatusCode;

fn batch(events: &[&str]) -> String {
    format!(r#"{{"events":[{}]}}"#, events.join(","))
}

#[tokio::test]
async fn given_a_mixed_batch_when_posted_then_each_item_gets_its_outcome_in_order() {
    let app = app();
    // good, invalid amount, the first one respelled, not an object, another good one.
    let req = request("http_v2_post_batch.json", |_| {});

    let answer = call(&app, req).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["processed"], 2);
    assert_eq!(answer.body["duplicates"], 1);
    assert_eq!(answer.body["failed"], 2);
    let results = answer.body["results"].as_array().unwrap();
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["processed", "failed", "duplicate", "failed", "processed"]
    );
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["index"], i);
    }
    assert_eq!(results[2]["event_hash"], results[0]["event_hash"]);
    assert_eq!(results[1]["error"]["code"], "invalid_amount");
    assert_eq!(results[1]["retryable"], false);
    assert!(results[1]["failed_id"].is_string());
    assert_eq!(results[3]["error"]["code"], "not_an_object");
    assert!(results[3]["failed_id"].is_string());
    assert!(results[0].get("error").is_none());
    assert_eq!(app.store.processed_records().len(), 2);
    let rejected = app.store.failed_records();
    assert_eq!(rejected.len(), 2);
    assert!(rejected.iter().all(|r| r.status == FailedStatus::Rejected));
    assert!(rejected.iter().any(|r| r.raw == "42"));
}

#[tokio::test]
async fn given_an_event_counted_earlier_when_batched_again_then_duplicate() {
    let app = app();
    call(&app, post(EVENT)).await;

    let answer = call(&app, post(&batch(&[EVENT]))).await;

    assert_eq!(answer.body["duplicates"], 1);
    assert_eq!(answer.body["results"][0]["status"], "duplicate");
}

#[tokio::test]
async fn given_a_simulated_failure_in_a_batch_when_posted_then_that_item_fails_retryably_only() {
    let app = app();
    let simulated = r#"{"client_id":"acme-prod","simulateFailure":true,"payload":{"amount":7,"timestamp":"2026-11-20T08:00:00Z"}}"#;

    let answer = call(&app, post(&batch(&[simulated, EVENT]))).await;

    let results = &answer.body["results"];
    assert_eq!(results[0]["status"], "failed");
    assert_eq!(results[0]["retryable"], true);
    assert_eq!(results[0]["error"]["code"], "simulated_failure");
    assert_eq!(results[1]["status"], "processed");
    assert_eq!(answer.body["failed"], 1);
}

#[tokio::test]
async fn given_simulation_disabled_when_a_batch_item_asks_for_it_then_that_item_is_rejected() {
    let app = app_with(config_without_simulation());
    let simulated = r#"{"client_id":"acme-prod","simulateFailure":true,"payload":{"amount":7,"timestamp":"2026-11-20T08:00:00Z"}}"#;

    let answer = call(&app, post(&batch(&[simulated, EVENT]))).await;

    assert_eq!(answer.status, StatusCode::OK);
    let results = &answer.body["results"];
    assert_eq!(results[0]["error"]["code"], "simulate_failure_disabled");
    assert_eq!(results[0]["retryable"], false);
    assert_eq!(results[1]["status"], "processed");
}

#[tokio::test]
async fn given_a_commit_failing_in_a_batch_when_posted_then_that_item_is_kept_as_failed() {
    let app = app();
    app.store.fail_next_commits(1);

    let answer = call(&app, post(&batch(&[EVENT]))).await;

    let result = &answer.body["results"][0];
    assert_eq!(result["status"], "failed");
    assert_eq!(result["retryable"], true);
    assert_eq!(result["error"]["code"], "storage_failed");
    let id = FailedId(result["failed_id"].as_str().unwrap().to_owned());
    assert!(app.store.get_failed(&id).await.unwrap().is_some());
}

#[tokio::test]
async fn given_commit_and_failed_write_failing_in_a_batch_when_posted_then_the_item_is_unavailable()
{
    let app = app();
    app.store.fail_next_commits(1);
    app.store.fail_next_failed_writes(1);

    let answer = call(&app, post(&batch(&[EVENT]))).await;

    let result = &answer.body["results"][0];
    assert_eq!(result["status"], "unavailable");
    assert_eq!(result["retryable"], true);
    assert_eq!(answer.body["failed"], 1);
}

#[tokio::test]
async fn given_a_repeat_of_an_item_whose_commit_failed_when_posted_then_it_is_not_called_a_duplicate(
) {
    let app = app();
    app.store.fail_next_commits(1);

    let answer = call(&app, post(&batch(&[EVENT, EVENT]))).await;

    let results = &answer.body["results"];
    assert_eq!(results[0]["status"], "failed");
    assert_eq!(results[1]["status"], "failed");
    assert_eq!(results[1]["failed_id"], results[0]["failed_id"]);
    assert_eq!(answer.body["duplicates"], 0);
}

#[tokio::test]
async fn given_an_empty_batch_when_posted_then_400_empty_batch() {
    let app = app();

    let answer = call(&app, post(r#"{"events":[]}"#)).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"]["code"], "empty_batch");
}

fn distinct_events(n: usize) -> Vec<String> {
    (1..=n).map(|i| event_with_amount(&i.to_string())).collect()
}

#[tokio::test]
async fn given_storage_slower_than_the_deadline_when_a_batch_is_posted_then_items_are_unavailable_in_time(
) {
    let app = App::new(
        SlowStore::new(Duration::from_secs(30)),
        config_with_deadline(Duration::from_millis(50), 16),
    )
    .with_clock(fixed_now);
    let events = distinct_events(3);
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    let started = Instant::now();

    let answer = call(&app, post(&batch(&refs))).await;

    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["processed"], 0);
    assert_eq!(answer.body["failed"], 3);
    for result in answer.body["results"].as_array().unwrap() {
        assert_eq!(result["status"], "unavailable");
        assert_eq!(result["retryable"], true);
        assert_eq!(result["error"]["code"], "deadline_exceeded");
    }
}

#[tokio::test]
async fn given_storage_slower_than_the_deadline_when_a_batch_is_posted_then_its_events_are_kept_failed_in_time(
) {
    // GIVEN commits that would take 30 s, in a store that gives up at its deadline
    let app = App::new(
        SlowStore::new(Duration::from_secs(30)).giving_up_at_deadline(),
        config_with_deadline(Duration::from_millis(400), 16),
    )
    .with_clock(fixed_now);
    let events = distinct_events(3);
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    let started = Instant::now();

    let answer = call(&app, post(&batch(&refs))).await;

    // THEN the commits stop early enough for every event to be kept, and the answer comes
    // before the request's deadline
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["failed"], 3);
    for result in answer.body["results"].as_array().unwrap() {
        assert_eq!(result["status"], "failed", "{result}");
        assert_eq!(result["retryable"], true);
        assert_eq!(result["error"]["code"], "storage_failed");
        assert!(result["failed_id"].is_string());
    }
    let kept = app.store.inner.failed_records();
    assert_eq!(kept.len(), 3);
    assert!(kept.iter().all(|r| r.status == FailedStatus::Failed));
    assert!(app.store.inner.processed_records().is_empty());
}

#[tokio::test]
async fn given_a_concurrency_bound_when_a_batch_is_posted_then_no_more_commits_run_at_once() {
    let app = App::new(
        SlowStore::new(Duration::from_millis(20)),
        config_with_deadline(Duration::from_secs(20), 3),
    )
    .with_clock(fixed_now);
    let events = distinct_events(12);
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();

    let answer = call(&app, post(&batch(&refs))).await;

    assert_eq!(answer.body["processed"], 12);
    let max = app.store.max_in_flight.load(Ordering::SeqCst);
    assert!((2..=3).contains(&max), "max in flight {max}");
}

#[tokio::test]
async fn given_a_batch_when_answered_then_every_item_has_exactly_one_result() {
    let app = app();
    let events = distinct_events(40);
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();

    let answer = call(&app, post(&batch(&refs))).await;

    let results = answer.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 40);
    let indexes: Vec<u64> = results
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, (0..40).collect::<Vec<u64>>());
    assert!(results.iter().all(|r| r["status"] == "processed"));
}

#[tokio::test]
async fn given_a_batch_item_over_the_event_limit_when_posted_then_it_is_rejected_and_kept_cut() {
    // Regression (found by hand next to the contract tests): a 500 KB item was kept whole,
    // DynamoDB refused the 400 KB+ item, and the client was told to resend forever.
    let app = app();
    let big = format!(
        r#"{{"client_id":"acme-prod","pad":"{}","payload":{{"timestamp":1795161600}}}}"#,
        "x".repeat(500_000)
    );

    let answer = call(&app, post(&batch(&[&big, EVENT]))).await;

    let item = &answer.body["results"][0];
    assert_eq!(item["status"], "failed", "{item}");
    assert_eq!(item["error"]["code"], "event_too_large");
    assert_eq!(item["retryable"], false);
    assert_eq!(answer.body["results"][1]["status"], "processed");
    let id = FailedId(item["failed_id"].as_str().unwrap().to_owned());
    let kept = app.store.get_failed(&id).await.unwrap().unwrap();
    assert_eq!(kept.raw.len(), 32 * 1024);
    assert!(kept.raw_truncated);
    assert!(big.starts_with(&kept.raw));
}
