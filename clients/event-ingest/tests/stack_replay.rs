//! End to end against the local stack: `event-ingest failed replay` of many kept failed
//! records, twice at once while `failed list --json` reads them: every record is counted
//! exactly once, the reports' per-record outcomes say so, a later replay counts nothing new,
//! and another tenant's records of the same client id stay as they were.
//!
//! Needs a running stack: `scripts/stack.py with cargo test -p event-ingest -- --ignored`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use common::{aggregate, event_ingest, read_json, stack};
use serde_json::{json, Value};

/// Kept failed records of the main tenant: more than one page of the replay (100).
const FAILED: u64 = 150;
/// Rejected records of the main tenant: listed as skipped, never replayed.
const REJECTED: u64 = 5;
/// Kept failed records of the other tenant, for the same client id.
const OTHER_TENANT_FAILED: u64 = 20;

/// `count` events of `client_id` (amounts 1..=count) that the server fails on purpose and
/// keeps as failed, in one batch request; their `failed_id`s.
async fn keep_failed(url: &str, key: &str, client_id: &str, count: u64) -> Vec<String> {
    let events: Vec<Value> = (1..=count)
        .map(|i| json!({"client_id": client_id, "payload": {"amount": i, "timestamp": 1_795_161_600 + i as i64}, "simulateFailure": true}))
        .collect();
    let answer: Value = reqwest::Client::new()
        .post(format!("{url}/events"))
        .header("x-api-key", key)
        .json(&json!({ "events": events }))
        .send()
        .await
        .expect("POST /events")
        .json()
        .await
        .expect("a JSON answer");
    assert_eq!(answer["failed"], json!(count), "{answer}");
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["failed_id"].as_str().expect("a kept record").to_owned())
        .collect()
}

/// One invalid event of `client_id`, kept by the server as rejected.
async fn keep_rejected(url: &str, key: &str, client_id: &str) {
    let reply = reqwest::Client::new()
        .post(format!("{url}/events"))
        .header("x-api-key", key)
        .json(&json!({"client_id": client_id, "payload": {"amount": "abc", "timestamp": 1_795_161_600}}))
        .send()
        .await
        .expect("POST /events");
    assert_eq!(reply.status().as_u16(), 422);
}

/// Every kept record of `client_id` at `url` with `key`, by `failed_id`, from
/// `event-ingest failed list --json --all`.
fn listed(url: &str, key: &str, client_id: &str) -> BTreeMap<String, Value> {
    let output = list_command(url, key, client_id).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    parse_listing(&output)
}

fn list_command(url: &str, key: &str, client_id: &str) -> Command {
    let mut command = event_ingest(url, key);
    command.args(["failed", "list", "--json", "--all", "--client", client_id]);
    command
}

fn parse_listing(output: &Output) -> BTreeMap<String, Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).expect("one JSON record per line");
            (record["failed_id"].as_str().unwrap().to_owned(), record)
        })
        .collect()
}

fn replay_command(url: &str, key: &str, client_id: &str, report: &Path) -> Command {
    let mut command = event_ingest(url, key);
    command
        .args([
            "failed", "replay", "--quiet", "--client", client_id, "--report",
        ])
        .arg(report);
    command
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn count(report: &Value, key: &str) -> u64 {
    report[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {report}"))
}

/// The sum of amounts 1..=n, in nano units.
fn total_of_first(n: u64) -> i128 {
    (n * (n + 1) / 2) as i128 * 1_000_000_000
}

#[test]
#[ignore = "needs the local stack: scripts/stack.py with cargo test -p event-ingest -- --ignored"]
fn two_concurrent_replays_count_each_failed_record_once_and_leave_other_tenants_alone() {
    // GIVEN kept failed and rejected records of a fresh client, and another tenant's kept
    // failed records of the same client id
    let (url, key) = stack();
    let client_id = format!("cli-replay-{:08x}", fastrand::u32(..));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (failed_ids, other_key) = runtime.block_on(async {
        let failed_ids = keep_failed(&url, &key, &client_id, FAILED).await;
        for _ in 0..REJECTED {
            keep_rejected(&url, &key, &client_id).await;
        }
        let (_, other_key) = integration_tests::new_tenant("cli-replay-other", "*").await;
        keep_failed(&url, &other_key, &client_id, OTHER_TENANT_FAILED).await;
        (failed_ids, other_key)
    });
    let before = listed(&url, &key, &client_id);
    assert_eq!(before.len() as u64, FAILED + REJECTED);
    let other_before = listed(&url, &other_key, &client_id);
    assert_eq!(other_before.len() as u64, OTHER_TENANT_FAILED);

    // WHEN two `failed replay` runs of that client go at once, while `failed list --json` reads
    let dir = tempfile::tempdir().unwrap();
    let reports = [
        dir.path().join("first.json"),
        dir.path().join("second.json"),
    ];
    let replays: Vec<_> = reports
        .iter()
        .map(|report| {
            replay_command(&url, &key, &client_id, report)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start event-ingest failed replay")
        })
        .collect();
    let listing_meanwhile = list_command(&url, &key, &client_id).output().unwrap();
    let outputs: Vec<Output> = replays
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();

    // THEN both complete with nothing failed, and the listing read meanwhile is whole
    for output in &outputs {
        assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    }
    assert!(
        listing_meanwhile.status.success(),
        "{}",
        stderr(&listing_meanwhile)
    );
    let meanwhile = parse_listing(&listing_meanwhile);
    assert_eq!(meanwhile.len() as u64, FAILED + REJECTED);
    assert!(meanwhile
        .values()
        .all(|r| r["client_id"] == json!(client_id)));

    // each report adds up: every record of the selection read, the rejected ones skipped
    let reports: Vec<Value> = reports.iter().map(|r| read_json(r)).collect();
    for report in &reports {
        assert_eq!(report["ending"], json!("complete"), "{report}");
        assert_eq!(count(report, "failed"), 0, "{report}");
        assert_eq!(count(report, "skipped"), REJECTED, "{report}");
        assert_eq!(
            count(report, "processed") + count(report, "duplicate") + count(report, "skipped"),
            count(report, "records"),
            "{report}"
        );
        let by_status: u64 = report["by_status"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(by_status, count(report, "records"), "{report}");
    }
    // each failed record was counted by exactly one of the two runs; the other, if it met it,
    // was answered duplicate
    let processed: u64 = reports.iter().map(|r| count(r, "processed")).sum();
    assert_eq!(processed, FAILED, "{reports:?}");
    assert!(reports
        .iter()
        .all(|r| count(r, "processed") + count(r, "duplicate") <= FAILED));
    // /aggregates counts each record once
    assert_eq!(
        aggregate(&url, &key, &client_id),
        (FAILED, total_of_first(FAILED))
    );
    // every failed record is now `retried`, the rejected ones still `rejected`
    let after = listed(&url, &key, &client_id);
    for id in &failed_ids {
        assert_eq!(after[id]["status"], json!("retried"), "{}", after[id]);
        assert!(count(&after[id], "attempts") >= 2, "{}", after[id]);
    }
    let rejected: Vec<&Value> = after
        .values()
        .filter(|r| r["status"] == json!("rejected"))
        .collect();
    assert_eq!(rejected.len() as u64, REJECTED);

    // WHEN the same replay runs once more
    let again_path = dir.path().join("again.json");
    let again = replay_command(&url, &key, &client_id, &again_path)
        .output()
        .unwrap();

    // THEN it processes nothing new (only the rejected records again, as skipped)
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let again = read_json(&again_path);
    assert_eq!(count(&again, "processed"), 0, "{again}");
    assert_eq!(count(&again, "failed"), 0, "{again}");
    assert_eq!(count(&again, "skipped"), REJECTED, "{again}");
    assert_eq!(
        aggregate(&url, &key, &client_id),
        (FAILED, total_of_first(FAILED))
    );

    // and the other tenant's records of the same client id are untouched, and not counted
    let other_after = listed(&url, &other_key, &client_id);
    assert_eq!(other_after, other_before);
    assert!(other_after.values().all(|r| r["status"] == json!("failed")));
    assert_eq!(aggregate(&url, &other_key, &client_id), (0, 0));
    eprintln!(
        "{FAILED} failed + {REJECTED} rejected records; concurrent replays: {:?}; again: {}",
        reports
            .iter()
            .map(|r| (r["by_status"].clone(), r["requests"].clone()))
            .collect::<Vec<_>>(),
        again["by_status"]
    );
}
