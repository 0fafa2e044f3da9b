//! A request body: one event, or `{"events":[...]}`, within the size and count limits.
//!
//! Checks, in order: size (`body_too_large`, 413), JSON syntax (`invalid_json`, 400, with
//! line and column), top level an object (`not_an_object`, 400), then either a batch
//! (`events` present: an array, `invalid_batch` otherwise; not empty, `empty_batch`; at
//! most 500 items, `too_many_events`, 413) or a single event (at most 32 KiB,
//! `event_too_large`, 413). Items of a batch are not looked into here: one bad item must
//! not fail the others, so each is judged by `normalize_event`.
//!
//! Nothing is copied: every event is a `&RawValue` borrowing the body's bytes.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::json_kind;
use crate::limits::{MAX_BATCH_EVENTS, MAX_BODY_BYTES, MAX_EVENT_BYTES};
use crate::BodyError;

/// The events of a body, each still as its raw JSON text (kept verbatim for failed and
/// rejected records; validated one by one with `normalize_event`).
#[derive(Debug)]
pub enum Body<'a> {
    Single(&'a RawValue),
    Batch(Vec<&'a RawValue>),
}

impl<'a> Body<'a> {
    /// The events in order (one for `Single`).
    pub fn events(&self) -> &[&'a RawValue] {
        match self {
            Body::Single(raw) => std::slice::from_ref(raw),
            Body::Batch(items) => items,
        }
    }
    pub fn is_batch(&self) -> bool {
        matches!(self, Body::Batch(_))
    }
}

pub fn parse_body(bytes: &[u8]) -> Result<Body<'_>, BodyError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(BodyError::BodyTooLarge { bytes: bytes.len() });
    }
    // Pass 1: syntax, and the text of the whole value.
    let top: &RawValue = serde_json::from_slice(bytes).map_err(|e| {
        let message = e.to_string();
        // serde_json appends " at line L column C"; the position is reported separately.
        let detail = match message.rfind(" at line ") {
            Some(at) => message[..at].to_owned(),
            None => message,
        };
        BodyError::InvalidJson {
            detail,
            line: e.line(),
            column: e.column(),
        }
    })?;
    let text = top.get();
    if !text.starts_with('{') {
        return Err(BodyError::NotAnObject {
            found: json_kind(text),
        });
    }
    // Pass 2: is there an `events` key? (values other than `events` are skipped).
    let mut de = serde_json::Deserializer::from_str(text);
    let events = de
        .deserialize_map(TopVisitor)
        .map_err(|e| BodyError::InvalidBatch {
            detail: format!("the body could not be read: {e}"),
        })?;
    match events {
        Events::Absent => {
            if text.len() > MAX_EVENT_BYTES {
                return Err(BodyError::EventTooLarge { bytes: text.len() });
            }
            Ok(Body::Single(top))
        }
        Events::Repeated => Err(BodyError::InvalidBatch {
            detail: "the key appears more than once".to_owned(),
        }),
        Events::Present(raw) => {
            let items_text = raw.get();
            if !items_text.starts_with('[') {
                return Err(BodyError::InvalidBatch {
                    detail: format!("got {}", json_kind(items_text)),
                });
            }
            // Pass 3: split the array into its items.
            let mut de = serde_json::Deserializer::from_str(items_text);
            let (items, count) =
                de.deserialize_seq(ItemsVisitor)
                    .map_err(|e| BodyError::InvalidBatch {
                        detail: format!("the array could not be read: {e}"),
                    })?;
            if count > MAX_BATCH_EVENTS {
                return Err(BodyError::TooManyEvents { count });
            }
            if count == 0 {
                return Err(BodyError::EmptyBatch);
            }
            Ok(Body::Batch(items))
        }
    }
}

enum Events<'a> {
    Absent,
    Present(&'a RawValue),
    Repeated,
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Events<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut events = Events::Absent;
        while let Some(key) = map.next_key_seed(IsEvents)? {
            if key {
                let raw: &RawValue = map.next_value()?;
                events = match events {
                    Events::Absent => Events::Present(raw),
                    _ => Events::Repeated,
                };
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(events)
    }
}

/// Deserializes a key to "is it `events`?" without allocating (unless it has escapes).
struct IsEvents;

impl<'de> DeserializeSeed<'de> for IsEvents {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for IsEvents {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E>(self, v: &str) -> Result<bool, E> {
        Ok(v == "events")
    }
}

/// Collects up to `MAX_BATCH_EVENTS` items and counts all of them (so the 413 can say how
/// many were sent) without storing more than the limit.
struct ItemsVisitor;

impl<'de> Visitor<'de> for ItemsVisitor {
    type Value = (Vec<&'de RawValue>, usize);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of events")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(16).min(MAX_BATCH_EVENTS));
        let mut count = 0;
        loop {
            if count < MAX_BATCH_EVENTS {
                match seq.next_element::<&'de RawValue>()? {
                    Some(item) => items.push(item),
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            count += 1;
        }
        Ok((items, count))
    }
}
