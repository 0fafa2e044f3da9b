//! The request's deadline: whatever storage does, `POST /events` and retries answer in time,
//! with a typed answer that says what became of the event.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::slow_store::SlowStore;
use common::*;
use event_runtime::App;
use event_store::FailedStatus;
use lambda_http::http::{header, StatusCode};
use lambda_http::{Context, RequestExt};

fn app_on(store: SlowStore, deadline: Duration) -> App<SlowStore> {
    App::new(store, config_with_deadline(deadline, 16)).with_clock(fixed_now)
}

#[tokio::test]
async fn given_commits_slower_than_the_deadline_when_an_event_is_posted_then_it_is_kept_failed_in_time(
) {
    // GIVEN a store whose commits take 30 s and that gives up at its deadline
    let app = app_on(
        SlowStore::new(Duration::from_secs(30)).giving_up_at_deadline(),
        Duration::from_millis(400),
    );
    let started = Instant::now();

    // WHEN one event is posted
    let answer = call(&app, post(EVENT)).await;

    // THEN the commit stopped early enough to keep the event, before the deadline
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        answer.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        answer.body
    );
    assert_eq!(answer.body["error"]["code"], "storage_failed");
    assert_eq!(answer.body["retryable"], true);
    let kept = app.store.inner.failed_records();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].status, FailedStatus::Failed);
    assert_eq!(answer.body["failed_id"], kept[0].failed_id.0);
    assert!(app.store.inner.processed_records().is_empty());
}

#[tokio::test]
async fn given_a_store_that_ignores_the_deadline_when_an_event_is_posted_then_503_at_the_deadline()
{
    // GIVEN a store that would keep the request 30 s, deadline or not
    let app = app_on(
        SlowStore::new(Duration::from_secs(30)),
        Duration::from_millis(300),
    );
    let started = Instant::now();

    let answer = call(&app, post(EVENT)).await;

    // THEN the handler's own deadline answers: resend, nothing kept
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert_eq!(answer.body["error"]["code"], "storage_unavailable");
    assert!(answer.headers.contains_key(header::RETRY_AFTER));
    assert!(app.store.inner.failed_records().is_empty());
}

#[tokio::test]
async fn given_an_invocation_deadline_sooner_than_the_setting_when_an_event_is_posted_then_it_answers_by_the_invocation_deadline(
) {
    // GIVEN the 20 s default setting, but a Lambda invocation with 1.6 s left
    let app = app_on(
        SlowStore::new(Duration::from_secs(30)).giving_up_at_deadline(),
        Duration::from_secs(20),
    );
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut context = Context::default();
    context.deadline = now_ms + 1_600;
    let req = post(EVENT).with_lambda_context(context);
    let started = Instant::now();

    let answer = call(&app, req).await;

    // THEN it answers within the invocation's time less the second kept for answering
    let took = started.elapsed();
    assert!(took < Duration::from_millis(700), "{took:?}");
    assert_eq!(
        answer.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        answer.body
    );
    assert_eq!(answer.body["error"]["code"], "storage_failed");
}

#[tokio::test]
async fn given_commits_slower_than_the_deadline_when_a_failed_event_is_retried_then_it_stays_retryable_in_time(
) {
    // GIVEN an event kept as failed (simulated), and commits that take 30 s
    let app = app_on(
        SlowStore::new(Duration::from_secs(30)).giving_up_at_deadline(),
        Duration::from_millis(400),
    );
    let failing = EVENT.replace(r#""source""#, r#""simulateFailure":true,"source""#);
    let kept = call(&app, post(&failing)).await;
    let failed_id = kept.body["failed_id"].as_str().unwrap().to_owned();
    let started = Instant::now();

    // WHEN it is retried
    let answer = call(&app, retry(&failed_id)).await;

    // THEN the retry fails in time, the record stays retryable and counts the attempt
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        answer.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        answer.body
    );
    assert_eq!(answer.body["failed_id"], failed_id.as_str());
    assert_eq!(answer.body["retryable"], true);
    let record = &app.store.inner.failed_records()[0];
    assert_eq!(record.status, FailedStatus::Failed);
    assert_eq!(record.attempts, 2);
}
