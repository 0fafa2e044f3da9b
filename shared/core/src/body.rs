//! A request body: one event, or `{"events":[...]}`, within the size and count limits.
//!
//! Checks, in order: size (`body_too_large`, 413), JSON syntax (`invalid_json`, 400, with
//! line and column), top level an object (`not_an_object`, 400), then either a batch
//! (`events` present: an array, `invalid_batch` otherwise; not empty, `empty_batch`; at
//! most 500 items, `too_many_events`, 413) or a single event (at most 32 KiB,
//! `event_too_large`, 413). Items of a batch are not looked into here: one bad item must
//! not fail the others, so each is judged by `normalize_event`.
//!
//! Nothing is copied: every event is a `&RawValue` borrowing the body's bytes. A body
//! without the text `events` (the usual single event) costs one validating pass; a batch
//! one pass that also splits the array; anything else a general three-step path.

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
    // Fast paths read UTF-8 text (serde_json's `StrRead` skips re-validating strings);
    // anything unusual (invalid UTF-8, JSON serde_json's one-pass visitors refuse) takes
    // the general path, which also produces the errors with line and column.
    if let Ok(text) = std::str::from_utf8(bytes) {
        if !text.contains("events") && !text.contains('\\') {
            // No key can be `events` (not even spelled with escapes): a single event, or
            // not an object, in one validating pass.
            return single(serde_json::from_str(text).map_err(json_error)?);
        }
        if let Some(body) = batch_in_one_pass(text) {
            return body;
        }
    }
    general(bytes)
}

/// Pass 1 of every path: syntax, and the text of the whole value.
fn parse_raw(bytes: &[u8]) -> Result<&RawValue, BodyError> {
    serde_json::from_slice(bytes).map_err(json_error)
}

fn json_error(e: serde_json::Error) -> BodyError {
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
}

/// A body that has no `events` key.
fn single(top: &RawValue) -> Result<Body<'_>, BodyError> {
    let text = top.get();
    if !text.starts_with('{') {
        return Err(BodyError::NotAnObject {
            found: json_kind(text),
        });
    }
    if text.len() > MAX_EVENT_BYTES {
        return Err(BodyError::EventTooLarge { bytes: text.len() });
    }
    Ok(Body::Single(top))
}

fn batch_checks(items: Vec<&RawValue>, count: usize) -> Result<Body<'_>, BodyError> {
    if count > MAX_BATCH_EVENTS {
        return Err(BodyError::TooManyEvents { count });
    }
    if count == 0 {
        return Err(BodyError::EmptyBatch);
    }
    Ok(Body::Batch(items))
}

fn not_an_array(kind: &str) -> BodyError {
    BodyError::InvalidBatch {
        detail: format!("got {kind}"),
    }
}

fn repeated_events() -> BodyError {
    BodyError::InvalidBatch {
        detail: "the key appears more than once".to_owned(),
    }
}

/// One serde pass over an object body, splitting `events` into items on the way. `None`
/// when serde_json refuses the text here (then the general path decides).
fn batch_in_one_pass(text: &str) -> Option<Result<Body<'_>, BodyError>> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let events = de.deserialize_map(TopVisitor).ok()?;
    de.end().ok()?;
    Some(match events {
        TopEvents::Absent => single(serde_json::from_str(text).ok()?),
        TopEvents::Items(items, count) => batch_checks(items, count),
        TopEvents::NotArray(kind) => Err(not_an_array(kind)),
        TopEvents::Repeated => Err(repeated_events()),
    })
}

/// The general path: validate, find `events` by scanning the validated text, split it.
fn general(bytes: &[u8]) -> Result<Body<'_>, BodyError> {
    let top = parse_raw(bytes)?;
    let text = top.get();
    if !text.starts_with('{') {
        return single(top);
    }
    match scan_for_events(text) {
        Events::Absent => single(top),
        Events::Repeated => Err(repeated_events()),
        Events::Present(items_text) => {
            if !items_text.starts_with('[') {
                return Err(not_an_array(json_kind(items_text)));
            }
            let mut de = serde_json::Deserializer::from_str(items_text);
            let (items, count) =
                de.deserialize_seq(ItemsVisitor)
                    .map_err(|e| BodyError::InvalidBatch {
                        detail: format!("the array could not be read: {e}"),
                    })?;
            batch_checks(items, count)
        }
    }
}

/// What the one-pass visitor found under `events`.
enum TopEvents<'a> {
    Absent,
    Items(Vec<&'a RawValue>, usize),
    NotArray(&'static str),
    Repeated,
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = TopEvents<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut events = TopEvents::Absent;
        while let Some(is_events) = map.next_key_seed(IsEvents)? {
            if !is_events {
                map.next_value::<IgnoredAny>()?;
            } else if matches!(events, TopEvents::Absent) {
                events = map.next_value_seed(EventsSeed)?;
            } else {
                map.next_value::<IgnoredAny>()?;
                events = TopEvents::Repeated;
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

/// The value of `events`: its items when it is an array, else what it is.
struct EventsSeed;

impl<'de> DeserializeSeed<'de> for EventsSeed {
    type Value = TopEvents<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventsSeed {
    type Value = TopEvents<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of events")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let (items, count) = ItemsVisitor.visit_seq(seq)?;
        Ok(TopEvents::Items(items, count))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(TopEvents::NotArray("an object"))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(TopEvents::NotArray("a boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(TopEvents::NotArray("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(TopEvents::NotArray("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(TopEvents::NotArray("a number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(TopEvents::NotArray("a string"))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(TopEvents::NotArray("null"))
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(TopEvents::NotArray("null"))
    }
}

enum Events<'a> {
    Absent,
    /// The text of the value of the one `events` key.
    Present(&'a str),
    Repeated,
}

/// Finds the value of the top-level key `events` in `text`, which must be a JSON object
/// that serde_json has already validated (so the scan only needs to track strings and
/// nesting). Total on any input: it never indexes out of bounds.
fn scan_for_events(text: &str) -> Events<'_> {
    let b = text.as_bytes();
    let mut events = Events::Absent;
    let mut i = 1; // after '{'
    loop {
        i = skip_ws(b, i);
        match b.get(i) {
            Some(b'"') => {}
            Some(b',') => {
                i += 1;
                continue;
            }
            _ => return events, // '}' or the end
        }
        let key_start = i;
        i = skip_string(b, i);
        let key = text.get(key_start..i).unwrap_or("");
        i = skip_ws(b, i);
        i = skip_ws(b, i + 1); // ':'
        let value_start = i;
        i = skip_value(b, i);
        if is_events_key(key) {
            events = match events {
                Events::Absent => Events::Present(text.get(value_start..i).unwrap_or("")),
                _ => Events::Repeated,
            };
        }
    }
}

fn is_events_key(quoted: &str) -> bool {
    if quoted.contains('\\') {
        serde_json::from_str::<String>(quoted).is_ok_and(|key| key == "events")
    } else {
        quoted == "\"events\""
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// From the opening quote to just after the closing one.
fn skip_string(b: &[u8], mut i: usize) -> usize {
    i += 1;
    loop {
        match b.get(i) {
            Some(b'"') => return i + 1,
            Some(b'\\') => i += 2,
            Some(_) => i += 1,
            None => return i,
        }
    }
}

/// From the first byte of a value to just after it.
fn skip_value(b: &[u8], mut i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => skip_string(b, i),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            loop {
                match b.get(i) {
                    Some(b'"') => {
                        i = skip_string(b, i);
                        continue;
                    }
                    Some(b'{' | b'[') => depth += 1,
                    Some(b'}' | b']') => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    Some(_) => {}
                    None => return i,
                }
                i += 1;
            }
        }
        _ => {
            while !matches!(
                b.get(i),
                None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            ) {
                i += 1;
            }
            i
        }
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
