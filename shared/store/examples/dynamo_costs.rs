//! Cost and speed of `DynamoStore`'s writes on a DynamoDB endpoint (LocalStack locally), every
//! speed as a ratio to a bare SDK conditional PutItem loop on the same endpoint in the same
//! run (an emulator is too slow for absolute numbers to mean anything):
//!
//! 1. requests and write units of one new event and of one duplicate;
//! 2. throughput at 1, 8 and 16 requests in flight of: the bare PutItem loop (baseline), a
//!    bare TransactWriteItems of the same 3 items as `commit_event` (second baseline: the
//!    emulator's own price of a transaction), `commit_event` of new events, grouped batch
//!    commits of 100 new events (one client and hour; and spread over 10 clients and hours),
//!    and duplicates via `commit_event`; with the client-side CPU per event of each;
//! 3. the pieces of "read before write" for duplicates in batches: a BatchGetItem of 100 keys
//!    vs a transaction of 100 puts (committed, and cancelled because every key is taken), and
//!    a batch of 100 duplicates committed with and without the pre-read.
//!
//! ```sh
//! set -a; . .local/stack.env; set +a
//! cargo run --release -p event-store --example dynamo_costs [EVENTS] [ROUNDS]
//! ```
//! (`make bench-dynamo` starts a stack, runs this, and stops the stack.)

use std::collections::HashMap;
use std::future::Future;
use std::time::Instant;

use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnConsumedCapacity, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use event_core::{Amount, ClientId, EventId, EventTimestamp, Metric, NormalizedEvent, Source};
use event_store::{CommitOutcome, DynamoStore, ProcessedRecord, Store, StoreConfig};
use futures::{Stream, StreamExt};

type Item = HashMap<String, AttributeValue>;

/// The requests in flight every throughput figure is measured at.
const IN_FLIGHT: [usize; 3] = [1, 8, 16];
/// 2024-11-20T08:00:00Z: the hour every benchmark event falls in (plus `hour` hours).
const BASE_NS: i64 = 1_732_089_600_000_000_000;

/// What every measurement shares: the SDK client, the store, the table, this run's prefix.
struct Bench {
    client: Client,
    store: DynamoStore,
    table: String,
    run: String,
}

/// Event `i` of client `client`, in hour `BASE + hour`; `tag` keeps runs and workloads apart.
fn record(tag: &str, client: &str, hour: i64, i: usize) -> ProcessedRecord {
    let event = NormalizedEvent {
        client_id: ClientId::parse(client).unwrap(),
        source: Source::parse("web").unwrap(),
        metric: Metric::parse("purchase").unwrap(),
        amount: Amount::parse("12.50").unwrap(),
        timestamp: EventTimestamp::from_unix_nanos(
            BASE_NS + hour * 3_600_000_000_000 + (i as i64 % 3_600) * 1_000_000_007,
        )
        .unwrap(),
        event_id: Some(EventId::parse(&format!("{tag}-{i}")).unwrap()),
    };
    ProcessedRecord {
        hash: event.hash(),
        event,
        received_at: EventTimestamp::from_unix_nanos(BASE_NS + 100_000_000_000).unwrap(),
    }
}

/// `n` single events of one client over about an hour (the hot-client case of a single sender).
fn singles(tag: &str, n: usize) -> Vec<ProcessedRecord> {
    (0..n).map(|i| record(tag, "bench-client", 0, i)).collect()
}

/// `batches` batches of 100 events: each of one client and hour (`spread` false), or spread
/// over 10 clients and 10 hours (10 groups of 10).
fn batches(tag: &str, batches: usize, spread: bool) -> Vec<Vec<ProcessedRecord>> {
    (0..batches)
        .map(|b| {
            (0..100)
                .map(|i| {
                    let tag = format!("{tag}-{b}");
                    if spread {
                        record(&tag, &format!("s{b}-{}", i % 10), (i % 10) as i64, i)
                    } else {
                        record(&tag, &format!("b{b}"), 0, i)
                    }
                })
                .collect()
        })
        .collect()
}

/// DynamoDB's item size rule: attribute name bytes plus value bytes (numbers: about one byte
/// per two significant digits, plus one).
fn item_bytes(item: &Item) -> usize {
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

/// CPU seconds this process has used so far (user + system, all threads; 10 ms ticks).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // fields after the command name (which is in parentheses): utime is the 12th, stime the 13th
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// One measurement: events per second, and client CPU microseconds per event.
#[derive(Clone, Copy, Default)]
struct Rate {
    per_second: f64,
    cpu_us: f64,
}

/// Runs `work` (which handles `events` events) and times it.
async fn timed(events: usize, work: impl Future<Output = ()>) -> Rate {
    let (cpu, started) = (cpu_seconds(), Instant::now());
    work.await;
    let elapsed = started.elapsed().as_secs_f64();
    Rate {
        per_second: events as f64 / elapsed,
        cpu_us: (cpu_seconds() - cpu) * 1e6 / events as f64,
    }
}

impl Bench {
    /// The processed item of `record` under a key of its own (`BARE#...`), so bare writes
    /// never collide with the store's.
    fn bare_item(&self, record: &ProcessedRecord, tag: &str, i: usize) -> Item {
        let mut item = self.store.processed_item(record);
        item.insert(
            "pk".into(),
            AttributeValue::S(format!("BARE#{tag}#{}", i % 4)),
        );
        item
    }

    fn conditional_put(&self, item: Item) -> Put {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .expect("put")
    }

    fn hour_add(&self, pk: &str, sk: &str) -> Update {
        Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.into()))
            .key("sk", AttributeValue::S(sk.into()))
            .update_expression("ADD #n :one, #total :amount")
            .expression_attribute_names("#n", "n")
            .expression_attribute_names("#total", "total")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":amount", AttributeValue::N("12.5".into()))
            .build()
            .expect("update")
    }

    /// (a) Baseline: one conditional PutItem per event.
    async fn bare_puts(&self, records: &[ProcessedRecord], in_flight: usize) -> Rate {
        let tag = format!("{}-put{}", self.run, fastrand::u32(..));
        timed(records.len(), async {
            futures::stream::iter(records.iter().enumerate())
                .map(|(i, r)| {
                    self.client
                        .put_item()
                        .table_name(&self.table)
                        .set_item(Some(self.bare_item(r, &tag, i)))
                        .condition_expression("attribute_not_exists(pk)")
                        .return_consumed_capacity(ReturnConsumedCapacity::Total)
                        .send()
                })
                .buffer_unordered(in_flight)
                .for_each(|out| async move {
                    out.expect("bare put");
                })
                .await
        })
        .await
    }

    /// (a') Second baseline: the same 3 items as `commit_event` (conditional put + ADD to two
    /// hourly items), in one bare TransactWriteItems: the emulator's price of a transaction.
    async fn bare_transactions(&self, records: &[ProcessedRecord], in_flight: usize) -> Rate {
        let tag = format!("{}-tx{}", self.run, fastrand::u32(..));
        timed(records.len(), async {
            futures::stream::iter(records.iter().enumerate())
                .map(|(i, r)| {
                    let pk = format!("BARE#{tag}#A#{}", i % 4);
                    let actions = vec![
                        TransactWriteItem::builder()
                            .put(self.conditional_put(self.bare_item(r, &tag, i)))
                            .build(),
                        TransactWriteItem::builder()
                            .update(self.hour_add(&pk, "ALL#2024112008"))
                            .build(),
                        TransactWriteItem::builder()
                            .update(self.hour_add(&pk, "M#purchase#2024112008"))
                            .build(),
                    ];
                    self.client
                        .transact_write_items()
                        .set_transact_items(Some(actions))
                        .client_request_token(uuid::Uuid::new_v4().to_string())
                        .return_consumed_capacity(ReturnConsumedCapacity::Total)
                        .send()
                })
                .buffer_unordered(in_flight)
                .for_each(|out| async move {
                    out.expect("bare transaction");
                })
                .await
        })
        .await
    }

    /// (b) and (d): `commit_event` of each record; every outcome must be `expected`.
    async fn commits(
        &self,
        records: &[ProcessedRecord],
        in_flight: usize,
        expected: CommitOutcome,
    ) -> Rate {
        timed(records.len(), async {
            futures::stream::iter(records)
                .map(|r| self.store.commit_event(r))
                .buffer_unordered(in_flight)
                .for_each(|outcome| async move {
                    assert_eq!(outcome.expect("commit"), expected);
                })
                .await
        })
        .await
    }

    /// (c): `batches` committed `in_flight` at a time, each batch one request at a time (so
    /// `in_flight` requests are in flight, as for the single events), in events per second.
    async fn batch_commits<'a, S>(
        &'a self,
        batches: &'a [Vec<ProcessedRecord>],
        in_flight: usize,
        expected: CommitOutcome,
        commit: impl Fn(&'a [ProcessedRecord]) -> S,
    ) -> Rate
    where
        S: Stream<Item = (usize, Result<CommitOutcome, event_store::StoreError>)> + 'a,
    {
        let events = batches.iter().map(Vec::len).sum();
        timed(events, async {
            futures::stream::iter(batches)
                .map(|batch| {
                    commit(batch).for_each(|(_, outcome)| async move {
                        assert_eq!(outcome.expect("batch commit"), expected);
                    })
                })
                .buffer_unordered(in_flight)
                .for_each(|()| async {})
                .await
        })
        .await
    }

    /// Milliseconds per call of `call`, `calls` times one after the other.
    async fn ms_per_call<F, Fut>(&self, calls: usize, mut call: F) -> f64
    where
        F: FnMut(usize) -> Fut,
        Fut: Future<Output = ()>,
    {
        let started = Instant::now();
        for i in 0..calls {
            call(i).await;
        }
        started.elapsed().as_secs_f64() * 1000.0 / calls as f64
    }

    /// 100 conditional puts of `records` (bare keys under `tag`) in one transaction.
    async fn transaction_of_100(&self, records: &[ProcessedRecord], tag: &str) -> bool {
        let actions = records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                TransactWriteItem::builder()
                    .put(self.conditional_put(self.bare_item(r, tag, i)))
                    .build()
            })
            .collect();
        self.client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await
            .is_ok()
    }

    /// One BatchGetItem (eventually consistent, keys only) of the 100 bare keys under `tag`.
    async fn batch_get_of_100(&self, records: &[ProcessedRecord], tag: &str) -> usize {
        let keys = records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let item = self.bare_item(r, tag, i);
                HashMap::from([
                    ("pk".to_owned(), item["pk"].clone()),
                    ("sk".to_owned(), item["sk"].clone()),
                ])
            })
            .collect();
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .projection_expression("pk, sk")
            .build()
            .expect("keys");
        let out = self
            .client
            .batch_get_item()
            .request_items(&self.table, request)
            .send()
            .await
            .expect("batch get");
        out.responses()
            .map(|r| r.values().map(Vec::len).sum())
            .unwrap_or(0)
    }
}

async fn setup() -> Bench {
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
    let client = Client::new(&loader.load().await);
    let run = format!("{:08x}", fastrand::u32(..));
    let config = StoreConfig::from_env()
        .expect("TABLE_NAME etc.: source .local/stack.env")
        .with_tenant(format!("bench-{run}"));
    let store = DynamoStore::new(client.clone(), config.clone());
    store.warm_up(1).await;
    println!(
        "endpoint {endpoint:?}, table {}, run {run}",
        config.table_name
    );
    Bench {
        client,
        store,
        table: config.table_name,
        run,
    }
}

/// 1. Requests and write units of one new event and one duplicate.
async fn cost_per_event(bench: &Bench) {
    let store = &bench.store;
    let sample = record(&bench.run, "bench-client", 0, 0);
    let bytes = item_bytes(&store.processed_item(&sample));
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
    // transaction's items still cost.
    let kb = |b: usize| b.div_ceil(1024) as f64;
    println!(
        "AWS rules: new event {} WCU (3 items x 2 + feed index copy {}), duplicate {} WCU",
        2.0 * (kb(bytes) + 2.0) + kb(bytes),
        kb(bytes),
        2.0 * (kb(bytes) + 2.0)
    );
}

/// The workloads of the throughput table, in the order they run in each round.
const WORKLOADS: [&str; 7] = [
    "(a) bare conditional PutItem",
    "(a') bare TransactWriteItems, same 3 items",
    "(b) commit_event, new",
    "(c1) batches of 100, one client+hour",
    "(c2) batches of 100, 10 clients/hours",
    "(d) commit_event, duplicate",
    "(d') batches of 100 duplicates (pre-read)",
];

/// One round of every workload at `in_flight`, on fresh events.
async fn throughput_round(bench: &Bench, events: usize, in_flight: usize) -> [Rate; 7] {
    let tag = format!("{}-{in_flight}-{}", bench.run, fastrand::u32(..));
    let records = singles(&tag, events);
    // enough batches that `in_flight` of them are busy most of the time
    let batch_count = (events / 100).max(2 * in_flight);
    let one_group = batches(&format!("{tag}g"), batch_count, false);
    let spread = batches(&format!("{tag}s"), batch_count, true);
    let commit_batch = |batch| bench.store.commit_events(batch, 1);
    [
        bench.bare_puts(&records, in_flight).await,
        bench.bare_transactions(&records, in_flight).await,
        bench
            .commits(&records, in_flight, CommitOutcome::Processed)
            .await,
        bench
            .batch_commits(
                &one_group,
                in_flight,
                CommitOutcome::Processed,
                commit_batch,
            )
            .await,
        bench
            .batch_commits(&spread, in_flight, CommitOutcome::Processed, commit_batch)
            .await,
        bench
            .commits(&records, in_flight, CommitOutcome::Duplicate)
            .await,
        bench
            .batch_commits(
                &one_group,
                in_flight,
                CommitOutcome::Duplicate,
                commit_batch,
            )
            .await,
    ]
}

/// 2. The throughput table: means over `rounds` rounds, each as a ratio to (a).
async fn throughput(bench: &Bench, events: usize, rounds: usize) {
    println!("\n| in flight | workload | events/s | ratio to (a) | client CPU µs/event |");
    println!("|---|---|---|---|---|");
    for in_flight in IN_FLIGHT {
        let mut sums = [Rate::default(); 7];
        for _ in 0..rounds {
            for (sum, rate) in sums
                .iter_mut()
                .zip(throughput_round(bench, events, in_flight).await)
            {
                sum.per_second += rate.per_second / rounds as f64;
                sum.cpu_us += rate.cpu_us / rounds as f64;
            }
        }
        for (name, rate) in WORKLOADS.iter().zip(sums) {
            println!(
                "| {in_flight} | {name} | {:.0} | {:.2} | {:.0} |",
                rate.per_second,
                rate.per_second / sums[0].per_second,
                rate.cpu_us
            );
        }
    }
}

/// 3. The pieces of "read before write", one call at a time.
async fn read_before_write(bench: &Bench, calls: usize) {
    let store = &bench.store;
    let tag = format!("{}-rbw", bench.run);
    let sets: Vec<Vec<ProcessedRecord>> = batches(&tag, calls, false);
    let committed = bench
        .ms_per_call(calls, |i| {
            let tag = format!("{tag}-{i}");
            let set = &sets[i];
            async move { assert!(bench.transaction_of_100(set, &tag).await) }
        })
        .await;
    let cancelled = bench
        .ms_per_call(calls, |i| {
            let tag = format!("{tag}-{i}");
            let set = &sets[i];
            async move { assert!(!bench.transaction_of_100(set, &tag).await) }
        })
        .await;
    let read_found = bench
        .ms_per_call(calls, |i| {
            let tag = format!("{tag}-{i}");
            let set = &sets[i];
            async move { assert_eq!(bench.batch_get_of_100(set, &tag).await, 100) }
        })
        .await;
    let read_missing = bench
        .ms_per_call(calls, |i| {
            let tag = format!("{tag}-none-{i}");
            let set = &sets[i];
            async move { assert_eq!(bench.batch_get_of_100(set, &tag).await, 0) }
        })
        .await;

    // a batch of 100 duplicates of one client and hour, with and without the pre-read
    let dup_sets = batches(&format!("{tag}-dup"), calls, false);
    for set in &dup_sets {
        drain(store.commit_events(set, 1), CommitOutcome::Processed).await;
    }
    let before = store.stats().requests;
    let with_preread = bench
        .ms_per_call(calls, |i| {
            drain(
                store.commit_events(&dup_sets[i], 1),
                CommitOutcome::Duplicate,
            )
        })
        .await;
    let preread_requests = store.stats().requests - before;
    let before = store.stats().requests;
    let without_preread = bench
        .ms_per_call(calls, |i| {
            drain(
                store.commit_events_without_preread(&dup_sets[i], 1),
                CommitOutcome::Duplicate,
            )
        })
        .await;
    let plain_requests = store.stats().requests - before;

    println!("\n| one call at a time ({calls} calls each) | ms per call | ratio to the committed transaction |");
    println!("|---|---|---|");
    for (name, ms) in [
        ("TransactWriteItems of 100 new puts (committed)", committed),
        (
            "TransactWriteItems of 100 taken puts (cancelled)",
            cancelled,
        ),
        ("BatchGetItem of 100 keys, all found", read_found),
        ("BatchGetItem of 100 keys, none found", read_missing),
        (
            "batch of 100 duplicates, commit_events (pre-read)",
            with_preread,
        ),
        (
            "batch of 100 duplicates, without the pre-read",
            without_preread,
        ),
    ] {
        println!("| {name} | {ms:.1} | {:.2} |", ms / committed);
    }
    println!(
        "requests per batch of 100 duplicates: {:.1} with the pre-read, {:.1} without",
        preread_requests as f64 / calls as f64,
        plain_requests as f64 / calls as f64
    );
}

/// Awaits every outcome of a batch commit; each must be `expected`.
async fn drain(
    outcomes: impl Stream<Item = (usize, Result<CommitOutcome, event_store::StoreError>)>,
    expected: CommitOutcome,
) {
    outcomes
        .for_each(|(_, outcome)| async move {
            assert_eq!(outcome.expect("batch commit"), expected);
        })
        .await;
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let events = args.first().copied().unwrap_or(400);
    let rounds = args.get(1).copied().unwrap_or(2).max(1);
    let bench = setup().await;
    println!(
        "{events} events per workload, {rounds} rounds (interleaved), in flight {IN_FLIGHT:?}"
    );
    cost_per_event(&bench).await;
    throughput(&bench, events, rounds).await;
    read_before_write(&bench, 20).await;
    println!("\nstats: {:?}", bench.store.stats());
}
