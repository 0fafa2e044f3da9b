//! Validated text fields: `ClientId`, `EventId`, `Source`, `Metric`.
//!
//! Parse, don't validate: each type's only constructor checks its rule, so a value of the
//! type is valid wherever it travels (store keys, hashes, responses).

use std::borrow::Cow;

use crate::error::echo;
use crate::EventError;

/// Longest identifier or label, in characters.
pub const MAX_FIELD_CHARS: usize = 128;

const ID_RULE: &str = "must be 1 to 128 characters from A-Z a-z 0-9 . _ : @ -";
const LABEL_RULE: &str = "must be 1 to 128 characters after trimming, without control characters";

const fn is_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'@' | b'-')
}

/// `ID_BYTES[b]`: may byte `b` appear in an identifier.
static ID_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_id_byte(b as u8);
        b += 1;
    }
    table
};

/// `Ok` when `text` is a valid identifier, else the detail sentence (after the field name).
fn check_id(text: &str) -> Result<(), String> {
    if !text.is_empty()
        && text.len() <= MAX_FIELD_CHARS
        && text.bytes().all(|b| ID_BYTES[usize::from(b)])
    {
        return Ok(());
    }
    if text.is_empty() {
        return Err(format!("{ID_RULE}; got an empty string."));
    }
    if text.len() > MAX_FIELD_CHARS && text.bytes().all(is_id_byte) {
        return Err(format!(
            "{ID_RULE}; got {} characters.",
            text.chars().count()
        ));
    }
    if let Some(bad) = text
        .chars()
        .find(|c| !c.is_ascii() || !is_id_byte(*c as u8))
    {
        return Err(format!(
            "{ID_RULE}; got {} which contains {}.",
            echo(text),
            echo(bad.encode_utf8(&mut [0; 4]))
        ));
    }
    Ok(())
}

/// The trimmed label, or the detail sentence (after the field name).
fn check_label(text: &str) -> Result<&str, String> {
    // Fast path: printable ASCII that needs no trimming.
    let bytes = text.as_bytes();
    if let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) {
        if bytes.len() <= MAX_FIELD_CHARS
            && first != b' '
            && last != b' '
            && bytes.iter().all(|&b| (0x20..0x7f).contains(&b))
        {
            return Ok(text);
        }
    }
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("{LABEL_RULE}; got {}.", echo(text)));
    }
    // Fast path: most labels are short ASCII.
    let (chars, control) = if trimmed.is_ascii() {
        (trimmed.len(), trimmed.bytes().any(|b| b.is_ascii_control()))
    } else {
        (
            trimmed.chars().count(),
            trimmed.chars().any(char::is_control),
        )
    };
    if chars > MAX_FIELD_CHARS {
        return Err(format!("{LABEL_RULE}; got {chars} characters."));
    }
    if control {
        return Err(format!(
            "{LABEL_RULE}; got {} which contains a control character.",
            echo(text)
        ));
    }
    Ok(trimmed)
}

fn detail_err(
    make: fn(Cow<'static, str>, String) -> EventError,
    field: &'static str,
) -> impl Fn(String) -> EventError {
    move |detail| make(Cow::Borrowed(field), detail)
}

/// 1–128 chars of `[A-Za-z0-9._:@-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    /// Errors with `invalid_client_id` (field `client_id`).
    pub fn parse(text: &str) -> Result<Self, EventError> {
        check_id(text).map_err(detail_err(
            |field, detail| EventError::InvalidClientId { field, detail },
            "client_id",
        ))?;
        Ok(ClientId(text.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Optional caller-chosen identity: 1–128 chars of `[A-Za-z0-9._:@-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct EventId(String);

impl EventId {
    /// Errors with `invalid_event_id` (field `event_id`).
    pub fn parse(text: &str) -> Result<Self, EventError> {
        check_id(text).map_err(detail_err(
            |field, detail| EventError::InvalidEventId { field, detail },
            "event_id",
        ))?;
        Ok(EventId(text.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Trimmed, 1–128 chars, no control chars; `"unknown"` when missing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Source(String);

impl Source {
    /// Trims, then checks; errors with `invalid_source` (field `source`).
    pub fn parse(text: &str) -> Result<Self, EventError> {
        let trimmed = check_label(text).map_err(detail_err(
            |field, detail| EventError::InvalidSource { field, detail },
            "source",
        ))?;
        Ok(Source(trimmed.to_owned()))
    }
    pub fn unknown() -> Self {
        Source("unknown".to_owned())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Trimmed, 1–128 chars, no control chars; `"unknown"` when missing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Metric(String);

impl Metric {
    /// Trims, then checks; errors with `invalid_metric` (field `payload.metric`).
    pub fn parse(text: &str) -> Result<Self, EventError> {
        let trimmed = check_label(text).map_err(detail_err(
            |field, detail| EventError::InvalidMetric { field, detail },
            "payload.metric",
        ))?;
        Ok(Metric(trimmed.to_owned()))
    }
    pub fn unknown() -> Self {
        Metric("unknown".to_owned())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
