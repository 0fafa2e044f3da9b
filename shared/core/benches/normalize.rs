//! Throughput of the event path: `parse_body` + `normalize_event` + `EventHash`, against a
//! baseline that does the least a service could do with the same bytes: serde_json into a
//! plain struct (`String` fields, `f64` amount) plus one SHA-256 over the bytes.
//!
//! `cargo bench -p event-core --bench normalize -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use event_core::{normalize_event, parse_body, Body, EventTimestamp};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// A typical event (~200 bytes). The amount is a JSON number so that the baseline's f64
/// field can read the same bytes.
fn event_json(i: usize) -> String {
    format!(
        r#"{{"client_id":"acme-prod-{:04}","source":"web-checkout","event_id":"evt-2026-11-20-{:06}","payload":{{"metric":"purchase","amount":{}.{:02},"timestamp":"2026-11-20T10:{:02}:{:02}+02:00"}},"simulateFailure":false}}"#,
        i % 100,
        i,
        10 + i % 90,
        i % 100,
        i / 60 % 60,
        i % 60
    )
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct BaselinePayload {
    metric: String,
    amount: f64,
    timestamp: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct BaselineEvent {
    client_id: String,
    source: String,
    event_id: Option<String>,
    payload: BaselinePayload,
    #[serde(rename = "simulateFailure")]
    simulate_failure: bool,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct BaselineBatch {
    events: Vec<BaselineEvent>,
}

fn ours(bytes: &[u8], received_at: EventTimestamp) -> usize {
    let body = parse_body(bytes).expect("valid body");
    let mut ok = 0;
    for raw in body.events() {
        let parsed = normalize_event(raw, received_at).expect("valid event");
        ok += usize::from(parsed.hash.as_bytes()[0] != 0) + 1;
    }
    ok
}

fn baseline_single(bytes: &[u8]) -> (BaselineEvent, [u8; 32]) {
    let event: BaselineEvent = serde_json::from_slice(bytes).expect("valid event");
    (event, Sha256::digest(bytes).into())
}

fn baseline_batch(bytes: &[u8]) -> (BaselineBatch, [u8; 32]) {
    let batch: BaselineBatch = serde_json::from_slice(bytes).expect("valid batch");
    (batch, Sha256::digest(bytes).into())
}

fn benches(c: &mut Criterion) {
    let received_at = EventTimestamp::parse("2026-11-20T12:00:00Z").expect("valid instant");
    let single = event_json(7);
    let batch = format!(
        r#"{{"events":[{}]}}"#,
        (0..500).map(event_json).collect::<Vec<_>>().join(",")
    );
    assert!(
        matches!(parse_body(batch.as_bytes()), Ok(Body::Batch(ref items)) if items.len() == 500)
    );

    let mut group = c.benchmark_group("single");
    group.throughput(Throughput::Elements(1));
    group.bench_function("event_core", |b| {
        b.iter(|| ours(black_box(single.as_bytes()), received_at))
    });
    group.bench_function("baseline", |b| {
        b.iter(|| baseline_single(black_box(single.as_bytes())))
    });
    group.finish();

    let mut group = c.benchmark_group("batch500");
    group.throughput(Throughput::Elements(500));
    group.bench_function("event_core", |b| {
        b.iter(|| ours(black_box(batch.as_bytes()), received_at))
    });
    group.bench_function("baseline", |b| {
        b.iter(|| baseline_batch(black_box(batch.as_bytes())))
    });
    group.finish();
}

criterion_group!(normalize, benches);
criterion_main!(normalize);
