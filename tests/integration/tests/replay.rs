//! The bulk replay end to end over HTTP (`POST /events/failed/retry`): many kept failed
//! records (simulated failures, repeats of one event, events counted meanwhile, rejected ones)
//! replayed by two bulk replays at once while single retries run beside them. Afterwards every
//! event counts once in `/aggregates`, each answer says what really happened to its record, a
//! third replay has nothing left to retry, and another tenant's records of the same client id
//! are untouched.

use std::collections::{HashMap, HashSet};

use event_core::{normalize_event, EventTimestamp};
use integration_tests::{assert_error, new_tenant, stack_base_url, unique_client, Api, Reply};
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// Event `n` of `client`: amount `n`.25, within the last day.
fn event(client: &str, n: u32) -> Value {
    json!({"client_id": client, "source": "replay-e2e",
           "payload": {"metric": "purchase", "amount": format!("{n}.25"), "timestamp": "2026-11-20T08:00:00Z"}})
}

fn failing(client: &str, n: u32) -> Value {
    let mut event = event(client, n);
    event["simulateFailure"] = json!(true);
    event
}

/// The event hash the service computes for `event` (the same core, so the same hash).
fn hash_of(event: &Value) -> String {
    let raw = RawValue::from_string(event.to_string()).unwrap();
    let now = EventTimestamp::from_unix_nanos(1_800_000_000_000_000_000).unwrap();
    normalize_event(&raw, now).unwrap().hash.to_string()
}

/// Send `events` as one batch; the `failed_id` of every item, in order.
async fn keep_all(api: &Api, events: &[Value]) -> Vec<String> {
    let reply = api.post("/events", &json!({"events": events})).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| {
            assert_eq!(result["status"], "failed", "{result}");
            result["failed_id"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Every result of a bulk replay of `selection`, followed to its end with pages of `limit`.
async fn replay_all(api: &Api, selection: Value, limit: u32) -> Vec<Value> {
    let mut body = selection;
    body["limit"] = json!(limit);
    let mut results = Vec::new();
    for _ in 0..1_000 {
        let reply: Reply = api.post("/events/failed/retry", &body).await;
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
        results.extend(reply.body["results"].as_array().unwrap().iter().cloned());
        match &reply.body["next_cursor"] {
            Value::Null => return results,
            cursor => body["cursor"] = cursor.clone(),
        }
    }
    panic!("the replay did not end");
}

/// `(status, event_hash)` answered by the single retry of `id`.
async fn retry_one(api: &Api, id: &str) -> (String, String) {
    let reply = api
        .post_raw(&format!("/events/failed/{id}/retry"), "")
        .await;
    assert!(
        [200, 201].contains(&reply.status.as_u16()),
        "{id}: {}",
        reply.body
    );
    (
        reply.body["status"].as_str().unwrap().to_owned(),
        reply.body["event_hash"].as_str().unwrap().to_owned(),
    )
}

async fn record_status(api: &Api, id: &str) -> String {
    let reply = api.get(&format!("/events/failed/{id}")).await;
    assert_eq!(reply.status.as_u16(), 200, "{id}: {}", reply.body);
    reply.body["status"].as_str().unwrap().to_owned()
}

async fn count_of(api: &Api, client: &str) -> (u64, String) {
    let reply = api.get(&format!("/aggregates?client_id={client}")).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    (
        reply.body["count"].as_u64().unwrap(),
        reply.body["total_amount"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_bulk_replays_and_single_retries_at_once_count_every_event_exactly_once() {
    // GIVEN tenant A and tenant B, both owning client ids `rp-*`, and one client id they share
    let base = stack_base_url();
    let (_, key_a) = new_tenant("replay-a", "rp-*").await;
    let (_, key_b) = new_tenant("replay-b", "rp-*").await;
    let a = Api::at(&base).with_key(Some(&key_a));
    let b = Api::at(&base).with_key(Some(&key_b));
    let client = unique_client("rp");

    // AND, kept by A: 60 failed events, a second failed copy of 10 of them, 5 failed events
    // that were then sent again and counted, and 4 rejected events
    let firsts: Vec<Value> = (0..60).map(|n| failing(&client, n)).collect();
    let mut failed_ids = keep_all(&a, &firsts).await;
    let mut event_of: HashMap<String, Value> = failed_ids
        .iter()
        .cloned()
        .zip(firsts.iter().cloned())
        .collect();
    let copies: Vec<Value> = (0..10).map(|n| failing(&client, n * 6)).collect();
    for (id, event) in keep_all(&a, &copies).await.into_iter().zip(copies) {
        failed_ids.push(id.clone());
        event_of.insert(id, event);
    }
    let counted_first: Vec<Value> = (100..105).map(|n| failing(&client, n)).collect();
    for (id, event) in keep_all(&a, &counted_first)
        .await
        .into_iter()
        .zip(counted_first)
    {
        let mut plain = event.clone();
        plain.as_object_mut().unwrap().remove("simulateFailure");
        assert_eq!(a.post("/events", &plain).await.status.as_u16(), 201);
        failed_ids.push(id.clone());
        event_of.insert(id, event);
    }
    let invalid: Vec<Value> = (0..4)
        .map(|n| json!({"client_id": client, "payload": {"amount": format!("not{n}"), "timestamp": "2026-11-20T08:00:00Z"}}))
        .collect();
    let reply = a.post("/events", &json!({"events": invalid})).await;
    let rejected_ids: HashSet<String> = reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["failed_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(rejected_ids.len(), 4);
    // AND, kept by B under the same client id: 10 failed events
    let theirs = keep_all(
        &b,
        &(0..10).map(|n| failing(&client, n)).collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(count_of(&a, &client).await.0, 5);

    // WHEN A runs two bulk replays of the client (pages of 7 and of 100) and single retries
    // of every fourth record, all at once
    let selection = json!({"client_id": client});
    let singles: Vec<&String> = failed_ids.iter().step_by(4).collect();
    let (first, second, single) = tokio::join!(
        replay_all(&a, selection.clone(), 7),
        replay_all(&a, selection.clone(), 100),
        futures::future::join_all(singles.iter().map(|id| retry_one(&a, id))),
    );

    // THEN every distinct event counts once: 60 + 5 events, exact total
    let distinct: HashSet<String> = event_of.values().map(hash_of).collect();
    assert_eq!(distinct.len(), 65);
    let expected_total: u64 = (0..60).chain(100..105).map(|n| n * 100 + 25).sum();
    let (count, total) = count_of(&a, &client).await;
    assert_eq!(count, 65);
    assert_eq!(
        total,
        format!("{}.{:02}", expected_total / 100, expected_total % 100)
    );

    // AND every answer is right for its record: processed or duplicate with its event's hash,
    // and across all answers each event was processed at most once (the 5 counted before: never)
    let mut processed_per_event: HashMap<String, usize> = HashMap::new();
    let mut answered: HashSet<String> = HashSet::new();
    let bulk = first.iter().chain(&second);
    for result in bulk {
        let id = result["failed_id"].as_str().unwrap();
        if rejected_ids.contains(id) {
            assert_eq!(result["status"], "skipped", "{result}");
            assert_eq!(result["code"], "not_retryable", "{result}");
            continue;
        }
        let event = event_of
            .get(id)
            .unwrap_or_else(|| panic!("not A's record: {result}"));
        let status = result["status"].as_str().unwrap();
        assert!(["processed", "duplicate"].contains(&status), "{result}");
        assert_eq!(
            result["event_hash"].as_str().unwrap(),
            hash_of(event),
            "{result}"
        );
        if status == "processed" {
            *processed_per_event.entry(hash_of(event)).or_default() += 1;
        }
        answered.insert(id.to_owned());
    }
    for ((status, hash), id) in single.iter().zip(&singles) {
        assert_eq!(*hash, hash_of(&event_of[*id]));
        if status == "processed" {
            *processed_per_event.entry(hash.clone()).or_default() += 1;
        }
        answered.insert((*id).clone());
    }
    assert!(
        processed_per_event.values().all(|n| *n == 1),
        "an event processed twice: {processed_per_event:?}"
    );
    assert_eq!(
        processed_per_event.len(),
        60,
        "the 60 failed events, not the 5 counted before"
    );
    assert_eq!(
        answered.len(),
        failed_ids.len(),
        "every failed record was answered"
    );
    for id in &rejected_ids {
        assert!(first.iter().any(|r| r["failed_id"] == *id));
        assert!(second.iter().any(|r| r["failed_id"] == *id));
    }

    // AND every failed record is settled, the rejected ones are not
    for id in &failed_ids {
        assert_eq!(record_status(&a, id).await, "retried", "{id}");
    }
    for id in &rejected_ids {
        assert_eq!(record_status(&a, id).await, "rejected", "{id}");
    }

    // AND a third replay retries nothing: it lists only the rejected records, as skipped
    let third = replay_all(&a, selection.clone(), 100).await;
    let statuses: Vec<&str> = third
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(third.len(), 4, "the third replay answered {statuses:?}");
    assert!(third.iter().all(|r| r["status"] == "skipped"));
    assert_eq!(count_of(&a, &client).await.0, 65);

    // AND B's records of the same client id are untouched, and B counts nothing
    for id in &theirs {
        assert_eq!(record_status(&b, id).await, "failed", "{id}");
        let reply = a.get(&format!("/events/failed/{id}")).await;
        assert_error(&reply, 404, "not_found");
    }
    assert_eq!(count_of(&b, &client).await.0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bad_selection_is_a_typed_400_and_another_tenants_client_a_403() {
    let base = stack_base_url();
    let (_, key) = new_tenant("replay-c", "rpc-*").await;
    let api = Api::at(&base).with_key(Some(&key));

    let cases = [
        (json!({"limit": 0}), 400, "invalid_limit"),
        (json!({"limit": 101}), 400, "invalid_limit"),
        (json!({"cursor": "garbage"}), 400, "invalid_cursor"),
        (json!({"from": "soon"}), 400, "invalid_timestamp"),
        (json!({"clientid": "rpc-x"}), 400, "invalid_field"),
        (
            json!({"client_id": "other-client"}),
            403,
            "client_not_allowed",
        ),
    ];
    for (body, status, code) in cases {
        let reply = api.post("/events/failed/retry", &body).await;
        assert_error(&reply, status, code);
    }
    let reply = api.post_raw("/events/failed/retry", "{not json").await;
    assert_error(&reply, 400, "invalid_json");
    let reply = Api::at(&base)
        .post("/events/failed/retry", &json!({}))
        .await;
    assert_error(&reply, 401, "unauthorized");
    // An empty body is every record of the tenant: none yet.
    let reply = api.post_raw("/events/failed/retry", "").await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(reply.body, json!({"results": [], "next_cursor": null}));
}
