//! `event-core` for JavaScript: the event rules of `POST /events`, compiled to
//! `wasm32-unknown-unknown` and bound with wasm-bindgen (the npm package in this folder).
//!
//! JavaScript gets two functions, `normalize(bodyJson, nowMs)` and `version()`. The work is
//! done by [`normalize_json`], plain Rust that the native tests (and the vectors the Node
//! tests replay) call directly: it answers what the ingest function answers for the same
//! request body received at the same time, as JSON text that JavaScript turns into an
//! object with `JSON.parse` (smaller than building the object field by field from wasm).

use event_core::{normalize_event, parse_body, Body, BodyError, EventError, EventTimestamp};
use serde::Serialize;
use wasm_bindgen::prelude::*;

/// The package version (`package.json` has the same).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The one error code of this package that the API does not have: `normalize` takes one
/// event, and the body is a valid batch (`{"events":[...]}`).
pub const BATCH_NOT_SUPPORTED: &str = "batch_not_supported";

/// The `normalize` result as JSON text: `{"ok":true,"event_hash","event"}` or
/// `{"ok":false,"error":{"code","message","field"?}}` for the request body `body` received
/// at `received_at`.
///
/// `event` is the JSON the ingest function puts in its `201` answer, byte for byte (it is
/// built the same way: the normalized event through `serde_json::Value`), and `error`
/// carries the code, message and field the API answers, for the body's rules (not JSON,
/// not an object, too large) as for the event's.
pub fn normalize_json(body: &str, received_at: EventTimestamp) -> String {
    let answer = match parse_body(body.as_bytes()) {
        Err(error) => Answer::from(&error),
        Ok(Body::Single(raw)) => match normalize_event(raw, received_at) {
            Err(error) => Answer::from(&error),
            Ok(parsed) => match serde_json::to_value(&parsed.event) {
                Ok(event) => Answer::Ok {
                    ok: true,
                    event_hash: parsed.hash.to_string(),
                    event,
                },
                // A normalized event is strings only: it always serializes.
                Err(error) => Answer::error("internal_error", error.to_string(), None),
            },
        },
        Ok(Body::Batch(items)) => Answer::error(
            BATCH_NOT_SUPPORTED,
            format!(
                "normalize takes one event; this body is a batch ({{\"events\": [...]}}) of {} event{}. Pass each event on its own.",
                items.len(),
                if items.len() == 1 { "" } else { "s" }
            ),
            Some("events"),
        ),
    };
    serde_json::to_string(&answer).unwrap_or_else(|_| {
        r#"{"ok":false,"error":{"code":"internal_error","message":"The result did not serialize."}}"#.to_owned()
    })
}

/// The receive time `now_ms` (milliseconds since 1970, fractions allowed) at nanosecond
/// resolution, exactly for whole milliseconds: `None` for NaN and infinities; before 1970
/// reads as 1970 and after 2262-04-11T23:47:16.854775807Z as that instant (as the server's
/// clock does).
pub fn received_at(now_ms: f64) -> Option<EventTimestamp> {
    if !now_ms.is_finite() {
        return None;
    }
    // Whole milliseconds and the fraction, both exact in f64; clamped first (2^53 ms is far
    // past 2262) so the products below cannot overflow.
    let whole = now_ms.floor().clamp(-1.0, 9_007_199_254_740_992.0);
    let fraction = (now_ms - now_ms.floor()).clamp(0.0, 1.0);
    let nanos = (whole as i128) * 1_000_000 + (fraction * 1e6).round() as i128;
    let nanos = nanos.clamp(0, i128::from(i64::MAX)) as i64;
    EventTimestamp::from_unix_nanos(nanos)
}

#[derive(Serialize)]
#[serde(untagged)]
enum Answer {
    Ok {
        ok: bool,
        event_hash: String,
        event: serde_json::Value,
    },
    Err {
        ok: bool,
        error: ErrorDetail,
    },
}

/// The API's `error` object (`ErrorDetail` of the HTTP layer) without `request_id`.
#[derive(Serialize)]
struct ErrorDetail {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

impl Answer {
    fn error(code: &'static str, message: String, field: Option<&str>) -> Self {
        Answer::Err {
            ok: false,
            error: ErrorDetail {
                code,
                message,
                field: field.map(str::to_owned),
            },
        }
    }
}

impl From<&EventError> for Answer {
    fn from(error: &EventError) -> Self {
        Answer::error(error.code(), error.message(), error.field())
    }
}

impl From<&BodyError> for Answer {
    fn from(error: &BodyError) -> Self {
        Answer::error(error.code(), error.message(), error.field())
    }
}

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("../types.d.ts");

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = JSON, js_name = parse)]
    fn json_parse(text: &str) -> JsValue;
}

/// Validates and normalizes one event exactly as `POST /events` does, without sending it.
///
/// `bodyJson` is the request body (one event); `nowMs` the time it is received, in
/// milliseconds since 1970 (`Date.now()`), for the rule that a timestamp may be at most
/// 24 h ahead. The result is `{ ok: true, event_hash, event }` with the server's
/// `event_hash` and `event`, or `{ ok: false, error: { code, message, field? } }` with the
/// error the server would answer.
///
/// @throws {Error} when `nowMs` is NaN or infinite.
#[wasm_bindgen(unchecked_return_type = "NormalizeResult")]
pub fn normalize(
    #[wasm_bindgen(js_name = "bodyJson")] body_json: &str,
    #[wasm_bindgen(js_name = "nowMs")] now_ms: f64,
) -> Result<JsValue, JsError> {
    let now = received_at(now_ms).ok_or_else(|| {
        JsError::new("nowMs must be a finite number of milliseconds since 1970, e.g. Date.now()")
    })?;
    Ok(json_parse(&normalize_json(body_json, now)))
}

/// The version of this package (and of the rules it carries), e.g. `"0.1.0"`.
#[wasm_bindgen]
pub fn version() -> String {
    VERSION.to_owned()
}
