//! End to end against the local stack: `event-ingest send` of an NDJSON file with ~30 %
//! resends in other spellings and ~5 % invalid lines, killed with SIGKILL at three random
//! moments and resumed each time. Afterwards `/aggregates` equals the truth computed
//! here, the rejects file holds exactly the invalid lines, and the report adds up.
//!
//! Needs a running stack: `scripts/stack.py with cargo test -p event-ingest -- --ignored`
//! (`BASE_URL` and `API_KEY` come from `stack.py with`; else `.local/api.env` and
//! `.local/dev.key` of this checkout). `E2E_LINES` sets the size (default 3000).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use event_core::{normalize_event, AmountSum, EventTimestamp};
use event_ingest::{Client, StatsQuery};
use serde_json::{json, Value};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stack() -> (String, String) {
    let local = repo_root().join(".local");
    let url = std::env::var("BASE_URL").ok().or_else(|| {
        std::fs::read_to_string(local.join("api.env"))
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("BASE_URL=").map(str::to_owned))
    });
    let key = std::env::var("API_KEY")
        .ok()
        .filter(|k| !k.is_empty())
        .or_else(|| std::fs::read_to_string(local.join("dev.key")).ok());
    match (url, key) {
        (Some(url), Some(key)) => (url.trim().to_owned(), key.trim().to_owned()),
        _ => panic!(
            "no local stack: run `scripts/stack.py with cargo test -p event-ingest -- --ignored`"
        ),
    }
}

/// One real event, and how to spell it in several ways.
#[derive(Clone)]
struct Event {
    client: String,
    metric: &'static str,
    /// Hundredths.
    cents: i64,
    epoch: i64,
}

impl Event {
    fn spell(&self, how: usize) -> String {
        let sign = if self.cents < 0 { "-" } else { "" };
        let amount = format!(
            "{sign}{}.{:02}",
            self.cents.abs() / 100,
            self.cents.abs() % 100
        );
        match how % 4 {
            0 => json!({"client_id": self.client, "source": "e2e", "payload": {"metric": self.metric, "amount": amount, "timestamp": self.epoch}}).to_string(),
            // key order, white space, amount as a number with trailing zeros, RFC 3339 with an offset
            1 => {
                let t = EventTimestamp::from_unix_nanos((self.epoch + 7200) * 1_000_000_000).unwrap();
                format!(
                    r#"{{ "payload" : {{ "timestamp" : "{}", "amount" : {amount}0, "metric" : "{}" }},   "client_id" : "{}" }}"#,
                    t.to_string().replace('Z', "+02:00"),
                    self.metric,
                    self.client
                )
            }
            // epoch milliseconds, amount with an exponent, another source
            2 => json!({"payload": {"amount": format!("{}e-2", self.cents), "timestamp": self.epoch * 1000, "metric": self.metric}, "client_id": self.client, "source": "other"}).to_string(),
            // UTC text without offset
            _ => {
                let t = EventTimestamp::from_unix_nanos(self.epoch * 1_000_000_000).unwrap().to_string();
                format!(r#"{{"client_id":"{}","payload":{{"timestamp":"{}","metric":"{}","amount":"{amount}"}}}}"#, self.client, t.trim_end_matches('Z'), self.metric)
            }
        }
    }
}

fn invalid_line(i: usize, client: &str) -> String {
    match i % 5 {
        0 => format!(r#"{{"client_id":"{client}","payload":{{"amount":"12"}}}}"#),
        1 => format!(
            r#"{{"client_id":"{client}","payload":{{"amount":"abc","timestamp":1795161600}}}}"#
        ),
        2 => "this is not json".to_owned(),
        3 => r#"{"client_id":"bad client","payload":{"timestamp":1795161600}}"#.to_owned(),
        _ => format!(
            r#"{{"client_id":"{client}","payload":{{"timestamp":1795161600}},"pad":"{}"}}"#,
            "x".repeat(33 * 1024)
        ),
    }
}

struct Input {
    text: String,
    lines: usize,
    invalid: HashSet<u64>,
    /// client -> (count, total in nano units)
    truth: BTreeMap<String, (u64, i128)>,
}

fn make_input(lines: usize, clients: &[String]) -> Input {
    let mut rng = fastrand::Rng::with_seed(fastrand::u64(..));
    let mut real: Vec<Event> = Vec::new();
    let mut out = Vec::new();
    let mut invalid = HashSet::new();
    for n in 1..=lines {
        let roll = rng.u32(0..100);
        if roll < 5 {
            out.push(invalid_line(n, &clients[rng.usize(..clients.len())]));
            invalid.insert(n as u64);
        } else if roll < 35 && !real.is_empty() {
            let event = &real[rng.usize(..real.len())];
            out.push(event.spell(rng.usize(..4)));
        } else {
            let event = Event {
                client: clients[rng.usize(..clients.len())].clone(),
                metric: ["purchase", "refund", "view"][rng.usize(..3)],
                cents: rng.i64(-5_000..100_000),
                epoch: 1_795_161_600 + rng.i64(0..3 * 86_400),
            };
            out.push(event.spell(rng.usize(..4)));
            real.push(event);
        }
    }
    // The truth, by the server's own rules: one count per distinct hash.
    let now = EventTimestamp::from_unix_nanos(i64::MAX / 2).unwrap();
    let mut seen = HashSet::new();
    let mut truth: BTreeMap<String, (u64, i128)> =
        clients.iter().map(|c| (c.clone(), (0, 0))).collect();
    for (i, line) in out.iter().enumerate() {
        if invalid.contains(&(i as u64 + 1)) {
            continue;
        }
        let raw = serde_json::value::RawValue::from_string(line.clone()).unwrap();
        let parsed = normalize_event(&raw, now).expect("a valid line");
        if seen.insert(parsed.hash) {
            let entry = truth.get_mut(parsed.event.client_id.as_str()).unwrap();
            entry.0 += 1;
            entry.1 += parsed.event.amount.nano_units();
        }
    }
    assert_eq!(
        seen.len(),
        real.len(),
        "each respelling hashes as its original"
    );
    Input {
        text: out.join("\n") + "\n",
        lines,
        invalid,
        truth,
    }
}

fn command(url: &str, key: &str, file: &Path, report: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_event-ingest"));
    command
        .args([
            "send",
            "--quiet",
            "--batch-size",
            "100",
            "--concurrency",
            "4",
        ])
        .env("EVENT_INGEST_URL", url)
        .env("EVENT_INGEST_KEY", key)
        .arg("--report")
        .arg(report)
        .arg(file);
    command
}

#[test]
#[ignore = "needs the local stack: scripts/stack.py with cargo test -p event-ingest -- --ignored"]
fn killed_three_times_and_resumed_every_event_is_counted_exactly_once() {
    // GIVEN an input with resends in other spellings and invalid lines, for fresh clients
    let (url, key) = stack();
    let lines: usize = std::env::var("E2E_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let run = format!("{:08x}", fastrand::u32(..));
    let clients: Vec<String> = (0..4).map(|i| format!("cli-e2e-{run}-{i}")).collect();
    let input = make_input(lines, &clients);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    std::fs::write(&file, &input.text).unwrap();
    let report_path = dir.path().join("report.json");
    let state_path = dir.path().join("events.ndjson.event-ingest-state");

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
        std::thread::sleep(Duration::from_millis(fastrand::u64(0..1000)));
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
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(report["ending"], json!("complete"), "{report}");
    // the last run resumed: what was acknowledged before the kills was not sent again
    let skipped = report["skipped_acknowledged"].as_u64().unwrap();
    assert!(
        skipped > 0,
        "the resumed run skipped acknowledged lines: {report}"
    );
    let valid = (input.lines - input.invalid.len()) as u64;
    assert_eq!(
        report["events_sent"].as_u64().unwrap() + skipped,
        valid,
        "each valid line sent or skipped once in the last run"
    );
    // the report adds up to the input
    let sum: u64 = ["processed", "duplicate", "rejected", "failed"]
        .iter()
        .map(|k| report[k].as_u64().unwrap())
        .sum();
    assert_eq!(sum, input.lines as u64, "{report}");
    assert_eq!(report["rejected"], json!(input.invalid.len()));
    assert_eq!(report["failed"], json!(0));
    // the rejects file holds exactly the invalid lines, once each
    let rejects = std::fs::read_to_string(dir.path().join("events.ndjson.rejects.ndjson")).unwrap();
    let mut rejected = Vec::new();
    for line in rejects.lines() {
        let reject: Value = serde_json::from_str(line).unwrap();
        assert!(
            reject["code"].as_str().is_some_and(|c| !c.is_empty())
                && reject["message"].as_str().is_some()
        );
        rejected.push(reject["record"].as_u64().unwrap());
    }
    let distinct: HashSet<u64> = rejected.iter().copied().collect();
    assert_eq!(distinct.len(), rejected.len(), "no line rejected twice");
    assert_eq!(distinct, input.invalid);

    // and /aggregates equals the truth for every client
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::builder(&url, &key).build().unwrap();
    let mut counted = HashMap::new();
    for (client_id, (count, nanos)) in &input.truth {
        let answer = runtime
            .block_on(client.aggregates(&StatsQuery {
                client_id: client_id.clone(),
                ..StatsQuery::default()
            }))
            .expect("aggregates");
        let total = AmountSum::parse(answer["total_amount"].as_str().unwrap())
            .unwrap()
            .nano_units();
        assert_eq!(
            (answer["count"].as_u64().unwrap(), total),
            (*count, *nanos),
            "client {client_id}: {answer}"
        );
        counted.insert(client_id.clone(), *count);
    }
    // `event-ingest stats` shows the same numbers
    let (client_id, (count, _)) = input.truth.iter().next().unwrap();
    let stats = std::process::Command::new(env!("CARGO_BIN_EXE_event-ingest"))
        .args(["stats", "--json", "--client", client_id])
        .env("EVENT_INGEST_URL", &url)
        .env("EVENT_INGEST_KEY", &key)
        .output()
        .unwrap();
    assert!(
        stats.status.success(),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );
    let shown: Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(shown["count"], json!(count));
    let distinct_events: u64 = counted.values().sum();
    assert!(report["processed"].as_u64().unwrap() <= distinct_events);
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
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
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
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(report["events_sent"], json!(0));
    assert_eq!(report["retried_failed"], json!(5));
    assert_eq!(
        (report["processed"].clone(), report["failed"].clone()),
        (json!(10), json!(0))
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer = runtime
        .block_on(
            Client::builder(&url, &key)
                .build()
                .unwrap()
                .aggregates(&StatsQuery {
                    client_id,
                    ..StatsQuery::default()
                }),
        )
        .unwrap();
    assert_eq!(answer["count"], json!(10));
    assert_eq!(answer["total_amount"], json!("45"));
}
