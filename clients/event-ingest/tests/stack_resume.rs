//! End to end against the local stack: `event-ingest send` of an NDJSON file with ~30 %
//! resends in other spellings and ~5 % invalid lines, killed with SIGKILL at three random
//! moments and resumed each time. Afterwards `/aggregates` equals the truth computed
//! here, the rejects file holds exactly the invalid lines, and the report adds up.
//!
//! Needs a running stack: `scripts/stack.py with cargo test -p event-ingest -- --ignored`
//! (`BASE_URL` and `API_KEY` come from `stack.py with`; else `.local/api.env` and
//! `.local/dev.key` of this checkout). `E2E_LINES` sets the size (default 3000).

mod common;

use std::time::Duration;

use common::{
    assert_aggregates_equal_truth, assert_report_and_rejects, read_json, send_command as command,
    stack, InputOnDisk,
};
use serde_json::{json, Value};

#[test]
#[ignore = "needs the local stack: scripts/stack.py with cargo test -p event-ingest -- --ignored"]
fn killed_three_times_and_resumed_every_event_is_counted_exactly_once() {
    // GIVEN an input with resends in other spellings and invalid lines, for fresh clients
    let (url, key) = stack();
    let InputOnDisk {
        input,
        dir,
        file,
        report_path,
        state_path,
    } = common::input_on_disk("cli-e2e", 3000);
    let lines = input.lines;

    // WHEN the command is killed with SIGKILL at three random moments, and resumed each time
    let mut kills = 0;
    for _ in 0..3 {
        let log = std::fs::File::create(dir.path().join(format!("killed-{kills}.log"))).unwrap();
        let mut child = command(&url, &key, &file, &report_path)
            .stderr(log)
            .spawn()
            .expect("start event-ingest");
        // A random moment after this run recorded progress of its own: the kill then lands
        // mid-run, with acknowledged lines before it and unsent ones after it.
        let spawned = std::time::SystemTime::now();
        let waiting = std::time::Instant::now();
        while std::fs::metadata(&state_path)
            .and_then(|m| m.modified())
            .map_or(true, |t| t < spawned)
        {
            assert!(
                waiting.elapsed() < Duration::from_secs(120),
                "no progress recorded"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Up to 1 s, longer for a larger input (10 s at 100,000 lines), so that at full
        // size the kills spread over the run rather than all landing in its first seconds.
        let latest_ms = (lines as u64 / 10).max(1000);
        std::thread::sleep(Duration::from_millis(fastrand::u64(0..latest_ms)));
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run is still going when it is killed"
        );
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        kills += 1;
    }
    assert_eq!(kills, 3);
    let logs: String = (0..3)
        .map(|k| {
            std::fs::read_to_string(dir.path().join(format!("killed-{k}.log"))).unwrap_or_default()
        })
        .collect();
    assert!(
        state_path.exists(),
        "progress was recorded before the kills; their stderr: {logs}"
    );
    let output = command(&url, &key, &file, &report_path)
        .output()
        .expect("run event-ingest");

    // THEN it completes (status 1: some lines rejected)
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let report = read_json(&report_path);
    assert_eq!(report["ending"], json!("complete"), "{report}");
    // the last run resumed: what was acknowledged before the kills was not sent again
    let skipped = report["skipped_acknowledged"].as_u64().unwrap();
    assert!(
        skipped > 0,
        "the resumed run skipped acknowledged lines: {report}"
    );
    assert_eq!(
        report["events_sent"].as_u64().unwrap() + skipped,
        input.valid_lines(),
        "each valid line sent or skipped once in the last run"
    );
    // the report adds up to the input; the rejects file holds exactly the invalid lines
    assert_report_and_rejects(
        &input,
        &report,
        &dir.path().join("events.ndjson.rejects.ndjson"),
    );

    // and /aggregates equals the truth for every client
    assert_aggregates_equal_truth(&url, &key, &input);
    // `event-ingest stats` shows the same numbers
    let (client_id, (count, _)) = input.truth.iter().next().unwrap();
    let stats = common::event_ingest(&url, &key)
        .args(["stats", "--json", "--client", client_id])
        .output()
        .unwrap();
    assert!(
        stats.status.success(),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );
    let shown: Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(shown["count"], json!(count));
    let distinct_events = input.distinct_events();
    eprintln!(
        "{lines} lines, {} invalid, {distinct_events} distinct events; last run: {report}",
        input.invalid.len()
    );
}

#[test]
#[ignore = "needs the local stack: scripts/stack.py with cargo test -p event-ingest -- --ignored"]
fn retry_failed_settles_the_events_the_server_kept_as_failed() {
    // GIVEN 5 events the server fails on purpose (kept, retryable) among 5 ordinary ones
    let (url, key) = stack();
    let client_id = format!("cli-retry-{:08x}", fastrand::u32(..));
    let lines: Vec<String> = (0..10)
        .map(|i| {
            json!({"client_id": client_id, "payload": {"amount": i, "timestamp": 1_795_161_600 + i},
                   "simulateFailure": i % 2 == 0})
            .to_string()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let report_path = dir.path().join("report.json");

    // WHEN they are sent without --retry-failed, then again with it
    let first = command(&url, &key, &file, &report_path).output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let report = read_json(&report_path);
    assert_eq!(
        (report["processed"].clone(), report["failed"].clone()),
        (json!(5), json!(5))
    );
    let failed = report["failed_events"].as_array().unwrap();
    assert!(failed
        .iter()
        .all(|f| f["failed_id"].is_string() && f["retryable"] == json!(true)));
    assert!(failed
        .iter()
        .all(|f| f["code"] == json!("simulated_failure")));

    let second = command(&url, &key, &file, &report_path)
        .arg("--retry-failed")
        .output()
        .unwrap();

    // THEN the resumed run sends nothing again, retries the 5 kept events, and all 10 count
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let report = read_json(&report_path);
    assert_eq!(report["events_sent"], json!(0));
    assert_eq!(report["retried_failed"], json!(5));
    assert_eq!(
        (report["processed"].clone(), report["failed"].clone()),
        (json!(10), json!(0))
    );
    assert_eq!(
        common::aggregate(&url, &key, &client_id),
        (10, 45 * 1_000_000_000)
    );
}
