//! The client side of a reliability run: many concurrent clients send every job, judge each
//! answer by what the contract allows for the faults injected (`Injected`), resend what got no
//! definite answer, retry failed records, and record every answer (`Ledger`) and its latency
//! (`Metrics`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Semaphore;

use super::workload::Workload;
use crate::{encode, is_emulator_500};

/// The client's timeout: above the ingest function's 25 s (infra/template.yaml), so firing
/// means a request hung past the point where AWS would have killed the function.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Sends of one event (or one retry of a failed record) before the client gives up.
const MAX_ATTEMPTS: u32 = 40;

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
pub enum Injected {
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

/// What the client was told about one event.
#[derive(Default, Clone)]
pub struct EventLog {
    pub processed: u32,
    pub duplicates: u32,
    pub hashes: BTreeSet<String>,
    /// When the first `processed` or `duplicate` answer about it arrived.
    pub first_counted: Option<Instant>,
    /// Some send of it got an answer that leaves open whether it was counted (a timeout,
    /// a 5xx, `unavailable`, or a failed record): a `processed` answer may then be missing.
    pub ambiguous: bool,
}

/// Every answer of a run, per send and per event.
#[derive(Default)]
pub struct Ledger {
    /// Per send: it ended counted.
    pub settled: Vec<bool>,
    pub events: Vec<EventLog>,
    /// (send, failed_id) of every failed record the client was told about.
    pub failed_ids: Vec<(usize, String)>,
    /// Sends the client gave up on after `MAX_ATTEMPTS`.
    pub gave_up: Vec<usize>,
    /// Answers the contract does not allow.
    pub unexpected: Vec<String>,
}

/// How the requests of a run went.
#[derive(Default)]
pub struct Metrics {
    /// Milliseconds per request, by kind (`single`, `batch`, `retry`).
    pub latency: BTreeMap<&'static str, Vec<f64>>,
    /// Answers by kind and status.
    pub answers: BTreeMap<String, u64>,
    /// Events sent again, by the reason.
    pub resends: BTreeMap<&'static str, u64>,
    /// `POST /events/failed/{id}/retry` calls.
    pub failed_retries: u64,
    pub timeouts: u64,
    /// (ms, what) of the slowest answer.
    pub slowest: Option<(f64, String)>,
}

/// Where requests go: base URL, one key per tenant (`None` with `AUTH=off`), in-flight cap.
pub struct Target {
    http: reqwest::Client,
    base: String,
    keys: Vec<Option<String>>,
    in_flight: Semaphore,
}

impl Target {
    pub fn new(base: &str, keys: Vec<Option<String>>, in_flight: usize) -> Self {
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

/// One run of a workload against a target: every job sent by concurrent clients until its
/// events are counted, every answer judged and recorded.
pub struct Run {
    target: Target,
    pub work: Workload,
    injected: Injected,
    ledger: Mutex<Ledger>,
    metrics: Mutex<Metrics>,
}

fn backoff(attempt: u32) -> Duration {
    let ceiling = 50u64.saturating_mul(1 << attempt.min(5)).min(1_000);
    Duration::from_millis(fastrand::u64(ceiling / 2..=ceiling))
}

impl Run {
    pub fn new(target: Target, work: Workload, injected: Injected) -> Arc<Self> {
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

    pub fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn metrics(&self) -> std::sync::MutexGuard<'_, Metrics> {
        self.metrics.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every job, by `workers` concurrent clients; the wall time.
    pub async fn run(self: &Arc<Self>, workers: usize) -> Duration {
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

/// One POST with a long client timeout: (seconds, status, body).
pub async fn timed_post(base: &str, key: &str, path: &str, body: String) -> (f64, u16, Value) {
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
