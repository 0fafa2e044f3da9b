//! What the functions' handler tests share (feature `test-support`): a pinned clock, an app on
//! `MemoryStore` whose tenant `default` owns every client id and holds `TEST_KEY` (the key
//! every fixture request carries), more tenants with keys, seeded events and a store that
//! always fails; and, re-exported from `event_http::testing`, API Gateway fixture requests
//! and answers as JSON.

use event_core::{normalize_event, EventTimestamp};
pub use event_http::testing::*;
use event_store::{
    AggregateQuery, AggregateTotals, ClientPatterns, CommitOutcome, FailedId, FailedQuery,
    FailedRecord, HourBucket, HourlyQuery, KeyHash, KeyState, MemoryStore, Page, ProcessedQuery,
    ProcessedRecord, ReplayPage, ReplayQuery, Scopes, Store, StoreError, Tenant, TenantId,
};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::api_key::{key_hash, ApiKey};
use crate::app::App;
use crate::config::Config;

/// "Now" in every handler test: 2026-11-20T12:00:00Z.
pub const NOW_NANOS: i64 = 1_795_176_000 * 1_000_000_000;

pub fn fixed_now() -> EventTimestamp {
    EventTimestamp::from_unix_nanos(NOW_NANOS).expect("NOW_NANOS is a valid time")
}

/// The key of tenant `default` (owning every client id) that every fixture request carries
/// in `x-api-key`.
pub const TEST_KEY: &str = "eik_handlerTestKeyAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// An app on an empty `MemoryStore` (tenant `default` with `TEST_KEY`) whose clock reads
/// `fixed_now()`.
pub fn app_with(config: Config) -> App<MemoryStore> {
    App::new(memory_store(), config).with_clock(fixed_now)
}

/// An empty `MemoryStore` whose tenant `default` owns every client id and holds `TEST_KEY`.
pub fn memory_store() -> MemoryStore {
    let store = MemoryStore::new();
    store.add_tenant_key(
        &TenantId::default(),
        ClientPatterns::all(),
        key_hash(TEST_KEY),
    );
    store
}

/// Tenant `tenant` owning `clients` (`acme-*,beta`), with a new key: returns the key.
pub fn add_tenant(store: &MemoryStore, tenant: &str, clients: &str) -> String {
    let key = ApiKey::generate().expect("the OS has randomness");
    store.add_tenant_key(
        &TenantId::parse(tenant).expect("a valid tenant name"),
        ClientPatterns::parse(clients, true).expect("valid client patterns"),
        key.hash(),
    );
    key.as_str().to_owned()
}

/// Another key of the existing `tenant` with `scopes` (`ingest,read`) and, when given,
/// narrowed to `only_clients` (`acme-ios`): returns the key. Tests of scoped keys.
pub async fn add_scoped_key(
    store: &MemoryStore,
    tenant: &str,
    scopes: &str,
    only_clients: Option<&str>,
) -> String {
    let key = ApiKey::generate().expect("the OS has randomness");
    let state = KeyState {
        scopes: Scopes::parse(scopes).expect("valid scopes"),
        only_clients: only_clients
            .map(|text| ClientPatterns::parse(text, true).expect("valid client patterns")),
        ..KeyState::new("scoped", 0)
    };
    store
        .add_key(
            &TenantId::parse(tenant).expect("a valid tenant name"),
            &key.hash(),
            &state,
        )
        .await
        .expect("the tenant exists");
    key.as_str().to_owned()
}

/// An app with `test_config()`.
pub fn app() -> App<MemoryStore> {
    app_with(test_config())
}

/// The settings of the local stack, where handler tests run: the defaults, with
/// `simulateFailure` honoured (production refuses it unless told otherwise).
pub fn test_config() -> Config {
    Config {
        allow_simulated_failure: true,
        ..Config::default()
    }
}

/// A fixture event's `x-api-key` replaced by `key` (or removed).
pub fn with_key(event: &mut Value, key: Option<&str>) {
    set_header(event, "x-api-key", key);
}

/// Commit the event `json` (as a client would send it) as processed; it must be new.
pub async fn seed_event(store: &impl Store, json: &str) {
    let raw: &RawValue = serde_json::from_str(json).expect("seed event is JSON");
    let parsed = normalize_event(raw, fixed_now()).expect("seed event is valid");
    let record = ProcessedRecord {
        event: parsed.event,
        hash: parsed.hash,
        received_at: fixed_now(),
    };
    assert_eq!(
        store.commit_event(&record).await.expect("seed commit"),
        CommitOutcome::Processed
    );
}

/// A store whose every call fails with the error `.0` makes, as when DynamoDB keeps
/// throttling past the retry budget (`Unavailable`) or answers something unusable (`Internal`).
pub struct FailingStore(pub fn() -> StoreError);

impl FailingStore {
    pub fn unavailable() -> Self {
        FailingStore(|| StoreError::Unavailable("throttled: table events".to_owned()))
    }
}

/// Authentication works (tenant `default` with `TEST_KEY`); everything else fails.
impl Store for FailingStore {
    fn for_tenant(&self, _: &TenantId) -> Self {
        FailingStore(self.0)
    }
    fn until(&self, _: std::time::Instant) -> Self {
        FailingStore(self.0)
    }
    async fn tenant_of_key(&self, hash: &KeyHash) -> Result<Option<TenantId>, StoreError> {
        Ok((*hash == key_hash(TEST_KEY)).then(TenantId::default))
    }
    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let state = KeyState::new("test", 0);
        Ok((*id == TenantId::default()).then(|| Tenant {
            id: id.clone(),
            clients: ClientPatterns::all(),
            created_at: 0,
            keys: [(key_hash(TEST_KEY), state)].into(),
            limits: Default::default(),
        }))
    }
    async fn put_tenant(&self, _: &TenantId, _: &ClientPatterns, _: i64) -> Result<(), StoreError> {
        Err((self.0)())
    }
    async fn set_tenant_limits(
        &self,
        _: &TenantId,
        _: &event_store::TenantLimits,
    ) -> Result<bool, StoreError> {
        Err((self.0)())
    }
    async fn add_key(&self, _: &TenantId, _: &KeyHash, _: &KeyState) -> Result<(), StoreError> {
        Err((self.0)())
    }
    async fn take_tokens(
        &self,
        _: &event_store::TokenTake,
    ) -> Result<event_store::TakeOutcome, StoreError> {
        Err((self.0)())
    }
    async fn add_usage(&self, _: &event_store::UsageDelta) -> Result<(), StoreError> {
        Err((self.0)())
    }
    async fn usage(&self, _: &str, _: &str, _: &str) -> Result<event_store::Usage, StoreError> {
        Err((self.0)())
    }
    async fn revoke_key(&self, _: &TenantId, _: &KeyHash) -> Result<bool, StoreError> {
        Err((self.0)())
    }
    async fn commit_event(&self, _: &ProcessedRecord) -> Result<CommitOutcome, StoreError> {
        Err((self.0)())
    }
    fn commit_events<'a>(
        &'a self,
        records: &'a [ProcessedRecord],
        _: usize,
    ) -> impl futures::Stream<Item = (usize, Result<CommitOutcome, StoreError>)> + Send + 'a {
        futures::stream::iter((0..records.len()).map(|index| (index, Err((self.0)()))))
    }
    async fn commit_retry(
        &self,
        _: &ProcessedRecord,
        _: &FailedId,
    ) -> Result<CommitOutcome, StoreError> {
        Err((self.0)())
    }
    async fn put_failed(&self, _: &FailedRecord) -> Result<(), StoreError> {
        Err((self.0)())
    }
    async fn record_failed_attempt(&self, _: &FailedId) -> Result<(), StoreError> {
        Err((self.0)())
    }
    async fn get_failed(&self, _: &FailedId) -> Result<Option<FailedRecord>, StoreError> {
        Err((self.0)())
    }
    async fn list_processed(
        &self,
        _: &ProcessedQuery,
    ) -> Result<Page<ProcessedRecord>, StoreError> {
        Err((self.0)())
    }
    async fn list_failed(&self, _: &FailedQuery) -> Result<Page<FailedRecord>, StoreError> {
        Err((self.0)())
    }
    async fn list_failed_for_replay(&self, _: &ReplayQuery) -> Result<ReplayPage, StoreError> {
        Err((self.0)())
    }
    async fn aggregate(&self, _: &AggregateQuery) -> Result<AggregateTotals, StoreError> {
        Err((self.0)())
    }
    async fn aggregate_hourly(&self, _: &HourlyQuery) -> Result<Vec<HourBucket>, StoreError> {
        Err((self.0)())
    }
}
