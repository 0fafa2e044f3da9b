//! What the functions' handler tests share (feature `test-support`): a pinned clock, an app on
//! `MemoryStore`, API Gateway fixture requests, answers as JSON, seeded events and a store
//! that always fails.

use std::path::Path;

use event_core::{normalize_event, EventTimestamp};
use event_store::{
    AggregateQuery, AggregateTotals, CommitOutcome, FailedId, FailedQuery, FailedRecord,
    MemoryStore, Page, ProcessedQuery, ProcessedRecord, Store, StoreError,
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

/// An app on an empty `MemoryStore` whose clock reads `fixed_now()`.
pub fn app_with(config: Config) -> App<MemoryStore> {
    App::new(MemoryStore::new(), config).with_clock(fixed_now)
}

pub fn app() -> App<MemoryStore> {
    app_with(Config::default())
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

impl Store for FailingStore {
    async fn commit_event(&self, _: &ProcessedRecord) -> Result<CommitOutcome, StoreError> {
        Err((self.0)())
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
}
