//! Test helpers of `ingest`: its fixture requests (API Gateway REST v1 and HTTP API v2 events)
//! and calls; the rest comes from `event_runtime::testing`.
#![allow(dead_code)]

pub mod slow_store;

use std::time::Duration;

pub use event_runtime::testing::*;
use event_runtime::{App, Config};
use event_store::{FailedId, FailedRecord, Store};
use lambda_http::Request;
use serde_json::Value;

/// The event of the fixtures: acme-prod, purchase, 12.50 at 2026-11-20T10:00:00+02:00.
pub const EVENT: &str = r#"{"client_id":"acme-prod","source":"web","payload":{"metric":"purchase","amount":"12.50","timestamp":"2026-11-20T10:00:00+02:00"}}"#;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

pub fn config_without_simulation() -> Config {
    Config {
        allow_simulated_failure: false,
        ..test_config()
    }
}

pub fn config_with_deadline(deadline: Duration, concurrency: usize) -> Config {
    Config {
        request_deadline: deadline,
        batch_concurrency: concurrency,
        ..test_config()
    }
}

/// A fixture of `tests/fixtures` turned into a request, after `edit` changed its JSON.
pub fn request(name: &str, edit: impl FnOnce(&mut Value)) -> Request {
    fixture_request(FIXTURES, name, edit)
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
    let text = fixture(FIXTURES, "http_v2_retry.json").to_string();
    request_from(&serde_json::from_str(&text.replace("FAILED_ID", id_in_path)).unwrap())
}

/// `POST /events/failed/retry` (the bulk replay) with `body` as sent.
pub fn replay_text(body: &str) -> Request {
    request("http_v2_replay.json", |event| {
        event["body"] = Value::String(body.to_owned())
    })
}

pub async fn call<S: Store>(app: &App<S>, req: Request) -> Answer {
    ingest::handle(req, app).await.into()
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
