//! Cost and speed of `DynamoStore::commit_event` on a DynamoDB endpoint (LocalStack locally):
//! requests and write units per new event and per duplicate, and commit throughput as a ratio
//! to a bare SDK PutItem loop on the same endpoint in the same run (emulators are too slow for
//! absolute numbers to mean anything).
//!
//! ```sh
//! set -a; . .local/stack.env; set +a
//! cargo run --release -p event-store --example dynamo_costs [EVENTS] [CONCURRENCY]
//! ```

use std::time::Instant;

use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use event_core::{Amount, ClientId, EventId, EventTimestamp, Metric, NormalizedEvent, Source};
use event_store::{CommitOutcome, DynamoStore, ProcessedRecord, Store, StoreConfig};
use futures::StreamExt;

/// DynamoDB's item size rule: attribute name bytes plus value bytes (numbers: about one byte
/// per two significant digits, plus one).
fn item_bytes(item: &std::collections::HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(s) => s.len(),
                    AttributeValue::N(n) => {
                        n.trim_start_matches('-').replace('.', "").len().div_ceil(2) + 1
                    }
                    _ => 8,
                }
        })
        .sum()
}

fn record(i: usize, run: &str) -> ProcessedRecord {
    let event = NormalizedEvent {
        client_id: ClientId::parse("bench-client").unwrap(),
        source: Source::parse("web").unwrap(),
        metric: Metric::parse("purchase").unwrap(),
        amount: Amount::parse("12.50").unwrap(),
        timestamp: EventTimestamp::from_unix_nanos(
            1_763_625_600_000_000_000 + i as i64 * 1_000_000_007,
        )
        .unwrap(),
        event_id: Some(EventId::parse(&format!("{run}-{i}")).unwrap()),
    };
    ProcessedRecord {
        hash: event.hash(),
        event,
        received_at: EventTimestamp::from_unix_nanos(1_763_625_700_000_000_000).unwrap(),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let events = args.first().copied().unwrap_or(400);
    let concurrency = args.get(1).copied().unwrap_or(8);
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(
        Region::new(std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into())),
    );
    if let Some(endpoint) = &endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    if std::env::var("AWS_ACCESS_KEY_ID").is_err() {
        loader = loader.credentials_provider(Credentials::new("test", "test", None, None, "bench"));
    }
    let client = aws_sdk_dynamodb::Client::new(&loader.load().await);
    let run = format!("{:08x}", fastrand::u32(..));
    let config = StoreConfig::from_env()
        .expect("TABLE_NAME etc.: source .local/stack.env")
        .with_tenant(format!("bench-{run}"));
    let store = DynamoStore::new(client.clone(), config.clone());
    store.warm_up().await;
    println!(
        "endpoint {endpoint:?}, table {}, {events} events, {concurrency} in flight",
        config.table_name
    );

    // ---- cost of one new event, and of one duplicate
    let sample = record(0, &run);
    let item = store.processed_item(&sample);
    let bytes = item_bytes(&item);
    let before = store.stats();
    assert_eq!(
        store.commit_event(&sample).await.unwrap(),
        CommitOutcome::Processed
    );
    let new = store.stats();
    assert_eq!(
        store.commit_event(&sample).await.unwrap(),
        CommitOutcome::Duplicate
    );
    let dup = store.stats();
    println!("processed item: {bytes} bytes (+ two aggregate items of about 60 bytes)");
    println!(
        "new event:  {} request(s), {} WCU reported",
        new.requests - before.requests,
        new.write_units - before.write_units
    );
    println!(
        "duplicate:  {} request(s), {} WCU reported (DynamoDB Local reports none for a cancelled transaction)",
        dup.requests - new.requests,
        dup.write_units - new.write_units
    );

    // AWS's rules (DynamoDB Local's own figures for transactions are not AWS's): 1 WCU per KB
    // per item, doubled inside a transaction; a GSI copy costs a plain write; a cancelled
    // transaction's failed condition still costs.
    let kb = |b: usize| b.div_ceil(1024) as f64;
    let new_event = 2.0 * (kb(bytes) + 2.0) + kb(bytes);
    let duplicate = 2.0 * (kb(bytes) + 2.0);
    println!(
        "AWS rules: new event {new_event} WCU (3 items x 2 + feed index copy {}), duplicate up to {duplicate} WCU",
        kb(bytes)
    );
    println!(
        "minimum: counted atomically = put + one ADD in a transaction = 4 WCU (+1 feed copy); \
         uncounted = one conditional PutItem = 1 WCU; duplicate = 1 failed conditional PutItem \
         (1 WCU) or a GetItem pre-check (0.5 RCU eventual / 1 RCU strong)"
    );

    // ---- throughput: commit_event vs a bare PutItem of the same item
    let table = config.table_name.clone();
    let mut commit_rates = Vec::new();
    let mut put_rates = Vec::new();
    for round in 0..2 {
        let bare_run = format!("{run}-bare{round}");
        let started = Instant::now();
        futures::stream::iter(0..events)
            .map(|i| {
                let mut item = store.processed_item(&record(i, &bare_run));
                item.insert(
                    "pk".into(),
                    AttributeValue::S(format!("BARE#{bare_run}#{}", i % 4)),
                );
                let request = client
                    .put_item()
                    .table_name(&table)
                    .set_item(Some(item))
                    .return_consumed_capacity(ReturnConsumedCapacity::Total);
                async move { request.send().await.expect("put") }
            })
            .buffer_unordered(concurrency)
            .for_each(|_| async {})
            .await;
        put_rates.push(events as f64 / started.elapsed().as_secs_f64());

        let commit_run = format!("{run}-commit{round}");
        let records: Vec<_> = (0..events).map(|i| record(i, &commit_run)).collect();
        let started = Instant::now();
        futures::stream::iter(records.iter())
            .map(|r| store.commit_event(r))
            .buffer_unordered(concurrency)
            .for_each(|outcome| async move {
                assert_eq!(outcome.expect("commit"), CommitOutcome::Processed);
            })
            .await;
        commit_rates.push(events as f64 / started.elapsed().as_secs_f64());
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (puts, commits) = (mean(&put_rates), mean(&commit_rates));
    println!("bare PutItem:  {puts:.0}/s  (rounds {put_rates:.0?})");
    println!("commit_event:  {commits:.0}/s  (rounds {commit_rates:.0?})");
    println!("ratio commit/put: {:.2}", commits / puts);
    println!("stats: {:?}", store.stats());
}
