//! What the functions' handler tests share (feature `test-support`): a pinned clock, an app on
//! `MemoryStore` whose tenant `default` owns every client id and holds `TEST_KEY` (the key
//! every fixture request carries), more tenants with keys, API Gateway fixture requests,
//! answers as JSON, seeded events and a store that always fails.

use std::path::Path;

use event_core::{normalize_event, EventTimestamp};
use event_store::tenancy::ApiKey;
use event_store::{
    AggregateQuery, AggregateTotals, ClientPatterns, CommitOutcome, FailedId, FailedQuery,
    FailedRecord, HourBucket, HourlyQuery, KeyHash, KeyState, MemoryStore, Page, ProcessedQuery,
    ProcessedRecord, Store, StoreError, Tenant, TenantId,
};
use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::{App, Config};

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
        KeyHash::of(TEST_KEY),
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

/// The JSON of fixture `name` in `dir` (a function's `tests/fixtures`).
pub fn fixture(dir: impl AsRef<Path>, name: &str) -> Value {
    let path = dir.as_ref().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// An API Gateway event (REST v1 or HTTP API v2 JSON) turned into the request a handler gets.
pub fn request_from(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway event")
}

/// Fixture `name` of `dir` as a request, after `edit` changed its JSON.
pub fn fixture_request(
    dir: impl AsRef<Path>,
    name: &str,
    edit: impl FnOnce(&mut Value),
) -> Request {
    let mut event = fixture(dir, name);
    edit(&mut event);
    request_from(&event)
}

/// Sets header `name` of a fixture event (REST v1 or HTTP API v2) to `value`, or removes it.
pub fn set_header(event: &mut Value, name: &str, value: Option<&str>) {
    for map in ["headers", "multiValueHeaders"] {
        let Some(headers) = event.get_mut(map).and_then(Value::as_object_mut) else {
            continue;
        };
        headers.retain(|key, _| !key.eq_ignore_ascii_case(name));
        if let (Some(value), "headers") = (value, map) {
            headers.insert(name.to_owned(), Value::from(value));
        }
    }
}

/// A fixture event's `x-api-key` replaced by `key` (or removed).
pub fn with_key(event: &mut Value, key: Option<&str>) {
    set_header(event, "x-api-key", key);
}

/// What a handler answered: status, headers and the JSON body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl From<Response<Body>> for Answer {
    fn from(response: Response<Body>) -> Self {
        let body = serde_json::from_slice(response.body().as_ref()).expect("a JSON body");
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body,
        }
    }
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
        Ok((*hash == KeyHash::of(TEST_KEY)).then(TenantId::default))
    }
    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let state = KeyState {
            label: "test".to_owned(),
            created_at: 0,
            expires_at: None,
            revoked: false,
        };
        Ok((*id == TenantId::default()).then(|| Tenant {
            id: id.clone(),
            clients: ClientPatterns::all(),
            created_at: 0,
            keys: [(KeyHash::of(TEST_KEY), state)].into(),
        }))
    }
    async fn put_tenant(&self, _: &TenantId, _: &ClientPatterns, _: i64) -> Result<(), StoreError> {
        Err((self.0)())
    }
    async fn add_key(&self, _: &TenantId, _: &KeyHash, _: &KeyState) -> Result<(), StoreError> {
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
    async fn aggregate(&self, _: &AggregateQuery) -> Result<AggregateTotals, StoreError> {
        Err((self.0)())
    }
    async fn aggregate_hourly(&self, _: &HourlyQuery) -> Result<Vec<HourBucket>, StoreError> {
        Err((self.0)())
    }
}
