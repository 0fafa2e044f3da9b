//! A request body: one event, or `{"events":[...]}`, within the size and count limits.

use serde_json::value::RawValue;

use crate::BodyError;

/// The events of a body, each still as its raw JSON text (kept verbatim for failed and
/// rejected records; validated one by one with `normalize_event`).
#[derive(Debug)]
pub enum Body<'a> {
    Single(&'a RawValue),
    Batch(Vec<&'a RawValue>),
}

pub fn parse_body(bytes: &[u8]) -> Result<Body<'_>, BodyError> {
    let _ = bytes;
    todo!()
}
