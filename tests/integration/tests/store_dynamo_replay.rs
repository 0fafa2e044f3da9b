//! `DynamoStore::list_failed_for_replay` against DynamoDB in LocalStack: the bulk replay's
//! selection (filters as a `FilterExpression`, per-record cursors, short filtered pages) must
//! answer exactly like `MemoryStore`, which the handler tests use. Same scenario, both stores.

use std::time::Duration;

use event_store::scenarios;
use event_store::{DynamoStore, RetryBudget};
use integration_tests::{dynamo_client, stack_store_config};

async fn store(test: &str, event_shards: u32) -> DynamoStore {
    let mut config = stack_store_config()
        .with_tenant(format!("{test}-{:08x}", fastrand::u32(..)))
        .with_retry(RetryBudget {
            max_attempts: 30,
            max_elapsed: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(20),
            ..RetryBudget::default()
        });
    config.event_shards = event_shards;
    DynamoStore::new(dynamo_client().await, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replay_selection_walks_every_matching_record_once() {
    let store = store("replay", stack_store_config().event_shards).await;
    let shards = store.config().event_shards;
    scenarios::replay_selection_walks_every_matching_record_once(&store, shards).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replay_selection_walks_every_matching_record_once_with_one_shard() {
    scenarios::replay_selection_walks_every_matching_record_once(&store("replay1", 1).await, 1)
        .await;
}
