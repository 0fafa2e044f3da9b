//! The local stack answers every request the functions answer, however large the answer:
//! 16 concurrent clients fetch, 2,000 times in all, a failed listing of about 64 KB, one of
//! about 1 MB and a batch answer of 500 events, and every answer must arrive whole (a 200 with
//! the JSON the function wrote: every item there) and none may be the local emulator's own
//! 500. `cargo lambda watch` 1.9.2 lost answers above ~16 KB under concurrent load until
//! `scripts/devstack/respawn.py` sent each function's answer to it on a connection of its own
//! (why: that file's docstring).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use integration_tests::{encode, is_emulator_500, unique_client, Api, StatusCode};
use reqwest::Method;
use serde_json::Value;

const FETCHES: usize = 2_000;
const CLIENTS: usize = 16;

/// A rejected event whose raw text is ~1 KiB of escaped quotes: listed with its first KiB,
/// each `\"` of it written as `\\\"`, about 2 KB per listed record.
fn rejected_event(client: &str, i: usize) -> String {
    format!(
        r#"{{"client_id":"{client}","n":{i},"pad":"{}","payload":{{"metric":"m","amount":"1"}}}}"#,
        r#"\""#.repeat(520)
    )
}

fn valid_event(client: &str, i: usize) -> String {
    format!(
        r#"{{"client_id":"{client}","event_id":"e{i}","payload":{{"metric":"m","amount":"{i}","timestamp":"2026-06-01T00:00:00Z"}}}}"#
    )
}

/// What one kind of fetch must bring back.
struct Fetch {
    name: &'static str,
    method: Method,
    path: String,
    body: Option<String>,
    /// The answer's `items` (a listing) or `results` (a batch) holds this many entries.
    entries: usize,
    /// At least this many bytes.
    min_bytes: usize,
}

#[derive(Default)]
struct Outcomes {
    whole: BTreeCount,
    broken: Vec<String>,
}

type BTreeCount = std::collections::BTreeMap<&'static str, (u64, usize)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_answers_arrive_whole_under_concurrency() {
    let api = Api::new();
    let client = unique_client("large");

    // GIVEN 500 rejected events of one client (kept with their raw text), and 500 counted ones
    let rejected: Vec<String> = (0..500).map(|i| rejected_event(&client, i)).collect();
    let kept = api
        .post_raw(
            "/events",
            format!(r#"{{"events":[{}]}}"#, rejected.join(",")),
        )
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
    assert_eq!(kept.body["failed"], 500, "every event rejected and kept");
    let batch = format!(
        r#"{{"events":[{}]}}"#,
        (0..500)
            .map(|i| valid_event(&client, i))
            .collect::<Vec<_>>()
            .join(",")
    );
    let counted = api.post_raw("/events", batch.clone()).await;
    assert_eq!(counted.body["processed"], 500, "{}", counted.body);

    let listing =
        |limit: usize| format!("/events/failed?client_id={}&limit={limit}", encode(&client));
    let kinds = Arc::new([
        Fetch {
            name: "failed listing, 32 records (~64 KB)",
            method: Method::GET,
            path: listing(32),
            body: None,
            entries: 32,
            min_bytes: 64_000,
        },
        Fetch {
            name: "failed listing, 500 records (~1 MB)",
            method: Method::GET,
            path: listing(500),
            body: None,
            entries: 500,
            min_bytes: 1_000_000,
        },
        Fetch {
            name: "batch answer, 500 duplicates",
            method: Method::POST,
            path: "/events".to_owned(),
            body: Some(batch),
            entries: 500,
            min_bytes: 50_000,
        },
    ]);

    // WHEN 16 clients fetch them 2,000 times in all (mostly the 64 KB listing: the 1 MB one
    // costs the emulator's DynamoDB a 500-item query each time)
    let next = Arc::new(AtomicU64::new(0));
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (next, outcomes, kinds) = (next.clone(), outcomes.clone(), kinds.clone());
            let api = Api::new();
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if n >= FETCHES {
                        break;
                    }
                    let kind = &kinds[match n % 10 {
                        0 => 1,
                        1 | 2 => 2,
                        _ => 0,
                    }];
                    let verdict = fetch_whole(&api, kind).await;
                    let mut outcomes = outcomes.lock().unwrap();
                    match verdict {
                        Ok(bytes) => {
                            let seen = outcomes.whole.entry(kind.name).or_default();
                            seen.0 += 1;
                            seen.1 = seen.1.max(bytes);
                        }
                        Err(why) => outcomes.broken.push(format!("{}: {why}", kind.name)),
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a client task panicked");
    }

    // THEN every answer arrived whole
    let outcomes = outcomes.lock().unwrap();
    for (name, (count, largest)) in &outcomes.whole {
        eprintln!("{name}: {count} answers whole, the largest {largest} bytes");
    }
    assert!(
        outcomes.broken.is_empty(),
        "{} of {FETCHES} answers were not whole; first ones:\n{}",
        outcomes.broken.len(),
        outcomes.broken[..outcomes.broken.len().min(5)].join("\n")
    );
    assert_eq!(
        outcomes.whole.values().map(|(n, _)| n).sum::<u64>(),
        FETCHES as u64
    );
}

/// The size of the answer when it is whole, else why not.
async fn fetch_whole(api: &Api, kind: &Fetch) -> Result<usize, String> {
    let (status, bytes) = api
        .fetch(kind.method.clone(), &kind.path, kind.body.clone())
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "{status}, {} bytes that are not whole JSON ({e})",
            bytes.len()
        )
    })?;
    if is_emulator_500(status.as_u16(), &body) {
        return Err(format!("the local emulator's own 500: {body}"));
    }
    let entries = body["items"]
        .as_array()
        .or_else(|| body["results"].as_array())
        .map_or(0, Vec::len);
    if status != StatusCode::OK || entries != kind.entries || bytes.len() < kind.min_bytes {
        return Err(format!(
            "{status} with {entries} entries in {} bytes (want 200, {} entries, >= {} bytes)",
            bytes.len(),
            kind.entries,
            kind.min_bytes
        ));
    }
    Ok(bytes.len())
}
