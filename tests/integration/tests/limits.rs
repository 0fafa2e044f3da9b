//! Per-tenant limits over HTTP against the local stack, under a flood: tenant A (a rate
//! limit) sends from 32 workers at 5× its rate while tenant B sends steadily well under its
//! own. A is held to its limit within the stated tolerance (rate × (T + 1 s) + burst, see
//! `event_runtime::limiter`), every refusal is a 429 with `Retry-After` and writes nothing,
//! what was accepted is counted exactly, B is never refused and not slowed, and A's sends
//! succeed again after the `Retry-After` it was given. Then the same flood sent with
//! `event-ingest send` ends with every event counted exactly once, slowed down, none lost.
//!
//! Small in every `make test` (20 s of flood); `SOAK=1` (`make soak`) floods for 120 s.
//! `REPORT=1` writes the RELIABILITY.md section.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use event_store::TenantLimits;
use integration_tests::report::{quantile, Report, Size};
use integration_tests::{new_limited_tenant, Api};
use reqwest::StatusCode;
use serde_json::{json, Value};

const WORKERS: u64 = 32;
/// Events per flood request: the limit counts events, and batches keep the flood's request
/// rate (and the emulator's CPU on this machine, shared with tenant B) moderate.
const FLOOD_BATCH: u64 = 5;
/// Tenant A's sustained rate and burst (events per second): small, so the emulator carries
/// the flood of five times that without being the bottleneck itself.
const RATE: u64 = 20;
const BURST: u64 = 20;
/// Tenant B: a limit well above what it sends.
const B_RATE: u64 = 200;
const B_SENDS_PER_SECOND: u64 = 5;

fn limits(rate: u64, burst: u64) -> TenantLimits {
    TenantLimits {
        rate_per_second: Some(rate),
        burst: Some(burst),
        daily: Some(0),
        reads_per_second: Some(0),
    }
}

fn event(client: &str, n: u64) -> Value {
    json!({"client_id": client, "event_id": format!("e{n}"),
           "payload": {"metric": "flood", "amount": n.to_string(), "timestamp": "2026-12-01T10:00:00Z"}})
}

/// What the flood's answers were.
#[derive(Default)]
struct Flood {
    accepted: AtomicU64,
    refused: AtomicU64,
    refused_without_retry_after: AtomicU64,
    unexpected: Mutex<Vec<String>>,
    /// The `Retry-After` of the last refusal, and when it came.
    last_refusal: Mutex<Option<(Instant, u64)>>,
}

/// `WORKERS` senders of batches of `FLOOD_BATCH` events at 5× `RATE` events in total, for
/// `duration`.
async fn flood(api: &Api, client: &str, duration: Duration, next: &AtomicU64) -> Flood {
    let result = Flood::default();
    let interval = Duration::from_secs_f64((WORKERS * FLOOD_BATCH) as f64 / (5 * RATE) as f64);
    let deadline = Instant::now() + duration;
    let worker = |_: u64| async {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while Instant::now() < deadline {
            tick.tick().await;
            let first = next.fetch_add(FLOOD_BATCH, Ordering::SeqCst);
            let events: Vec<Value> = (first..first + FLOOD_BATCH)
                .map(|n| event(client, n))
                .collect();
            let reply = api.post("/events", &json!({ "events": events })).await;
            match reply.status.as_u16() {
                200 if reply.body["processed"] == FLOOD_BATCH => {
                    result.accepted.fetch_add(FLOOD_BATCH, Ordering::SeqCst);
                }
                429 => {
                    result.refused.fetch_add(FLOOD_BATCH, Ordering::SeqCst);
                    match reply.retry_after.as_deref().and_then(|v| v.parse().ok()) {
                        Some(seconds) => {
                            *result.last_refusal.lock().unwrap() = Some((Instant::now(), seconds))
                        }
                        None => {
                            result
                                .refused_without_retry_after
                                .fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    if reply.body["error"]["code"] != "rate_limited" {
                        result
                            .unexpected
                            .lock()
                            .unwrap()
                            .push(reply.body.to_string());
                    }
                }
                _ => result
                    .unexpected
                    .lock()
                    .unwrap()
                    .push(format!("{}: {}", reply.status, reply.body)),
            }
        }
    };
    futures::future::join_all((0..WORKERS).map(worker)).await;
    result
}

/// Tenant B's steady sends for `duration`: (latencies in ms, refusals, other failures).
async fn steady(api: &Api, client: &str, duration: Duration, offset: u64) -> (Vec<f64>, u64, u64) {
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / B_SENDS_PER_SECOND));
    let deadline = Instant::now() + duration;
    let (mut latencies, mut refused, mut failed) = (Vec::new(), 0, 0);
    let mut n = offset;
    while Instant::now() < deadline {
        tick.tick().await;
        let started = Instant::now();
        let reply = api.post("/events", &event(client, n)).await;
        n += 1;
        match reply.status {
            StatusCode::CREATED => latencies.push(started.elapsed().as_secs_f64() * 1000.0),
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            _ => failed += 1,
        }
    }
    (latencies, refused, failed)
}

/// The count of `client`'s events in the aggregates (strongly consistent).
async fn counted(api: &Api, client: &str) -> u64 {
    let reply = api
        .get(&format!(
            "/aggregates?client_id={client}&from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z"
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["count"].as_u64().expect("a count")
}

/// The two floods of this file run one after the other: each measures latencies and rates.
static ONE_FLOOD_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn a_flooding_tenant_is_held_to_its_limit_and_another_tenant_is_not_slowed() {
    let _flood = ONE_FLOOD_AT_A_TIME.lock().await;
    let size = Size::from_env();
    let seconds = size.pick(20, 120);
    let mut report = Report::new(20, "tenant_limits_under_a_flood", size).with_command(&format!(
        "REPORT=1{} cargo test -p integration-tests --test limits -- a_flooding_tenant",
        size.pick("", " SOAK=1")
    ));
    let (_, key_a) = new_limited_tenant("flood-a", "flood-a-*", limits(RATE, BURST)).await;
    let (_, key_b) = new_limited_tenant("flood-b", "flood-b-*", limits(B_RATE, B_RATE)).await;
    let api_a = Api::new().with_key(Some(&key_a));
    let api_b = Api::new().with_key(Some(&key_b));
    let client_a = format!("flood-a-{:08x}", fastrand::u32(..));
    let client_b = format!("flood-b-{:08x}", fastrand::u32(..));

    // B alone first: its own latency, the yardstick.
    let (mut alone, refused_alone, failed_alone) =
        steady(&api_b, &client_b, Duration::from_secs(8), 0).await;
    // The flood, with B sending beside it.
    let next = AtomicU64::new(0);
    let started = Instant::now();
    let (result, (mut during, refused_b, failed_b)) = tokio::join!(
        flood(&api_a, &client_a, Duration::from_secs(seconds), &next),
        steady(&api_b, &client_b, Duration::from_secs(seconds), 100_000),
    );
    let elapsed = started.elapsed().as_secs_f64();

    let accepted = result.accepted.load(Ordering::SeqCst);
    let refused = result.refused.load(Ordering::SeqCst);
    let sent = next.load(Ordering::SeqCst);
    let allowed = (RATE as f64 * elapsed * 1.1 + BURST as f64).floor() as u64;
    report.item(
        "load",
        format!(
            "tenant A (limit {RATE}/s, burst {BURST}): {WORKERS} workers sending batches of \
             {FLOOD_BATCH} at {} events/s in total for {elapsed:.1} s ({sent} events); tenant B (limit {B_RATE}/s): \
             {B_SENDS_PER_SECOND}/s beside it, and 8 s alone before",
            5 * RATE
        ),
    );
    report.item(
        "tenant A",
        format!(
            "{accepted} accepted ({:.1}/s), {refused} refused with 429; bound rate × T × 1.1 + \
             burst = {allowed}",
            accepted as f64 / elapsed
        ),
    );
    report.check(accepted <= allowed, || {
        format!("A got {accepted} events accepted, more than {allowed}")
    });
    report.check(accepted as f64 >= RATE as f64 * elapsed * 0.5, || {
        format!("A got only {accepted} accepted in {elapsed:.0} s: the limiter starves it")
    });
    report.check(
        result.refused_without_retry_after.load(Ordering::SeqCst) == 0,
        || "a 429 without Retry-After".to_owned(),
    );
    let unexpected = result.unexpected.lock().unwrap().clone();
    report.check(unexpected.is_empty(), || {
        format!(
            "{} unexpected answers, e.g. {:?}",
            unexpected.len(),
            unexpected.first()
        )
    });

    // Counts exact: what was accepted is counted, nothing of a refused request was written.
    let counted_a = counted(&api_a, &client_a).await;
    report.item(
        "counted",
        format!("A's aggregates count {counted_a} events"),
    );
    report.check(counted_a == accepted, || {
        format!("A's aggregates count {counted_a}, but {accepted} were accepted")
    });

    let p50_alone = quantile(&mut alone, 0.5);
    let p50_during = quantile(&mut during, 0.5);
    report.item(
        "tenant B",
        format!(
            "{} sends alone (p50 {p50_alone:.1} ms), {} during the flood (p50 {p50_during:.1} ms, \
             {:.2}×); refused {}, failed {}",
            alone.len() + refused_alone as usize,
            during.len() + refused_b as usize,
            p50_during / p50_alone,
            refused_alone + refused_b,
            failed_alone + failed_b
        ),
    );
    report.check(refused_alone + refused_b == 0, || {
        "B was refused".to_owned()
    });
    report.check(failed_alone + failed_b == 0, || {
        "B's sends failed".to_owned()
    });
    report.check(p50_during <= 1.5 * p50_alone, || {
        format!("B's p50 went from {p50_alone:.1} ms alone to {p50_during:.1} ms in the flood")
    });

    // After the flood, A's send succeeds within the Retry-After it was given.
    let last_refusal = *result.last_refusal.lock().unwrap();
    if let Some((at, seconds)) = last_refusal {
        tokio::time::sleep_until((at + Duration::from_secs(seconds)).into()).await;
    }
    let after = api_a.post("/events", &event(&client_a, 1_000_000)).await;
    report.item(
        "after",
        format!("A's send after its Retry-After: {}", after.status),
    );
    report.check(after.status == StatusCode::CREATED, || {
        format!(
            "A's send after its Retry-After answered {}: {}",
            after.status, after.body
        )
    });

    let failures = report.failures().to_vec();
    report.finish();
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The same flood through `event-ingest send`: slowed down by the 429s, every event counted
/// exactly once, none lost.
#[tokio::test]
async fn the_flood_sent_with_event_ingest_is_counted_exactly_once() {
    let _flood = ONE_FLOOD_AT_A_TIME.lock().await;
    let size = Size::from_env();
    let events = size.pick(600, 3000);
    let (_, key) =
        new_limited_tenant("flood-cli", "flood-cli-*", limits(RATE * 5, BURST * 5)).await;
    let client = format!("flood-cli-{:08x}", fastrand::u32(..));
    let dir = std::env::temp_dir().join(format!("flood-cli-{:08x}", fastrand::u32(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("flood.ndjson");
    let lines: Vec<String> = (0..events).map(|n| event(&client, n).to_string()).collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let report = dir.join("report.json");

    let binary = event_ingest_binary();
    let started = Instant::now();
    // Blocking: this test has nothing else to do meanwhile.
    let status = std::process::Command::new(&binary)
        .args([
            "send",
            "--quiet",
            "--batch-size",
            "50",
            "--concurrency",
            "32",
        ])
        .arg("--report")
        .arg(&report)
        .arg(&input)
        .env("EVENT_INGEST_URL", integration_tests::base_url())
        .env("EVENT_INGEST_KEY", &key)
        .status()
        .expect("run event-ingest");
    let elapsed = started.elapsed().as_secs_f64();
    let summary: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert!(
        status.success(),
        "event-ingest failed ({status}): {summary}"
    );
    assert_eq!(summary["processed"], events, "{summary}");
    let api = Api::new().with_key(Some(&key));
    assert_eq!(counted(&api, &client).await, events);
    // Slowed to the limit: it cannot have been faster than the bucket allows.
    let fastest = (events - BURST * 5) as f64 / (RATE * 5) as f64;
    assert!(
        elapsed >= fastest * 0.9,
        "{events} events in {elapsed:.1} s: faster than the limit allows ({fastest:.1} s)"
    );
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "event-ingest: {events} events in {elapsed:.1} s through a limit of {}/s: {summary}",
        RATE * 5
    );
}

/// The `event-ingest` binary of this workspace, built if this test run did not build it.
fn event_ingest_binary() -> std::path::PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let built = std::process::Command::new(cargo)
        .args(["build", "-q", "-p", "event-ingest", "--bin", "event-ingest"])
        .current_dir(integration_tests::repo_root())
        .status()
        .expect("cargo build");
    assert!(built.success(), "cargo build -p event-ingest");
    integration_tests::repo_root().join("target/debug/event-ingest")
}
