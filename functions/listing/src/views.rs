//! The JSON shapes of listed records (api/openapi.yaml), borrowed from the store's records.

use event_core::{Amount, ClientId, EventHash, EventId, EventTimestamp, Metric, Source};
use event_store::{FailedRecord, ProcessedRecord};
use serde::Serialize;

/// How much of a raw body a failed listing shows: 500 items of whole 32 KiB bodies would
/// pass Lambda's 6 MB response limit; the full body is one `GET /events/failed/{id}` away.
pub const RAW_PREVIEW_BYTES: usize = 1024;

#[derive(Serialize)]
pub(crate) struct PageView<T> {
    pub items: Vec<T>,
    /// `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct ProcessedView<'a> {
    event_hash: &'a EventHash,
    client_id: &'a ClientId,
    source: &'a Source,
    metric: &'a Metric,
    amount: &'a Amount,
    timestamp: &'a EventTimestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<&'a EventId>,
    received_at: &'a EventTimestamp,
}

impl<'a> From<&'a ProcessedRecord> for ProcessedView<'a> {
    fn from(record: &'a ProcessedRecord) -> Self {
        let event = &record.event;
        ProcessedView {
            event_hash: &record.hash,
            client_id: &event.client_id,
            source: &event.source,
            metric: &event.metric,
            amount: &event.amount,
            timestamp: &event.timestamp,
            event_id: event.event_id.as_ref(),
            received_at: &record.received_at,
        }
    }
}

#[derive(Serialize)]
struct ReasonView<'a> {
    code: &'a str,
    message: &'a str,
    /// `null` when the reason concerns no one field.
    field: Option<&'a str>,
}

#[derive(Serialize)]
pub(crate) struct FailedView<'a> {
    failed_id: &'a str,
    /// `null` when the event had no valid client id.
    client_id: Option<&'a ClientId>,
    reason: ReasonView<'a>,
    raw: &'a str,
    raw_truncated: bool,
    received_at: &'a EventTimestamp,
    attempts: u32,
    status: &'static str,
}

impl<'a> FailedView<'a> {
    /// For listings: the first `RAW_PREVIEW_BYTES` of the raw body.
    pub fn preview(record: &'a FailedRecord) -> Self {
        let raw = preview(&record.raw, RAW_PREVIEW_BYTES);
        Self::with_raw(record, raw)
    }

    /// For one record: the whole raw body.
    pub fn whole(record: &'a FailedRecord) -> Self {
        Self::with_raw(record, &record.raw)
    }

    fn with_raw(record: &'a FailedRecord, raw: &'a str) -> Self {
        FailedView {
            failed_id: &record.failed_id.0,
            client_id: record.client_id.as_ref(),
            reason: ReasonView {
                code: &record.reason.code,
                message: &record.reason.message,
                field: record.reason.field.as_deref(),
            },
            raw,
            raw_truncated: record.raw_truncated || raw.len() < record.raw.len(),
            received_at: &record.received_at,
            attempts: record.attempts,
            status: record.status.as_str(),
        }
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
fn preview(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::preview;

    #[test]
    fn given_a_multibyte_char_across_the_limit_when_previewed_then_it_is_cut_before_it() {
        let text = format!("{}é", "a".repeat(1023));
        assert_eq!(preview(&text, 1024), "a".repeat(1023));
    }

    #[test]
    fn given_a_short_text_when_previewed_then_it_is_whole() {
        assert_eq!(preview("{}", 1024), "{}");
    }
}
