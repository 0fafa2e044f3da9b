//! The body of `POST /events/failed/retry`: which failed records a bulk replay works
//! through, parsed into a `ReplayQuery` or a typed 400 that names the field.
//!
//! Every field is optional (an empty body selects every record of the tenant). Unknown
//! fields are refused rather than ignored: a misspelled filter would silently widen a bulk
//! write to records the caller meant to leave alone.

use event_core::limits::MAX_BODY_BYTES;
use event_core::{BodyError, ClientId, EventError, EventTimestamp};
use event_http::{ApiError, ErrorCode};
use event_store::ReplayQuery;
use serde_json::{Map, Value};

/// Records per request when `limit` is absent, and the most a request may ask for: each is
/// one transaction, and all of them must fit in the request's deadline.
pub const MAX_REPLAY_LIMIT: u32 = 100;

/// At most this many `codes` (DynamoDB's `IN` takes up to 100 operands).
pub const MAX_CODES: usize = 50;

const FIELDS: &str = "client_id, from, to, codes, limit and cursor";

pub fn parse(body: &[u8]) -> Result<ReplayQuery, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BodyError::BodyTooLarge { bytes: body.len() }.into());
    }
    let fields = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => fields,
            Ok(other) => {
                return Err(invalid_field(
                    "body",
                    format!(
                        "must be a JSON object with the optional fields {FIELDS}; got {}.",
                        kind(&other)
                    ),
                ))
            }
            Err(error) => {
                return Err(BodyError::InvalidJson {
                    detail: error.to_string(),
                    line: error.line(),
                    column: error.column(),
                }
                .into())
            }
        }
    };
    let mut query = ReplayQuery {
        client_id: None,
        from: None,
        to: None,
        codes: Vec::new(),
        limit: MAX_REPLAY_LIMIT,
        cursor: None,
    };
    for (name, value) in &fields {
        // `null` and `""` are absent, as an empty query parameter is on the read routes.
        if value.is_null() || value.as_str() == Some("") {
            continue;
        }
        match name.as_str() {
            "client_id" => query.client_id = Some(client_id(value)?),
            "from" => query.from = Some(bound("from", value)?),
            "to" => query.to = Some(bound("to", value)?),
            "codes" => query.codes = codes(value)?,
            "limit" => query.limit = limit(value)?,
            "cursor" => query.cursor = cursor(value)?,
            other => {
                return Err(invalid_field(
                    "body",
                    format!(
                        "has an unknown field {:?}; the fields of a replay selection are {FIELDS}.",
                        other.chars().take(64).collect::<String>()
                    ),
                ))
            }
        }
    }
    if let (Some(from), Some(to)) = (query.from, query.to) {
        if to <= from {
            return Err(ApiError::about(ErrorCode::InvalidRange, "to"));
        }
    }
    Ok(query)
}

fn client_id(value: &Value) -> Result<ClientId, ApiError> {
    let text = value
        .as_str()
        .ok_or_else(|| invalid_field("client_id", must_be("a string", value)))?;
    ClientId::parse(text).map_err(|error| ApiError::Param {
        name: "client_id",
        error: error.with_field("client_id"),
    })
}

/// A receipt-time bound: text read by the same rules as the `from`/`to` query parameters
/// (RFC 3339, or epoch seconds / milliseconds).
fn bound(name: &'static str, value: &Value) -> Result<EventTimestamp, ApiError> {
    let text = value
        .as_str()
        .ok_or_else(|| invalid_field(name, must_be("an RFC 3339 date-time string", value)))?;
    EventTimestamp::parse_bound(text).map_err(|error| ApiError::Param {
        name,
        error: error.with_field(name),
    })
}

/// Error codes as the API spells them: lowercase snake case.
fn codes(value: &Value) -> Result<Vec<String>, ApiError> {
    let shape = "must be an array of at most 50 error codes (lowercase letters, digits and _, such as \"storage_failed\")";
    let Value::Array(items) = value else {
        return Err(invalid_field(
            "codes",
            format!("{shape}; got {}.", kind(value)),
        ));
    };
    if items.len() > MAX_CODES {
        return Err(invalid_field(
            "codes",
            format!("{shape}; got {} codes.", items.len()),
        ));
    }
    items
        .iter()
        .map(|item| match item.as_str() {
            Some(code) if is_code(code) => Ok(code.to_owned()),
            _ => Err(invalid_field(
                "codes",
                format!(
                    "{shape}; got {}.",
                    item.to_string().chars().take(70).collect::<String>()
                ),
            )),
        })
        .collect()
}

fn is_code(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A whole number, however JSON spells it (`82` and `82.0` are one integer to JSON Schema).
fn limit(value: &Value) -> Result<u32, ApiError> {
    let whole = value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= f64::from(MAX_REPLAY_LIMIT))
            .map(|n| n as u64)
    });
    match whole {
        Some(n) if (1..=u64::from(MAX_REPLAY_LIMIT)).contains(&n) => Ok(n as u32),
        _ => Err(ApiError::Code {
            code: ErrorCode::InvalidLimit,
            field: Some("limit"),
            message: Some(format!(
                "limit must be a whole number from 1 to {MAX_REPLAY_LIMIT}."
            )),
        }),
    }
}

/// Opaque here: the store checks that it belongs to this selection.
fn cursor(value: &Value) -> Result<Option<String>, ApiError> {
    match value {
        Value::String(text) => Ok(Some(text.clone())),
        _ => Err(ApiError::about(ErrorCode::InvalidCursor, "cursor")),
    }
}

fn invalid_field(name: &'static str, detail: String) -> ApiError {
    ApiError::Param {
        name,
        error: EventError::InvalidField {
            field: name.into(),
            detail,
        },
    }
}

fn must_be(expected: &str, value: &Value) -> String {
    format!("must be {expected}; got {}.", kind(value))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(body: &str) -> (String, Option<String>) {
        let error = parse(body.as_bytes()).expect_err(body);
        (error.code().to_owned(), error.field().map(str::to_owned))
    }

    #[test]
    fn given_no_body_or_an_empty_object_then_everything_with_the_largest_page() {
        for body in [
            "",
            "  \n",
            "{}",
            r#"{"cursor": null, "codes": null, "from": ""}"#,
        ] {
            let query = parse(body.as_bytes()).unwrap();
            assert_eq!(query.limit, 100, "{body:?}");
            assert!(query.client_id.is_none() && query.codes.is_empty() && query.cursor.is_none());
        }
    }

    #[test]
    fn given_every_field_then_each_is_read() {
        let query = parse(
            br#"{"client_id":"acme-prod","from":"2026-11-20T10:00:00+02:00","to":"1795176000",
                 "codes":["storage_failed","simulated_failure"],"limit":7,"cursor":"abc"}"#,
        )
        .unwrap();
        assert_eq!(query.client_id.unwrap().as_str(), "acme-prod");
        assert_eq!(query.from.unwrap().to_string(), "2026-11-20T08:00:00Z");
        assert_eq!(query.to.unwrap().to_string(), "2026-11-20T12:00:00Z");
        assert_eq!(query.codes, ["storage_failed", "simulated_failure"]);
        assert_eq!(query.limit, 7);
        assert_eq!(parse(br#"{"limit":82.0}"#).unwrap().limit, 82);
        assert_eq!(query.cursor.as_deref(), Some("abc"));
    }

    #[test]
    fn given_bad_fields_then_typed_400s_naming_them() {
        let cases = [
            (r#"{"limit":0}"#, "invalid_limit", "limit"),
            (r#"{"limit":101}"#, "invalid_limit", "limit"),
            (r#"{"limit":"5"}"#, "invalid_limit", "limit"),
            (r#"{"limit":2.5}"#, "invalid_limit", "limit"),
            (r#"{"cursor":5}"#, "invalid_cursor", "cursor"),
            (r#"{"client_id":"a b"}"#, "invalid_client_id", "client_id"),
            (r#"{"client_id":7}"#, "invalid_field", "client_id"),
            (r#"{"from":"yesterday"}"#, "invalid_timestamp", "from"),
            (r#"{"to":true}"#, "invalid_field", "to"),
            (r#"{"to":1795176000}"#, "invalid_field", "to"),
            (
                r#"{"from":"2026-11-20T00:00:00Z","to":"2026-11-20T00:00:00Z"}"#,
                "invalid_range",
                "to",
            ),
            (r#"{"codes":"storage_failed"}"#, "invalid_field", "codes"),
            (r#"{"codes":["Storage Failed"]}"#, "invalid_field", "codes"),
            (r#"{"codes":[1]}"#, "invalid_field", "codes"),
            (r#"{"client":"acme-prod"}"#, "invalid_field", "body"),
            ("[]", "invalid_field", "body"),
        ];
        for (body, code, field) in cases {
            assert_eq!(
                error_of(body),
                (code.to_owned(), Some(field.to_owned())),
                "{body}"
            );
        }
        assert_eq!(error_of("{").0, "invalid_json");
        let many = format!(r#"{{"codes":{:?}}}"#, vec!["a"; 51]);
        assert_eq!(error_of(&many).0, "invalid_field");
    }

    #[test]
    fn the_limit_sentence_names_the_replay_bound() {
        let error = parse(br#"{"limit":500}"#).unwrap_err();
        assert_eq!(
            error.message(),
            "limit must be a whole number from 1 to 100."
        );
    }
}
