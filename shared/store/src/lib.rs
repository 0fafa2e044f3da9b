//! `event-store`: where events, aggregates and failed records live.
//!
//! `Store` is the seam between the Lambda handlers and DynamoDB. `DynamoStore` is the
//! real implementation; `MemoryStore` has the same semantics in memory (and can be told
//! to fail) so handlers are tested without a network.

mod config;
mod cursor;
pub mod dynamo;
mod failed_id;
mod hours;
mod keys;
pub mod limits;
mod memory;
mod model;
#[cfg(feature = "scenarios")]
pub mod scenarios;
pub mod scopes;
pub mod tenancy;

pub use config::{ConfigError, RetryBudget, StoreConfig};
pub use dynamo::{DynamoStore, StoreStats};
pub use failed_id::{new_failed_id, FailedIdParts};
pub use limits::{DayCounter, Meter, TakeOutcome, TenantLimits, TokenTake, Usage, UsageDelta};
pub use memory::MemoryStore;
pub use model::*;
pub use scopes::{Scope, ScopeError, Scopes};
pub use tenancy::{ClientPattern, ClientPatterns, KeyHash, KeyState, Tenant, TenantId};

use std::future::Future;
use std::time::Instant;

use futures::Stream;

/// Everything the functions ask of storage. Every method is one logical operation;
/// implementations retry transient faults (throttling, transaction conflicts) inside
/// a bounded budget and report `StoreError::Unavailable` once it is spent.
pub trait Store: Send + Sync + 'static {
    /// The same store, reading and writing only `tenant`'s items (cheap: shares the client).
    fn for_tenant(&self, tenant: &TenantId) -> Self
    where
        Self: Sized;

    /// The same store, giving up on any operation (`StoreError::Unavailable`) rather than
    /// start or continue an attempt past `deadline`: a request's time bounds its storage work.
    fn until(&self, deadline: Instant) -> Self
    where
        Self: Sized;

    /// The tenant an API key (by its hash) belongs to, if the key was ever registered.
    fn tenant_of_key(
        &self,
        hash: &KeyHash,
    ) -> impl Future<Output = Result<Option<TenantId>, StoreError>> + Send;

    /// A tenant with its client patterns and the state of its keys.
    fn get_tenant(
        &self,
        id: &TenantId,
    ) -> impl Future<Output = Result<Option<Tenant>, StoreError>> + Send;

    /// Create a tenant, or replace its client patterns (its keys stay). `now`: unix seconds.
    fn put_tenant(
        &self,
        id: &TenantId,
        clients: &ClientPatterns,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replace a tenant's limits (`None` fields: the deployment's defaults); `false` when
    /// there is no such tenant.
    fn set_tenant_limits(
        &self,
        id: &TenantId,
        limits: &TenantLimits,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Register a key (by hash) for an existing tenant.
    fn add_key(
        &self,
        tenant: &TenantId,
        hash: &KeyHash,
        state: &KeyState,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Revoke a tenant's key; `false` when the tenant has no such key.
    fn revoke_key(
        &self,
        tenant: &TenantId,
        hash: &KeyHash,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Commit a valid event: one atomic step that stores it (unless its key already
    /// exists) and adds it to its hourly aggregates. `Duplicate` means nothing changed.
    fn commit_event(
        &self,
        record: &ProcessedRecord,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send;

    /// Commit many distinct valid events with as few atomic steps as the data model allows
    /// (DynamoDB: one transaction per client and hour, up to 100 items), at most
    /// `concurrency` at once. Yields one `(index, outcome)` per record as soon as its step
    /// ended, in no particular order; each outcome means what `commit_event`'s would.
    fn commit_events<'a>(
        &'a self,
        records: &'a [ProcessedRecord],
        concurrency: usize,
    ) -> impl Stream<Item = (usize, Result<CommitOutcome, StoreError>)> + Send + 'a;

    /// Like `commit_event`, and in the same atomic step marks failed record `retry_of`
    /// as `retried`. A duplicate still marks it `retried` (afterwards).
    fn commit_retry(
        &self,
        record: &ProcessedRecord,
        retry_of: &FailedId,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send;

    /// Keep an event that was rejected or could not be processed, with its raw body.
    fn put_failed(
        &self,
        record: &FailedRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A retry of `id` failed again: count the attempt (status stays `failed`).
    fn record_failed_attempt(
        &self,
        id: &FailedId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn get_failed(
        &self,
        id: &FailedId,
    ) -> impl Future<Output = Result<Option<FailedRecord>, StoreError>> + Send;

    fn list_processed(
        &self,
        query: &ProcessedQuery,
    ) -> impl Future<Output = Result<Page<ProcessedRecord>, StoreError>> + Send;

    fn list_failed(
        &self,
        query: &FailedQuery,
    ) -> impl Future<Output = Result<Page<FailedRecord>, StoreError>> + Send;

    /// The next page of a bulk replay's selection (`ReplayQuery`), each record with the
    /// cursor that resumes at it. Records retried meanwhile drop out of the selection; a
    /// cursor of another selection is `InvalidCursor`. A page may hold fewer than `limit`
    /// records (even none) while `next_cursor` is set.
    fn list_failed_for_replay(
        &self,
        query: &ReplayQuery,
    ) -> impl Future<Output = Result<ReplayPage, StoreError>> + Send;

    /// One conditional step of the rate limiter on this tenant's day item (`limits::apply`
    /// says what it does); transient faults are retried like every other operation.
    fn take_tokens(
        &self,
        take: &TokenTake,
    ) -> impl Future<Output = Result<TakeOutcome, StoreError>> + Send;

    /// Add one function instance's accepted and refused counts to this tenant's day and
    /// minute items.
    fn add_usage(&self, delta: &UsageDelta) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// This tenant's day item and two minute items (`yyyy-mm-ddThh:mm`), zero where absent.
    fn usage(
        &self,
        day: &str,
        previous_minute: &str,
        current_minute: &str,
    ) -> impl Future<Output = Result<Usage, StoreError>> + Send;

    fn aggregate(
        &self,
        query: &AggregateQuery,
    ) -> impl Future<Output = Result<AggregateTotals, StoreError>> + Send;

    /// One bucket per hour of the query's range, from the hourly aggregate items only.
    fn aggregate_hourly(
        &self,
        query: &HourlyQuery,
    ) -> impl Future<Output = Result<Vec<HourBucket>, StoreError>> + Send;
}
