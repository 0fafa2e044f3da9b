//! The ingest handler's own CPU per request, storage excluded (`MemoryStore`): one event and
//! a 500-event batch, with authentication as deployed (key cached), with every request
//! reading the key (cache off: two store reads, here in memory), and with `AUTH=off`; and
//! `event-core` alone on the same bodies, as the baseline the handler adds to.
//!
//!   cargo bench -p ingest --bench handler

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use event_core::{normalize_event, parse_body, EventTimestamp};
use event_runtime::testing::{app_with, fixed_now, fixture_request};
use event_runtime::{AuthConfig, Config};
use lambda_http::Request;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn body_of(i: usize) -> String {
    format!(
        r#"{{"client_id":"acme-{c}","source":"web","event_id":"e{i}","payload":{{"metric":"purchase","amount":{i}.25,"timestamp":"2026-11-20T{h:02}:{m:02}:00+02:00"}}}}"#,
        c = i % 7,
        h = i % 12,
        m = i % 60
    )
}

fn request(body: &str) -> Request {
    fixture_request(FIXTURES, "http_v2_post_events.json", |event| {
        event["body"] = Value::from(body)
    })
}

fn config(enabled: bool, cache: Duration) -> Config {
    Config {
        auth: AuthConfig {
            enabled,
            cache_ttl: cache,
        },
        ..Config::default()
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let batch = format!(
        r#"{{"events":[{}]}}"#,
        (0..500).map(body_of).collect::<Vec<_>>().join(",")
    );
    let now: EventTimestamp = fixed_now();
    let modes = [
        ("auth_cached", config(true, Duration::from_secs(60))),
        ("auth_uncached", config(true, Duration::ZERO)),
        ("auth_off", config(false, Duration::from_secs(60))),
    ];
    for (name, events, body) in [("single", 1u64, body_of(1)), ("batch500", 500, batch)] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(events));
        group.bench_function("event_core", |b| {
            b.iter(|| {
                let parsed = parse_body(body.as_bytes()).unwrap();
                for raw in parsed.events() {
                    let _ = normalize_event(raw, now);
                }
            })
        });
        for (mode, config) in &modes {
            // A fresh store per iteration: every event is new (a duplicate is cheaper).
            group.bench_function(*mode, |b| {
                b.iter_batched(
                    || (app_with(config.clone()), request(&body)),
                    |(app, req)| runtime.block_on(ingest::handle(req, &app)),
                    BatchSize::SmallInput,
                )
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
