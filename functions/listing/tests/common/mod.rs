//! Test helpers of `listing`: its fixture requests, calls and seeded records; the rest comes
//! from `event_runtime::testing`.
#![allow(dead_code)]

use event_core::ClientId;
pub use event_runtime::testing::*;
use event_runtime::App;
use event_store::{FailedRecord, FailedStatus, FailureReason, MemoryStore, Store};
use lambda_http::Request;
use serde_json::Value;

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// A fixture of `tests/fixtures` turned into a request, after `edit` changed its JSON.
pub fn request(name: &str, edit: impl FnOnce(&mut Value)) -> Request {
    fixture_request(FIXTURES, name, edit)
}

/// A GET (HTTP API v2) of `path` with the raw query string `query` (as a client encodes it).
pub fn get(path: &str, query: &str) -> Request {
    request("http_v2_get.json", |event| {
        event["rawPath"] = Value::from(path);
        event["rawQueryString"] = Value::from(query);
    })
}

pub async fn call<S: Store>(app: &App<S>, req: Request) -> Answer {
    listing::handle(req, app).await.into()
}

/// Commit one event of `client` with `amount` at `timestamp` (any accepted spelling).
pub async fn seed(store: &MemoryStore, client: &str, amount: &str, timestamp: &str) {
    seed_event(
        store,
        &format!(
            r#"{{"client_id":"{client}","payload":{{"metric":"purchase","amount":"{amount}","timestamp":"{timestamp}"}}}}"#
        ),
    )
    .await;
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
        raw_truncated: false,
        received_at: fixed_now(),
        attempts: 1,
        status,
    };
    store.put_failed(&record).await.unwrap();
    id.0
}
