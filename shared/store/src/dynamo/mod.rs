//! `DynamoStore`: the `Store` on one DynamoDB table laid out as docs/data-model.md says.
//!
//! Submodules: `items` (record <-> item), `commit` (the one-transaction commit, failed
//! records), `batch` (grouped batch commits, after the `preread` of their keys), `listing`
//! (newest-first pages merged over shards), `aggregates` (whole hours plus edge hours),
//! `retry` (what is transient, and the backoff budget).

mod aggregates;
mod batch;
mod commit;
mod counters;
pub(crate) mod items;
mod limiter;
mod listing;
mod preread;
pub(crate) mod retry;
mod tenancy;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::types::ConsumedCapacity;
use aws_sdk_dynamodb::Client;
use futures::Stream;

use retry::{AttemptError, Limits};

use crate::limits::{TakeOutcome, TenantLimits, TokenTake, Usage, UsageDelta};
use crate::tenancy::{ClientPatterns, KeyHash, KeyState, Tenant, TenantId};
use crate::{
    AggregateQuery, AggregateTotals, CommitOutcome, FailedId, FailedQuery, FailedRecord,
    HourBucket, HourlyQuery, Page, ProcessedQuery, ProcessedRecord, ReplayPage, ReplayQuery, Store,
    StoreConfig, StoreError,
};

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    config: Arc<StoreConfig>,
    counters: Arc<Counters>,
    /// The tenant whose items this handle reads and writes (`for_tenant`).
    tenant: Arc<str>,
    /// No attempt of this handle's operations runs past this (`until`).
    deadline: Option<Instant>,
}

/// What this store has asked of DynamoDB so far (cost measurements and logs).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StoreStats {
    /// Requests sent, retries included.
    pub requests: u64,
    /// Write capacity units DynamoDB reported as consumed (it reports none for a
    /// transaction it cancelled, although a failed condition still costs).
    pub write_units: f64,
    /// Read capacity units DynamoDB reported as consumed.
    pub read_units: f64,
    /// Attempts that met a transient fault (conflict, throttling, 5xx, timeout).
    pub transient_faults: u64,
    /// Commits found to be duplicates (a cancelled transaction or a failed put condition).
    pub duplicates: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    write_milli_units: AtomicU64,
    read_milli_units: AtomicU64,
    transient_faults: AtomicU64,
    duplicates: AtomicU64,
}

/// The sentinel `warm_up` reads: no real item has this key (no tenant prefix).
const WARM_UP_PK: &str = "WARMUP";

impl DynamoStore {
    /// Wraps `client` with this store's retry budget: the SDK's own retries are turned off
    /// (the store retries, classifies and bounds them itself) and each attempt gets the
    /// budget's timeout; everything else of the client's configuration is kept.
    pub fn new(client: Client, config: StoreConfig) -> Self {
        let sdk = client.config();
        let timeouts = sdk
            .timeout_config()
            .map(TimeoutConfig::to_builder)
            .unwrap_or_default()
            .operation_attempt_timeout(config.retry.attempt_timeout)
            .build();
        let sdk = sdk
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts)
            .build();
        DynamoStore {
            client: Client::from_conf(sdk),
            tenant: Arc::from(config.tenant.as_str()),
            config: Arc::new(config),
            counters: Arc::default(),
            deadline: None,
        }
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// The SDK client in use (retries off, attempt timeout set).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `connections` cheap GetItems at once on a key that never exists, so that the cold start
    /// opens that many pooled connections (DNS, TCP, TLS) instead of the first request that
    /// fans out over the shards. Failures are only logged: the first real request will report
    /// them properly.
    pub async fn warm_up(&self, connections: u32) {
        let reads = (0..connections.max(1)).map(|_| {
            self.count_request();
            self.client
                .get_item()
                .table_name(&self.config.table_name)
                .key("pk", items::s(WARM_UP_PK))
                .key("sk", items::s("-"))
                .send()
        });
        for result in futures::future::join_all(reads).await {
            if let Err(err) = result {
                tracing::warn!(error = %retry::describe(&err), "DynamoDB warm-up failed");
                // one line is enough: the others failed alike
                break;
            }
        }
    }

    /// The item `commit_event` puts for `record` (cost measurements, tools).
    pub fn processed_item(
        &self,
        record: &ProcessedRecord,
    ) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
        items::ProcessedItem {
            tenant: self.tenant(),
            event_shards: self.config.event_shards,
            record,
        }
        .into()
    }

    pub fn stats(&self) -> StoreStats {
        let c = &self.counters;
        StoreStats {
            requests: c.requests.load(Ordering::Relaxed),
            write_units: c.write_milli_units.load(Ordering::Relaxed) as f64 / 1000.0,
            read_units: c.read_milli_units.load(Ordering::Relaxed) as f64 / 1000.0,
            transient_faults: c.transient_faults.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
        }
    }

    fn table(&self) -> &str {
        &self.config.table_name
    }

    fn tenant(&self) -> &str {
        &self.tenant
    }

    fn limits(&self) -> Limits<'_> {
        Limits {
            budget: &self.config.retry,
            deadline: self.deadline,
        }
    }

    fn count_request(&self) {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
    }

    fn count_transient(&self) {
        self.counters
            .transient_faults
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a transient fault, and passes the failure on.
    fn transient<T>(&self, failure: AttemptError) -> Result<T, AttemptError> {
        if matches!(failure, AttemptError::Transient(_)) {
            self.count_transient();
        }
        Err(failure)
    }

    fn count_duplicate(&self) {
        self.counters.duplicates.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds what DynamoDB reported, and logs it at debug level.
    fn count_capacity<'a>(
        &self,
        operation: &str,
        write: bool,
        consumed: impl IntoIterator<Item = &'a ConsumedCapacity>,
    ) {
        let units: f64 = consumed
            .into_iter()
            .filter_map(ConsumedCapacity::capacity_units)
            .sum();
        let milli = (units * 1000.0).round() as u64;
        let counter = if write {
            &self.counters.write_milli_units
        } else {
            &self.counters.read_milli_units
        };
        counter.fetch_add(milli, Ordering::Relaxed);
        tracing::debug!(operation, capacity_units = units, "consumed capacity");
    }
}

impl Store for DynamoStore {
    fn for_tenant(&self, tenant: &TenantId) -> Self {
        DynamoStore {
            tenant: Arc::from(tenant.as_str()),
            ..self.clone()
        }
    }

    fn until(&self, deadline: Instant) -> Self {
        DynamoStore {
            deadline: Some(deadline),
            ..self.clone()
        }
    }

    async fn tenant_of_key(&self, hash: &KeyHash) -> Result<Option<TenantId>, StoreError> {
        self.tenant_of_key_item(hash).await
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.get_tenant_item(id).await
    }

    async fn put_tenant(
        &self,
        id: &TenantId,
        clients: &ClientPatterns,
        now: i64,
    ) -> Result<(), StoreError> {
        self.put_tenant_item(id, clients, now).await
    }

    async fn set_tenant_limits(
        &self,
        id: &TenantId,
        limits: &TenantLimits,
    ) -> Result<bool, StoreError> {
        self.set_tenant_limits_item(id, limits).await
    }

    async fn add_key(
        &self,
        tenant: &TenantId,
        hash: &KeyHash,
        state: &KeyState,
    ) -> Result<(), StoreError> {
        self.add_key_items(tenant, hash, state).await
    }

    async fn revoke_key(&self, tenant: &TenantId, hash: &KeyHash) -> Result<bool, StoreError> {
        self.revoke_key_item(tenant, hash).await
    }

    async fn commit_event(&self, record: &ProcessedRecord) -> Result<CommitOutcome, StoreError> {
        self.commit(record, None).await
    }

    fn commit_events<'a>(
        &'a self,
        records: &'a [ProcessedRecord],
        concurrency: usize,
    ) -> impl Stream<Item = (usize, Result<CommitOutcome, StoreError>)> + Send + 'a {
        self.commit_batch(records, concurrency)
    }

    async fn commit_retry(
        &self,
        record: &ProcessedRecord,
        retry_of: &FailedId,
    ) -> Result<CommitOutcome, StoreError> {
        self.commit(record, Some(retry_of)).await
    }

    async fn put_failed(&self, record: &FailedRecord) -> Result<(), StoreError> {
        self.put_failed_item(record).await
    }

    async fn record_failed_attempt(&self, id: &FailedId) -> Result<(), StoreError> {
        self.add_failed_attempt(id).await
    }

    async fn get_failed(&self, id: &FailedId) -> Result<Option<FailedRecord>, StoreError> {
        self.get_failed_item(id).await
    }

    async fn list_processed(
        &self,
        query: &ProcessedQuery,
    ) -> Result<Page<ProcessedRecord>, StoreError> {
        self.processed_page(query).await
    }

    async fn list_failed(&self, query: &FailedQuery) -> Result<Page<FailedRecord>, StoreError> {
        self.failed_page(query).await
    }

    async fn list_failed_for_replay(&self, query: &ReplayQuery) -> Result<ReplayPage, StoreError> {
        self.replay_page(query).await
    }

    async fn take_tokens(&self, take: &TokenTake) -> Result<TakeOutcome, StoreError> {
        self.take(take).await
    }

    async fn add_usage(&self, delta: &UsageDelta) -> Result<(), StoreError> {
        self.add_usage_items(delta).await
    }

    async fn usage(
        &self,
        day: &str,
        previous_minute: &str,
        current_minute: &str,
    ) -> Result<Usage, StoreError> {
        self.usage_items(day, previous_minute, current_minute).await
    }

    async fn aggregate(&self, query: &AggregateQuery) -> Result<AggregateTotals, StoreError> {
        self.sum(query).await
    }

    async fn aggregate_hourly(&self, query: &HourlyQuery) -> Result<Vec<HourBucket>, StoreError> {
        self.hourly(query).await
    }
}
