//! What handler tests share at the HTTP boundary (feature `test-support`): API Gateway
//! fixture requests (REST v1 and HTTP API v2 JSON) and answers read back as JSON. The store,
//! the keys and the app of those tests are in `event_runtime::testing`, which re-exports these.

use std::path::Path;

use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::Value;

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
