//! The typed rejections: why an event or a request body was refused.
//!
//! Each error knows its stable `code()` (docs/contract.md), the dotted `field()` path it concerns
//! and a `message()` sentence written for the person who sent the event. Messages that
//! echo input truncate it (see [`echo`]) so a 32 KiB string never ends up in a response.

use std::borrow::Cow;

use crate::limits::{MAX_BATCH_EVENTS, MAX_BODY_BYTES, MAX_EVENT_BYTES};

/// Why one event was rejected. Each variant has a stable `code()` (docs/contract.md), the dotted
/// `field()` path it concerns, and a `message()` sentence a user understands.
///
/// Variants that concern a field carry `field` (its dotted path, e.g. `payload.amount`) and
/// `detail`: the rest of the sentence after the field name, so `Display` is
/// `"{field} {detail}"`. [`EventError::with_field`] re-targets an error at another field
/// (e.g. a query parameter `from` parsed with `EventTimestamp::parse_bound`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// `event_too_large`: one event's JSON text is over `limits::MAX_EVENT_BYTES`.
    #[error("The event is {bytes} bytes of JSON; one event may be at most {limit} bytes (32 KiB).", limit = MAX_EVENT_BYTES)]
    EventTooLarge { bytes: usize },
    /// `not_an_object`: the event is not a JSON object (`found`: "an array", "a string", ...).
    #[error("An event must be a JSON object; got {found}.")]
    NotAnObject { found: &'static str },
    /// `missing_client_id`: no `client_id`, or `null`.
    #[error("client_id is required: a string of 1 to 128 characters from A-Z a-z 0-9 . _ : @ -.")]
    MissingClientId,
    /// `invalid_client_id`.
    #[error("{field} {detail}")]
    InvalidClientId {
        field: Cow<'static, str>,
        detail: String,
    },
    /// `invalid_event_id`.
    #[error("{field} {detail}")]
    InvalidEventId {
        field: Cow<'static, str>,
        detail: String,
    },
    /// `invalid_source`.
    #[error("{field} {detail}")]
    InvalidSource {
        field: Cow<'static, str>,
        detail: String,
    },
    /// `invalid_metric`.
    #[error("{field} {detail}")]
    InvalidMetric {
        field: Cow<'static, str>,
        detail: String,
    },
    /// `invalid_amount`.
    #[error("{field} {detail}")]
    InvalidAmount {
        field: Cow<'static, str>,
        detail: String,
    },
    /// `missing_timestamp`: no `payload.timestamp`, or `null`.
    #[error("payload.timestamp is required: an RFC 3339 date-time such as \"2026-11-20T10:00:00+02:00\" or epoch seconds (milliseconds above 10^11).")]
    MissingTimestamp,
    /// `invalid_timestamp`: not a timestamp, before 1970, or past the representable range.
    #[error("{field} {detail}")]
    InvalidTimestamp {
        field: Cow<'static, str>,
        detail: String,
    },
    /// `timestamp_in_future`: more than 24 h after the time the event was received.
    #[error("{field} {detail}")]
    TimestampInFuture {
        field: Cow<'static, str>,
        detail: String,
    },
    /// `invalid_field`: a field of the wrong type (`payload`, `simulateFailure`), or a key
    /// that appears twice in one object (`field` names it).
    #[error("{field} {detail}")]
    InvalidField {
        field: Cow<'static, str>,
        detail: String,
    },
    /// `invalid_json`: only when `normalize_event` is handed JSON serde_json cannot read
    /// back (e.g. nested deeper than its recursion limit). Never for text from `parse_body`
    /// under normal nesting.
    #[error("The event could not be read as JSON: {detail}.")]
    InvalidJson { detail: String },
}

impl EventError {
    /// Stable snake_case code, e.g. `invalid_amount`.
    pub fn code(&self) -> &'static str {
        match self {
            EventError::EventTooLarge { .. } => "event_too_large",
            EventError::NotAnObject { .. } => "not_an_object",
            EventError::MissingClientId => "missing_client_id",
            EventError::InvalidClientId { .. } => "invalid_client_id",
            EventError::InvalidEventId { .. } => "invalid_event_id",
            EventError::InvalidSource { .. } => "invalid_source",
            EventError::InvalidMetric { .. } => "invalid_metric",
            EventError::InvalidAmount { .. } => "invalid_amount",
            EventError::MissingTimestamp => "missing_timestamp",
            EventError::InvalidTimestamp { .. } => "invalid_timestamp",
            EventError::TimestampInFuture { .. } => "timestamp_in_future",
            EventError::InvalidField { .. } => "invalid_field",
            EventError::InvalidJson { .. } => "invalid_json",
        }
    }
    /// Dotted path of the offending field, e.g. `payload.amount`.
    pub fn field(&self) -> Option<&str> {
        match self {
            EventError::EventTooLarge { .. }
            | EventError::NotAnObject { .. }
            | EventError::InvalidJson { .. } => None,
            EventError::MissingClientId => Some("client_id"),
            EventError::MissingTimestamp => Some("payload.timestamp"),
            EventError::InvalidClientId { field, .. }
            | EventError::InvalidEventId { field, .. }
            | EventError::InvalidSource { field, .. }
            | EventError::InvalidMetric { field, .. }
            | EventError::InvalidAmount { field, .. }
            | EventError::InvalidTimestamp { field, .. }
            | EventError::TimestampInFuture { field, .. }
            | EventError::InvalidField { field, .. } => Some(field),
        }
    }
    /// A sentence for humans.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The same error about another field (same code, the message names `field`), e.g. a
    /// query parameter `from` parsed with `EventTimestamp::parse_bound`. Errors without a
    /// field-specific message (`event_too_large`, `not_an_object`, `missing_*`,
    /// `invalid_json`) are returned unchanged.
    pub fn with_field(self, field: impl Into<Cow<'static, str>>) -> Self {
        let new = field.into();
        match self {
            EventError::InvalidClientId { detail, .. } => {
                EventError::InvalidClientId { field: new, detail }
            }
            EventError::InvalidEventId { detail, .. } => {
                EventError::InvalidEventId { field: new, detail }
            }
            EventError::InvalidSource { detail, .. } => {
                EventError::InvalidSource { field: new, detail }
            }
            EventError::InvalidMetric { detail, .. } => {
                EventError::InvalidMetric { field: new, detail }
            }
            EventError::InvalidAmount { detail, .. } => {
                EventError::InvalidAmount { field: new, detail }
            }
            EventError::InvalidTimestamp { detail, .. } => {
                EventError::InvalidTimestamp { field: new, detail }
            }
            EventError::TimestampInFuture { detail, .. } => {
                EventError::TimestampInFuture { field: new, detail }
            }
            EventError::InvalidField { detail, .. } => {
                EventError::InvalidField { field: new, detail }
            }
            other => other,
        }
    }

    pub(crate) fn invalid_field(field: impl Into<Cow<'static, str>>, detail: String) -> Self {
        EventError::InvalidField {
            field: field.into(),
            detail,
        }
    }

    pub(crate) fn duplicate_key(field: String) -> Self {
        EventError::InvalidField {
            field: Cow::Owned(field),
            detail: "appears more than once in the same object; send each field once.".to_owned(),
        }
    }
}

/// Why a whole request body was refused (before any event is looked at).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// `body_too_large` (413): over `limits::MAX_BODY_BYTES`.
    #[error("The request body is {bytes} bytes; the limit is {limit} bytes (1 MiB).", limit = MAX_BODY_BYTES)]
    BodyTooLarge { bytes: usize },
    /// `invalid_json` (400): `detail` is serde_json's reason, `line`/`column` where it broke
    /// (1-based line; column 0 means before the first character of the line).
    #[error("The request body is not valid JSON: {detail} at line {line}, column {column}.")]
    InvalidJson {
        detail: String,
        line: usize,
        column: usize,
    },
    /// `not_an_object` (400): the body is JSON but not an object.
    #[error("The request body must be a JSON object (one event, or {{\"events\": [...]}}); got {found}.")]
    NotAnObject { found: &'static str },
    /// `invalid_batch` (400, field `events`): `events` is present but not an array, or twice.
    #[error("events must be an array of event objects; {detail}.")]
    InvalidBatch { detail: String },
    /// `empty_batch` (400, field `events`).
    #[error("events is an empty array; send at least one event.")]
    EmptyBatch,
    /// `too_many_events` (413, field `events`).
    #[error("events holds {count} events; a batch may hold at most {limit}.", limit = MAX_BATCH_EVENTS)]
    TooManyEvents { count: usize },
    /// `event_too_large` (413): a single-event body over `limits::MAX_EVENT_BYTES`.
    #[error("The event is {bytes} bytes of JSON; one event may be at most {limit} bytes (32 KiB).", limit = MAX_EVENT_BYTES)]
    EventTooLarge { bytes: usize },
}

impl BodyError {
    pub fn code(&self) -> &'static str {
        match self {
            BodyError::BodyTooLarge { .. } => "body_too_large",
            BodyError::InvalidJson { .. } => "invalid_json",
            BodyError::NotAnObject { .. } => "not_an_object",
            BodyError::InvalidBatch { .. } => "invalid_batch",
            BodyError::EmptyBatch => "empty_batch",
            BodyError::TooManyEvents { .. } => "too_many_events",
            BodyError::EventTooLarge { .. } => "event_too_large",
        }
    }
    pub fn field(&self) -> Option<&str> {
        match self {
            BodyError::InvalidBatch { .. }
            | BodyError::EmptyBatch
            | BodyError::TooManyEvents { .. } => Some("events"),
            _ => None,
        }
    }
    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// Input echoed in a message: at most 64 characters (then `…`), as a JSON-style quoted
/// string so control characters and quotes stay visible and harmless.
pub(crate) fn echo(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    let mut out = String::with_capacity(text.len().min(MAX_CHARS * 2) + 4);
    out.push('"');
    for (taken, c) in text.chars().enumerate() {
        if taken == MAX_CHARS {
            out.push('…');
            break;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// "a string", "an array", ... from the first byte of a JSON value's text.
pub(crate) fn json_kind(raw: &str) -> &'static str {
    match raw.trim_start().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't') | Some(b'f') => "a boolean",
        Some(b'n') => "null",
        Some(_) => "a number",
        None => "nothing",
    }
}
