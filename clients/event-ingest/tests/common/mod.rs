//! What the stack tests share: where the local stack is, an NDJSON input with resends in
//! other spellings and invalid lines together with its truth, the `event-ingest` command, and
//! the checks of a finished run (report, rejects file, `/aggregates`).

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use event_core::{normalize_event, AmountSum, EventTimestamp};
use event_ingest::{Client, StatsQuery};
use serde_json::{json, Value};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The main stack's base URL and development key: from `scripts/stack.py with` (`BASE_URL`,
/// `API_KEY`), else `.local/api.env` and `.local/dev.key` of this checkout.
pub fn stack() -> (String, String) {
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

/// `E2E_LINES`, else `default`.
pub fn lines_from_env(default: usize) -> usize {
    std::env::var("E2E_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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

pub struct Input {
    pub text: String,
    pub lines: usize,
    /// Line numbers (from 1) of the invalid lines.
    pub invalid: HashSet<u64>,
    /// client -> (count, total in nano units)
    pub truth: BTreeMap<String, (u64, i128)>,
}

impl Input {
    pub fn valid_lines(&self) -> u64 {
        (self.lines - self.invalid.len()) as u64
    }

    pub fn distinct_events(&self) -> u64 {
        self.truth.values().map(|(count, _)| count).sum()
    }
}

/// `lines` lines for `clients`: ~5 % invalid, ~30 % resends of earlier events in other
/// spellings, the rest new events.
pub fn make_input(lines: usize, clients: &[String]) -> Input {
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

/// `event-ingest` at `url` with `key`, from the environment (never on the command line).
/// An input of `make_input` for four fresh clients named `{prefix}-{run}-{i}`
/// (`lines_from_env(default_lines)` lines), written to `events.ndjson` in a temporary folder,
/// with the paths of its report and state files beside it.
pub struct InputOnDisk {
    pub input: Input,
    pub dir: tempfile::TempDir,
    pub file: PathBuf,
    pub report_path: PathBuf,
    pub state_path: PathBuf,
}

pub fn input_on_disk(prefix: &str, default_lines: usize) -> InputOnDisk {
    let lines = lines_from_env(default_lines);
    let run = format!("{:08x}", fastrand::u32(..));
    let clients: Vec<String> = (0..4).map(|i| format!("{prefix}-{run}-{i}")).collect();
    let input = make_input(lines, &clients);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    std::fs::write(&file, &input.text).unwrap();
    InputOnDisk {
        report_path: dir.path().join("report.json"),
        state_path: dir.path().join("events.ndjson.event-ingest-state"),
        input,
        dir,
        file,
    }
}

pub fn event_ingest(url: &str, key: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_event-ingest"));
    command
        .env("EVENT_INGEST_URL", url)
        .env("EVENT_INGEST_KEY", key);
    command
}

/// `event-ingest send` of `file` in small batches, its report to `report`.
pub fn send_command(url: &str, key: &str, file: &Path, report: &Path) -> Command {
    let mut command = event_ingest(url, key);
    command
        .args([
            "send",
            "--quiet",
            "--batch-size",
            "100",
            "--concurrency",
            "4",
        ])
        .arg("--report")
        .arg(report)
        .arg(file);
    command
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The report's outcomes add up to the input, `rejected` is the invalid lines, and the
/// rejects file beside the input holds exactly those lines, once each.
pub fn assert_report_and_rejects(input: &Input, report: &Value, rejects_file: &Path) {
    let sum: u64 = ["processed", "duplicate", "rejected", "failed"]
        .iter()
        .map(|k| report[k].as_u64().unwrap())
        .sum();
    assert_eq!(sum, input.lines as u64, "the report adds up: {report}");
    assert_eq!(report["rejected"], json!(input.invalid.len()));
    assert_eq!(report["failed"], json!(0), "{report}");
    assert!(report["processed"].as_u64().unwrap() <= input.distinct_events());
    let rejects = std::fs::read_to_string(rejects_file).unwrap();
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
}

/// `GET /aggregates` of `client_id` at `url` with `key`: (count, total in nano units).
pub fn aggregate(url: &str, key: &str, client_id: &str) -> (u64, i128) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::builder(url, key).build().unwrap();
    let answer = runtime
        .block_on(client.aggregates(&StatsQuery {
            client_id: client_id.to_owned(),
            ..StatsQuery::default()
        }))
        .expect("aggregates");
    let total = AmountSum::parse(answer["total_amount"].as_str().unwrap())
        .unwrap()
        .nano_units();
    (answer["count"].as_u64().unwrap(), total)
}

/// `/aggregates` at `url` with `key` equals the truth for every client of `input`.
pub fn assert_aggregates_equal_truth(url: &str, key: &str, input: &Input) {
    for (client_id, expected) in &input.truth {
        assert_eq!(
            aggregate(url, key, client_id),
            *expected,
            "client {client_id}: (count, total in nano units)"
        );
    }
}
