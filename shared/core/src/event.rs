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
use crate::hash::EventHash;
use crate::limits::{MAX_EVENT_BYTES, MAX_FUTURE_SKEW_SECONDS};
pub use crate::normalized::NormalizedEvent;
use crate::timestamp::{self, TimestampError};
use crate::{Amount, ClientId, EventError, EventId, EventTimestamp, Metric, Source};

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
    // No size limit here: an event too large to process can still be filed by client.
    match parse_fields(raw.get()).ok()?.client_id {
        Slot::Present(Field::Str(text)) => ClientId::parse(&text).ok(),
        _ => None,
    }
}

/// A known field's value, as much as validation needs of it.
#[derive(Debug)]
enum Field<'a> {
    Null,
    /// A string's content (borrowed unless it had escapes).
    Str(Cow<'a, str>),
    Bool(bool),
    /// A number, as its raw JSON text.
    Number(&'a str),
    /// An object or an array (or, from the fast path, a number where a string was
    /// expected): what it was.
    Other(&'static str),
}

impl<'a> Field<'a> {
    fn from_raw(raw: &'a RawValue) -> Field<'a> {
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'"') => match string_value(text) {
                Some(content) => Field::Str(content),
                None => Field::Other("a malformed string"),
            },
            Some(b'n') => Field::Null,
            Some(b't') => Field::Bool(true),
            Some(b'f') => Field::Bool(false),
            Some(b'-' | b'0'..=b'9') => Field::Number(text),
            _ => Field::Other(json_kind(text)),
        }
    }

    /// What the value is, for messages ("got a number").
    fn kind(&self) -> &'static str {
        match self {
            Field::Null => "null",
            Field::Str(_) => "a string",
            Field::Bool(_) => "a boolean",
            Field::Number(_) => "a number",
            Field::Other(kind) => kind,
        }
    }
}

/// A known field as found in an object.
#[derive(Debug, Default)]
enum Slot<'a> {
    #[default]
    Missing,
    Present(Field<'a>),
    /// The key appeared more than once.
    Duplicate,
}

impl<'a> Slot<'a> {
    /// The value, treating `null` as missing; `Err` for a duplicate key.
    fn value(self) -> Result<Option<Field<'a>>, ()> {
        match self {
            Slot::Missing | Slot::Present(Field::Null) => Ok(None),
            Slot::Present(field) => Ok(Some(field)),
            Slot::Duplicate => Err(()),
        }
    }

    fn fill(&mut self, field: Field<'a>) {
        *self = match self {
            Slot::Missing => Slot::Present(field),
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
    parse_fields(text)
}

fn parse_fields<'a>(text: &'a str) -> Result<EventFields<'a>, EventError> {
    let text = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    if !text.starts_with('{') {
        return Err(EventError::NotAnObject {
            found: json_kind(text),
        });
    }
    // The visitor fills `fields` in place (no large values moved through serde's returns).
    let parse = |fields: &mut EventFields<'a>, slow: bool| {
        let mut de = serde_json::Deserializer::from_str(text);
        de.deserialize_map(EventVisitor { fields, slow })?;
        de.end()
    };
    let mut fields = EventFields::default();
    // The fast path reads string fields and `payload` with `deserialize_any`, which
    // refuses some valid JSON (a number beyond f64 such as `1e400`); on any error the
    // event is read again capturing each known field as raw text first.
    if parse(&mut fields, false).is_err() {
        fields = EventFields::default();
        parse(&mut fields, true).map_err(|e| EventError::InvalidJson {
            detail: e.to_string(),
        })?;
    }
    Ok(fields)
}

fn payload_from_raw<'a, E: serde::de::Error>(raw: &'a RawValue) -> Result<PayloadSlot<'a>, E> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'{') => {
            let mut fields = PayloadFields::default();
            let mut de = serde_json::Deserializer::from_str(text);
            de.deserialize_map(PayloadVisitor {
                fields: &mut fields,
                slow: true,
            })
            .map_err(E::custom)?;
            Ok(PayloadSlot::Object(fields))
        }
        Some(b'n') => Ok(PayloadSlot::Null),
        _ => Ok(PayloadSlot::NotObject(json_kind(text))),
    }
}

/// The content of a JSON string's text (borrowed when it has no escapes).
fn string_value(text: &str) -> Option<Cow<'_, str>> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        // A valid JSON string without escapes is its content between the quotes.
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text).ok().map(Cow::Owned)
}

const ID_TYPE_RULE: &str = "must be a string of 1 to 128 characters from A-Z a-z 0-9 . _ : @ -";
const LABEL_TYPE_RULE: &str = "must be a string of 1 to 128 characters without control characters";

impl<'a> EventFields<'a> {
    fn validate(self, received_at: EventTimestamp) -> Result<(NormalizedEvent, bool), EventError> {
        if let Some(key) = self.duplicate_other {
            return Err(EventError::duplicate_key(key));
        }
        let dup = |name: &str| EventError::duplicate_key(name.to_owned());
        let type_error = |make: fn(Cow<'static, str>, String) -> EventError,
                          field: &'static str,
                          rule: &str,
                          got: &Field| {
            make(Cow::Borrowed(field), format!("{rule}; got {}.", got.kind()))
        };

        let client_id = match self.client_id.value().map_err(|()| dup("client_id"))? {
            None => return Err(EventError::MissingClientId),
            Some(Field::Str(text)) => ClientId::parse(&text)?,
            Some(other) => {
                return Err(type_error(
                    |field, detail| EventError::InvalidClientId { field, detail },
                    "client_id",
                    ID_TYPE_RULE,
                    &other,
                ))
            }
        };

        let event_id = match self.event_id.value().map_err(|()| dup("event_id"))? {
            None => None,
            Some(Field::Str(text)) => Some(EventId::parse(&text)?),
            Some(other) => {
                return Err(type_error(
                    |field, detail| EventError::InvalidEventId { field, detail },
                    "event_id",
                    ID_TYPE_RULE,
                    &other,
                ))
            }
        };

        let source = match self.source.value().map_err(|()| dup("source"))? {
            None => Source::unknown(),
            Some(Field::Str(text)) => Source::parse(&text)?,
            Some(other) => {
                return Err(type_error(
                    |field, detail| EventError::InvalidSource { field, detail },
                    "source",
                    LABEL_TYPE_RULE,
                    &other,
                ))
            }
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
            Some(Field::Str(text)) => Metric::parse(&text)?,
            Some(other) => {
                return Err(type_error(
                    |field, detail| EventError::InvalidMetric { field, detail },
                    "payload.metric",
                    LABEL_TYPE_RULE,
                    &other,
                ))
            }
        };

        let amount = match payload.amount.value().map_err(|()| dup("payload.amount"))? {
            None => Amount::ZERO,
            Some(Field::Number(text)) => Amount::parse(text)?,
            Some(Field::Str(text)) => Amount::parse(&text)?,
            Some(other) => return Err(Amount::invalid(format!("got {}", other.kind()))),
        };

        let timestamp = match payload
            .timestamp
            .value()
            .map_err(|()| dup("payload.timestamp"))?
        {
            None => return Err(EventError::MissingTimestamp),
            Some(Field::Number(text)) => {
                check_timestamp(timestamp::parse_epoch(text), text, received_at)?
            }
            Some(Field::Str(text)) => {
                check_timestamp(timestamp::parse_text(&text), &text, received_at)?
            }
            Some(other) => {
                return Err(EventError::InvalidTimestamp {
                    field: Cow::Borrowed("payload.timestamp"),
                    detail: format!(
                        "must be an RFC 3339 date-time string or epoch seconds (milliseconds above 10^11); got {}.",
                        other.kind()
                    ),
                })
            }
        };

        let simulate_failure = match self
            .simulate_failure
            .value()
            .map_err(|()| dup("simulateFailure"))?
        {
            None => false,
            Some(Field::Bool(flag)) => flag,
            Some(other) => {
                return Err(EventError::invalid_field(
                    "simulateFailure",
                    format!("must be true or false; got {}.", other.kind()),
                ))
            }
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

struct EventVisitor<'f, 'de> {
    fields: &'f mut EventFields<'de>,
    /// Capture every known field as raw text first (total, slower).
    slow: bool,
}

impl<'de> Visitor<'de> for EventVisitor<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let slow = self.slow;
        let fields = self.fields;
        let mut others = OtherKeys::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match &*key {
                "client_id" => fields.client_id.fill(next_scalar(&mut map, slow)?),
                "event_id" => fields.event_id.fill(next_scalar(&mut map, slow)?),
                "source" => fields.source.fill(next_scalar(&mut map, slow)?),
                "simulateFailure" => fields.simulate_failure.fill(next_scalar(&mut map, slow)?),
                "payload" => {
                    if !matches!(fields.payload, PayloadSlot::Missing) {
                        map.next_value::<IgnoredAny>()?;
                        fields.payload = PayloadSlot::Duplicate;
                    } else if slow {
                        fields.payload = payload_from_raw(map.next_value()?)?;
                    } else {
                        map.next_value_seed(PayloadSeed {
                            slot: &mut fields.payload,
                        })?;
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    others.see(key);
                }
            }
        }
        fields.duplicate_other = others.duplicate;
        Ok(())
    }
}

/// The next value as a `Field`: in one step with `deserialize_any` (fast), or through its
/// raw text (slow, but accepts every valid JSON number).
fn next_scalar<'de, A: MapAccess<'de>>(map: &mut A, slow: bool) -> Result<Field<'de>, A::Error> {
    if slow {
        Ok(Field::from_raw(map.next_value()?))
    } else {
        map.next_value_seed(ScalarSeed)
    }
}

/// The next value as a `Field`, keeping a number's raw text (amount, timestamp).
fn next_number<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Field<'de>, A::Error> {
    Ok(Field::from_raw(map.next_value()?))
}

struct ScalarSeed;

impl<'de> DeserializeSeed<'de> for ScalarSeed {
    type Value = Field<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScalarSeed {
    type Value = Field<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Field::Bool(v))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Field::Other("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Field::Other("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Field::Other("a number"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Other("an object"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Other("an array"))
    }
}

struct PayloadSeed<'f, 'de> {
    slot: &'f mut PayloadSlot<'de>,
}

impl<'de> DeserializeSeed<'de> for PayloadSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        *self.slot = PayloadSlot::Object(PayloadFields::default());
        let PayloadSlot::Object(fields) = self.slot else {
            unreachable!("just set")
        };
        if let Some(other) = deserializer.deserialize_any(PayloadVisitor {
            fields,
            slow: false,
        })? {
            *self.slot = other;
        }
        Ok(())
    }
}

/// Fills `fields` when the value is an object; otherwise returns what it was instead.
struct PayloadVisitor<'f, 'de> {
    fields: &'f mut PayloadFields<'de>,
    slow: bool,
}

impl<'de> Visitor<'de> for PayloadVisitor<'_, 'de> {
    type Value = Option<PayloadSlot<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a payload object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let fields = self.fields;
        let mut others = OtherKeys::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match &*key {
                "metric" => fields.metric.fill(next_scalar(&mut map, self.slow)?),
                "amount" => fields.amount.fill(next_number(&mut map)?),
                "timestamp" => fields.timestamp.fill(next_number(&mut map)?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    others.see(key);
                }
            }
        }
        fields.duplicate_other = others.duplicate;
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Some(PayloadSlot::NotObject("an array")))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Some(PayloadSlot::Null))
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Some(PayloadSlot::Null))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Some(PayloadSlot::NotObject("a boolean")))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Some(PayloadSlot::NotObject("a number")))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Some(PayloadSlot::NotObject("a number")))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Some(PayloadSlot::NotObject("a number")))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Some(PayloadSlot::NotObject("a string")))
    }
}
