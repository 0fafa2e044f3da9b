//! Test helpers: fixture requests (API Gateway REST v1 and HTTP API v2 events), an app on
//! `MemoryStore` with a pinned clock, and a call that returns status, headers and JSON.
#![allow(dead_code)]

use std::time::Duration;

use event_core::EventTimestamp;
use event_http::{App, Config};
use event_store::{FailedId, FailedRecord, MemoryStore, Store};
use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::Request;
use serde_json::Value;

/// "Now" in every test: 2026-11-20T12:00:00Z.
pub const NOW_NANOS: i64 = 1_795_176_000 * 1_000_000_000;

pub fn fixed_now() -> EventTimestamp {
    EventTimestamp::from_unix_nanos(NOW_NANOS).unwrap()
}

/// The event of the fixtures: acme-prod, purchase, 12.50 at 2026-11-20T10:00:00+02:00.
pub const EVENT: &str = r#"{"client_id":"acme-prod","source":"web","payload":{"metric":"purchase","amount":"12.50","timestamp":"2026-11-20T10:00:00+02:00"}}"#;

pub fn app() -> App<MemoryStore> {
    app_with(Config::default())
}

pub fn app_with(config: Config) -> App<MemoryStore> {
    App::new(MemoryStore::new(), config).with_clock(fixed_now)
}

pub fn config_without_simulation() -> Config {
    Config {
        allow_simulated_failure: false,
        ..Config::default()
    }
}

pub fn config_with_deadline(deadline: Duration, concurrency: usize) -> Config {
    Config {
        batch_deadline: deadline,
        batch_concurrency: concurrency,
        ..Config::default()
    }
}

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// A fixture turned into a request, after `edit` changed its JSON.
pub fn request(name: &str, edit: impl FnOnce(&mut Value)) -> Request {
    let mut event = fixture(name);
    edit(&mut event);
    lambda_http::request::from_str(&event.to_string()).expect("fixture is an API Gateway event")
}

/// `POST /events` (HTTP API v2) with `body`.
pub fn post(body: &str) -> Request {
    request("http_v2_post_events.json", |event| {
        event["body"] = Value::String(body.to_owned())
    })
}

/// `POST /events` (REST API v1) with `body`.
pub fn post_v1(body: &str) -> Request {
    request("rest_v1_post_events.json", |event| {
        event["body"] = Value::String(body.to_owned())
    })
}

/// `POST /events/failed/{id}/retry` with `id` exactly as it appears in the path.
pub fn retry(id_in_path: &str) -> Request {
    let text = fixture("http_v2_retry.json")
        .to_string()
        .replace("FAILED_ID", id_in_path);
    lambda_http::request::from_str(&text).unwrap()
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

pub async fn call<S: Store>(app: &App<S>, req: Request) -> Answer {
    let response = ingest::handle(req, app).await;
    let body = serde_json::from_slice(response.body().as_ref()).expect("a JSON body");
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body,
    }
}

pub async fn failed_record(store: &impl Store, answer: &Answer) -> FailedRecord {
    let id = answer.body["failed_id"].as_str().expect("a failed_id");
    store
        .get_failed(&FailedId(id.to_owned()))
        .await
        .unwrap()
        .expect("the failed record exists")
}

/// An event of client `acme-prod` with `amount` (JSON text) and everything else fixed.
pub fn event_with_amount(amount: &str) -> String {
    format!(
        r#"{{"client_id":"acme-prod","payload":{{"metric":"purchase","amount":{amount},"timestamp":"2026-11-20T08:00:00Z"}}}}"#
    )
}
