//! `SlowStore`: the in-memory store with slow commits, for the deadline and concurrency tests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use event_runtime::testing::memory_store;
use event_store::{
    AggregateQuery, AggregateTotals, ClientPatterns, CommitOutcome, FailedId, FailedQuery,
    FailedRecord, HourBucket, HourlyQuery, KeyHash, KeyState, MemoryStore, Page, ProcessedQuery,
    ProcessedRecord, ReplayPage, ReplayQuery, Store, StoreError, Tenant, TenantId,
};
use futures::{stream, Stream, StreamExt};

/// A store whose commits (and retries' commits) take `delay` and that counts commits in flight. By default it
/// ignores deadlines (so the handler's own deadline is what answers); `giving_up_at_deadline`
/// makes it give up at its deadline as DynamoStore does.
pub struct SlowStore {
    pub inner: MemoryStore,
    delay: Duration,
    honours_deadline: bool,
    deadline: Option<Instant>,
    in_flight: Arc<AtomicUsize>,
    pub max_in_flight: Arc<AtomicUsize>,
}

impl SlowStore {
    pub fn new(delay: Duration) -> Self {
        SlowStore {
            inner: memory_store(),
            delay,
            honours_deadline: false,
            deadline: None,
            in_flight: Arc::default(),
            max_in_flight: Arc::default(),
        }
    }

    pub fn giving_up_at_deadline(self) -> Self {
        SlowStore {
            honours_deadline: true,
            ..self
        }
    }

    fn with_inner(&self, inner: MemoryStore, deadline: Option<Instant>) -> Self {
        SlowStore {
            inner,
            delay: self.delay,
            honours_deadline: self.honours_deadline,
            deadline,
            in_flight: Arc::clone(&self.in_flight),
            max_in_flight: Arc::clone(&self.max_in_flight),
        }
    }

    /// The commit's wait: `delay`, or until the deadline when it honours one.
    async fn wait(&self) -> Result<(), StoreError> {
        match self.deadline.filter(|_| self.honours_deadline) {
            Some(deadline) if Instant::now() + self.delay > deadline => {
                tokio::time::sleep_until(deadline.into()).await;
                Err(StoreError::Unavailable(
                    "gave up at the deadline".to_owned(),
                ))
            }
            _ => {
                tokio::time::sleep(self.delay).await;
                Ok(())
            }
        }
    }
}

impl Store for SlowStore {
    fn for_tenant(&self, tenant: &TenantId) -> Self {
        self.with_inner(self.inner.for_tenant(tenant), self.deadline)
    }
    fn until(&self, deadline: Instant) -> Self {
        self.with_inner(self.inner.until(deadline), Some(deadline))
    }
    async fn tenant_of_key(&self, hash: &KeyHash) -> Result<Option<TenantId>, StoreError> {
        self.inner.tenant_of_key(hash).await
    }
    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.inner.get_tenant(id).await
    }
    async fn put_tenant(
        &self,
        id: &TenantId,
        clients: &ClientPatterns,
        now: i64,
    ) -> Result<(), StoreError> {
        self.inner.put_tenant(id, clients, now).await
    }
    async fn add_key(
        &self,
        tenant: &TenantId,
        hash: &KeyHash,
        state: &KeyState,
    ) -> Result<(), StoreError> {
        self.inner.add_key(tenant, hash, state).await
    }
    async fn revoke_key(&self, tenant: &TenantId, hash: &KeyHash) -> Result<bool, StoreError> {
        self.inner.revoke_key(tenant, hash).await
    }
    async fn set_tenant_limits(
        &self,
        id: &TenantId,
        limits: &event_store::TenantLimits,
    ) -> Result<bool, StoreError> {
        self.inner.set_tenant_limits(id, limits).await
    }
    async fn take_tokens(
        &self,
        take: &event_store::TokenTake,
    ) -> Result<event_store::TakeOutcome, StoreError> {
        self.inner.take_tokens(take).await
    }
    async fn add_usage(&self, delta: &event_store::UsageDelta) -> Result<(), StoreError> {
        self.inner.add_usage(delta).await
    }
    async fn usage(
        &self,
        day: &str,
        previous: &str,
        current: &str,
    ) -> Result<event_store::Usage, StoreError> {
        self.inner.usage(day, previous, current).await
    }
    async fn commit_event(&self, record: &ProcessedRecord) -> Result<CommitOutcome, StoreError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let waited = self.wait().await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        waited?;
        self.inner.commit_event(record).await
    }
    fn commit_events<'a>(
        &'a self,
        records: &'a [ProcessedRecord],
        concurrency: usize,
    ) -> impl Stream<Item = (usize, Result<CommitOutcome, StoreError>)> + Send + 'a {
        stream::iter(records.iter().enumerate())
            .map(move |(index, record)| async move { (index, self.commit_event(record).await) })
            .buffer_unordered(concurrency)
    }
    async fn commit_retry(
        &self,
        record: &ProcessedRecord,
        retry_of: &FailedId,
    ) -> Result<CommitOutcome, StoreError> {
        self.wait().await?;
        self.inner.commit_retry(record, retry_of).await
    }
    async fn put_failed(&self, record: &FailedRecord) -> Result<(), StoreError> {
        self.inner.put_failed(record).await
    }
    async fn record_failed_attempt(&self, id: &FailedId) -> Result<(), StoreError> {
        self.inner.record_failed_attempt(id).await
    }
    async fn get_failed(&self, id: &FailedId) -> Result<Option<FailedRecord>, StoreError> {
        self.inner.get_failed(id).await
    }
    async fn list_processed(
        &self,
        query: &ProcessedQuery,
    ) -> Result<Page<ProcessedRecord>, StoreError> {
        self.inner.list_processed(query).await
    }
    async fn list_failed(&self, query: &FailedQuery) -> Result<Page<FailedRecord>, StoreError> {
        self.inner.list_failed(query).await
    }
    async fn list_failed_for_replay(&self, query: &ReplayQuery) -> Result<ReplayPage, StoreError> {
        self.inner.list_failed_for_replay(query).await
    }
    async fn aggregate(&self, query: &AggregateQuery) -> Result<AggregateTotals, StoreError> {
        self.inner.aggregate(query).await
    }
    async fn aggregate_hourly(&self, query: &HourlyQuery) -> Result<Vec<HourBucket>, StoreError> {
        self.inner.aggregate_hourly(query).await
    }
}
