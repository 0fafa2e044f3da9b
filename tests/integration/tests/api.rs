//! The HTTP API (api/openapi.yaml), end to end: real HTTP to `cargo lambda watch`, real DynamoDB in
//! LocalStack, with the table the SAM template deploys.

use integration_tests::launcher::StorageDown;
use integration_tests::{assert_error, encode, nano_units, unique_client, Api, StatusCode};
use serde_json::{json, Value};

fn event(client: &str, amount: Value, timestamp: Value) -> Value {
    json!({
        "client_id": client,
        "source": "web",
        "payload": { "metric": "purchase", "amount": amount, "timestamp": timestamp }
    })
}

async fn aggregates(api: &Api, client: &str, extra: &str) -> Value {
    let reply = api
        .get(&format!("/aggregates?client_id={}{extra}", encode(client)))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

/// Every processed event of a query, following `next_cursor` to the end.
async fn list_all(api: &Api, query: &str, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut path = format!("/events/processed?{query}&limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", encode(c)));
        }
        let reply = api.get(&path).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let page = reply.body["items"].as_array().expect("items").clone();
        assert!(
            page.len() <= limit as usize,
            "a page holds at most `limit` items"
        );
        items.extend(page);
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
    panic!("pagination did not end");
}

#[tokio::test]
async fn spec_example_is_processed_once_and_other_spellings_are_duplicates() {
    // GIVEN the example event of docs/contract.md for a fresh client
    let api = Api::new();
    let client = unique_client("example");
    let example = json!({
        "client_id": client,
        "source": "web",
        "payload": { "metric": "purchase", "amount": "12.50", "timestamp": "2026-11-20T10:00:00+02:00" },
        "simulateFailure": false
    });

    // WHEN it is sent
    let first = api.post("/events", &example).await;

    // THEN it is processed and normalized
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["status"], "processed");
    let hash = first.body["event_hash"]
        .as_str()
        .expect("event_hash")
        .to_owned();
    assert_eq!(hash.len(), 64);
    assert_eq!(first.body["event"]["amount"], "12.5");
    assert_eq!(first.body["event"]["timestamp"], "2026-11-20T08:00:00Z");
    assert_eq!(first.body["event"]["metric"], "purchase");
    assert_eq!(first.body["event"]["source"], "web");

    // WHEN the same event arrives in other spellings (and from another source)
    let spellings = [
        event(&client, json!(12.5), json!("2026-11-20T08:00:00Z")),
        event(&client, json!(12.50), json!("2026-11-20T08:00:00.000Z")),
        event(&client, json!("1.25e1"), json!(1_795_161_600)),
        event(&client, json!("12.500000000"), json!(1_795_161_600_000u64)),
        event(&client, json!("12.5"), json!("2026-11-20 03:00:00-05:00")),
        json!({"payload": {"timestamp": "2026-11-20T08:00:00Z", "amount": 12.5, "metric": "purchase"}, "source": "mobile", "client_id": client}),
    ];
    for spelling in &spellings {
        let reply = api.post("/events", spelling).await;
        // THEN each is a duplicate of the first, and nothing is counted again
        assert_eq!(reply.status, StatusCode::OK, "{spelling} -> {}", reply.body);
        assert_eq!(reply.body["status"], "duplicate");
        assert_eq!(reply.body["event_hash"], hash.as_str());
    }
    let whitespace = format!(
        "  {{ \"client_id\" : \"{client}\" ,\n \"payload\" : {{ \"amount\" : 12.5 , \"timestamp\" : \"2026-11-20T08:00:00Z\" , \"metric\" : \"purchase\" }} }}\n"
    );
    let reply = api.post_raw("/events", whitespace).await;
    assert_eq!(reply.body["status"], "duplicate", "{}", reply.body);

    let totals = aggregates(&api, &client, "").await;
    assert_eq!(totals["count"], 1);
    assert_eq!(totals["total_amount"], "12.5");
}

#[tokio::test]
async fn invalid_events_get_422_and_are_kept_as_rejected_with_their_raw_body() {
    let api = Api::new();
    let client = unique_client("invalid");
    let cases = [
        (
            json!({"payload": {"timestamp": "2026-11-20T08:00:00Z"}}),
            "missing_client_id",
            "client_id",
        ),
        (
            json!({"client_id": "bad client!", "payload": {"timestamp": "2026-11-20T08:00:00Z"}}),
            "invalid_client_id",
            "client_id",
        ),
        (
            event(&client, json!("abc"), json!("2026-11-20T08:00:00Z")),
            "invalid_amount",
            "payload.amount",
        ),
        (
            event(&client, json!(true), json!("2026-11-20T08:00:00Z")),
            "invalid_amount",
            "payload.amount",
        ),
        (
            event(
                &client,
                json!("1234567890123456789"),
                json!("2026-11-20T08:00:00Z"),
            ),
            "invalid_amount",
            "payload.amount",
        ),
        (
            event(&client, json!("1"), Value::Null),
            "missing_timestamp",
            "payload.timestamp",
        ),
        (
            event(&client, json!("1"), json!("yesterday")),
            "invalid_timestamp",
            "payload.timestamp",
        ),
        (
            event(&client, json!("1"), json!("1969-12-31T23:59:59Z")),
            "invalid_timestamp",
            "payload.timestamp",
        ),
        (
            event(&client, json!("1"), json!("2999-01-01T00:00:00Z")),
            "timestamp_in_future",
            "payload.timestamp",
        ),
        (
            json!({"client_id": client, "source": "", "payload": {"timestamp": "2026-11-20T08:00:00Z"}}),
            "invalid_source",
            "source",
        ),
        (
            json!({"client_id": client, "event_id": "no spaces", "payload": {"timestamp": "2026-11-20T08:00:00Z"}}),
            "invalid_event_id",
            "event_id",
        ),
        (
            json!({"client_id": client, "simulateFailure": "yes", "payload": {"timestamp": "2026-11-20T08:00:00Z"}}),
            "invalid_field",
            "simulateFailure",
        ),
    ];
    for (body, code, field) in cases {
        // WHEN an invalid event is sent
        let reply = api.post("/events", &body).await;
        // THEN it is refused with its reason, and kept
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {}",
            reply.body
        );
        assert_eq!(reply.body["status"], "failed");
        assert_eq!(reply.body["retryable"], false);
        assert_eq!(reply.body["error"]["code"], code, "{body}");
        assert_eq!(reply.body["error"]["field"], field, "{body}");
        let failed_id = reply.body["failed_id"].as_str().expect("failed_id");

        let kept = api
            .get(&format!("/events/failed/{}", encode(failed_id)))
            .await;
        assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
        assert_eq!(kept.body["status"], "rejected");
        assert_eq!(kept.body["reason"]["code"], code);
        let raw: Value =
            serde_json::from_str(kept.body["raw"].as_str().expect("raw")).expect("raw is the body");
        assert_eq!(raw, body);
    }
    // AND nothing was counted for the client
    assert_eq!(aggregates(&api, &client, "").await["count"], 0);
}

#[tokio::test]
async fn malformed_bodies_get_typed_400_and_413() {
    let api = Api::new();
    let reply = api
        .post_raw("/events", "{\"client_id\": \"a\",\n  \"payload\": {oops}}")
        .await;
    assert_error(&reply, 400, "invalid_json");
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("line 2"), "says where it broke: {message}");

    assert_error(
        &api.post_raw("/events", "[1, 2]").await,
        400,
        "not_an_object",
    );
    assert_error(
        &api.post_raw("/events", "\"text\"").await,
        400,
        "not_an_object",
    );
    assert_error(&api.post_raw("/events", "").await, 400, "invalid_json");

    let too_big = format!("{{\"pad\": \"{}\"}}", "x".repeat(1024 * 1024));
    assert_error(
        &api.post_raw("/events", too_big).await,
        413,
        "body_too_large",
    );

    let big_event =
        json!({"client_id": "a", "pad": "x".repeat(33 * 1024), "payload": {"timestamp": 1}});
    assert_error(
        &api.post("/events", &big_event).await,
        413,
        "event_too_large",
    );

    // A batch item that large is rejected on its own and kept cut to 32 KiB: whole, it would
    // not fit in one DynamoDB item (400 KB), and the client was told to resend forever.
    let huge_item =
        json!({"client_id": "a", "pad": "x".repeat(500_000), "payload": {"timestamp": 1}});
    let reply = api.post("/events", &json!({ "events": [huge_item] })).await;
    let item = &reply.body["results"][0];
    assert_eq!(item["status"], "failed", "{}", reply.body);
    assert_eq!(item["error"]["code"], "event_too_large");
    let kept = api
        .get(&format!(
            "/events/failed/{}",
            item["failed_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(kept.body["raw"].as_str().unwrap().len(), 32 * 1024);
    assert_eq!(kept.body["raw_truncated"], true);

    let many: Vec<Value> = (0..501)
        .map(|i| json!({"client_id": "a", "payload": {"timestamp": i}}))
        .collect();
    assert_error(
        &api.post("/events", &json!({ "events": many })).await,
        413,
        "too_many_events",
    );
}

#[tokio::test]
async fn simulated_failure_is_kept_and_its_retry_counts_exactly_once() {
    // GIVEN an event sent with simulateFailure (allowed in local dev)
    let api = Api::new();
    let client = unique_client("simulated");
    let mut body = event(&client, json!("7.25"), json!("2026-11-21T12:30:00Z"));
    body["simulateFailure"] = json!(true);
    let reply = api.post("/events", &body).await;

    // THEN it failed on purpose, retryable, kept and not counted
    assert_eq!(
        reply.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        reply.body
    );
    assert_eq!(reply.body["status"], "failed");
    assert_eq!(reply.body["retryable"], true);
    let failed_id = reply.body["failed_id"]
        .as_str()
        .expect("failed_id")
        .to_owned();
    let kept = api
        .get(&format!("/events/failed/{}", encode(&failed_id)))
        .await;
    assert_eq!(kept.body["status"], "failed", "{}", kept.body);
    assert_eq!(aggregates(&api, &client, "").await["count"], 0);
    let listed = api
        .get(&format!("/events/failed?client_id={}", encode(&client)))
        .await;
    assert_eq!(
        listed.body["items"][0]["failed_id"],
        failed_id.as_str(),
        "{}",
        listed.body
    );

    // WHEN it is retried, twice
    let retry_path = format!("/events/failed/{}/retry", encode(&failed_id));
    let first = api.post_raw(&retry_path, "").await;
    let second = api.post_raw(&retry_path, "").await;

    // THEN the first processes it, the second is a duplicate, and it counts once
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["status"], "processed");
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(second.body["status"], "duplicate");
    assert_eq!(second.body["event_hash"], first.body["event_hash"]);
    let kept = api
        .get(&format!("/events/failed/{}", encode(&failed_id)))
        .await;
    assert_eq!(kept.body["status"], "retried");
    // AND sending the event again normally is a duplicate too
    body["simulateFailure"] = json!(false);
    assert_eq!(api.post("/events", &body).await.body["status"], "duplicate");
    let totals = aggregates(&api, &client, "").await;
    assert_eq!(totals["count"], 1);
    assert_eq!(totals["total_amount"], "7.25");
}

#[tokio::test]
async fn retry_of_a_rejected_event_is_409_and_of_an_unknown_id_404() {
    let api = Api::new();
    let rejected = api
        .post(
            "/events",
            &json!({"payload": {"timestamp": "2026-11-20T08:00:00Z"}}),
        )
        .await;
    let failed_id = rejected.body["failed_id"].as_str().expect("failed_id");
    let reply = api
        .post_raw(&format!("/events/failed/{}/retry", encode(failed_id)), "")
        .await;
    assert_error(&reply, 409, "not_retryable");

    assert_error(
        &api.post_raw("/events/failed/no-such-id/retry", "").await,
        404,
        "not_found",
    );
    assert_error(
        &api.get("/events/failed/no-such-id").await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn a_batch_answers_each_event_and_one_bad_event_fails_no_other() {
    let api = Api::new();
    let client = unique_client("batch");
    let a = event(&client, json!("1.5"), json!("2026-11-22T01:00:00Z"));
    let b = event(&client, json!("2"), json!("2026-11-22T02:00:00Z"));
    let a_again = event(&client, json!(1.50), json!("2026-11-22T03:00:00+02:00"));
    let mut simulated = event(&client, json!("3"), json!("2026-11-22T04:00:00Z"));
    simulated["simulateFailure"] = json!(true);
    let batch = json!({"events": [a, b, a_again, {"client_id": client}, 42, simulated]});

    let reply = api.post("/events", &batch).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["processed"], 2, "{}", reply.body);
    assert_eq!(reply.body["duplicates"], 1);
    assert_eq!(reply.body["failed"], 3);
    let results = reply.body["results"].as_array().expect("results");
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "processed",
            "processed",
            "duplicate",
            "failed",
            "failed",
            "failed"
        ]
    );
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["index"], i);
    }
    assert_eq!(results[2]["event_hash"], results[0]["event_hash"]);
    assert_eq!(results[3]["error"]["code"], "missing_timestamp");
    assert_eq!(results[3]["retryable"], false);
    assert_eq!(results[4]["retryable"], false);
    assert_eq!(results[5]["retryable"], true);
    assert!(results[5]["failed_id"].is_string());

    // a resend of the whole batch changes nothing that was counted
    let again = api.post("/events", &batch).await;
    assert_eq!(again.body["processed"], 0, "{}", again.body);
    assert_eq!(again.body["duplicates"], 3);
    let totals = aggregates(&api, &client, "").await;
    assert_eq!(totals["count"], 2);
    assert_eq!(totals["total_amount"], "3.5");
}

#[tokio::test]
async fn pagination_walks_every_event_once_newest_first() {
    let api = Api::new();
    let client = unique_client("pages");
    let events: Vec<Value> = (0..37)
        .map(|i| event(&client, json!(i), json!(1_764_000_000 + i * 97)))
        .collect();
    let reply = api.post("/events", &json!({ "events": events })).await;
    assert_eq!(reply.body["processed"], 37, "{}", reply.body);

    for limit in [1, 5, 36, 37, 500] {
        let items = list_all(&api, &format!("client_id={}", encode(&client)), limit).await;
        let hashes: std::collections::HashSet<_> = items
            .iter()
            .map(|i| i["event_hash"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(items.len(), 37, "limit {limit}: every event");
        assert_eq!(hashes.len(), 37, "limit {limit}: each once");
        let times: Vec<&str> = items
            .iter()
            .map(|i| i["timestamp"].as_str().unwrap())
            .collect();
        let mut sorted = times.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(times, sorted, "newest first");
    }

    let query = format!("/events/processed?client_id={}", encode(&client));
    assert_error(
        &api.get(&format!("{query}&limit=0")).await,
        400,
        "invalid_limit",
    );
    assert_error(
        &api.get(&format!("{query}&limit=501")).await,
        400,
        "invalid_limit",
    );
    assert_error(
        &api.get(&format!("{query}&cursor=garbage")).await,
        400,
        "invalid_cursor",
    );
    let first = api.get(&format!("{query}&limit=2")).await;
    let cursor = first.body["next_cursor"].as_str().expect("more remain");
    let other_client = api
        .get(&format!(
            "/events/processed?client_id=someone-else&cursor={}",
            encode(cursor)
        ))
        .await;
    assert_error(&other_client, 400, "invalid_cursor");
}

#[tokio::test]
async fn aggregates_equal_the_sum_of_listed_events_over_ranges() {
    let api = Api::new();
    let client = unique_client("sums");
    let base = 1_795_136_400i64; // 2026-11-20T01:00:00Z
    let events: Vec<Value> = (0..60i64)
        .map(|i| {
            let metric = if i % 3 == 0 { "refund" } else { "purchase" };
            json!({"client_id": client, "payload": {
                "metric": metric,
                "amount": format!("{}.{:03}", i * 7 % 50, i * 13 % 1000),
                "timestamp": base + i * 311,
            }})
        })
        .collect();
    let reply = api.post("/events", &json!({ "events": events })).await;
    assert_eq!(reply.body["processed"], 60, "{}", reply.body);

    let ranges = [
        (None, None),
        (Some(base), Some(base + 3600)),
        (Some(base + 1000), Some(base + 9000)),
        (Some(base + 1799), Some(base + 1800)),
        (Some(base - 86_400), Some(base + 4000)),
        (Some(base + 7300), None),
        (None, Some(base + 12_345)),
    ];
    for (from, to) in ranges {
        for metric in [None, Some("refund")] {
            let mut query = format!("client_id={}", encode(&client));
            if let Some(from) = from {
                query.push_str(&format!("&from={from}"));
            }
            if let Some(to) = to {
                query.push_str(&format!("&to={to}"));
            }
            let listed: Vec<Value> = list_all(&api, &query, 500)
                .await
                .into_iter()
                .filter(|e| metric.is_none_or(|m| e["metric"] == m))
                .collect();
            let listed_total: i128 = listed
                .iter()
                .map(|e| nano_units(e["amount"].as_str().unwrap()))
                .sum();
            let metric_param = metric.map(|m| format!("&metric={m}")).unwrap_or_default();
            let totals = api.get(&format!("/aggregates?{query}{metric_param}")).await;
            assert_eq!(totals.status, StatusCode::OK, "{}", totals.body);
            assert_eq!(
                totals.body["count"],
                listed.len(),
                "count for {from:?}..{to:?} {metric:?}"
            );
            assert_eq!(
                nano_units(totals.body["total_amount"].as_str().unwrap()),
                listed_total,
                "total for {from:?}..{to:?} {metric:?}"
            );
        }
    }
    let iso = api
        .get(&format!(
            "/aggregates?client_id={}&from={}&to={}",
            encode(&client),
            encode("2026-11-20T03:00:00+02:00"),
            encode("2026-11-20T02:00:00Z")
        ))
        .await;
    assert_eq!(iso.body["from"], "2026-11-20T01:00:00Z", "{}", iso.body);
    assert_eq!(iso.body["to"], "2026-11-20T02:00:00Z");
}

#[tokio::test]
async fn aggregates_reject_a_missing_client_and_an_empty_range() {
    let api = Api::new();
    assert_error(&api.get("/aggregates").await, 400, "missing_client_id");
    assert_error(
        &api.get("/aggregates?client_id=a&from=200&to=100").await,
        400,
        "invalid_range",
    );
    assert_error(
        &api.get("/aggregates?client_id=a&from=100&to=100").await,
        400,
        "invalid_range",
    );
    assert_error(
        &api.get("/aggregates?client_id=a&from=soon").await,
        400,
        "invalid_timestamp",
    );
}

#[tokio::test]
async fn concurrent_resends_in_many_spellings_count_each_event_once() {
    // GIVEN 40 distinct events, each sent by 8 concurrent senders in different spellings
    let api = std::sync::Arc::new(Api::new());
    let client = unique_client("concurrent");
    let spell = |i: i64, variant: i64| -> Value {
        let seconds = 1_763_700_000 + i * 60;
        let timestamp = match variant % 3 {
            0 => json!(seconds),
            1 => json!(seconds * 1000),
            _ => json!(format!("{seconds}")),
        };
        let amount = match variant % 2 {
            0 => json!(format!("{i}.10")),
            _ => json!(format!("{i}.1")),
        };
        event(&client, amount, timestamp)
    };
    let senders = (0..8).map(|variant| {
        let api = api.clone();
        let events: Vec<Value> = (0..40).map(|i| spell(i, variant)).collect();
        async move {
            futures::future::join_all(events.iter().map(|e| api.post("/events", e))).await
        }
    });
    let replies: Vec<_> = futures::future::join_all(senders)
        .await
        .into_iter()
        .flatten()
        .collect();

    // THEN exactly one send of each event was processed, the rest are duplicates
    let processed = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let duplicates = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(processed, 40, "one processed per event");
    assert_eq!(duplicates, 40 * 7);
    let totals = aggregates(&api, &client, "").await;
    assert_eq!(totals["count"], 40);
    let expected: i128 = (0..40).map(|i| nano_units(&format!("{i}.1"))).sum();
    assert_eq!(
        nano_units(totals["total_amount"].as_str().unwrap()),
        expected
    );
}

#[tokio::test]
async fn cross_client_listing_and_failed_listing_find_the_events() {
    let api = Api::new();
    // a second in 1990 that no other test uses, so the cross-client range holds only ours
    let second = 631_152_000 + i64::from(fastrand::u32(..300_000_000));
    let clients = [unique_client("cross-a"), unique_client("cross-b")];
    for client in &clients {
        let reply = api
            .post("/events", &event(client, json!("1"), json!(second)))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    // the cross-client listing reads an index, which may lag by a moment
    let mut found = Vec::new();
    for _ in 0..20 {
        found = list_all(&api, &format!("from={second}&to={}", second + 1), 50).await;
        if found.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let mut seen: Vec<&str> = found
        .iter()
        .map(|e| e["client_id"].as_str().unwrap())
        .collect();
    seen.sort();
    assert_eq!(seen, [clients[0].as_str(), clients[1].as_str()]);

    // a rejected event with a long body is listed by client, its raw body cut at 1 KiB
    let long = json!({"client_id": clients[0], "note": "y".repeat(3000), "payload": {"amount": "x", "timestamp": second}});
    let rejected = api.post("/events", &long).await;
    assert_eq!(rejected.status, StatusCode::UNPROCESSABLE_ENTITY);
    let listed = api
        .get(&format!("/events/failed?client_id={}", encode(&clients[0])))
        .await;
    let item = &listed.body["items"][0];
    assert_eq!(
        item["failed_id"], rejected.body["failed_id"],
        "{}",
        listed.body
    );
    assert_eq!(item["client_id"], clients[0].as_str());
    assert_eq!(item["raw_truncated"], true);
    assert!(item["raw"].as_str().unwrap().len() <= 1024);
    let whole = api
        .get(&format!(
            "/events/failed/{}",
            encode(item["failed_id"].as_str().unwrap())
        ))
        .await;
    assert_eq!(
        whole.body["raw"].as_str().unwrap().len(),
        long.to_string().len()
    );
}

#[tokio::test]
async fn storage_down_answers_503_with_retry_after_and_the_resend_counts_once() {
    // GIVEN the functions with DynamoDB unreachable (a port where nothing listens)
    let down = StorageDown::start().await;
    let client = unique_client("outage");
    let sent = event(&client, json!("2.5"), json!(1_795_161_600));

    // WHEN an event is sent, and read endpoints are asked
    let reply = down.api.post("/events", &sent).await;

    // THEN 503 with Retry-After: not even a failed record could be kept, so resend
    assert_error(&reply, 503, "storage_unavailable");
    assert!(reply.retry_after.is_some(), "Retry-After: {:?}", reply);
    assert!(reply.body.get("failed_id").is_none());
    for path in [
        format!("/aggregates?client_id={}", encode(&client)),
        format!("/events/processed?client_id={}", encode(&client)),
        "/events/failed".to_owned(),
    ] {
        assert_error(&down.api.get(&path).await, 503, "storage_unavailable");
    }
    drop(down);

    // WHEN the client resends once storage is back, THEN it is new and counted once
    let api = Api::new();
    let resent = api.post("/events", &sent).await;
    assert_eq!(resent.status, StatusCode::CREATED, "{}", resent.body);
    let totals = aggregates(&api, &client, "").await;
    assert_eq!(totals["count"], 1);
    assert_eq!(totals["total_amount"], "2.5");
}
