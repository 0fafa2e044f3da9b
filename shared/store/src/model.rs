//! The records and queries the `Store` trait speaks in.

use event_core::{AmountSum, ClientId, EventHash, EventTimestamp, Metric, NormalizedEvent};

/// A processed (counted) event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessedRecord {
    pub event: NormalizedEvent,
    pub hash: EventHash,
    pub received_at: EventTimestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// New: stored and counted.
    Processed,
    /// Already stored and counted earlier: nothing changed.
    Duplicate,
}

/// Opaque id of a failed or rejected record; it encodes where the record lives, so a
/// lookup by id is one GetItem. Any text that does not decode is simply not found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FailedId(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedStatus {
    /// Invalid: a retry cannot help.
    Rejected,
    /// Processing failed: retryable.
    Failed,
    /// A retry processed it, or found it already counted.
    Retried,
}

impl FailedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FailedStatus::Rejected => "rejected",
            FailedStatus::Failed => "failed",
            FailedStatus::Retried => "retried",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureReason {
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecord {
    pub failed_id: FailedId,
    pub client_id: Option<ClientId>,
    pub reason: FailureReason,
    /// The event's body exactly as received: the whole of it, or, for an event over the
    /// size limit, its first `MAX_EVENT_BYTES` (then `raw_truncated`), so the record always
    /// fits in one DynamoDB item.
    pub raw: String,
    pub raw_truncated: bool,
    pub received_at: EventTimestamp,
    pub attempts: u32,
    pub status: FailedStatus,
}

/// One page, newest first. `next_cursor` is set while more may remain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Processed events with `from <= timestamp < to`, for one client or all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessedQuery {
    pub client_id: Option<ClientId>,
    pub from: Option<EventTimestamp>,
    pub to: Option<EventTimestamp>,
    pub limit: u32,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedQuery {
    pub client_id: Option<ClientId>,
    pub limit: u32,
    pub cursor: Option<String>,
}

/// The failed records a bulk replay works through: the tenant's records that still await a
/// retry (status `failed`) or never can have one (`rejected`, so the replay can list them as
/// skipped); `retried` ones are settled and never match. Received in `from <= t < to`, of one
/// client or all, with a reason code among `codes` (any code when empty). Newest receipt
/// first, like `list_failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayQuery {
    pub client_id: Option<ClientId>,
    pub from: Option<EventTimestamp>,
    pub to: Option<EventTimestamp>,
    pub codes: Vec<String>,
    pub limit: u32,
    pub cursor: Option<String>,
}

impl ReplayQuery {
    /// Whether a record of this query's range and client is in the selection (status and
    /// code: what the stores filter after reading a key range).
    pub fn selects(&self, record: &FailedRecord) -> bool {
        record.status != FailedStatus::Retried
            && (self.codes.is_empty() || self.codes.contains(&record.reason.code))
    }

    /// The codes as a cursor fingerprint part: order and repeats do not change the selection.
    pub(crate) fn codes_key(&self) -> String {
        let mut codes = self.codes.clone();
        codes.sort();
        codes.dedup();
        codes.join(",")
    }
}

/// One selected record and the cursor that starts a page at it: a replay that stops early
/// hands back the cursor of the first record it did not do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayItem {
    pub record: FailedRecord,
    pub cursor_at: String,
}

/// One page of a `ReplayQuery`; `next_cursor` continues after its last item (`None`: done).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayPage {
    pub items: Vec<ReplayItem>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateQuery {
    pub client_id: ClientId,
    pub from: Option<EventTimestamp>,
    pub to: Option<EventTimestamp>,
    pub metric: Option<Metric>,
}

/// One client's hours `[from, to)`, both on whole hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyQuery {
    pub client_id: ClientId,
    pub from: EventTimestamp,
    pub to: EventTimestamp,
    pub metric: Option<Metric>,
}

impl HourlyQuery {
    /// The start of every hour of the range, in order.
    pub fn hours(&self) -> Vec<EventTimestamp> {
        const HOUR_NS: i64 = 3_600_000_000_000;
        let first = self.from.floor_hour().unix_nanos();
        (first..self.to.unix_nanos())
            .step_by(HOUR_NS as usize)
            .filter_map(EventTimestamp::from_unix_nanos)
            .collect()
    }
}

/// The count and exact total of one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourBucket {
    pub hour: EventTimestamp,
    pub count: u64,
    pub total: AmountSum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AggregateTotals {
    pub count: u64,
    pub total: AmountSum,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Throttled, timed out, or conflicting past the retry budget: the caller may retry.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A cursor that does not decode to a position inside this query.
    #[error("invalid cursor")]
    InvalidCursor,
    /// Anything else (a bug, a malformed item, a permissions problem): not retryable.
    #[error("storage error: {0}")]
    Internal(String),
}
