//! `POST /events/failed/retry`, the bulk replay: selection filters, paging, skipped rejected
//! records, replays that count nothing twice, tenants, storage failures, the deadline, and
//! the 400s of a bad selection.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::slow_store::SlowStore;
use common::*;
use event_core::EventTimestamp;
use event_runtime::App;
use event_store::{
    new_failed_id, FailedId, FailedRecord, FailedStatus, FailureReason, MemoryStore, Store,
    TenantId,
};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde_json::{json, Value};

/// `POST /events/failed/retry` with `body`, with the test key or `key`.
fn replay(body: &Value) -> Request {
    replay_as(body, None)
}

fn replay_as(body: &Value, key: Option<&str>) -> Request {
    request("http_v2_replay.json", |event| {
        event["body"] = Value::String(body.to_string());
        if let Some(key) = key {
            with_key(event, Some(key));
        }
    })
}

/// The raw event `n` of `client`: amount `n`, so every `n` is another event.
fn raw_event(client: &str, n: u32) -> String {
    format!(
        r#"{{"client_id":"{client}","payload":{{"metric":"purchase","amount":"{n}","timestamp":"2026-11-20T08:00:00Z"}}}}"#
    )
}

/// What a failed record is made of, before it is kept.
struct Kept<'a> {
    client: &'a str,
    n: u32,
    /// Seconds before `fixed_now()` it was received.
    age_s: i64,
    code: &'a str,
    status: FailedStatus,
}

impl Kept<'_> {
    fn failed(client: &str, n: u32) -> Kept<'_> {
        Kept {
            client,
            n,
            age_s: i64::from(n),
            code: "storage_failed",
            status: FailedStatus::Failed,
        }
    }
}

/// Keep `kept` in `store` (the tenant of the store's handle) as the ingest handler would.
async fn keep(store: &impl Store, kept: Kept<'_>) -> String {
    let received =
        EventTimestamp::from_unix_nanos(fixed_now().unix_nanos() - kept.age_s * 1_000_000_000)
            .unwrap();
    let record = FailedRecord {
        failed_id: new_failed_id(received, 4),
        client_id: Some(event_core::ClientId::parse(kept.client).unwrap()),
        reason: FailureReason {
            code: kept.code.to_owned(),
            message: format!("kept for {}", kept.code),
            field: None,
        },
        raw: raw_event(kept.client, kept.n),
        raw_truncated: false,
        received_at: received,
        attempts: 1,
        status: kept.status,
    };
    store.put_failed(&record).await.unwrap();
    record.failed_id.0
}

async fn keep_failed(store: &impl Store, client: &str, ns: std::ops::Range<u32>) -> Vec<String> {
    let mut ids = Vec::new();
    for n in ns {
        ids.push(keep(store, Kept::failed(client, n)).await);
    }
    ids
}

/// Replay `selection` page by page to the end; every result of every page, in order.
async fn replay_all<S: Store>(app: &App<S>, selection: Value) -> Vec<Value> {
    let mut body = selection;
    let mut results = Vec::new();
    for _ in 0..1_000 {
        let answer = call(app, replay(&body)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        results.extend(answer.body["results"].as_array().unwrap().iter().cloned());
        match &answer.body["next_cursor"] {
            Value::Null => return results,
            cursor => body["cursor"] = cursor.clone(),
        }
    }
    panic!("the replay did not end");
}

fn ids_with_status(results: &[Value], status: &str) -> HashSet<String> {
    results
        .iter()
        .filter(|r| r["status"] == status)
        .map(|r| r["failed_id"].as_str().unwrap().to_owned())
        .collect()
}

fn status_of(store: &MemoryStore, id: &str) -> FailedStatus {
    store
        .failed_records()
        .into_iter()
        .find(|r| r.failed_id == FailedId(id.to_owned()))
        .expect("the record exists")
        .status
}

#[tokio::test]
async fn given_failed_and_rejected_records_when_replayed_then_failed_ones_count_once_and_rejected_ones_are_skipped(
) {
    // GIVEN three failed records and one rejected one (kept through POST /events)
    let app = app();
    let failed = keep_failed(&app.store, "acme-prod", 1..4).await;
    let rejected = call(&app, post(&event_with_amount(r#""twelve""#))).await;
    let rejected_id = rejected.body["failed_id"].as_str().unwrap().to_owned();

    // WHEN everything is replayed
    let answer = call(&app, replay(&json!({}))).await;

    // THEN the failed ones are processed (with their hashes), the rejected one skipped
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["next_cursor"], Value::Null);
    let results = answer.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "{}", answer.body);
    assert_eq!(
        ids_with_status(results, "processed"),
        failed.iter().cloned().collect()
    );
    let skipped: Vec<&Value> = results
        .iter()
        .filter(|r| r["status"] == "skipped")
        .collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["failed_id"], rejected_id);
    assert_eq!(skipped[0]["code"], "not_retryable");
    for result in results.iter().filter(|r| r["status"] == "processed") {
        assert_eq!(result["event_hash"].as_str().unwrap().len(), 64);
        assert!(result.get("code").is_none(), "{result}");
    }
    assert_eq!(app.store.processed_records().len(), 3);
    for id in &failed {
        assert_eq!(status_of(&app.store, id), FailedStatus::Retried);
    }
    assert_eq!(status_of(&app.store, &rejected_id), FailedStatus::Rejected);
}

#[tokio::test]
async fn given_a_replayed_selection_when_replayed_again_then_nothing_counts_twice() {
    // GIVEN five failed records, replayed once
    let app = app();
    keep_failed(&app.store, "acme-prod", 1..6).await;
    let first = replay_all(&app, json!({"client_id": "acme-prod"})).await;
    assert_eq!(ids_with_status(&first, "processed").len(), 5);
    let counted = app.store.processed_records();

    // WHEN the same selection is replayed again
    let second = replay_all(&app, json!({"client_id": "acme-prod"})).await;

    // THEN the retried records no longer match: nothing is answered, nothing counted
    assert!(second.is_empty(), "{second:?}");
    assert_eq!(app.store.processed_records(), counted);
}

#[tokio::test]
async fn given_records_whose_events_are_already_counted_when_replayed_then_duplicates() {
    // GIVEN two failed records of one event, and a third whose event was sent again meanwhile
    let app = app();
    let twins = [
        keep(&app.store, Kept::failed("acme-prod", 7)).await,
        keep(&app.store, Kept::failed("acme-prod", 7)).await,
    ];
    let resent = keep(&app.store, Kept::failed("acme-prod", 8)).await;
    assert_eq!(
        call(&app, post(&raw_event("acme-prod", 8))).await.status,
        StatusCode::CREATED
    );

    // WHEN they are replayed
    let results = replay_all(&app, json!({})).await;

    // THEN each event counts once: one twin processed, the other and the resent one duplicates
    let processed = ids_with_status(&results, "processed");
    let duplicate = ids_with_status(&results, "duplicate");
    assert_eq!(processed.len(), 1);
    assert!(twins.iter().any(|id| processed.contains(id)));
    assert_eq!(duplicate.len(), 2);
    assert!(duplicate.contains(&resent));
    assert_eq!(app.store.processed_records().len(), 2);
    for result in &results {
        assert_eq!(result["event_hash"].as_str().unwrap().len(), 64, "{result}");
    }
}

/// One record of the filter test: client, receipt age and code of record `i`.
fn filtered_record(i: u32) -> Kept<'static> {
    Kept {
        client: if i % 2 == 0 { "acme-prod" } else { "acme-test" },
        n: i,
        age_s: 10 + 5 * i64::from(i),
        code: if i % 4 < 2 {
            "storage_failed"
        } else {
            "simulated_failure"
        },
        status: FailedStatus::Failed,
    }
}

#[tokio::test]
async fn given_filters_when_replayed_then_only_matching_records_are_retried() {
    let at = |age_s: i64| {
        EventTimestamp::from_unix_nanos(fixed_now().unix_nanos() - age_s * 1_000_000_000)
            .unwrap()
            .to_string()
    };
    let matching = |keep: &dyn Fn(&Kept) -> bool| -> Vec<u32> {
        (0..8).filter(|i| keep(&filtered_record(*i))).collect()
    };
    let cases = [
        (
            json!({"client_id": "acme-test"}),
            matching(&|r| r.client == "acme-test"),
        ),
        (
            // from inclusive, to exclusive: received in [now - 30 s, now - 15 s)
            json!({"from": at(30), "to": at(15)}),
            matching(&|r| (16..=30).contains(&r.age_s)),
        ),
        (
            json!({"codes": ["storage_failed"]}),
            matching(&|r| r.code == "storage_failed"),
        ),
        (
            json!({"client_id": "acme-prod", "codes": ["simulated_failure", "storage_failed"], "to": at(20)}),
            matching(&|r| r.client == "acme-prod" && r.age_s > 20),
        ),
        (json!({"codes": ["no_such_code"]}), Vec::new()),
    ];
    for (selection, expected) in cases {
        assert!(expected.len() < 8, "{selection} must leave records out");
        // GIVEN eight records of two clients, received 10..45 s ago, with two codes
        let app = app();
        let mut ids = Vec::new();
        for i in 0..8 {
            ids.push(keep(&app.store, filtered_record(i)).await);
        }

        // WHEN replayed with the filter
        let results = replay_all(&app, selection.clone()).await;

        // THEN exactly the matching records are processed, and no other is touched
        let expected: HashSet<String> = expected.iter().map(|i| ids[*i as usize].clone()).collect();
        assert_eq!(
            ids_with_status(&results, "processed"),
            expected,
            "{selection}"
        );
        assert_eq!(results.len(), expected.len(), "{selection}");
        assert_eq!(app.store.processed_records().len(), expected.len());
        for id in &ids {
            let want = if expected.contains(id) {
                FailedStatus::Retried
            } else {
                FailedStatus::Failed
            };
            assert_eq!(status_of(&app.store, id), want, "{selection} {id}");
        }
    }
}

#[tokio::test]
async fn given_a_rejected_code_selected_when_replayed_then_its_records_are_listed_as_skipped() {
    let app = app();
    let rejected = keep(
        &app.store,
        Kept {
            code: "invalid_amount",
            status: FailedStatus::Rejected,
            ..Kept::failed("acme-prod", 1)
        },
    )
    .await;
    keep(&app.store, Kept::failed("acme-prod", 2)).await;

    let results = replay_all(&app, json!({"codes": ["invalid_amount"]})).await;

    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["failed_id"], rejected);
    assert_eq!(results[0]["status"], "skipped");
    assert_eq!(results[0]["code"], "not_retryable");
    assert!(app.store.processed_records().is_empty());
}

#[tokio::test]
async fn given_a_small_limit_when_the_cursor_is_followed_then_every_record_is_answered_exactly_once(
) {
    // GIVEN 23 failed records and 4 rejected ones, some received at the same instant
    let app = app();
    let mut failed = keep_failed(&app.store, "acme-prod", 0..23).await;
    failed.extend(keep_failed(&app.store, "acme-test", 0..3).await);
    let mut rejected = Vec::new();
    for n in 0..4 {
        let kept = Kept {
            status: FailedStatus::Rejected,
            code: "invalid_amount",
            ..Kept::failed("acme-prod", 100 + n)
        };
        rejected.push(keep(&app.store, kept).await);
    }

    // WHEN replayed 4 records at a time
    let mut body = json!({"limit": 4});
    let mut results = Vec::new();
    let mut pages = 0;
    loop {
        let answer = call(&app, replay(&body)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let page = answer.body["results"].as_array().unwrap();
        assert!(page.len() <= 4);
        results.extend(page.iter().cloned());
        pages += 1;
        match &answer.body["next_cursor"] {
            Value::Null => break,
            cursor => body["cursor"] = cursor.clone(),
        }
        assert!(pages < 50);
    }

    // THEN every record was answered exactly once, and every event counted once
    let answered: Vec<&str> = results
        .iter()
        .map(|r| r["failed_id"].as_str().unwrap())
        .collect();
    let unique: HashSet<&str> = answered.iter().copied().collect();
    assert_eq!(answered.len(), unique.len(), "a record answered twice");
    assert_eq!(answered.len(), 30);
    assert_eq!(
        ids_with_status(&results, "processed"),
        failed.iter().cloned().collect()
    );
    assert_eq!(
        ids_with_status(&results, "skipped"),
        rejected.iter().cloned().collect()
    );
    assert_eq!(pages, 8);
    assert_eq!(app.store.processed_records().len(), 26);
}

#[tokio::test]
async fn given_another_tenants_records_when_replayed_then_they_are_untouched() {
    // GIVEN tenant acme (owning acme-*) and tenant beta with failed records of their own
    let app = app();
    let acme_key = add_tenant(&app.store, "acme", "acme-*");
    add_tenant(&app.store, "beta", "beta-*");
    let acme = app.store.for_tenant(&TenantId::parse("acme").unwrap());
    let beta = app.store.for_tenant(&TenantId::parse("beta").unwrap());
    let mine = keep_failed(&acme, "acme-prod", 0..3).await;
    let theirs = keep_failed(&beta, "beta-prod", 0..3).await;

    // WHEN acme replays everything, then asks for beta's client
    let answer = call(&app, replay_as(&json!({}), Some(&acme_key))).await;
    let refused = call(
        &app,
        replay_as(&json!({"client_id": "beta-prod"}), Some(&acme_key)),
    )
    .await;

    // THEN only acme's records were retried; beta's client is refused like on other routes
    assert_eq!(answer.status, StatusCode::OK);
    let results = answer.body["results"].as_array().unwrap();
    assert_eq!(
        ids_with_status(results, "processed"),
        mine.iter().cloned().collect()
    );
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body["error"]["code"], "client_not_allowed");
    assert_eq!(acme.processed_records().len(), 3);
    assert!(beta.processed_records().is_empty());
    for id in &theirs {
        assert_eq!(status_of(&beta, id), FailedStatus::Failed);
    }
}

#[tokio::test]
async fn given_a_record_of_a_client_the_tenant_no_longer_owns_when_replayed_then_it_is_skipped() {
    // GIVEN tenant acme now owning acme-* only, with a record kept for old-client earlier
    let app = app();
    let key = add_tenant(&app.store, "acme", "acme-*");
    let acme = app.store.for_tenant(&TenantId::parse("acme").unwrap());
    let old = keep(&acme, Kept::failed("old-client", 1)).await;

    let answer = call(&app, replay_as(&json!({}), Some(&key))).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body["results"],
        json!([{"failed_id": old, "status": "skipped", "code": "client_not_allowed"}])
    );
    assert!(acme.processed_records().is_empty());
    assert_eq!(status_of(&acme, &old), FailedStatus::Failed);
}

#[tokio::test]
async fn given_storage_failing_when_replayed_then_failed_retryable_with_the_attempt_counted() {
    // GIVEN two failed records, and storage failing for the next commit
    let app = app();
    keep_failed(&app.store, "acme-prod", 1..3).await;
    app.store.fail_next_commits(1);

    // WHEN replayed one at a time (so the failing commit is the first record's)
    let first = call(&app, replay(&json!({"limit": 1}))).await;

    // THEN that record is answered failed (storage_failed), stays retryable with one more
    // attempt, and the cursor moves on; the next page processes the other one
    let results = first.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["status"], "failed");
    assert_eq!(results[0]["code"], "storage_failed");
    let id = results[0]["failed_id"].as_str().unwrap();
    let record = app
        .store
        .failed_records()
        .into_iter()
        .find(|r| r.failed_id.0 == id)
        .unwrap();
    assert_eq!((record.status, record.attempts), (FailedStatus::Failed, 2));
    let cursor = first.body["next_cursor"].clone();
    assert!(cursor.is_string());
    let second = call(&app, replay(&json!({"limit": 1, "cursor": cursor}))).await;
    assert_eq!(second.body["results"][0]["status"], "processed");
    // a new selection finds the failed one again, still retryable
    let again = replay_all(&app, json!({})).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["failed_id"], id);
    assert_eq!(again[0]["status"], "processed");
    assert_eq!(app.store.processed_records().len(), 2);
}

#[tokio::test]
async fn given_slow_commits_when_replayed_then_it_stops_early_with_a_cursor_that_finishes_the_rest()
{
    // GIVEN 12 failed records, commits of 100 ms one at a time, and a 1 s deadline
    let app = App::new(
        SlowStore::new(Duration::from_millis(100)).giving_up_at_deadline(),
        config_with_deadline(Duration::from_secs(1), 1),
    )
    .with_clock(fixed_now);
    let ids = keep_failed(&app.store.inner, "acme-prod", 0..12).await;

    // WHEN replayed once
    let started = Instant::now();
    let first = call(&app, replay(&json!({}))).await;

    // THEN it answered in time with part of the page and a cursor
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let done = first.body["results"].as_array().unwrap().len();
    assert!((1..12).contains(&done), "{}", first.body);
    assert!(first.body["next_cursor"].is_string());
    assert!(first.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "processed"));

    // AND following the cursor answers every other record once, each counted once
    let mut results: Vec<Value> = first.body["results"].as_array().unwrap().clone();
    results.extend(replay_all(&app, json!({"cursor": first.body["next_cursor"].clone()})).await);
    let answered: Vec<&str> = results
        .iter()
        .map(|r| r["failed_id"].as_str().unwrap())
        .collect();
    assert_eq!(answered.len(), 12, "{answered:?}");
    assert_eq!(
        answered
            .iter()
            .map(|id| id.to_string())
            .collect::<HashSet<_>>(),
        ids.into_iter().collect()
    );
    assert_eq!(app.store.inner.processed_records().len(), 12);
}

#[tokio::test]
async fn given_commits_in_flight_at_the_deadline_when_replayed_then_unavailable_and_the_cursor_resumes_at_them(
) {
    // GIVEN 3 failed records and a store that holds every commit 30 s, deadline or not
    let app = App::new(
        SlowStore::new(Duration::from_secs(30)),
        config_with_deadline(Duration::from_millis(300), 2),
    )
    .with_clock(fixed_now);
    let ids = keep_failed(&app.store.inner, "acme-prod", 0..3).await;

    // WHEN replayed
    let started = Instant::now();
    let answer = call(&app, replay(&json!({}))).await;

    // THEN the two records in flight are unavailable, the third was not started (not
    // listed), and nothing was counted; the answer came at the deadline
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let results = answer.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{}", answer.body);
    for result in results {
        assert_eq!(result["status"], "unavailable");
        assert_eq!(result["code"], "storage_unavailable");
    }
    assert!(app.store.inner.processed_records().is_empty());

    // AND its cursor, on a store that answers, replays all three
    let fast = App::new(
        app.store.inner.for_tenant(&TenantId::default()),
        test_config(),
    )
    .with_clock(fixed_now);
    let rest = replay_all(&fast, json!({"cursor": answer.body["next_cursor"].clone()})).await;
    assert_eq!(
        ids_with_status(&rest, "processed"),
        ids.into_iter().collect()
    );
}

#[tokio::test]
async fn given_bad_selections_when_replayed_then_typed_400s_and_nothing_is_retried() {
    let app = app();
    keep_failed(&app.store, "acme-prod", 0..3).await;
    // a cursor of another selection
    let other = call(&app, replay(&json!({"limit": 1, "client_id": "acme-prod"}))).await;
    let foreign_cursor = other.body["next_cursor"].as_str().unwrap().to_owned();
    let counted = app.store.processed_records().len();

    let cases: Vec<(Request, &str, Option<&str>)> = vec![
        (replay(&json!({"limit": 0})), "invalid_limit", Some("limit")),
        (
            replay(&json!({"limit": 101})),
            "invalid_limit",
            Some("limit"),
        ),
        (
            replay(&json!({"limit": "ten"})),
            "invalid_limit",
            Some("limit"),
        ),
        (
            replay(&json!({"cursor": "bm90IGEgY3Vyc29y"})),
            "invalid_cursor",
            Some("cursor"),
        ),
        (
            replay(&json!({"cursor": foreign_cursor})),
            "invalid_cursor",
            Some("cursor"),
        ),
        (
            replay(&json!({"from": "yesterday"})),
            "invalid_timestamp",
            Some("from"),
        ),
        (
            replay(&json!({"from": "2026-11-20T00:00:00Z", "to": "2026-11-19T00:00:00Z"})),
            "invalid_range",
            Some("to"),
        ),
        (
            replay(&json!({"client_id": "a b"})),
            "invalid_client_id",
            Some("client_id"),
        ),
        (
            replay(&json!({"codes": "storage_failed"})),
            "invalid_field",
            Some("codes"),
        ),
        (
            replay(&json!({"client": "acme-prod"})),
            "invalid_field",
            Some("body"),
        ),
        (replay_text("[1]"), "invalid_field", Some("body")),
        (replay_text("{"), "invalid_json", None),
    ];
    for (req, code, field) in cases {
        let answer = call(&app, req).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{code}: {}",
            answer.body
        );
        assert_eq!(answer.body["error"]["code"], code, "{}", answer.body);
        assert_eq!(
            answer.body["error"]["field"].as_str(),
            field,
            "{}",
            answer.body
        );
        assert_eq!(answer.body["error"]["request_id"], "http-req-replay");
        assert!(answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with('.'));
    }
    assert_eq!(app.store.processed_records().len(), counted);
}

#[tokio::test]
async fn given_api_gateway_rest_with_the_stage_in_the_path_when_replayed_then_it_routes() {
    // GIVEN a failed record and a REST API (v1) request with the stage in its path
    let app = app();
    let id = keep(&app.store, Kept::failed("acme-prod", 1)).await;
    let req = request("rest_v1_post_events_stage_in_path.json", |event| {
        event["resource"] = json!("/events/failed/retry");
        event["path"] = json!("/prod/events/failed/retry");
        event["requestContext"]["resourcePath"] = json!("/events/failed/retry");
        event["body"] = json!(r#"{"client_id":"acme-prod"}"#);
    });

    let answer = call(&app, req).await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["results"][0]["failed_id"], id);
    assert_eq!(answer.body["results"][0]["status"], "processed");
}

#[tokio::test]
async fn given_storage_down_when_replayed_then_503_with_retry_after() {
    let app = App::new(FailingStore::unavailable(), test_config()).with_clock(fixed_now);

    let answer = call(&app, replay(&json!({}))).await;

    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.body["error"]["code"], "storage_unavailable");
    assert!(answer.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn given_no_key_when_replayed_then_401_and_nothing_is_retried() {
    let app = app();
    keep_failed(&app.store, "acme-prod", 0..2).await;
    let req = request("http_v2_replay.json", |event| with_key(event, None));

    let answer = call(&app, req).await;

    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(app.store.processed_records().is_empty());
}
