//! `MemoryStore` against the shared store scenarios, plus its fault injection.

use event_store::scenarios::{self, *};
use event_store::{
    new_failed_id, CommitOutcome, FailedRecord, FailedStatus, FailureReason, MemoryStore, Store,
    StoreConfig, StoreError,
};

#[tokio::test]
async fn replay_selection_walks_every_matching_record_once() {
    scenarios::replay_selection_walks_every_matching_record_once(&MemoryStore::new(), 4).await;
}

#[tokio::test]
async fn a_take_follows_the_bucket_and_the_quota() {
    scenarios::a_take_follows_the_bucket_and_the_quota(&MemoryStore::new()).await;
}

#[tokio::test]
async fn racing_takes_never_overdraw_the_bucket() {
    scenarios::racing_takes_never_overdraw_the_bucket(&MemoryStore::new()).await;
}

#[tokio::test]
async fn usage_counts_add_up() {
    scenarios::usage_counts_add_up(&MemoryStore::new()).await;
}

#[tokio::test]
async fn a_resent_event_counts_once() {
    scenarios::a_resent_event_counts_once(&MemoryStore::new()).await;
}

#[tokio::test]
async fn a_failed_event_is_retried_once() {
    scenarios::a_failed_event_is_retried_once(&MemoryStore::new(), 4).await;
}

#[tokio::test]
async fn pagination_walks_every_item_once() {
    for seed in 1..=5 {
        scenarios::pagination_walks_every_item_once(&MemoryStore::new(), seed, 40).await;
    }
}

#[tokio::test]
async fn cursors_only_fit_their_own_query() {
    scenarios::cursors_only_fit_their_own_query(&MemoryStore::new()).await;
}

#[tokio::test]
async fn aggregates_equal_the_listed_events() {
    for seed in 1..=3 {
        scenarios::aggregates_equal_the_listed_events(&MemoryStore::new(), seed, 60).await;
    }
}

#[tokio::test]
async fn a_batch_over_many_clients_and_hours_counts_each_event_once() {
    scenarios::a_batch_over_many_clients_and_hours_counts_each_event_once(&MemoryStore::new(), 3)
        .await;
}

#[tokio::test]
async fn overlapping_concurrent_batches_count_each_event_once() {
    scenarios::overlapping_concurrent_batches_count_each_event_once(&MemoryStore::new()).await;
}

#[tokio::test]
async fn a_batch_of_only_duplicates_changes_nothing() {
    scenarios::a_batch_of_only_duplicates_changes_nothing(&MemoryStore::new()).await;
}

// The in-memory store sends no write requests (nothing to bill): these prove the outcomes
// and counts; tests/integration/tests/store_dynamo.rs proves the writes on DynamoDB.
#[tokio::test]
async fn a_batch_of_only_duplicates_costs_no_write() {
    scenarios::a_batch_of_only_duplicates_costs_no_write(&MemoryStore::new(), || 0).await;
}

#[tokio::test]
async fn a_mixed_batch_writes_only_its_new_events() {
    scenarios::a_mixed_batch_writes_only_its_new_events(&MemoryStore::new(), || 0).await;
}

#[tokio::test]
async fn batches_racing_on_the_same_events_count_each_once() {
    scenarios::batches_racing_on_the_same_events_count_each_once(&MemoryStore::new()).await;
}

#[tokio::test]
async fn hourly_buckets_add_up_to_the_aggregate() {
    for seed in 0..5 {
        scenarios::hourly_buckets_add_up_to_the_aggregate(&MemoryStore::new(), seed).await;
    }
}

#[tokio::test]
async fn failed_listing_walks_every_record_once() {
    scenarios::failed_listing_walks_every_record_once(&MemoryStore::new(), 4).await;
}

#[tokio::test]
async fn injected_commit_faults_change_nothing_and_then_clear() {
    // GIVEN a store told to fail the next two commits
    let store = MemoryStore::with_config(StoreConfig::new("t").with_shards(2, 2));
    store.fail_next_commits(2);
    let record = event("acme", "m", "5", BASE, 1);
    let id = new_failed_id(now(), 2);

    // WHEN commits are attempted THEN the first two are unavailable and count nothing
    assert!(matches!(
        store.commit_event(&record).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.commit_retry(&record, &id).await,
        Err(StoreError::Unavailable(_))
    ));
    assert_eq!(
        aggregate(&store, &client("acme"), None, None, None)
            .await
            .count,
        0
    );
    assert!(store.processed_records().is_empty());

    // AND the third goes through
    assert_eq!(
        store.commit_event(&record).await.unwrap(),
        CommitOutcome::Processed
    );
    assert_eq!(
        aggregate(&store, &client("acme"), None, None, None)
            .await
            .count,
        1
    );
}

#[tokio::test]
async fn injected_failed_write_faults_keep_nothing() {
    let store = MemoryStore::new();
    store.fail_next_failed_writes(1);
    let record = FailedRecord {
        failed_id: new_failed_id(now(), 4),
        client_id: None,
        reason: FailureReason {
            code: "invalid_json".to_owned(),
            message: "not JSON".to_owned(),
            field: None,
        },
        raw: "{".to_owned(),
        raw_truncated: false,
        received_at: now(),
        attempts: 1,
        status: FailedStatus::Rejected,
    };
    assert!(matches!(
        store.put_failed(&record).await,
        Err(StoreError::Unavailable(_))
    ));
    assert_eq!(store.get_failed(&record.failed_id).await.unwrap(), None);
    store.put_failed(&record).await.unwrap();
    assert_eq!(store.failed_records(), vec![record]);
}
