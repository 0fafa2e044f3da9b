//! One input record judged locally, exactly as the server would judge it: an event that the
//! server would reject never travels.
//!
//! Uses `event-core`, the server's own rules, so the code, the sentence and the
//! `event_hash` are the server's. The only things the server knows and we do not are its
//! clock (`timestamp_in_future` is judged against ours) and the tenant's client patterns.

use event_core::limits::MAX_EVENT_BYTES;
use event_core::{normalize_event, EventError, EventHash, EventTimestamp};
use serde_json::value::RawValue;

/// Where a record came from: its line in NDJSON, its position (1-based) in a JSON array.
pub type RecordNo = u64;

/// A record that may travel: its JSON text exactly as read (trimmed), and its identity.
#[derive(Debug, Clone)]
pub struct ValidEvent {
    pub record: RecordNo,
    pub raw: Box<RawValue>,
    pub hash: EventHash,
}

/// A record that never travels, with the server's code and sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub record: RecordNo,
    pub code: String,
    pub message: String,
}

/// Judge one record's text. `bytes` is the record's whole size, larger than `text` when
/// the reader kept only its start (a record over 32 KiB is never held whole).
pub fn judge(
    record: RecordNo,
    text: &[u8],
    bytes: usize,
    now: EventTimestamp,
) -> Result<ValidEvent, Rejected> {
    let reject = |error: &EventError| Rejected {
        record,
        code: error.code().to_owned(),
        message: error.message(),
    };
    // The server measures the event's JSON text, which is what we send: the trimmed record.
    let text = text.trim_ascii();
    let size = if bytes > text.len() {
        bytes
    } else {
        text.len()
    };
    if size > MAX_EVENT_BYTES {
        return Err(reject(&EventError::EventTooLarge { bytes: size }));
    }
    let text = match std::str::from_utf8(text) {
        Ok(text) => text,
        Err(error) => {
            return Err(reject(&EventError::InvalidJson {
                detail: format!("it is not UTF-8 text ({error})"),
            }))
        }
    };
    let raw = RawValue::from_string(text.to_owned()).map_err(|error| {
        reject(&EventError::InvalidJson {
            detail: error.to_string(),
        })
    })?;
    let parsed = normalize_event(&raw, now).map_err(|error| reject(&error))?;
    Ok(ValidEvent {
        record,
        raw,
        hash: parsed.hash,
    })
}

/// The time now, as event-core wants it (for `timestamp_in_future`).
pub fn now() -> EventTimestamp {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    EventTimestamp::from_unix_nanos(nanos).unwrap_or(EventTimestamp::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_of_size(size: usize) -> String {
        let head = r#"{"client_id":"c","payload":{"timestamp":1795161600},"pad":""#;
        let tail = r#""}"#;
        let pad = size - head.len() - tail.len();
        format!("{head}{}{tail}", "x".repeat(pad))
    }

    #[test]
    fn an_event_of_exactly_32_kib_is_valid_and_one_byte_more_is_rejected() {
        let at_limit = event_of_size(MAX_EVENT_BYTES);
        assert_eq!(at_limit.len(), 32 * 1024);
        assert!(judge(1, at_limit.as_bytes(), at_limit.len(), now()).is_ok());

        let over = event_of_size(MAX_EVENT_BYTES + 1);
        let rejected = judge(2, over.as_bytes(), over.len(), now()).unwrap_err();
        assert_eq!(rejected.code, "event_too_large");
        assert_eq!(rejected.record, 2);
        assert!(
            rejected.message.contains("32769 bytes"),
            "{}",
            rejected.message
        );
    }

    #[test]
    fn invalid_events_get_the_servers_code_and_sentence() {
        let rejected = judge(7, br#"{"client_id":"c"}"#, 17, now()).unwrap_err();
        assert_eq!(rejected.code, "missing_timestamp");
        assert!(rejected
            .message
            .starts_with("payload.timestamp is required"));
        let rejected = judge(8, b"{not json", 9, now()).unwrap_err();
        assert_eq!(rejected.code, "invalid_json");
    }

    #[test]
    fn spellings_of_one_event_hash_the_same() {
        let a = br#"{"client_id":"c","payload":{"amount":"10.00","timestamp":"2026-11-20T10:00:00+02:00"}}"#;
        let b = br#"{ "payload": {"timestamp": 1795161600, "amount": 10}, "client_id": "c" }"#;
        let a = judge(1, a, a.len(), now()).unwrap();
        let b = judge(2, b, b.len(), now()).unwrap();
        assert_eq!(a.hash, b.hash);
    }
}
