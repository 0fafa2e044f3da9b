//! Test helpers: fixture requests, a seeded `MemoryStore`, a store that is always
//! unavailable, and a call that returns status, headers and JSON.
#![allow(dead_code)]

use event_core::{normalize_event, ClientId, EventTimestamp};
use event_http::{App, Config};
use event_store::{
    AggregateQuery, AggregateTotals, CommitOutcome, FailedId, FailedQuery, FailedRecord,
    FailedStatus, FailureReason, MemoryStore, Page, ProcessedQuery, ProcessedRecord, Store,
    StoreError,
};
use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::Request;
use serde_json::value::RawValue;
use serde_json::Value;

/// "Now" in every test: 2026-11-20T12:00:00Z.
pub const NOW_NANOS: i64 = 1_795_176_000 * 1_000_000_000;

pub fn fixed_now() -> EventTimestamp {
    EventTimestamp::from_unix_nanos(NOW_NANOS).unwrap()
}

pub fn app() -> App<MemoryStore> {
    App::new(MemoryStore::new(), Config::default()).with_clock(fixed_now)
}

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

pub fn request(name: &str, edit: impl FnOnce(&mut Value)) -> Request {
    let mut event = fixture(name);
    edit(&mut event);
    lambda_http::request::from_str(&event.to_string()).expect("fixture is an API Gateway event")
}

/// A GET (HTTP API v2) of `path` with the raw query string `query` (as a client encodes it).
pub fn get(path: &str, query: &str) -> Request {
    request("http_v2_get.json", |event| {
        event["rawPath"] = Value::from(path);
        event["rawQueryString"] = Value::from(query);
    })
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

pub async fn call<S: Store>(app: &App<S>, req: Request) -> Answer {
    let response = listing::handle(req, app).await;
    let body = serde_json::from_slice(response.body().as_ref()).expect("a JSON body");
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body,
    }
}

/// Commit one event of `client` with `amount` at `timestamp` (any accepted spelling).
pub async fn seed(store: &MemoryStore, client: &str, amount: &str, timestamp: &str) {
    seed_json(
        store,
        &format!(
            r#"{{"client_id":"{client}","payload":{{"metric":"purchase","amount":"{amount}","timestamp":"{timestamp}"}}}}"#
        ),
    )
    .await;
}

pub async fn seed_json(store: &MemoryStore, json: &str) {
    let raw: &RawValue = serde_json::from_str(json).unwrap();
    let parsed = normalize_event(raw, fixed_now()).unwrap();
    let record = ProcessedRecord {
        event: parsed.event,
        hash: parsed.hash,
        received_at: fixed_now(),
    };
    assert_eq!(
        store.commit_event(&record).await.unwrap(),
        CommitOutcome::Processed
    );
}

/// Keep a failed record with `raw`; returns its id.
pub async fn seed_failed(
    store: &MemoryStore,
    client: Option<&str>,
    raw: &str,
    status: FailedStatus,
) -> String {
    let id = store.config().new_failed_id(fixed_now());
    let record = FailedRecord {
        failed_id: id.clone(),
        client_id: client.map(|c| ClientId::parse(c).unwrap()),
        reason: FailureReason {
            code: "invalid_amount".to_owned(),
            message: "payload.amount is not a number".to_owned(),
            field: Some("payload.amount".to_owned()),
        },
        raw: raw.to_owned(),
        received_at: fixed_now(),
        attempts: 1,
        status,
    };
    store.put_failed(&record).await.unwrap();
    id.0
}

/// Every call is `Unavailable`, as when DynamoDB throttles past the retry budget.
pub struct DownStore;

fn down<T>() -> Result<T, StoreError> {
    Err(StoreError::Unavailable(
        "throttled: table events".to_owned(),
    ))
}

impl Store for DownStore {
    async fn commit_event(&self, _: &ProcessedRecord) -> Result<CommitOutcome, StoreError> {
        down()
    }
    async fn commit_retry(
        &self,
        _: &ProcessedRecord,
        _: &FailedId,
    ) -> Result<CommitOutcome, StoreError> {
        down()
    }
    async fn put_failed(&self, _: &FailedRecord) -> Result<(), StoreError> {
        down()
    }
    async fn record_failed_attempt(&self, _: &FailedId) -> Result<(), StoreError> {
        down()
    }
    async fn get_failed(&self, _: &FailedId) -> Result<Option<FailedRecord>, StoreError> {
        down()
    }
    async fn list_processed(
        &self,
        _: &ProcessedQuery,
    ) -> Result<Page<ProcessedRecord>, StoreError> {
        down()
    }
    async fn list_failed(&self, _: &FailedQuery) -> Result<Page<FailedRecord>, StoreError> {
        down()
    }
    async fn aggregate(&self, _: &AggregateQuery) -> Result<AggregateTotals, StoreError> {
        down()
    }
}
