//! `DynamoStore` against DynamoDB in LocalStack, on the table deployed from the real template.
//!
//! Reads the stack's settings (`AWS_ENDPOINT_URL`, `TABLE_NAME`, shard counts) from the
//! environment or `.local/stack.env`, starting the stack if none runs. Every test writes under a tenant of its
//! own, so tests never see each other's items on the shared table.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};

use event_store::scenarios::{self, *};
use event_store::{CommitOutcome, DynamoStore, RetryBudget, Store, StoreConfig};
use integration_tests::{dynamo_client, stack_store_config};

/// The environment's config, under a fresh tenant named after the test.
fn config(test: &str) -> StoreConfig {
    let config = stack_store_config();
    // Generous budget: the emulator is slow under a 16-way load on 2 cores.
    config
        .with_tenant(format!("{test}-{:08x}", fastrand::u32(..)))
        .with_retry(RetryBudget {
            max_attempts: 30,
            max_elapsed: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(20),
            ..RetryBudget::default()
        })
}

async fn store(test: &str) -> DynamoStore {
    DynamoStore::new(dynamo_client().await, config(test))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_take_follows_the_bucket_and_the_quota() {
    scenarios::a_take_follows_the_bucket_and_the_quota(&store("limits").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_takes_never_overdraw_the_bucket() {
    scenarios::racing_takes_never_overdraw_the_bucket(&store("limits-race").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn usage_counts_add_up() {
    scenarios::usage_counts_add_up(&store("usage").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resent_event_counts_once() {
    scenarios::a_resent_event_counts_once(&store("resent").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_event_is_retried_once() {
    let store = store("retry").await;
    let shards = store.config().event_shards;
    scenarios::a_failed_event_is_retried_once(&store, shards).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pagination_walks_every_item_once() {
    let seed = fastrand::u64(..);
    eprintln!("seed {seed}");
    scenarios::pagination_walks_every_item_once(&store("pages").await, seed, 30).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pagination_walks_every_item_once_with_one_shard() {
    let mut config = config("pages1");
    config.event_shards = 1;
    let store = DynamoStore::new(dynamo_client().await, config);
    scenarios::pagination_walks_every_item_once(&store, fastrand::u64(..), 15).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cursors_only_fit_their_own_query() {
    scenarios::cursors_only_fit_their_own_query(&store("cursor").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aggregates_equal_the_listed_events() {
    let seed = fastrand::u64(..);
    eprintln!("seed {seed}");
    scenarios::aggregates_equal_the_listed_events(&store("aggregates").await, seed, 40).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_over_many_clients_and_hours_counts_each_event_once() {
    let seed = fastrand::u64(..);
    eprintln!("seed {seed}");
    let store = store("batch500").await;
    scenarios::a_batch_over_many_clients_and_hours_counts_each_event_once(&store, seed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_concurrent_batches_count_each_event_once() {
    scenarios::overlapping_concurrent_batches_count_each_event_once(&store("overlap").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_of_only_duplicates_changes_nothing() {
    let store = store("dupbatch").await;
    scenarios::a_batch_of_only_duplicates_changes_nothing(&store).await;
}

/// Counts the write requests (TransactWriteItems) a client sends, as they go on the wire.
#[derive(Debug, Default)]
struct CountWrites(Arc<AtomicU64>);

impl Intercept for CountWrites {
    fn name(&self) -> &'static str {
        "CountWrites"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context.request().headers().get("x-amz-target");
        if target.is_some_and(|t| t.ends_with(".TransactWriteItems")) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// A store whose client counts its write requests, and that count.
async fn store_counting_writes(test: &str) -> (DynamoStore, Arc<AtomicU64>) {
    let writes = Arc::new(AtomicU64::new(0));
    let client = dynamo_client().await;
    let conf = client
        .config()
        .to_builder()
        .interceptor(CountWrites(writes.clone()))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(conf);
    (DynamoStore::new(client, config(test)), writes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_of_only_duplicates_costs_no_write() {
    let (store, writes) = store_counting_writes("dupfree").await;
    scenarios::a_batch_of_only_duplicates_costs_no_write(&store, || writes.load(Ordering::Relaxed))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mixed_batch_writes_only_its_new_events() {
    let (store, writes) = store_counting_writes("mixed").await;
    scenarios::a_mixed_batch_writes_only_its_new_events(&store, || writes.load(Ordering::Relaxed))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_racing_on_the_same_events_count_each_once() {
    scenarios::batches_racing_on_the_same_events_count_each_once(&store("race").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_of_100_new_events_of_one_client_and_hour_takes_one_read_and_two_writes() {
    let (store, writes) = store_counting_writes("grouped").await;
    let records: Vec<_> = (0..100)
        .map(|i| event("acme", "purchase", "1", BASE + HOUR + i as i64 * SEC, i))
        .collect();
    let before = store.stats().requests;

    let outcomes = scenarios::commit_batch(&store, &records).await;

    assert!(outcomes.iter().all(|o| *o == CommitOutcome::Processed));
    // one BatchGetItem of the 100 keys (the pre-read: none found), then 98 puts + 2 ADDs and
    // 2 puts + 2 ADDs: 0.03 calls per event instead of 1
    assert_eq!(writes.load(Ordering::Relaxed), 2);
    assert_eq!(store.stats().requests - before, 3);
    scenarios::counts_equal(&store, &records).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hourly_buckets_add_up_to_the_aggregate() {
    let seed = fastrand::u64(..);
    eprintln!("seed {seed}");
    scenarios::hourly_buckets_add_up_to_the_aggregate(&store("hourly").await, seed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_listing_walks_every_record_once() {
    let store = store("failedlist").await;
    let shards = store.config().event_shards;
    scenarios::failed_listing_walks_every_record_once(&store, shards).await;
}

/// GIVEN 500 events WHEN 16 senders each send all of them, each in its own spelling, at once
/// THEN each is processed exactly once and the aggregates hold exactly 500 events and their total.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_once_under_concurrency() {
    const EVENTS: usize = 500;
    const SENDERS: usize = 16;
    let store = Arc::new(store("exactly-once").await);
    // Spread over three hours, so whole-hour items and edge-hour events are both summed.
    let start_s = BASE / SEC + 1800;
    let cents = |i: usize| 100 + (i as i64 * 7919) % 100_000;
    let events: Vec<Vec<String>> = (0..EVENTS)
        .map(|i| spellings("hot", i, start_s + (i as i64 * 21), cents(i)))
        .collect();
    let events = Arc::new(events);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for sender in 0..SENDERS {
        let (store, events) = (store.clone(), events.clone());
        tasks.push(tokio::spawn(async move {
            let mut processed = 0usize;
            // Each sender walks the events from its own offset, so the same event is in
            // flight from several senders at once.
            for n in 0..EVENTS {
                let i = (n + sender * EVENTS / SENDERS) % EVENTS;
                let record = normalize(&events[i][sender]);
                if store.commit_event(&record).await.expect("commit") == CommitOutcome::Processed {
                    processed += 1;
                }
            }
            processed
        }));
    }
    let mut processed = 0;
    for task in tasks {
        processed += task.await.unwrap();
    }
    let stats = store.stats();
    eprintln!(
        "{} commits in {:?}; {stats:?}",
        EVENTS * SENDERS,
        started.elapsed()
    );
    assert_eq!(processed, EVENTS, "each event processed exactly once");
    let hot = client("hot");
    let totals = aggregate(&*store, &hot, None, None, None).await;
    let expected_total: i64 = (0..EVENTS).map(cents).sum();
    assert_eq!(totals.count, EVENTS as u64);
    assert_eq!(
        totals.total.to_string(),
        format!("{}.{:02}", expected_total / 100, expected_total % 100)
            .trim_end_matches('0')
            .trim_end_matches('.')
    );
    // Ranges cut inside hours agree with the listed events too.
    let from = BASE + 2 * HOUR - 13 * SEC;
    let to = BASE + 3 * HOUR + 7 * SEC;
    let listed = walk_processed(
        &*store,
        Some(&hot),
        Some(from),
        Some(to),
        &mut fastrand::Rng::new(),
        500,
    )
    .await;
    let refs: Vec<_> = listed.iter().collect();
    assert_eq!(
        aggregate(&*store, &hot, Some(from), Some(to), None).await,
        sum(&refs)
    );
    assert_eq!(
        walk_processed(
            &*store,
            Some(&hot),
            None,
            None,
            &mut fastrand::Rng::new(),
            500
        )
        .await
        .len(),
        EVENTS
    );
}

/// GIVEN one event twice in the same batch (committed concurrently) THEN one is processed
/// and the other is a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicate_inside_a_batch_is_a_duplicate() {
    let store = store("batch").await;
    let spelled = spellings("acme", 3, BASE / SEC + 5, 999);
    for round in 0..10 {
        let a = normalize(&spelled[round % 16]);
        let b = normalize(&spelled[(round + 5) % 16]);
        let c = event("acme", "other", "1", BASE + round as i64, 10_000 + round);
        let (ra, rb, rc) = tokio::join!(
            store.commit_event(&a),
            store.commit_event(&b),
            store.commit_event(&c)
        );
        let mut outcomes = [ra.unwrap(), rb.unwrap()];
        outcomes.sort_by_key(|o| *o == CommitOutcome::Duplicate);
        let expected_first = if round == 0 {
            [CommitOutcome::Processed, CommitOutcome::Duplicate]
        } else {
            [CommitOutcome::Duplicate, CommitOutcome::Duplicate]
        };
        assert_eq!(outcomes, expected_first, "round {round}");
        assert_eq!(rc.unwrap(), CommitOutcome::Processed);
    }
    let totals = aggregate(&store, &client("acme"), None, None, Some("purchase")).await;
    assert_eq!(
        (totals.count, totals.total.to_string()),
        (1, "9.99".to_owned())
    );
    assert_eq!(
        aggregate(&store, &client("acme"), None, None, None)
            .await
            .count,
        11
    );
}

/// A store like `config(test)`'s whose DynamoDB calls go through `proxy`.
async fn store_through(
    proxy: &integration_tests::fault_proxy::FaultProxy,
    config: StoreConfig,
) -> DynamoStore {
    let conf = dynamo_client()
        .await
        .config()
        .to_builder()
        .endpoint_url(proxy.endpoint())
        .build();
    DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), config)
}

/// GIVEN one aggregate shard (every commit updates the same two items) and DynamoDB's rule for
/// conflicts (a transaction updating an item that another transaction in flight updates is
/// cancelled with `TransactionConflict`; DynamoDB Local runs transactions one at a time and
/// never answers it, so the fault proxy applies the rule) WHEN many distinct events of one
/// client and hour are committed at once THEN conflicts happened, each was retried
/// in-process, and every event is counted: none lost, none doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transaction_conflicts_are_retried_not_lost() {
    use integration_tests::fault_proxy::{Fault, FaultPlan, FaultProxy};
    const EVENTS: usize = 300;
    let endpoint = integration_tests::stack_setting("AWS_ENDPOINT_URL").expect("endpoint");
    let proxy = FaultProxy::start(
        &endpoint,
        FaultPlan {
            overlap_conflicts: true,
            ..FaultPlan::none()
        },
    );
    let mut config = config("conflict");
    config.aggregate_shards = 1;
    let store = Arc::new(store_through(&proxy, config).await);
    let records: Vec<_> = (0..EVENTS)
        .map(|i| event("hot", "buy", "0.01", BASE + 5 * HOUR + i as i64, i))
        .collect();
    let mut tasks = Vec::new();
    for chunk in records.chunks(EVENTS / 30) {
        let (store, chunk) = (store.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            let commits = chunk.iter().map(|r| store.commit_event(r));
            futures::future::join_all(commits).await
        }));
    }
    for task in tasks {
        for outcome in task.await.unwrap() {
            assert_eq!(outcome.expect("commit"), CommitOutcome::Processed);
        }
    }
    let conflicts = proxy
        .stats()
        .faults
        .get(&Fault::OverlapConflict)
        .copied()
        .unwrap_or(0);
    let stats = store.stats();
    eprintln!("{conflicts} conflicts; {stats:?}");
    assert!(
        conflicts > 0,
        "30 concurrent writers of one aggregate item must meet conflicts"
    );
    assert!(
        stats.transient_faults >= conflicts,
        "every conflict is retried: {conflicts} conflicts, {} transient faults met",
        stats.transient_faults
    );
    let totals = aggregate(&*store, &client("hot"), None, None, None).await;
    assert_eq!(
        (totals.count, totals.total.to_string()),
        (EVENTS as u64, "3".to_owned())
    );
    let hour = aggregate(
        &*store,
        &client("hot"),
        Some(BASE + 5 * HOUR),
        Some(BASE + 6 * HOUR),
        Some("buy"),
    )
    .await;
    assert_eq!(hour, totals);
}

/// GIVEN a store whose DynamoDB calls pass through a proxy that counts connections, WHEN it
/// warms up for the shard fan-out THEN it has opened one connection per shard, and a listing
/// that queries every shard at once opens no new one (the cold start paid for them).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn warm_up_opens_one_connection_per_shard_for_the_first_fan_out() {
    use event_store::ProcessedQuery;
    use integration_tests::fault_proxy::{FaultPlan, FaultProxy};

    let endpoint = integration_tests::stack_setting("AWS_ENDPOINT_URL").expect("endpoint");
    let proxy = FaultProxy::start(&endpoint, FaultPlan::none());
    let config = config("warm");
    let shards = config.event_shards;
    assert!(shards > 1, "the test needs a fan-out");
    let store = store_through(&proxy, config).await;

    store.warm_up(shards).await;
    assert_eq!(store.stats().requests, u64::from(shards));
    assert_eq!(proxy.stats().connections, u64::from(shards));

    let page = store
        .list_processed(&ProcessedQuery {
            client_id: Some(client("warm")),
            from: None,
            to: None,
            limit: 10,
            cursor: None,
        })
        .await
        .expect("an empty listing");
    assert!(page.items.is_empty());
    assert_eq!(
        proxy.stats().connections,
        u64::from(shards),
        "the first listing opened connections of its own"
    );
}

/// GIVEN a rejected, a failed and a processed event THEN only the rejected record, and the
/// failed one once retried, carry `expires_at` (received + 30 days); events and aggregates never.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_rejected_and_retried_records_expire() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use event_store::{new_failed_id, FailedRecord, FailedStatus, FailureReason};

    let store = store("expiry").await;
    let tenant = store.config().tenant.clone();
    let shards = store.config().event_shards;
    let received = now();
    let failed = |status| FailedRecord {
        failed_id: new_failed_id(received, shards),
        client_id: Some(client("acme")),
        reason: FailureReason {
            code: "simulated_failure".to_owned(),
            message: "failed on purpose".to_owned(),
            field: None,
        },
        raw: r#"{"client_id":"acme","payload":{"amount":"1","timestamp":"2024-03-10T00:00:01Z"}}"#
            .to_owned(),
        raw_truncated: false,
        received_at: received,
        attempts: 1,
        status,
    };
    let rejected = failed(FailedStatus::Rejected);
    let waiting = failed(FailedStatus::Failed);
    store.put_failed(&rejected).await.unwrap();
    store.put_failed(&waiting).await.unwrap();

    let expires = |id: &event_store::FailedId| {
        let parts = id.parts().unwrap();
        let request = store
            .client()
            .get_item()
            .table_name(&store.config().table_name)
            .key(
                "pk",
                AttributeValue::S(format!("T#{tenant}#F#{}", parts.shard)),
            )
            .key(
                "sk",
                AttributeValue::S(format!("{:019}#{}", parts.received_ns, id.0)),
            )
            .consistent_read(true);
        async move {
            let item = request.send().await.unwrap().item.expect("stored");
            item.get("expires_at").map(|v| v.as_n().unwrap().clone())
        }
    };
    let in_30_days = (received.unix_nanos() / SEC + 30 * 86_400).to_string();
    assert_eq!(expires(&rejected.failed_id).await, Some(in_30_days.clone()));
    assert_eq!(
        expires(&waiting.failed_id).await,
        None,
        "a failed event waits for its retry"
    );

    let event = normalize(&waiting.raw);
    store
        .commit_retry(&event, &waiting.failed_id)
        .await
        .unwrap();
    assert_eq!(expires(&waiting.failed_id).await, Some(in_30_days));

    // The processed event and its aggregate items: no expiry attribute at all.
    let out = store
        .client()
        .query()
        .table_name(&store.config().table_name)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            AttributeValue::S(format!("T#{tenant}#E#acme#{}", event.hash.shard(shards))),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.items().len(), 1);
    assert!(!out.items()[0].contains_key("expires_at"));
    let aggregate_shards = store.config().aggregate_shards;
    let out = store
        .client()
        .query()
        .table_name(&store.config().table_name)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            AttributeValue::S(format!(
                "T#{tenant}#A#acme#{}",
                event.hash.shard(aggregate_shards)
            )),
        )
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = out
        .items()
        .iter()
        .map(|i| i["sk"].as_s().unwrap().as_str())
        .collect();
    assert_eq!(keys, ["ALL#2024031000", "M#007#unknown#2024031000"]);
    assert!(out.items().iter().all(|i| !i.contains_key("expires_at")));
}
