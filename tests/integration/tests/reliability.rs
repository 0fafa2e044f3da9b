//! The guarantees of docs/contract.md end to end, under pressure: real HTTP to the functions
//! under `cargo lambda watch`, real DynamoDB in LocalStack, many concurrent clients that
//! resend what did not get a definite answer, and storage faults injected between the
//! functions and DynamoDB (`integration_tests::fault_proxy`).
//!
//! Each test computes the truth itself (which distinct events exist, their exact sums in
//! 10^-9 units, their canonical forms) and fails when the service disagrees: a count or total
//! of `/aggregates` that differs from the truth or from the sum over `/events/processed`, an
//! event answered `processed` twice, an event that never ends counted, a request that hangs.
//! Each writes its section of RELIABILITY.md (`integration_tests::report`), failures included.
//!
//! Sizes: small under a plain `cargo test` (about a minute each on 2 cores), full with `SOAK=1`
//! (`SOAK=1 cargo test -p integration-tests --test reliability -- --test-threads=1`).
//! The tests take a lock so they never run at the same time (their numbers stay their own).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integration_tests::fault_proxy::{Brownout, Fault, FaultPlan, FaultProxy, ProxyStats};
use integration_tests::launcher::ProxiedFunctions;
use integration_tests::report::{quantile, Report, Size};
use integration_tests::{
    encode, is_emulator_500, nano_units, new_tenant, stack_api, stack_base_url, Api, StatusCode,
};
use serde_json::Value;
use tokio::sync::Semaphore;

/// One reliability test at a time (each test has its own runtime; tokio's mutex works across
/// them and is not poisoned by a failed test).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The client's timeout: above the ingest function's 25 s (infra/template.yaml), so firing
/// means a request hung past the point where AWS would have killed the function.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// `Timeout` of the ingest function in infra/template.yaml: no answer may take longer.
const INGEST_TIMEOUT: Duration = Duration::from_secs(25);
/// `REQUEST_DEADLINE_MS`'s default: every request answers by then.
const REQUEST_DEADLINE: Duration = Duration::from_secs(20);
/// Sends of one event (or one retry of a failed record) before the client gives up.
const MAX_ATTEMPTS: u32 = 40;

const NS: i64 = 1_000_000_000;
const NANO: i128 = 1_000_000_000;
const METRICS: [&str; 4] = ["purchase", "refund", "view", "signup"];

// ---------------------------------------------------------------------------------------
// Time and amount spellings, computed here (not by event-core), so the truth is our own.
// ---------------------------------------------------------------------------------------

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Unix nanoseconds of midnight UTC on a date.
fn date_ns(y: i64, m: i64, d: i64) -> i64 {
    days_from_civil(y, m, d) * 86_400 * NS
}

#[derive(Clone, Copy)]
enum Zone {
    Z,
    /// `+hh:mm` / `-hh:mm`, minutes east of UTC.
    Offset(i32),
    /// A space where the `+` was (what a query string makes of it).
    SpaceOffset(i32),
    /// No zone: UTC.
    Bare,
}

/// RFC 3339 text of `ns` in `zone`; `digits` fractional digits, or the canonical form (no
/// trailing zeros, no fraction for whole seconds).
fn format_ts(ns: i64, zone: Zone, digits: Option<usize>) -> String {
    let offset = match zone {
        Zone::Offset(m) | Zone::SpaceOffset(m) => i64::from(m),
        _ => 0,
    };
    let local = ns + offset * 60 * NS;
    let secs = local.div_euclid(NS);
    let nanos = local.rem_euclid(NS);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let mut text = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    let fraction = format!("{nanos:09}");
    match digits {
        None => {
            let trimmed = fraction.trim_end_matches('0');
            if !trimmed.is_empty() {
                text.push('.');
                text.push_str(trimmed);
            }
        }
        Some(n) => {
            text.push('.');
            text.push_str(&fraction[..n.min(9)]);
        }
    }
    match zone {
        Zone::Z => text.push('Z'),
        Zone::Offset(m) | Zone::SpaceOffset(m) => {
            let sign = match (zone, m < 0) {
                (_, true) => '-',
                (Zone::SpaceOffset(_), false) => ' ',
                _ => '+',
            };
            text.push_str(&format!("{sign}{:02}:{:02}", m.abs() / 60, m.abs() % 60));
        }
        Zone::Bare => {}
    }
    text
}

/// The service's canonical timestamp: RFC 3339 UTC, `Z`, fraction without trailing zeros.
fn canonical_ts(ns: i64) -> String {
    format_ts(ns, Zone::Z, None)
}

/// Fractional digits `ns` needs.
fn significant_digits(ns: i64) -> usize {
    format!("{:09}", ns.rem_euclid(NS))
        .trim_end_matches('0')
        .len()
}

fn amount_parts(n: i128) -> (bool, i128, String) {
    (n < 0, n.abs() / NANO, format!("{:09}", n.abs() % NANO))
}

/// The service's canonical amount: no `+`, no trailing zeros, `-0` is `0`.
fn canonical_amount(n: i128) -> String {
    let (negative, whole, fraction) = amount_parts(n);
    let fraction = fraction.trim_end_matches('0');
    let sign = if negative { "-" } else { "" };
    match fraction.is_empty() {
        true => format!("{sign}{whole}"),
        false => format!("{sign}{whole}.{fraction}"),
    }
}

fn quoted(text: &str) -> String {
    format!("\"{text}\"")
}

/// One JSON spelling (number or string) of the amount `n` (in 10^-9 units).
fn spell_amount(n: i128, rng: &mut fastrand::Rng) -> String {
    if n == 0 {
        let zeros = ["0", "\"0\"", "\"-0\"", "-0", "0.000", "\"0.0\"", "0e5"];
        return zeros[rng.usize(..zeros.len())].to_owned();
    }
    let canon = canonical_amount(n);
    let (negative, whole, fraction) = amount_parts(n);
    let sign = if negative { "-" } else { "" };
    let trimmed = fraction.trim_end_matches('0');
    match rng.u8(..8) {
        0 => quoted(&canon),
        1 => canon,
        2 => quoted(&format!("{sign}{whole}.{fraction}")),
        3 => format!("{sign}{whole}.{fraction}"),
        4 => {
            // mantissa and exponent: 12.5 -> 125e-1, 1000 -> 1e3
            let (mantissa, exponent) = if trimmed.is_empty() {
                let digits = whole.to_string();
                let kept = digits.trim_end_matches('0');
                (kept.to_owned(), (digits.len() - kept.len()) as i64)
            } else {
                let digits = format!("{whole}{trimmed}");
                (
                    digits.trim_start_matches('0').to_owned(),
                    -(trimmed.len() as i64),
                )
            };
            let text = format!("{sign}{mantissa}e{exponent}");
            if rng.bool() {
                quoted(&text)
            } else {
                text
            }
        }
        5 if !negative => quoted(&format!("+{canon}")),
        6 if trimmed.len() <= 7 => {
            let padded = if trimmed.is_empty() {
                format!("{canon}.00")
            } else {
                format!("{canon}00")
            };
            quoted(&padded)
        }
        _ => quoted(&canon),
    }
}

/// One JSON spelling of the timestamp `ns`: RFC 3339 in several zones and precisions, or
/// epoch seconds / milliseconds (number or string) when exact.
fn spell_ts(ns: i64, rng: &mut fastrand::Rng) -> String {
    let whole_second = ns % NS == 0;
    let whole_ms = ns % 1_000_000 == 0;
    let digits = significant_digits(ns);
    match rng.u8(..10) {
        0 => quoted(&format_ts(ns, Zone::Z, None)),
        1 => quoted(&format_ts(ns, Zone::Z, Some(9))),
        2 => quoted(&format_ts(ns, Zone::Offset(330), None)),
        3 => quoted(&format_ts(ns, Zone::Offset(-480), Some(digits.max(3)))),
        4 => quoted(&format_ts(ns, Zone::Bare, None)),
        5 => quoted(&format_ts(ns, Zone::SpaceOffset(120), None)),
        6 if whole_second => (ns / NS).to_string(),
        7 if whole_ms => (ns / 1_000_000).to_string(),
        8 if whole_second => quoted(&(ns / NS).to_string()),
        _ => quoted(&format_ts(ns, Zone::Offset(60), None)),
    }
}

// ---------------------------------------------------------------------------------------
// Workloads: distinct events, their sends (each a spelling), grouped into requests.
// ---------------------------------------------------------------------------------------

/// One real event: what its identity is made of.
#[derive(Debug, Clone)]
struct Event {
    client: usize,
    metric: &'static str,
    /// 10^-9 units.
    amount: i128,
    /// Unix nanoseconds.
    ts: i64,
    event_id: Option<String>,
}

type Identity = (usize, &'static str, i128, i64, Option<String>);

impl Event {
    fn identity(&self) -> Identity {
        (
            self.client,
            self.metric,
            self.amount,
            self.ts,
            self.event_id.clone(),
        )
    }
}

struct ClientInfo {
    id: String,
    tenant: usize,
}

/// One send of one event, in one spelling.
struct SendItem {
    event: usize,
    body: String,
}

/// One request: one event alone, or a batch.
struct Job {
    tenant: usize,
    sends: Vec<usize>,
    batch: bool,
}

struct Shape {
    /// `client ids[t]` of each tenant `t`.
    clients: Vec<Vec<String>>,
    distinct: usize,
    sends: usize,
    /// Share of sends that go alone (the others in batches).
    single_share: f64,
    max_batch: usize,
    /// Timestamps fall in `[start, start + length)`.
    window: (i64, i64),
    seed: u64,
}

struct Workload {
    clients: Vec<ClientInfo>,
    events: Vec<Event>,
    sends: Vec<SendItem>,
    jobs: Vec<Job>,
    window: (i64, i64),
}

fn random_event(rng: &mut fastrand::Rng, client: usize, i: usize, window: (i64, i64)) -> Event {
    let raw = window.0 + rng.i64(0..window.1);
    let ts = match rng.u8(..100) {
        0..=14 => raw - raw.rem_euclid(NS),
        15..=84 => raw - raw.rem_euclid(1_000_000),
        85..=94 => raw - raw.rem_euclid(1_000),
        _ => raw,
    }
    .max(window.0);
    let amount = match rng.u8(..100) {
        0..=54 => rng.i128(0..100_000) * 10_000_000,
        55..=69 => rng.i128(0..5_000) * NANO,
        70..=81 => rng.i128(0..1_000_000_000_000),
        82..=91 => -rng.i128(1..100_000) * 10_000_000,
        92..=95 => 0,
        // 18 digits before the point and 9 after: sums must stay exact
        _ => {
            rng.i128(100_000_000_000_000_000..1_000_000_000_000_000_000) * NANO + rng.i128(0..NANO)
        }
    };
    Event {
        client,
        metric: METRICS[rng.usize(..METRICS.len())],
        amount,
        ts,
        event_id: (rng.u8(..100) < 35).then(|| format!("ev-{i}.{:x}", rng.u32(..))),
    }
}

/// The JSON text of one send of `event`: random spellings of amount, timestamp and metric,
/// any source, field orders, spacing and an unknown field now and then.
fn spell_event(event: &Event, client_id: &str, rng: &mut fastrand::Rng) -> String {
    let (colon, comma) = if rng.u8(..4) == 0 {
        (" : ", " ,\n ")
    } else {
        (":", ",")
    };
    let field = |name: &str, value: &str| format!("\"{name}\"{colon}{value}");
    let amount = field("amount", &spell_amount(event.amount, rng));
    let timestamp = field("timestamp", &spell_ts(event.ts, rng));
    let metric = match rng.u8(..10) {
        0 => field("metric", &quoted(&format!("  {} ", event.metric))),
        _ => field("metric", &quoted(event.metric)),
    };
    let mut payload = match rng.u8(..3) {
        0 => vec![metric, amount, timestamp],
        1 => vec![timestamp, amount, metric],
        _ => vec![amount, timestamp, metric],
    };
    if rng.u8(..8) == 0 {
        payload.push(field("note", "\"resent\""));
    }
    let payload = field("payload", &format!("{{{}}}", payload.join(comma)));
    let mut top = vec![field("client_id", &quoted(client_id)), payload];
    if let Some(source) = ["web", "mobile", "import"].get(rng.usize(..4)) {
        top.insert(rng.usize(..=top.len()), field("source", &quoted(source)));
    }
    if let Some(id) = &event.event_id {
        top.insert(rng.usize(..=top.len()), field("event_id", &quoted(id)));
    }
    if rng.bool() {
        let last = top.len() - 1;
        top.swap(0, last);
    }
    format!("{{{}}}", top.join(comma))
}

impl Workload {
    fn build(shape: &Shape) -> Workload {
        let mut rng = fastrand::Rng::with_seed(shape.seed);
        let clients: Vec<ClientInfo> = shape
            .clients
            .iter()
            .enumerate()
            .flat_map(|(tenant, ids)| {
                ids.iter().map(move |id| ClientInfo {
                    id: id.clone(),
                    tenant,
                })
            })
            .collect();
        // distinct events, round robin over clients; a few "twins" that differ from an
        // earlier event only by event_id (two real events, both counted)
        let mut events: Vec<Event> = Vec::with_capacity(shape.distinct);
        let mut seen = std::collections::HashSet::new();
        while events.len() < shape.distinct {
            let i = events.len();
            let client = i % clients.len();
            let event = match events.iter().rev().find(|e| e.client == client) {
                Some(previous) if rng.u8(..100) < 3 => Event {
                    event_id: Some(format!("twin-{i}")),
                    ..previous.clone()
                },
                _ => random_event(&mut rng, client, i, shape.window),
            };
            if seen.insert(event.identity()) {
                events.push(event);
            }
        }
        // every event once, then re-sends of random events in other spellings; a send's key
        // orders it: a third of the re-sends sit right after their first send, so they race
        let mut keyed: Vec<(f64, usize)> = Vec::with_capacity(shape.sends);
        let mut first_key = Vec::with_capacity(events.len());
        for event in 0..events.len() {
            let key = rng.f64();
            first_key.push(key);
            keyed.push((key, event));
        }
        for _ in events.len()..shape.sends.max(events.len()) {
            let event = rng.usize(..events.len());
            let key = match rng.u8(..3) {
                0 => first_key[event] + 1e-12 * rng.f64(),
                _ => rng.f64(),
            };
            keyed.push((key, event));
        }
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
        let sends: Vec<SendItem> = keyed
            .iter()
            .map(|&(_, event)| SendItem {
                event,
                body: spell_event(&events[event], &clients[events[event].client].id, &mut rng),
            })
            .collect();
        // requests per tenant (a key owns its tenant's clients only), then interleaved
        let tenants = shape.clients.len();
        let mut per_tenant: Vec<Vec<Job>> = (0..tenants).map(|_| Vec::new()).collect();
        for (tenant, jobs) in per_tenant.iter_mut().enumerate() {
            let mine: Vec<usize> = (0..sends.len())
                .filter(|&s| clients[events[sends[s].event].client].tenant == tenant)
                .collect();
            // a send goes alone with probability `single_share`, else into the open batch,
            // which is sent once it reaches its (random) size
            let mut open: Vec<usize> = Vec::new();
            let mut target = rng.usize(2..=shape.max_batch.max(2));
            for &send in &mine {
                if rng.f64() < shape.single_share {
                    jobs.push(Job {
                        tenant,
                        sends: vec![send],
                        batch: false,
                    });
                    continue;
                }
                open.push(send);
                if open.len() >= target {
                    jobs.push(Job {
                        tenant,
                        sends: std::mem::take(&mut open),
                        batch: true,
                    });
                    target = rng.usize(2..=shape.max_batch.max(2));
                }
            }
            if !open.is_empty() {
                jobs.push(Job {
                    tenant,
                    batch: open.len() > 1,
                    sends: open,
                });
            }
        }
        let mut jobs = Vec::new();
        let mut queues: Vec<VecDeque<Job>> = per_tenant.into_iter().map(Into::into).collect();
        while queues.iter().any(|q| !q.is_empty()) {
            for queue in &mut queues {
                if let Some(job) = queue.pop_front() {
                    jobs.push(job);
                }
            }
        }
        Workload {
            clients,
            events,
            sends,
            jobs,
            window: shape.window,
        }
    }

    fn batch_sends(&self) -> usize {
        self.jobs
            .iter()
            .filter(|j| j.batch)
            .map(|j| j.sends.len())
            .sum()
    }

    fn describe(&self, tenants: usize, workers: usize) -> String {
        let batches = self.jobs.iter().filter(|j| j.batch).count();
        format!(
            "{} event sends ({} distinct events, {} re-sends in other spellings: offsets, `10` vs `\"10.00\"`, exponents, epoch s/ms, field order, source), {} alone and {} in {} batches (2-{} events), by {} concurrent clients, {} tenant(s) x {} client id(s)",
            self.sends.len(),
            self.events.len(),
            self.sends.len() - self.events.len(),
            self.sends.len() - self.batch_sends(),
            self.batch_sends(),
            batches,
            self.jobs.iter().map(|j| j.sends.len()).max().unwrap_or(0),
            workers,
            tenants,
            self.clients.len(),
        )
    }
}

// ---------------------------------------------------------------------------------------
// The client side: send, classify, resend, retry failed records; record every answer.
// ---------------------------------------------------------------------------------------

enum Reply {
    Http { status: u16, body: Value },
    Timeout,
    Transport(String),
}

/// What one answer means for one event.
enum Verdict {
    /// Counted (now or before): done.
    Counted { processed: bool, hash: String },
    /// Kept as failed and retryable under this id: retry it.
    Kept(String),
    /// Not settled: send the event again. The event may or may not be counted already.
    Resend(&'static str),
    /// An answer the contract does not allow here.
    Unexpected(String),
}

/// What a run injects, and so which answers its clients may resend: only those the contract
/// gives for a fault that was injected. Anything else fails the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Injected {
    /// No fault: every answer is definite (processed, duplicate); any 5xx, `unavailable`,
    /// failed record or dropped connection is a defect.
    Nothing,
    /// Storage faults: 503 and `unavailable` (resend) and a kept-failed 500 (retry it).
    StorageFaults,
    /// Storage faults and killed function processes: also the killed invocation's error
    /// and a connection cut with it.
    Crashes,
}

/// The verdict of an answer to one event (`POST /events` alone, or a retry).
fn verdict(reply: &Reply, injected: Injected) -> Verdict {
    let faults = injected != Injected::Nothing;
    let (status, body) = match reply {
        Reply::Timeout => return Verdict::Resend("client timeout (30 s)"),
        Reply::Transport(_) if injected == Injected::Crashes => {
            return Verdict::Resend("connection cut by a killed function")
        }
        Reply::Transport(error) => {
            return Verdict::Unexpected(format!("connection error: {error}"))
        }
        Reply::Http { status, body } => (*status, body),
    };
    let hash = body["event_hash"].as_str().map(str::to_owned);
    match (status, body["status"].as_str(), hash) {
        (201, Some("processed"), Some(hash)) => Verdict::Counted {
            processed: true,
            hash,
        },
        (200, Some("duplicate"), Some(hash)) => Verdict::Counted {
            processed: false,
            hash,
        },
        (500, Some("failed"), _) if faults && body["retryable"] == true => {
            match body["failed_id"].as_str() {
                Some(id) => Verdict::Kept(id.to_owned()),
                None => Verdict::Unexpected(format!("500 failed without failed_id: {body}")),
            }
        }
        (503, _, _) if faults && body["error"]["code"].is_string() => {
            Verdict::Resend("503 storage unavailable")
        }
        // scripts/devstack/respawn.py's answer for the invocation of a killed process
        (500..=599, _, _)
            if injected == Injected::Crashes && body["errorType"] == "Runtime.ExitError" =>
        {
            Verdict::Resend("function process killed")
        }
        _ => Verdict::Unexpected(format!(
            "{status} {body}{}",
            match faults {
                true => "",
                false => " (no fault was injected)",
            }
        )),
    }
}

/// The verdict of one item of a batch answer.
fn item_verdict(item: &Value, injected: Injected) -> Verdict {
    let faults = injected != Injected::Nothing;
    let hash = item["event_hash"].as_str().map(str::to_owned);
    match (item["status"].as_str(), hash) {
        (Some("processed"), Some(hash)) => Verdict::Counted {
            processed: true,
            hash,
        },
        (Some("duplicate"), Some(hash)) => Verdict::Counted {
            processed: false,
            hash,
        },
        (Some("failed"), _) if faults && item["retryable"] == true => {
            match item["failed_id"].as_str() {
                Some(id) => Verdict::Kept(id.to_owned()),
                None => Verdict::Unexpected(format!("failed item without failed_id: {item}")),
            }
        }
        (Some("unavailable"), _) if faults => Verdict::Resend("batch item unavailable"),
        _ => Verdict::Unexpected(format!(
            "batch item {item}{}",
            match faults {
                true => "",
                false => " (no fault was injected)",
            }
        )),
    }
}

#[derive(Default, Clone)]
struct EventLog {
    processed: u32,
    duplicates: u32,
    hashes: BTreeSet<String>,
    /// When the first `processed` or `duplicate` answer about it arrived.
    first_counted: Option<Instant>,
    /// Some send of it got an answer that leaves open whether it was counted (a timeout,
    /// a 5xx, `unavailable`, or a failed record): a `processed` answer may then be missing.
    ambiguous: bool,
}

#[derive(Default)]
struct Ledger {
    settled: Vec<bool>,
    events: Vec<EventLog>,
    /// (send, failed_id) of every failed record the client was told about.
    failed_ids: Vec<(usize, String)>,
    gave_up: Vec<usize>,
    unexpected: Vec<String>,
}

#[derive(Default)]
struct Metrics {
    /// Milliseconds per request, by kind (`single`, `batch`, `retry`).
    latency: BTreeMap<&'static str, Vec<f64>>,
    /// Answers by kind and status.
    answers: BTreeMap<String, u64>,
    /// Events sent again, by the reason.
    resends: BTreeMap<&'static str, u64>,
    /// `POST /events/failed/{id}/retry` calls.
    failed_retries: u64,
    timeouts: u64,
    slowest: Option<(f64, String)>,
}

/// Where requests go: base URL, one key per tenant (`None` with `AUTH=off`), in-flight cap.
struct Target {
    http: reqwest::Client,
    base: String,
    keys: Vec<Option<String>>,
    in_flight: Semaphore,
}

impl Target {
    fn new(base: &str, keys: Vec<Option<String>>, in_flight: usize) -> Self {
        Target {
            http: reqwest::Client::builder()
                .timeout(CLIENT_TIMEOUT)
                .pool_max_idle_per_host(128)
                .build()
                .expect("http client"),
            base: base.to_owned(),
            keys,
            in_flight: Semaphore::new(in_flight),
        }
    }
}

struct Run {
    target: Target,
    work: Workload,
    injected: Injected,
    ledger: Mutex<Ledger>,
    metrics: Mutex<Metrics>,
}

fn backoff(attempt: u32) -> Duration {
    let ceiling = 50u64.saturating_mul(1 << attempt.min(5)).min(1_000);
    Duration::from_millis(fastrand::u64(ceiling / 2..=ceiling))
}

impl Run {
    fn new(target: Target, work: Workload, injected: Injected) -> Arc<Self> {
        let ledger = Ledger {
            settled: vec![false; work.sends.len()],
            events: vec![EventLog::default(); work.events.len()],
            ..Ledger::default()
        };
        Arc::new(Run {
            target,
            work,
            injected,
            ledger: Mutex::new(ledger),
            metrics: Mutex::default(),
        })
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn metrics(&self) -> std::sync::MutexGuard<'_, Metrics> {
        self.metrics.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every job, by `workers` concurrent clients; the wall time.
    async fn run(self: &Arc<Self>, workers: usize) -> Duration {
        let queue: Arc<Mutex<VecDeque<usize>>> =
            Arc::new(Mutex::new((0..self.work.jobs.len()).collect()));
        let started = Instant::now();
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let run = self.clone();
                let queue = queue.clone();
                tokio::spawn(async move {
                    loop {
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                        let Some(job) = next else { break };
                        run.deliver(job).await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("a client task panicked");
        }
        started.elapsed()
    }

    async fn post(&self, tenant: usize, path: &str, body: String, kind: &'static str) -> Reply {
        let _permit = self.target.in_flight.acquire().await.expect("open");
        let mut request = self
            .target
            .http
            .post(format!("{}{path}", self.target.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = &self.target.keys[tenant] {
            request = request.header("x-api-key", key);
        }
        let started = Instant::now();
        let reply = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Ok(bytes) => Reply::Http {
                        status,
                        body: serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                            Value::String(String::from_utf8_lossy(&bytes).into_owned())
                        }),
                    },
                    Err(error) if error.is_timeout() => Reply::Timeout,
                    Err(error) => Reply::Transport(error.to_string()),
                }
            }
            Err(error) if error.is_timeout() => Reply::Timeout,
            Err(error) => Reply::Transport(error.to_string()),
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut metrics = self.metrics();
        metrics.latency.entry(kind).or_default().push(ms);
        let answer = match &reply {
            Reply::Http { status: 200, body } if body["results"].is_array() => {
                for item in body["results"].as_array().into_iter().flatten() {
                    let status = item["status"].as_str().unwrap_or("?");
                    let code = item["error"]["code"]
                        .as_str()
                        .map(|c| format!(" {c}"))
                        .unwrap_or_default();
                    *metrics
                        .answers
                        .entry(format!("batch item {status}{code}"))
                        .or_default() += 1;
                }
                format!("{kind} 200")
            }
            Reply::Http { status, body } => {
                let what = body["status"]
                    .as_str()
                    .or_else(|| body["error"]["code"].as_str())
                    .unwrap_or(if is_emulator_500(*status, body) {
                        "emulator"
                    } else {
                        "?"
                    });
                format!("{kind} {status} {what}")
            }
            Reply::Timeout => {
                metrics.timeouts += 1;
                format!("{kind} client timeout")
            }
            Reply::Transport(error) => {
                eprintln!("{kind} {path}: connection error: {error}");
                format!("{kind} connection error")
            }
        };
        if metrics
            .slowest
            .as_ref()
            .is_none_or(|(slowest, _)| ms > *slowest)
        {
            metrics.slowest = Some((ms, format!("{answer} ({path})")));
        }
        *metrics.answers.entry(answer).or_default() += 1;
        reply
    }

    fn settle(&self, send: usize, processed: bool, hash: String) {
        let event = self.work.sends[send].event;
        let mut ledger = self.ledger();
        if std::mem::replace(&mut ledger.settled[send], true) {
            ledger.unexpected.push(format!("send {send} settled twice"));
        }
        let log = &mut ledger.events[event];
        log.first_counted.get_or_insert_with(Instant::now);
        log.hashes.insert(hash);
        if processed {
            log.processed += 1;
        } else {
            log.duplicates += 1;
        }
    }

    fn unsettled(&self, send: usize, why: &'static str) {
        let event = self.work.sends[send].event;
        self.ledger().events[event].ambiguous = true;
        *self.metrics().resends.entry(why).or_default() += 1;
    }

    fn unexpected(&self, send: usize, text: String) {
        let event = self.work.sends[send].event;
        let mut ledger = self.ledger();
        ledger.events[event].ambiguous = true;
        ledger.unexpected.push(format!(
            "send of event {event} ({}): {text}",
            self.work.sends[send].body
        ));
    }

    /// Sends one job until each of its events is counted (or the client gives up).
    async fn deliver(&self, job: usize) {
        let job = &self.work.jobs[job];
        let mut pending = job.sends.clone();
        for attempt in 0..MAX_ATTEMPTS {
            if pending.is_empty() {
                return;
            }
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let mut again = Vec::new();
            if !job.batch {
                let send = pending[0];
                let body = self.work.sends[send].body.clone();
                let reply = self.post(job.tenant, "/events", body, "single").await;
                self.judge(job.tenant, send, verdict(&reply, self.injected), &mut again)
                    .await;
            } else {
                let items: Vec<&str> = pending
                    .iter()
                    .map(|&s| self.work.sends[s].body.as_str())
                    .collect();
                let body = format!("{{\"events\":[{}]}}", items.join(","));
                let reply = self.post(job.tenant, "/events", body, "batch").await;
                let results = match &reply {
                    Reply::Http { status: 200, body } => body["results"]
                        .as_array()
                        .filter(|r| r.len() == pending.len())
                        .cloned(),
                    _ => None,
                };
                match results {
                    Some(results) => {
                        for (&send, item) in pending.iter().zip(&results) {
                            self.judge(
                                job.tenant,
                                send,
                                item_verdict(item, self.injected),
                                &mut again,
                            )
                            .await;
                        }
                    }
                    None => {
                        for &send in &pending {
                            let whole = match verdict(&reply, self.injected) {
                                Verdict::Resend(why) => Verdict::Resend(why),
                                _ => Verdict::Unexpected(match &reply {
                                    Reply::Http { status, body } => {
                                        format!("batch answered {status} {body}")
                                    }
                                    _ => "batch not answered".to_owned(),
                                }),
                            };
                            self.judge(job.tenant, send, whole, &mut again).await;
                        }
                    }
                }
            }
            pending = again;
        }
        if !pending.is_empty() {
            self.ledger().gave_up.extend(pending);
        }
    }

    async fn judge(&self, tenant: usize, send: usize, verdict: Verdict, again: &mut Vec<usize>) {
        match verdict {
            Verdict::Counted { processed, hash } => self.settle(send, processed, hash),
            Verdict::Kept(id) => {
                self.ledger().events[self.work.sends[send].event].ambiguous = true;
                if !self.retry_failed(tenant, send, &id).await {
                    again.push(send);
                }
            }
            Verdict::Resend(why) => {
                self.unsettled(send, why);
                again.push(send);
            }
            Verdict::Unexpected(text) => self.unexpected(send, text),
        }
    }

    /// Retries a failed record until its event is counted; false if that did not happen.
    async fn retry_failed(&self, tenant: usize, send: usize, id: &str) -> bool {
        self.ledger().failed_ids.push((send, id.to_owned()));
        let path = format!("/events/failed/{}/retry", encode(id));
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            self.metrics().failed_retries += 1;
            let reply = self.post(tenant, &path, String::new(), "retry").await;
            match verdict(&reply, self.injected) {
                Verdict::Counted { processed, hash } => {
                    self.settle(send, processed, hash);
                    return true;
                }
                Verdict::Kept(again) if again == id => {}
                Verdict::Kept(other) => {
                    self.unexpected(send, format!("retry of {id} kept it as {other}"));
                    return false;
                }
                Verdict::Resend(_) => {}
                Verdict::Unexpected(text) => {
                    // a kept, retryable event must stay retryable: resend the event instead
                    self.unexpected(send, format!("retry of failed record {id}: {text}"));
                    return false;
                }
            }
        }
        false
    }
}

// ---------------------------------------------------------------------------------------
// Checks: the ledger (each event counted once, one hash), then the service's own reads.
// ---------------------------------------------------------------------------------------

struct LedgerSummary {
    processed_answers: u64,
    duplicate_answers: u64,
    ambiguous_events: usize,
    /// The hash every send of each event was answered with.
    hash_of: Vec<Option<String>>,
}

/// Every send settled, every event answered with one hash (distinct events with distinct
/// ones), at most one `processed` per event, and exactly one when every answer about it
/// was definite (if `exact`).
fn check_ledger(report: &mut Report, run: &Run, exact: bool) -> LedgerSummary {
    let ledger = run.ledger();
    let unsettled: Vec<usize> = (0..ledger.settled.len())
        .filter(|&s| !ledger.settled[s])
        .collect();
    report.check(unsettled.is_empty(), || {
        format!(
            "{} sends never ended counted (client gave up on {}); first: {}",
            unsettled.len(),
            ledger.gave_up.len(),
            unsettled
                .first()
                .map(|&s| run.work.sends[s].body.clone())
                .unwrap_or_default()
        )
    });
    report.check(ledger.unexpected.is_empty(), || {
        format!(
            "{} answers the contract does not allow, first ones: {}",
            ledger.unexpected.len(),
            ledger
                .unexpected
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(" | ")
        )
    });
    let mut summary = LedgerSummary {
        processed_answers: 0,
        duplicate_answers: 0,
        ambiguous_events: 0,
        hash_of: Vec::with_capacity(ledger.events.len()),
    };
    let mut owner: HashMap<&str, usize> = HashMap::new();
    let (mut twice, mut never, mut many_hashes, mut shared_hash) = (0, 0, 0, 0);
    let mut examples = Vec::new();
    for (event, log) in ledger.events.iter().enumerate() {
        summary.processed_answers += u64::from(log.processed);
        summary.duplicate_answers += u64::from(log.duplicates);
        summary.ambiguous_events += usize::from(log.ambiguous);
        if log.processed > 1 {
            twice += 1;
            examples.push(format!(
                "event {:?} answered processed {} times",
                run.work.events[event], log.processed
            ));
        }
        if exact && log.processed == 0 && !log.ambiguous && !log.hashes.is_empty() {
            never += 1;
            examples.push(format!(
                "event {:?} never answered processed, only duplicate",
                run.work.events[event]
            ));
        }
        if log.hashes.len() > 1 {
            many_hashes += 1;
            examples.push(format!(
                "event {:?} has hashes {:?}",
                run.work.events[event], log.hashes
            ));
        }
        let only = log.hashes.iter().next().filter(|_| log.hashes.len() == 1);
        if let Some(hash) = only {
            if let Some(other) = owner.insert(hash.as_str(), event) {
                shared_hash += 1;
                examples.push(format!(
                    "events {:?} and {:?} share hash {hash}",
                    run.work.events[other], run.work.events[event]
                ));
            }
        }
        summary.hash_of.push(only.cloned());
    }
    report.check(twice == 0, || {
        format!("{twice} events answered `processed` more than once")
    });
    report.check(never == 0, || {
        format!("{never} events got only definite `duplicate` answers: none was the one that counted them")
    });
    report.check(many_hashes == 0, || {
        format!("{many_hashes} events answered with different hashes in different spellings")
    });
    report.check(shared_hash == 0, || {
        format!("{shared_hash} distinct events share a hash")
    });
    for example in examples.into_iter().take(5) {
        report.fail(example);
    }
    summary
}

/// No answer lies: every `processed` or `duplicate` answer came after the transaction that
/// stored the event was sent to DynamoDB (as the proxy between the functions and DynamoDB saw
/// it). A commit that failed but was answered as counted would otherwise hide behind a later
/// re-send of the same event.
fn check_answers_follow_commits(report: &mut Report, run: &Run, proxy: &FaultProxy) -> usize {
    let ledger = run.ledger();
    let (mut checked, mut early) = (0, Vec::new());
    for (event, log) in ledger.events.iter().enumerate() {
        let (Some(answered), Some(hash)) = (log.first_counted, log.hashes.iter().next()) else {
            continue;
        };
        checked += 1;
        match proxy.first_commit(hash) {
            Some(committed) if committed <= answered => {}
            Some(committed) => early.push(format!(
                "event {:?} was answered counted {} ms before the transaction that stored it was sent",
                run.work.events[event],
                (committed - answered).as_millis()
            )),
            None => early.push(format!(
                "event {:?} was answered counted ({} processed, {} duplicate) but never committed through the proxy",
                run.work.events[event], log.processed, log.duplicates
            )),
        }
    }
    report.check(early.is_empty(), || {
        format!(
            "{} events were answered `processed`/`duplicate` before (or without) being committed",
            early.len()
        )
    });
    for text in early.into_iter().take(3) {
        report.fail(text);
    }
    checked
}

async fn get_ok(report: &mut Report, api: &Api, path: &str) -> Option<Value> {
    let reply = api.get(path).await;
    if reply.status != StatusCode::OK {
        report.fail(format!("GET {path}: {} {}", reply.status, reply.body));
        return None;
    }
    Some(reply.body)
}

/// Every processed event of a query, following `next_cursor`.
async fn list_all(report: &mut Report, api: &Api, query: &str) -> Option<Vec<Value>> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/events/processed?{query}&limit=200");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", encode(c)));
        }
        let page = get_ok(report, api, &path).await?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Some(items),
        }
    }
}

/// (count, total in 10^-9 units) of a listing.
fn listed_sums(items: &[Value]) -> (u64, i128) {
    let total = items
        .iter()
        .map(|i| nano_units(i["amount"].as_str().unwrap_or("0")))
        .sum();
    (items.len() as u64, total)
}

async fn aggregates(report: &mut Report, api: &Api, query: &str) -> Option<(u64, i128)> {
    let body = get_ok(report, api, &format!("/aggregates?{query}")).await?;
    Some((
        body["count"].as_u64().unwrap_or(u64::MAX),
        nano_units(body["total_amount"].as_str().unwrap_or("0")),
    ))
}

#[derive(Default)]
struct ReadChecks {
    clients: usize,
    ranges: usize,
    listed: usize,
}

/// For `client`: `/aggregates` (whole, per metric, random ranges) equals the truth and the
/// sum over `/events/processed`; the listing holds exactly the client's events, each once,
/// in canonical form, under the hash its sends were answered with.
#[allow(clippy::too_many_arguments)]
async fn check_client_reads(
    report: &mut Report,
    api: &Api,
    work: &Workload,
    hash_of: &[Option<String>],
    client: usize,
    ranges: usize,
    rng: &mut fastrand::Rng,
    checks: &mut ReadChecks,
) {
    let id = &work.clients[client].id;
    let mine: Vec<usize> = (0..work.events.len())
        .filter(|&e| work.events[e].client == client)
        .collect();
    let truth = |filter: &dyn Fn(&Event) -> bool| -> (u64, i128) {
        let chosen: Vec<&Event> = mine
            .iter()
            .map(|&e| &work.events[e])
            .filter(|e| filter(e))
            .collect();
        (chosen.len() as u64, chosen.iter().map(|e| e.amount).sum())
    };
    checks.clients += 1;
    let base = format!("client_id={}", encode(id));

    // the whole listing: exactly the client's events
    let Some(listed) = list_all(report, api, &base).await else {
        return;
    };
    checks.listed += listed.len();
    let expected: HashMap<&str, &Event> = mine
        .iter()
        .filter_map(|&e| hash_of[e].as_deref().map(|h| (h, &work.events[e])))
        .collect();
    let mut seen = BTreeSet::new();
    let mut wrong = Vec::new();
    for item in &listed {
        let hash = item["event_hash"].as_str().unwrap_or("");
        if !seen.insert(hash.to_owned()) {
            wrong.push(format!("listed twice: {item}"));
            continue;
        }
        let Some(event) = expected.get(hash) else {
            wrong.push(format!(
                "listed but never sent (or its hash never answered): {item}"
            ));
            continue;
        };
        let same = item["client_id"] == id.as_str()
            && item["metric"] == event.metric
            && item["amount"] == canonical_amount(event.amount).as_str()
            && item["timestamp"] == canonical_ts(event.ts).as_str()
            && item["event_id"].as_str() == event.event_id.as_deref();
        if !same {
            wrong.push(format!(
                "listed {item}, sent amount {} at {} metric {} id {:?}",
                canonical_amount(event.amount),
                canonical_ts(event.ts),
                event.metric,
                event.event_id
            ));
        }
    }
    let missing = expected.keys().filter(|h| !seen.contains(**h)).count();
    report.check(missing == 0, || {
        format!("client {id}: {missing} counted events missing from /events/processed")
    });
    report.check(listed.len() == mine.len(), || {
        format!(
            "client {id}: /events/processed lists {} events, {} were sent",
            listed.len(),
            mine.len()
        )
    });
    for text in wrong.into_iter().take(3) {
        report.fail(format!("client {id}: {text}"));
    }

    // the whole range, and one metric
    let all = truth(&|_: &Event| true);
    if let Some(got) = aggregates(report, api, &base).await {
        report.check(got == all, || {
            format!("client {id}: /aggregates {got:?} != truth {all:?} (count, total in 1e-9)")
        });
        report.check(got == listed_sums(&listed), || {
            format!(
                "client {id}: /aggregates {got:?} != sum over /events/processed {:?}",
                listed_sums(&listed)
            )
        });
    }
    let metric = METRICS[rng.usize(..METRICS.len())];
    let want = truth(&|e| e.metric == metric);
    if let Some(got) = aggregates(report, api, &format!("{base}&metric={metric}")).await {
        report.check(got == want, || {
            format!("client {id} metric {metric}: /aggregates {got:?} != truth {want:?}")
        });
    }

    // random ranges, to the millisecond, some open on one side
    let (start, length) = work.window;
    for _ in 0..ranges {
        let ms = |ns: i64| ns - ns.rem_euclid(1_000_000);
        let from = ms(start - 3600 * NS + rng.i64(0..length + 2 * 3600 * NS));
        let to = ms(from + 1_000_000 + rng.i64(0..length / 2));
        let (from, to) = match rng.u8(..6) {
            0 => (None, Some(to)),
            1 => (Some(from), None),
            _ => (Some(from), Some(to)),
        };
        let mut query = base.clone();
        if let Some(from) = from {
            query.push_str(&format!(
                "&from={}",
                encode(&format_ts(from, Zone::Z, Some(3)))
            ));
        }
        if let Some(to) = to {
            query.push_str(&format!("&to={}", encode(&format_ts(to, Zone::Z, Some(3)))));
        }
        let inside = |e: &Event| from.is_none_or(|f| e.ts >= f) && to.is_none_or(|t| e.ts < t);
        let want = truth(&inside);
        checks.ranges += 1;
        let Some(got) = aggregates(report, api, &query).await else {
            continue;
        };
        report.check(got == want, || {
            format!("client {id} range {from:?}..{to:?}: /aggregates {got:?} != truth {want:?}")
        });
        if let Some(items) = list_all(report, api, &query).await {
            let sums = listed_sums(&items);
            report.check(got == sums, || {
                format!("client {id} range {from:?}..{to:?}: /aggregates {got:?} != sum over /events/processed {sums:?}")
            });
        }
    }
}

/// `p50 / p99 / max` in ms of one kind of request.
/// The run's throughput, latency, answers and client retries, as report lines. `condition`
/// says what the load ran under (" under faults", "" ...).
fn report_run(report: &mut Report, run: &Run, elapsed: Duration, condition: &str) {
    let secs = elapsed.as_secs_f64();
    report.item(
        "throughput",
        format!(
            "{:.0} event sends/s{condition} ({:.0} distinct events/s), {} sends in {:.1} s",
            run.work.sends.len() as f64 / secs,
            run.work.events.len() as f64 / secs,
            run.work.sends.len(),
            secs
        ),
    );
    report.item("latency", latency_line(run));
    report.item("answers", answers_line(run));
    report.item("client retries", resends_line(run));
}

/// `check_client_reads` for every client of the run through `api` (one tenant), and the
/// report line that sums them up.
async fn check_every_client(
    report: &mut Report,
    api: &Api,
    run: &Run,
    hash_of: &[Option<String>],
    ranges: usize,
    rng: &mut fastrand::Rng,
) {
    let mut checks = ReadChecks::default();
    for client in 0..run.work.clients.len() {
        check_client_reads(
            report,
            api,
            &run.work,
            hash_of,
            client,
            ranges,
            rng,
            &mut checks,
        )
        .await;
    }
    report.item(
        "reads checked",
        format!(
            "{} clients: /aggregates (all, one metric, {} random ranges) == truth == sum over /events/processed ({} listed events)",
            checks.clients, checks.ranges, checks.listed
        ),
    );
}

fn latency_line(run: &Run) -> String {
    let metrics = run.metrics();
    metrics
        .latency
        .iter()
        .map(|(kind, values)| {
            let mut values = values.clone();
            format!(
                "{kind} ({}): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                values.len(),
                quantile(&mut values, 0.5),
                quantile(&mut values, 0.99),
                quantile(&mut values, 1.0),
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn answers_line(run: &Run) -> String {
    let metrics = run.metrics();
    let answers: Vec<String> = metrics
        .answers
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    answers.join(", ")
}

fn resends_line(run: &Run) -> String {
    let metrics = run.metrics();
    let ledger = run.ledger();
    let resends: Vec<String> = metrics
        .resends
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    format!(
        "{} events resent ({}); {} failed records retried with {} calls to /events/failed/{{id}}/retry",
        metrics.resends.values().sum::<u64>(),
        if resends.is_empty() {
            "none".to_owned()
        } else {
            resends.join(", ")
        },
        ledger.failed_ids.len(),
        metrics.failed_retries
    )
}

/// The key and tenant reads (`GetItem`) that went through the faults.
fn key_reads_line(stats: &ProxyStats) -> String {
    let faulted: u64 = stats
        .faults_by_operation
        .iter()
        .filter(|((_, operation), _)| operation == "GetItem")
        .map(|(_, n)| n)
        .sum();
    format!(
        "{} GetItem calls (API key and tenant lookups, and failed-record reads), {faulted} of them answered with a fault",
        stats.calls.get("GetItem").copied().unwrap_or(0)
    )
}

/// No answer slower than the ingest function's timeout, no client timeout.
fn check_latency(report: &mut Report, run: &Run) {
    let metrics = run.metrics();
    report.check(metrics.timeouts == 0, || {
        format!(
            "{} requests hung past the client's 30 s timeout",
            metrics.timeouts
        )
    });
    if let Some((ms, what)) = &metrics.slowest {
        report.check(*ms < INGEST_TIMEOUT.as_secs_f64() * 1000.0, || {
            format!("slowest answer took {ms:.0} ms (> ingest Timeout 25 s): {what}")
        });
    }
}

async fn lock_serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

fn run_id() -> String {
    format!("{:06x}", fastrand::u32(..0x100_0000))
}

// ---------------------------------------------------------------------------------------
// 1. Load with duplicates
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_with_duplicates_counts_every_event_once() {
    let _serial = lock_serial().await;
    let size = Size::from_env();
    let mut report = Report::new(1, "load_with_duplicates", size);
    let tenants = size.pick(2, 4);
    let per_tenant = size.pick(3, 4);
    let distinct = size.pick(800, 5_000);
    let sends = size.pick(1_600, 10_000);
    let workers = 32;
    let ranges = size.pick(3, 6);

    // GIVEN tenants made like `admin tenants create`, each owning its own client ids
    let run = run_id();
    let mut keys = Vec::new();
    let mut clients = Vec::new();
    for t in 0..tenants {
        let prefix = format!("rl{run}t{t}-");
        let (_, key) = new_tenant("rel-load", &format!("{prefix}*")).await;
        keys.push(Some(key));
        clients.push((0..per_tenant).map(|c| format!("{prefix}c{c}")).collect());
    }
    let seed = fastrand::u64(..);
    let work = Workload::build(&Shape {
        clients,
        distinct,
        sends,
        single_share: 0.5,
        max_batch: 40,
        // June 2026, two days: many hours, so ranges cut through hourly items
        window: (date_ns(2026, 6, 1), 2 * 86_400 * NS),
        seed,
    });
    report.item("load", work.describe(tenants, workers));
    report.item("seed", format!("{seed} (workload spellings and order)"));
    let api_keys = keys.clone();

    // WHEN 32 clients send it all at once, resending what got no definite answer
    let run = Run::new(
        Target::new(&stack_base_url(), keys, workers),
        work,
        Injected::Nothing,
    );
    let elapsed = run.run(workers).await;

    report_run(&mut report, &run, elapsed, "");

    // THEN each event was counted once: the answers say so...
    let summary = check_ledger(&mut report, &run, true);
    report.item(
        "exactly once (answers)",
        format!(
            "{} `processed` answers for {} distinct events, {} `duplicate`; {} events had an answer that left it open",
            summary.processed_answers,
            run.work.events.len(),
            summary.duplicate_answers,
            summary.ambiguous_events
        ),
    );
    check_latency(&mut report, &run);

    // ...and the service's reads agree with the truth and with each other
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed);
    let mut checks = ReadChecks::default();
    for client in 0..run.work.clients.len() {
        let key = api_keys[run.work.clients[client].tenant]
            .as_deref()
            .expect("key");
        let api = stack_api(key);
        check_client_reads(
            &mut report,
            &api,
            &run.work,
            &summary.hash_of,
            client,
            ranges,
            &mut rng,
            &mut checks,
        )
        .await;
    }
    report.item(
        "reads checked",
        format!(
            "{} clients: /aggregates (all, one metric, {} random ranges) == truth == sum over /events/processed ({} listed events, each once, canonical form, same hash as answered)",
            checks.clients, checks.ranges, checks.listed
        ),
    );
    report.finish();
}

// ---------------------------------------------------------------------------------------
// 2. Storage faults
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_faults_lose_nothing_and_count_nothing_twice() {
    let _serial = lock_serial().await;
    let size = Size::from_env();
    let mut report = Report::new(2, "storage_faults", size);
    let share: f64 = std::env::var("FAULT_SHARE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.15);
    let clients = size.pick(2, 4);
    let distinct = size.pick(250, 2_000);
    let sends = size.pick(400, 3_000);
    let workers = size.pick(16, 32);

    // GIVEN the functions reaching DynamoDB through the fault proxy, with keys on as deployed:
    // every instance starts with a cold key cache, and a cached key expires every second
    // (AUTH_CACHE_SECONDS=1), so key and tenant reads meet the faults all through the run
    let functions = ProxiedFunctions::start_with_settings(
        "rel-faults",
        FaultPlan::none(),
        3,
        &["AUTH_CACHE_SECONDS=1".to_owned()],
    )
    .await;
    let run = run_id();
    let ids: Vec<String> = (0..clients).map(|c| format!("rf{run}-c{c}")).collect();
    let seed = fastrand::u64(..);
    let work = Workload::build(&Shape {
        clients: vec![ids],
        distinct,
        sends,
        single_share: 0.6,
        max_batch: 25,
        window: (date_ns(2026, 7, 1), 86_400 * NS),
        seed,
    });
    report.item("load", work.describe(1, workers));
    report.item(
        "functions",
        format!(
            "a second cargo lambda watch (3 instances per function) with AWS_ENDPOINT_URL at the fault proxy, keys on (AUTH_CACHE_SECONDS=1: the key and tenant are read again through the faults every second), tenant {}; read back through the main stack with that tenant's key",
            functions.tenant
        ),
    );
    functions.proxy.reset_stats();
    functions.proxy.set_plan(FaultPlan::every_kind(share));

    // WHEN clients send everything while a share of DynamoDB calls fail, with short outages
    // (every call failing for 7 s, longer than a store operation's ~6 s retry budget, after
    // every 6 s of normal faults) that spend whole retry budgets, so events
    // also end kept as failed (then retried by the client) or answered 503 (then resent)
    let target = Target::new(&functions.base, vec![Some(functions.key.clone())], workers);
    let run = Run::new(target, work, Injected::StorageFaults);
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut bursts = 0;
    let writes = async {
        let elapsed = run.run(workers).await;
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        elapsed
    };
    // an outage writes nothing: only faults that never reach DynamoDB (a late or lost
    // answer would land the write, and the "failed" commit would be counted after all)
    let outage = FaultPlan {
        kinds: vec![
            Fault::ProvisionedThroughputExceeded,
            Fault::Throttling,
            Fault::InternalServerError,
            Fault::TransactionConflict,
            Fault::ConnectionReset,
        ],
        ..FaultPlan::every_kind(1.0)
    };
    let outages = async {
        let pause = |ms| tokio::time::sleep(Duration::from_millis(ms));
        'outer: loop {
            for _ in 0..60 {
                pause(100).await;
                if done.load(std::sync::atomic::Ordering::Relaxed) {
                    break 'outer;
                }
            }
            bursts += 1;
            functions.proxy.set_plan(outage.clone());
            pause(7_000).await;
            functions.proxy.set_plan(FaultPlan::every_kind(share));
        }
        functions.proxy.set_plan(FaultPlan::every_kind(share));
    };
    let (elapsed, ()) = futures::join!(writes, outages);
    let stats = functions.proxy.stats();
    report.item(
        "faults injected",
        format!(
            "{} of {} DynamoDB calls ({:.1} %; plan: {:.0} % of calls, every kind equally likely, plus {bursts} outage(s) of 7 s with every call failing without reaching DynamoDB): {}",
            stats.total_faults(),
            stats.total_calls(),
            100.0 * stats.total_faults() as f64 / stats.total_calls().max(1) as f64,
            share * 100.0,
            stats.fault_lines().join("; ")
        ),
    );
    report.item("proxy", stats.summary());
    report.item("key reads under faults", key_reads_line(&stats));
    report_run(&mut report, &run, elapsed, " under faults");

    // THEN no request hung, every event ended counted once...
    check_latency(&mut report, &run);
    // exact: a commit whose answer was lost is retried with the same idempotency token, so
    // the event is still answered `processed` once, unless some answer about it was a 5xx,
    // `unavailable` or a failed record (then a later send may only find it counted)
    let summary = check_ledger(&mut report, &run, true);
    let truthful = check_answers_follow_commits(&mut report, &run, &functions.proxy);
    report.item(
        "exactly once (answers)",
        format!(
            "{} `processed` answers for {} distinct events (one each, except {} events that also got a 5xx, `unavailable` or failed-record answer: at most one), {} `duplicate`; for all {truthful} events the first counted answer came after the transaction that stored the event was sent (seen at the proxy)",
            summary.processed_answers,
            run.work.events.len(),
            summary.ambiguous_events,
            summary.duplicate_answers
        ),
    );

    // ...reads under heavy fast faults are exact or a typed 503, never a partial sum...
    functions.proxy.set_plan(FaultPlan {
        kinds: vec![
            Fault::ProvisionedThroughputExceeded,
            Fault::Throttling,
            Fault::InternalServerError,
            Fault::ConnectionReset,
        ],
        ..FaultPlan::every_kind(0.7)
    });
    let faulty = functions.api();
    let mut rng = fastrand::Rng::with_seed(seed ^ 0xfa17);
    let (mut exact, mut unavailable) = (0, 0);
    for client in 0..run.work.clients.len() {
        let id = &run.work.clients[client].id;
        let want: (u64, i128) = run
            .work
            .events
            .iter()
            .filter(|e| e.client == client)
            .fold((0, 0), |(n, t), e| (n + 1, t + e.amount));
        for _ in 0..size.pick(3, 8) {
            let reply = faulty
                .get(&format!("/aggregates?client_id={}", encode(id)))
                .await;
            if reply.status == StatusCode::OK {
                let got = (
                    reply.body["count"].as_u64().unwrap_or(u64::MAX),
                    nano_units(reply.body["total_amount"].as_str().unwrap_or("0")),
                );
                report.check(got == want, || {
                    format!("client {id}: /aggregates under faults {got:?} != truth {want:?}")
                });
                exact += 1;
            } else {
                report.check(reply.status == StatusCode::SERVICE_UNAVAILABLE, || {
                    format!(
                        "/aggregates under faults answered {} {}",
                        reply.status, reply.body
                    )
                });
                unavailable += 1;
            }
        }
    }
    let read_faults = functions.proxy.stats().total_faults() - stats.total_faults();
    report.item(
        "reads under faults",
        format!("/aggregates through the faulty functions with 70 % of calls failing fast ({read_faults} faults): {exact} exact answers, {unavailable} typed 503, nothing else"),
    );
    functions.proxy.set_share(0.0);

    // ...the store holds exactly the truth (read without faults)...
    let api = functions.stack_api();
    check_every_client(
        &mut report,
        &api,
        &run,
        &summary.hash_of,
        size.pick(3, 6),
        &mut rng,
    )
    .await;

    // ...and every failed record left behind is retryable and only ever a duplicate now
    let (mut statuses, mut orphans_retried) = (BTreeMap::<String, u64>::new(), 0u64);
    let told: BTreeSet<String> = run
        .ledger()
        .failed_ids
        .iter()
        .map(|(_, id)| id.clone())
        .collect();
    for client in &run.work.clients {
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/events/failed?client_id={}&limit=200", encode(&client.id));
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={}", encode(c)));
            }
            let Some(page) = get_ok(&mut report, &api, &path).await else {
                break;
            };
            for item in page["items"].as_array().cloned().unwrap_or_default() {
                let status = item["status"].as_str().unwrap_or("?").to_owned();
                let id = item["failed_id"].as_str().unwrap_or("").to_owned();
                let key = format!(
                    "{status} ({}, reason {})",
                    if told.contains(&id) {
                        "client was told"
                    } else {
                        "client never told"
                    },
                    item["reason"]["code"].as_str().unwrap_or("?")
                );
                *statuses.entry(key).or_default() += 1;
                report.check(status != "rejected", || {
                    format!("a valid event was kept as rejected: {item}")
                });
                if status == "failed" {
                    let reply = api
                        .post_raw(&format!("/events/failed/{}/retry", encode(&id)), "")
                        .await;
                    orphans_retried += 1;
                    report.check(
                        reply.status == StatusCode::OK && reply.body["status"] == "duplicate",
                        || format!("retry of a left-over failed record {id} answered {} {} (every event is already counted)", reply.status, reply.body),
                    );
                }
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
    }
    report.item(
        "failed records",
        format!(
            "{} kept ({}); {} still `failed` retried now, each a duplicate",
            statuses.values().sum::<u64>(),
            statuses
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            orphans_retried
        ),
    );
    for client in 0..run.work.clients.len() {
        let id = &run.work.clients[client].id;
        let want: (u64, i128) = run
            .work
            .events
            .iter()
            .filter(|e| e.client == client)
            .fold((0, 0), |(n, t), e| (n + 1, t + e.amount));
        if let Some(got) = aggregates(&mut report, &api, &format!("client_id={}", encode(id))).await
        {
            report.check(got == want, || {
                format!("client {id}: after retrying left-over failed records /aggregates {got:?} != truth {want:?}")
            });
        }
    }
    let retries = functions.retry_log();
    report.item(
        "function retries",
        format!(
            "{} in-process store retries logged (by operation: {}; after: {}); {} operations spent their retry budget (then failed record or 503)",
            retries.retries,
            retries.by_operation.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", "),
            retries.by_reason.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", "),
            retries.budget_spent
        ),
    );
    report.finish();
}

// ---------------------------------------------------------------------------------------
// 5. Crashes
// ---------------------------------------------------------------------------------------

/// The function process killed (SIGKILL) at random points of ingest: before a commit is sent,
/// while it is in flight, after it committed but before the answer; the killed process is
/// replaced (scripts/devstack/respawn.py, as Lambda replaces a sandbox) and clients resend
/// whatever got no answer. Then a commit whose answers are all lost, so the event is kept as
/// failed although it was counted: its retry must be a duplicate and mark it retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_lose_nothing_and_count_nothing_twice() {
    let _serial = lock_serial().await;
    let size = Size::from_env();
    let mut report = Report::new(5, "crashes", size);
    let share = 0.12;
    let clients = size.pick(2, 4);
    let distinct = size.pick(200, 1_500);
    let sends = size.pick(300, 2_000);
    let workers = size.pick(12, 24);

    // GIVEN the functions reaching DynamoDB through the proxy, 2 instances per function, keys
    // on (each process that replaces a killed one reads its key anew)
    let functions = ProxiedFunctions::start("rel-crash", FaultPlan::none(), 2).await;
    let run = run_id();
    let ids: Vec<String> = (0..clients).map(|c| format!("rc{run}-c{c}")).collect();
    let seed = fastrand::u64(..);
    let work = Workload::build(&Shape {
        clients: vec![ids],
        distinct,
        sends,
        single_share: 0.6,
        max_batch: 10,
        window: (date_ns(2026, 6, 1), 86_400 * NS),
        seed,
    });
    report.item("load", work.describe(1, workers));
    let crashes = FaultPlan {
        kinds: Fault::CRASHES.to_vec(),
        operations: vec!["TransactWriteItems".to_owned()],
        ..FaultPlan::every_kind(share)
    };
    functions.proxy.reset_stats();
    functions.proxy.set_plan(crashes);

    // WHEN clients send everything while a share of commits kill the process making them
    let target = Target::new(&functions.base, vec![Some(functions.key.clone())], workers);
    let run = Run::new(target, work, Injected::Crashes);
    let elapsed = run.run(workers).await;
    functions.proxy.set_share(0.0);
    let stats = functions.proxy.stats();
    report.item(
        "crashes",
        format!(
            "{} of {} commits ({:.0} % planned) killed the function process making them: {}; {} processes killed, {} already gone (a second commit of a batch whose process another crash had killed); each replaced by scripts/devstack/respawn.py",
            stats.total_faults(),
            stats.calls.get("TransactWriteItems").copied().unwrap_or(0),
            share * 100.0,
            stats.fault_lines().join("; "),
            stats.kills,
            stats.kills_missed,
        ),
    );
    report.check(stats.kills * 2 > stats.total_faults(), || {
        format!(
            "crash faults must kill the calling process: {} killed, {} not found",
            stats.kills, stats.kills_missed
        )
    });
    report.item("proxy", stats.summary());
    report_run(&mut report, &run, elapsed, " with crashes");

    // THEN no request hung, every event ended counted once, and the reads hold the truth
    check_latency(&mut report, &run);
    let summary = check_ledger(&mut report, &run, true);
    let truthful = check_answers_follow_commits(&mut report, &run, &functions.proxy);
    report.item(
        "exactly once (answers)",
        format!(
            "{} `processed` answers for {} distinct events (at most one each; {} events also got a killed or 5xx answer), {} `duplicate`; for all {truthful} events the first counted answer came after the transaction that stored the event was sent",
            summary.processed_answers,
            run.work.events.len(),
            summary.ambiguous_events,
            summary.duplicate_answers
        ),
    );
    let api = functions.stack_api();
    let mut rng = fastrand::Rng::with_seed(seed ^ 0xc7a5);
    check_every_client(
        &mut report,
        &api,
        &run,
        &summary.hash_of,
        size.pick(3, 6),
        &mut rng,
    )
    .await;

    // AND an event counted although its commit "failed" (every answer of DynamoDB lost) is
    // kept as failed; its retry finds it counted, and marks the record retried
    functions.proxy.set_plan(FaultPlan {
        kinds: vec![Fault::LostAnswer],
        operations: vec!["TransactWriteItems".to_owned()],
        ..FaultPlan::every_kind(1.0)
    });
    let client = format!("rc{run}-lost", run = run_id());
    let event = format!(
        r#"{{"client_id":"{client}","payload":{{"metric":"m","amount":"7.5","timestamp":"2026-06-01T12:00:00Z"}}}}"#
    );
    let kept = functions.api().post_raw("/events", event).await;
    functions.proxy.set_share(0.0);
    let failed_id = kept.body["failed_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    report.check(
        kept.status == StatusCode::INTERNAL_SERVER_ERROR && !failed_id.is_empty(),
        || {
            format!(
                "a commit with every answer lost must be kept as failed: {} {}",
                kept.status, kept.body
            )
        },
    );
    let retried = api
        .post_raw(&format!("/events/failed/{}/retry", encode(&failed_id)), "")
        .await;
    let record = api
        .get(&format!("/events/failed/{}", encode(&failed_id)))
        .await;
    let totals = api
        .get(&format!("/aggregates?client_id={}", encode(&client)))
        .await;
    report.check(
        retried.status == StatusCode::OK && retried.body["status"] == "duplicate",
        || {
            format!(
                "retry of a failed record whose event was counted: {} {}",
                retried.status, retried.body
            )
        },
    );
    report.check(record.body["status"] == "retried", || {
        format!("after that retry the record reads {}", record.body)
    });
    report.check(
        totals.body["count"] == 1 && totals.body["total_amount"] == "7.5",
        || format!("that event must be counted once: {}", totals.body),
    );
    report.item(
        "counted, then kept as failed",
        format!(
            "every TransactWriteItems answer dropped (committed, not heard): {} {}; retry: {} {}; record status {}; /aggregates count {} total {}",
            kept.status.as_u16(),
            kept.body["error"]["code"],
            retried.status.as_u16(),
            retried.body["status"],
            record.body["status"],
            totals.body["count"],
            totals.body["total_amount"]
        ),
    );
    report.finish();
}

// ---------------------------------------------------------------------------------------
// 3. Hot client
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_client_loses_no_update() {
    let _serial = lock_serial().await;
    let size = Size::from_env();
    // HOT_AGGREGATE_SHARDS: the functions' AGGREGATE_SHARDS for this run (the stack's is 4)
    let shards: Option<u32> = std::env::var("HOT_AGGREGATE_SHARDS")
        .ok()
        .and_then(|s| s.parse().ok());
    let mut report = Report::new(3, "hot_client", size)
        .with_setting(shards.map(|n| format!("HOT_AGGREGATE_SHARDS={n}")));
    let writers = 64;
    let distinct = size.pick(writers * 10, writers * 50);
    let sends = distinct + distinct / 4;
    let instances = 6;

    // GIVEN the functions behind the proxy, 6 instances per function so commits overlap.
    // DynamoDB Local serializes transactions and never answers TransactionConflict, so the
    // proxy stands in for a real table's hot items: a share of the transactions (20 %, or
    // HOT_CONFLICT_SHARE) is cancelled with a TransactionConflict reason.
    let conflict_share: f64 = std::env::var("HOT_CONFLICT_SHARE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.2);
    let settings: Vec<String> = shards
        .map(|n| format!("AGGREGATE_SHARDS={n}"))
        .into_iter()
        .collect();
    let functions =
        ProxiedFunctions::start_with_settings("rel-hot", FaultPlan::none(), instances, &settings)
            .await;
    let client = format!("rh{}-hot", run_id());
    let hour = date_ns(2026, 8, 3) + 14 * 3600 * NS;
    let seed = fastrand::u64(..);
    let work = Workload::build(&Shape {
        clients: vec![vec![client.clone()]],
        distinct,
        sends,
        single_share: 0.85,
        max_batch: 8,
        window: (hour, 3600 * NS),
        seed,
    });
    report.item(
        "load",
        format!(
            "{} writers, one client id, one hour ({}), {} aggregate shards; {}",
            writers,
            canonical_ts(hour),
            shards.unwrap_or(4),
            work.describe(1, writers)
        ),
    );
    functions.proxy.reset_stats();
    // With HOT_AGGREGATE_SHARDS the conflicts are DynamoDB's own rule instead of a share:
    // a transaction updating an aggregate item that another one in flight updates is
    // cancelled, so the shard count decides how often writers collide.
    functions.proxy.set_plan(match shards {
        Some(_) => FaultPlan {
            overlap_conflicts: true,
            ..FaultPlan::none()
        },
        None => FaultPlan {
            kinds: vec![Fault::TransactionConflict],
            operations: vec!["TransactWriteItems".to_owned()],
            ..FaultPlan::every_kind(conflict_share)
        },
    });

    // WHEN 64 writers hit the same aggregate items at once
    let run = Run::new(
        Target::new(&functions.base, vec![Some(functions.key.clone())], writers),
        work,
        Injected::StorageFaults,
    );
    let elapsed = run.run(writers).await;
    let stats = functions.proxy.stats();
    report_run(&mut report, &run, elapsed, "");
    report.item("proxy", stats.summary());
    let retries = functions.retry_log();
    let per_event: Vec<u64> = retries.per_event.values().copied().collect();
    report.item(
        "conflict retries",
        format!(
            "{} TransactionConflict cancellations injected ({}), {} answered by DynamoDB Local itself; the functions logged {} store retries ({}); {} single events needed a retry (max {} retries for one event); {:.2} conflict retries per distinct event",
            stats.total_faults(),
            match shards {
                Some(_) => format!("every transaction that updated an aggregate item another transaction in flight was updating: {:.1} % of {} transactions", 100.0 * stats.total_faults() as f64 / stats.calls.get("TransactWriteItems").copied().unwrap_or(0).max(1) as f64, stats.calls.get("TransactWriteItems").copied().unwrap_or(0)),
                None => format!("{:.0} % of transactions, drawn at random", conflict_share * 100.0),
            },
            stats
                .upstream_errors
                .iter()
                .filter(|(k, _)| k.contains("TransactionConflict"))
                .map(|(_, n)| n)
                .sum::<u64>(),
            retries.retries,
            retries.by_reason.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", "),
            per_event.len(),
            per_event.iter().max().copied().unwrap_or(0),
            retries.retries as f64 / run.work.events.len().max(1) as f64
        ),
    );

    // THEN no update is lost: counts and totals are exact
    check_latency(&mut report, &run);
    let summary = check_ledger(&mut report, &run, true);
    let truthful = check_answers_follow_commits(&mut report, &run, &functions.proxy);
    report.item(
        "exactly once (answers)",
        format!(
            "{} `processed` answers for {} distinct events, {} `duplicate`; for all {truthful} events the first counted answer came after the transaction that stored the event was sent",
            summary.processed_answers,
            run.work.events.len(),
            summary.duplicate_answers
        ),
    );
    // the main stack sums 4 aggregate shards: read another count through these functions
    // (faults off by now: conflicts are only drawn for transactions)
    let api = match shards {
        Some(_) => functions.api(),
        None => functions.stack_api(),
    };
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x407);
    let mut checks = ReadChecks::default();
    check_client_reads(
        &mut report,
        &api,
        &run.work,
        &summary.hash_of,
        0,
        size.pick(4, 8),
        &mut rng,
        &mut checks,
    )
    .await;
    let want: (u64, i128) = run
        .work
        .events
        .iter()
        .fold((0, 0), |(n, t), e| (n + 1, t + e.amount));
    let hourly = get_ok(
        &mut report,
        &api,
        &format!(
            "/aggregates/hourly?client_id={}&from={}&to={}",
            encode(&client),
            encode(&canonical_ts(hour)),
            encode(&canonical_ts(hour + 3600 * NS))
        ),
    )
    .await;
    if let Some(hourly) = hourly {
        let buckets = hourly["buckets"].as_array().cloned().unwrap_or_default();
        let got = buckets.iter().fold((0u64, 0i128), |(n, t), b| {
            (
                n + b["count"].as_u64().unwrap_or(0),
                t + nano_units(b["total_amount"].as_str().unwrap_or("0")),
            )
        });
        report.check(got == want, || {
            format!("/aggregates/hourly for the hot hour {got:?} != truth {want:?}: {hourly}")
        });
    }
    report.item(
        "reads checked",
        format!(
            "/aggregates (all, one metric, {} ranges inside the hour) and /aggregates/hourly == truth ({} events, total {}) == sum over /events/processed",
            checks.ranges,
            want.0,
            canonical_amount(want.1)
        ),
    );
    report.finish();
}

// ---------------------------------------------------------------------------------------
// 4. Slow storage: the answer must come before the function is killed
// ---------------------------------------------------------------------------------------

/// One POST with a long client timeout: (seconds, status, body).
async fn timed_post(base: &str, key: &str, path: &str, body: String) -> (f64, u16, Value) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .expect("http client");
    let started = Instant::now();
    let sent = http
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .header("x-api-key", key)
        .body(body)
        .send()
        .await;
    let (status, body) = match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        }
        Err(error) => (0, Value::String(error.to_string())),
    };
    (started.elapsed().as_secs_f64(), status, body)
}

/// A storage brownout timed against the functions' retry budget (`fault_proxy::Brownout`):
/// each store operation's first two attempts wait 2.9 s and are throttled, the third waits
/// 2.9 s and succeeds (reads, failed records) or 3.5 s and times out (commits). Every store
/// operation then takes about 9 s, the most its budget allows (no new attempt after 6 s,
/// 3 s per attempt), so a request chaining 3 or 4 of them would take 26–35 s; the request
/// deadline (20 s, `REQUEST_DEADLINE_MS`) must cut them short with a typed answer before the
/// ingest function is killed at 25 s (infra/template.yaml). Regression test: before the
/// deadline existed, three of these four requests answered after 26–35 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_storage_answers_within_the_function_timeout() {
    let _serial = lock_serial().await;
    let mut report = Report::new(4, "slow_storage", Size::Small);
    let functions = ProxiedFunctions::start("rel-slow", FaultPlan::none(), 1).await;
    let brownout = FaultPlan::brownout(Brownout {
        throttled_attempts: 2,
        throttle_hold: Duration::from_millis(2_900),
        operations: vec![
            ("GetItem".to_owned(), Duration::from_millis(2_900)),
            ("PutItem".to_owned(), Duration::from_millis(2_900)),
            ("UpdateItem".to_owned(), Duration::from_millis(2_900)),
            (
                "TransactWriteItems".to_owned(),
                Duration::from_millis(3_500),
            ),
        ],
    });
    report.item(
        "storage",
        "brownout through the fault proxy: per store operation, 2 attempts held 2.9 s then ThrottlingException, the 3rd held 2.9 s then answered (GetItem, PutItem, UpdateItem) or 3.5 s, past the 3 s attempt timeout (TransactWriteItems); AUTH on, 1 instance per function",
    );
    let client = format!("rs{}-c", run_id());
    let event = |amount: &str| {
        format!(
            r#"{{"client_id":"{client}","payload":{{"metric":"m","amount":"{amount}","timestamp":"2026-09-01T10:00:00Z"}}}}"#
        )
    };

    // a failed record to retry, kept through the main stack (no faults)
    let kept = functions
        .stack_api()
        .post_raw(
            "/events",
            event("1").replace("\"payload\"", "\"simulateFailure\":true,\"payload\""),
        )
        .await;
    let failed_id = kept.body["failed_id"].as_str().expect("kept").to_owned();

    let mut cases: Vec<(&str, &str, String, String)> = vec![
        (
            "new event, key cached: commit fails late, failed record kept late (2 operations)",
            "cached",
            "/events".to_owned(),
            event("2"),
        ),
        (
            "retry of a failed record, key cached: read record, commit fails late, record the attempt (3 operations)",
            "cached",
            format!("/events/failed/{}/retry", encode(&failed_id)),
            String::new(),
        ),
    ];
    // a key this instance never saw: two more reads before any work
    let (_, cold_key) = new_tenant("rel-slow-cold", &format!("{client}*")).await;
    cases.push((
        "new event, key not cached: 2 key reads, commit fails late, failed record kept late (4 operations)",
        "cold",
        "/events".to_owned(),
        event("3"),
    ));
    // and a batch, with yet another key: its 20 s deadline starts after the key reads
    let (_, cold_batch_key) = new_tenant("rel-slow-cold", &format!("{client}*")).await;
    cases.push((
        "batch of 3 new events, key not cached: 2 key reads, then commit and failed records inside the 20 s batch deadline",
        "cold batch",
        "/events".to_owned(),
        format!("{{\"events\":[{},{},{}]}}", event("4"), event("5"), event("6")),
    ));
    for (what, key, path, body) in cases {
        if key == "cached" {
            // the local stack caches keys for 5 s only, per function instance: have ingest read
            // it again, storage healthy (a body that is not JSON is refused after the key check)
            functions.proxy.set_plan(FaultPlan::none());
            let warm = functions.api().post_raw("/events", "not json").await;
            assert_eq!(warm.status, StatusCode::BAD_REQUEST, "{}", warm.body);
        }
        functions.proxy.set_plan(brownout.clone());
        let key = match key {
            "cold" => cold_key.as_str(),
            "cold batch" => cold_batch_key.as_str(),
            _ => functions.key.as_str(),
        };
        let (seconds, status, body) = timed_post(&functions.base, key, &path, body).await;
        let code = body["error"]["code"]
            .as_str()
            .or(body["status"].as_str())
            .map(str::to_owned)
            .or_else(|| {
                body["results"].as_array().map(|items| {
                    let codes: Vec<&str> = items
                        .iter()
                        .map(|i| i["error"]["code"].as_str().unwrap_or("?"))
                        .collect();
                    format!("items {}", codes.join(","))
                })
            })
            .unwrap_or_else(|| "?".to_owned());
        report.item(what, format!("{status} {code} after {seconds:.1} s"));
        report.check(seconds < INGEST_TIMEOUT.as_secs_f64(), || {
            format!("{what}: answered after {seconds:.1} s, past the ingest function's 25 s timeout (in AWS: killed, API Gateway answers 502/504 instead of the typed {status})")
        });
        // the request deadline, plus time for the answer to travel through the emulator
        report.check(seconds < REQUEST_DEADLINE.as_secs_f64() + 1.5, || {
            format!("{what}: answered after {seconds:.1} s, past the 20 s request deadline")
        });
        report.check(answer_is_typed(status, &body), || {
            format!(
                "{what}: {status} is not one of the contract's answers to a failing store: {body}"
            )
        });
    }
    functions.proxy.set_share(0.0);
    report.item("proxy", functions.proxy.stats().summary());
    report.finish();
}

/// What the contract lets a request answer while storage fails: the event kept as failed
/// (500, retryable, with its id), or "resend" (503); for a batch, each item one of those.
fn answer_is_typed(status: u16, body: &Value) -> bool {
    let kept = |v: &Value| v["retryable"] == true && v["failed_id"].is_string();
    let resend = |v: &Value| v["error"]["code"].as_str().is_some();
    match status {
        500 => body["error"]["code"] == "storage_failed" && kept(body),
        503 => body["error"]["code"] == "storage_unavailable",
        200 => body["results"].as_array().is_some_and(|items| {
            items.iter().all(|item| match item["status"].as_str() {
                Some("failed") => item["error"]["code"] == "storage_failed" && kept(item),
                Some("unavailable") => item["retryable"] == true && resend(item),
                _ => false,
            })
        }),
        _ => false,
    }
}

#[test]
fn spellings_are_what_the_contract_allows() {
    // the helpers above are the test's own truth: check them against known values
    assert_eq!(
        canonical_ts(date_ns(2026, 11, 20) + 8 * 3600 * NS),
        "2026-11-20T08:00:00Z"
    );
    assert_eq!(date_ns(2026, 11, 20) / NS, 1_795_132_800);
    assert_eq!(
        format_ts(
            date_ns(2026, 11, 20) + 8 * 3600 * NS,
            Zone::Offset(120),
            None
        ),
        "2026-11-20T10:00:00+02:00"
    );
    assert_eq!(
        format_ts(
            date_ns(2026, 11, 20) + 8 * 3600 * NS + 120_000_000,
            Zone::Offset(-300),
            Some(3)
        ),
        "2026-11-20T03:00:00.120-05:00"
    );
    assert_eq!(
        format_ts(5 * NS, Zone::SpaceOffset(120), None),
        "1970-01-01T02:00:05 02:00"
    );
    assert_eq!(significant_digits(1_500_000), 4);
    assert_eq!(significant_digits(NS), 0);
    assert_eq!(canonical_amount(12_500_000_000), "12.5");
    assert_eq!(canonical_amount(-1), "-0.000000001");
    assert_eq!(canonical_amount(10 * NANO), "10");
    for _ in 0..1000 {
        let mut rng = fastrand::Rng::new();
        let n = rng.i128(-1_000_000_000_000_000_000..1_000_000_000_000_000_000) * NANO
            / 10i128.pow(rng.u32(0..10));
        let spelled = spell_amount(n, &mut rng);
        let text = spelled.trim_matches('"').trim_start_matches('+');
        // value check without floats: parse mantissa/exponent by hand
        let (mantissa, exponent) = match text.split_once('e') {
            Some((m, e)) => (m.to_owned(), e.parse::<i32>().unwrap()),
            None => (text.to_owned(), 0),
        };
        let units = nano_units(&mantissa);
        let value = if exponent >= 0 {
            units * 10i128.pow(exponent as u32)
        } else {
            units / 10i128.pow((-exponent) as u32)
        };
        assert_eq!(value, n, "{spelled}");
    }
}
