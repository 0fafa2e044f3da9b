//! One event: from its raw JSON to a `NormalizedEvent` (or the first rule it breaks).
//!
//! One pass of serde_json over the event's text collects the raw JSON text of each known
//! field (`&RawValue`, borrowed: no tree, no copies); unknown fields are skipped. The
//! fields are then checked in a fixed order, so the error reported is always the first
//! rule broken in this order: duplicate keys at the top level, `client_id`, `event_id`,
//! `source`, `payload` (its type, then duplicate unknown keys inside it), `payload.metric`,
//! `payload.amount`, `payload.timestamp`, `simulateFailure`.
//!
//! Numbers are read from their raw text, never through f64. A key that appears twice in
//! the event object or in `payload` is refused (`invalid_field` naming it) rather than
//! silently resolved, because JSON parsers disagree on which copy wins.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{echo, json_kind};
use crate::limits::{MAX_EVENT_BYTES, MAX_FUTURE_SKEW_SECONDS};
use crate::timestamp::{self, TimestampError};
use crate::{Amount, ClientId, EventError, EventHash, EventId, EventTimestamp, Metric, Source};

/// An event after normalization. Serializes to the `event` object of SPEC.md responses
/// (`amount` as a string, `timestamp` as RFC 3339 UTC, `event_id` only when present).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NormalizedEvent {
    pub client_id: ClientId,
    pub source: Source,
    pub metric: Metric,
    pub amount: Amount,
    pub timestamp: EventTimestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
}

impl NormalizedEvent {
    pub fn hash(&self) -> EventHash {
        EventHash::of(self)
    }
}

/// A valid event with its identity and the `simulateFailure` flag it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEvent {
    pub event: NormalizedEvent,
    pub hash: EventHash,
    pub simulate_failure: bool,
}

/// Validate and normalize one event (the JSON text of one object) received at
/// `received_at` (used only for `timestamp_in_future`).
pub fn normalize_event(
    raw: &RawValue,
    received_at: EventTimestamp,
) -> Result<ParsedEvent, EventError> {
    let fields = read_fields(raw)?;
    let event = fields.validate(received_at)?;
    Ok(ParsedEvent {
        hash: event.0.hash(),
        event: event.0,
        simulate_failure: event.1,
    })
}

/// Best effort: the event's `client_id` when it is present and valid, even if another
/// field is not (so a rejected event can still be listed by client).
pub fn peek_client_id(raw: &RawValue) -> Option<ClientId> {
    let fields = read_fields(raw).ok()?;
    match fields.client_id {
        Slot::Present(value) => match string_value(value) {
            Ok(text) => ClientId::parse(&text).ok(),
            Err(_) => None,
        },
        _ => None,
    }
}

/// A known field as found in an object.
#[derive(Debug, Default, Clone, Copy)]
enum Slot<'a> {
    #[default]
    Missing,
    Present(&'a RawValue),
    /// The key appeared more than once.
    Duplicate,
}

impl<'a> Slot<'a> {
    /// The value, treating `null` as missing; `Err` for a duplicate key.
    fn value(self) -> Result<Option<&'a RawValue>, ()> {
        match self {
            Slot::Missing => Ok(None),
            Slot::Present(raw) if raw.get() == "null" => Ok(None),
            Slot::Present(raw) => Ok(Some(raw)),
            Slot::Duplicate => Err(()),
        }
    }

    fn fill(&mut self, raw: &'a RawValue) {
        *self = match self {
            Slot::Missing => Slot::Present(raw),
            _ => Slot::Duplicate,
        };
    }
}

#[derive(Debug, Default)]
struct PayloadFields<'a> {
    metric: Slot<'a>,
    amount: Slot<'a>,
    timestamp: Slot<'a>,
    /// The first unknown key seen twice.
    duplicate_other: Option<String>,
}

#[derive(Debug, Default)]
enum PayloadSlot<'a> {
    #[default]
    Missing,
    Null,
    Object(PayloadFields<'a>),
    /// Not an object (`null` counts as missing): what it was.
    NotObject(&'static str),
    Duplicate,
}

#[derive(Debug, Default)]
struct EventFields<'a> {
    client_id: Slot<'a>,
    event_id: Slot<'a>,
    source: Slot<'a>,
    simulate_failure: Slot<'a>,
    payload: PayloadSlot<'a>,
    duplicate_other: Option<String>,
}

fn read_fields(raw: &RawValue) -> Result<EventFields<'_>, EventError> {
    let text = raw.get();
    if text.len() > MAX_EVENT_BYTES {
        return Err(EventError::EventTooLarge { bytes: text.len() });
    }
    let text = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    if !text.starts_with('{') {
        return Err(EventError::NotAnObject {
            found: json_kind(text),
        });
    }
    let parse = |raw_payload: bool| {
        let mut de = serde_json::Deserializer::from_str(text);
        de.deserialize_map(EventVisitor { raw_payload })
            .and_then(|fields| de.end().map(|()| fields))
    };
    // The fast path reads `payload` in the same pass; serde_json refuses some valid JSON
    // there (a number beyond f64 such as `1e400` where an object was expected), so on any
    // error the event is read again with `payload` captured as raw text first.
    parse(false)
        .or_else(|_| parse(true))
        .map_err(|e| EventError::InvalidJson {
            detail: e.to_string(),
        })
}

fn payload_from_raw<'a, E: serde::de::Error>(raw: &'a RawValue) -> Result<PayloadSlot<'a>, E> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'{') => {
            let mut de = serde_json::Deserializer::from_str(text);
            de.deserialize_map(PayloadVisitor).map_err(E::custom)
        }
        Some(b'n') => Ok(PayloadSlot::Null),
        _ => Ok(PayloadSlot::NotObject(json_kind(text))),
    }
}

/// The text of a JSON string value (borrowed when it has no escapes), or what it was.
fn string_value(raw: &RawValue) -> Result<Cow<'_, str>, &'static str> {
    let text = raw.get();
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'"') {
        return Err(json_kind(text));
    }
    if !bytes.contains(&b'\\') {
        // A JSON string without escapes is its content between the quotes.
        return Ok(Cow::Borrowed(&text[1..text.len() - 1]));
    }
    serde_json::from_str::<String>(text)
        .map(Cow::Owned)
        .map_err(|_| "a malformed string")
}

fn is_json_number(text: &str) -> bool {
    matches!(text.as_bytes().first(), Some(b'-' | b'0'..=b'9'))
}

impl<'a> EventFields<'a> {
    fn validate(self, received_at: EventTimestamp) -> Result<(NormalizedEvent, bool), EventError> {
        if let Some(key) = self.duplicate_other {
            return Err(EventError::duplicate_key(key));
        }
        let dup = |name: &str| EventError::duplicate_key(name.to_owned());

        let client_id = match self.client_id.value().map_err(|()| dup("client_id"))? {
            None => return Err(EventError::MissingClientId),
            Some(raw) => match string_value(raw) {
                Ok(text) => ClientId::parse(&text)?,
                Err(kind) => {
                    return Err(EventError::InvalidClientId {
                        field: Cow::Borrowed("client_id"),
                        detail: format!(
                            "must be a string of 1 to 128 characters from A-Z a-z 0-9 . _ : @ -; got {kind}."
                        ),
                    })
                }
            },
        };

        let event_id = match self.event_id.value().map_err(|()| dup("event_id"))? {
            None => None,
            Some(raw) => match string_value(raw) {
                Ok(text) => Some(EventId::parse(&text)?),
                Err(kind) => {
                    return Err(EventError::InvalidEventId {
                        field: Cow::Borrowed("event_id"),
                        detail: format!(
                            "must be a string of 1 to 128 characters from A-Z a-z 0-9 . _ : @ -; got {kind}."
                        ),
                    })
                }
            },
        };

        let source = match self.source.value().map_err(|()| dup("source"))? {
            None => Source::unknown(),
            Some(raw) => match string_value(raw) {
                Ok(text) => Source::parse(&text)?,
                Err(kind) => {
                    return Err(EventError::InvalidSource {
                        field: Cow::Borrowed("source"),
                        detail: format!(
                            "must be a string of 1 to 128 characters without control characters; got {kind}."
                        ),
                    })
                }
            },
        };

        let payload = match self.payload {
            PayloadSlot::Missing | PayloadSlot::Null => PayloadFields::default(),
            PayloadSlot::Object(fields) => fields,
            PayloadSlot::Duplicate => return Err(dup("payload")),
            PayloadSlot::NotObject(kind) => {
                return Err(EventError::invalid_field(
                    "payload",
                    format!("must be a JSON object with metric, amount and timestamp; got {kind}."),
                ))
            }
        };
        if let Some(key) = payload.duplicate_other {
            return Err(EventError::duplicate_key(format!("payload.{key}")));
        }

        let metric = match payload.metric.value().map_err(|()| dup("payload.metric"))? {
            None => Metric::unknown(),
            Some(raw) => match string_value(raw) {
                Ok(text) => Metric::parse(&text)?,
                Err(kind) => {
                    return Err(EventError::InvalidMetric {
                        field: Cow::Borrowed("payload.metric"),
                        detail: format!(
                            "must be a string of 1 to 128 characters without control characters; got {kind}."
                        ),
                    })
                }
            },
        };

        let amount = match payload.amount.value().map_err(|()| dup("payload.amount"))? {
            None => Amount::ZERO,
            Some(raw) => {
                let text = raw.get();
                if is_json_number(text) {
                    Amount::parse(text)?
                } else {
                    match string_value(raw) {
                        Ok(text) => Amount::parse(&text)?,
                        Err(kind) => return Err(Amount::invalid(format!("got {kind}"))),
                    }
                }
            }
        };

        let timestamp = match payload
            .timestamp
            .value()
            .map_err(|()| dup("payload.timestamp"))?
        {
            None => return Err(EventError::MissingTimestamp),
            Some(raw) => {
                let text = raw.get();
                let (parsed, got) = if is_json_number(text) {
                    (timestamp::parse_epoch(text), Cow::Borrowed(text))
                } else {
                    match string_value(raw) {
                        Ok(content) => (timestamp::parse_text(&content), content),
                        Err(kind) => {
                            return Err(EventError::InvalidTimestamp {
                                field: Cow::Borrowed("payload.timestamp"),
                                detail: format!(
                                    "must be an RFC 3339 date-time string or epoch seconds (milliseconds above 10^11); got {kind}."
                                ),
                            })
                        }
                    }
                };
                check_timestamp(parsed, &got, received_at)?
            }
        };

        let simulate_failure = match self
            .simulate_failure
            .value()
            .map_err(|()| dup("simulateFailure"))?
        {
            None => false,
            Some(raw) => match raw.get() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(EventError::invalid_field(
                        "simulateFailure",
                        format!("must be true or false; got {}.", json_kind(other)),
                    ))
                }
            },
        };

        Ok((
            NormalizedEvent {
                client_id,
                source,
                metric,
                amount,
                timestamp,
                event_id,
            },
            simulate_failure,
        ))
    }
}

/// Range checks of an event timestamp against the time it was received.
fn check_timestamp(
    parsed: Result<i128, TimestampError>,
    got: &str,
    received_at: EventTimestamp,
) -> Result<EventTimestamp, EventError> {
    let latest =
        i128::from(received_at.unix_nanos()) + i128::from(MAX_FUTURE_SKEW_SECONDS) * 1_000_000_000;
    let future = match parsed {
        Ok(nanos) => nanos > latest,
        Err(TimestampError::AfterMax) => true,
        Err(e) => return Err(e.into_event_error(got)),
    };
    if future {
        let detail = format!(
            "must be at most 24 hours after the time the event was received ({received_at}); got {}.",
            echo(got)
        );
        return Err(EventError::TimestampInFuture {
            field: Cow::Borrowed("payload.timestamp"),
            detail,
        });
    }
    parsed
        .and_then(timestamp::from_nanos)
        .map_err(|e| e.into_event_error(got))
}

/// An object key, borrowed unless it contained escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Remembers unknown keys (only when present, so the common event allocates nothing) to
/// find the first one that repeats.
#[derive(Default)]
struct OtherKeys<'de> {
    seen: Vec<Cow<'de, str>>,
    duplicate: Option<String>,
}

impl<'de> OtherKeys<'de> {
    fn see(&mut self, key: Cow<'de, str>) {
        if self.duplicate.is_some() {
            return;
        }
        if self.seen.contains(&key) {
            self.duplicate = Some(key.into_owned());
        } else {
            self.seen.push(key);
        }
    }
}

struct EventVisitor {
    /// Capture `payload` as raw text and parse it separately (the slow, total path).
    raw_payload: bool,
}

impl<'de> Visitor<'de> for EventVisitor {
    type Value = EventFields<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = EventFields::default();
        let mut others = OtherKeys::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match &*key {
                "client_id" => fields.client_id.fill(map.next_value()?),
                "event_id" => fields.event_id.fill(map.next_value()?),
                "source" => fields.source.fill(map.next_value()?),
                "simulateFailure" => fields.simulate_failure.fill(map.next_value()?),
                "payload" => {
                    if !matches!(fields.payload, PayloadSlot::Missing) {
                        map.next_value::<IgnoredAny>()?;
                        fields.payload = PayloadSlot::Duplicate;
                    } else if self.raw_payload {
                        fields.payload = payload_from_raw(map.next_value()?)?;
                    } else {
                        fields.payload = map.next_value_seed(PayloadSeed)?;
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    others.see(key);
                }
            }
        }
        fields.duplicate_other = others.duplicate;
        Ok(fields)
    }
}

struct PayloadSeed;

impl<'de> DeserializeSeed<'de> for PayloadSeed {
    type Value = PayloadSlot<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(PayloadVisitor)
    }
}

struct PayloadVisitor;

impl<'de> Visitor<'de> for PayloadVisitor {
    type Value = PayloadSlot<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a payload object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = PayloadFields::default();
        let mut others = OtherKeys::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match &*key {
                "metric" => fields.metric.fill(map.next_value()?),
                "amount" => fields.amount.fill(map.next_value()?),
                "timestamp" => fields.timestamp.fill(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    others.see(key);
                }
            }
        }
        fields.duplicate_other = others.duplicate;
        Ok(PayloadSlot::Object(fields))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(PayloadSlot::NotObject("an array"))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(PayloadSlot::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(PayloadSlot::Null)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(PayloadSlot::NotObject("a boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(PayloadSlot::NotObject("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(PayloadSlot::NotObject("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(PayloadSlot::NotObject("a number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(PayloadSlot::NotObject("a string"))
    }
}
