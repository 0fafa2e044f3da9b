//! What became of one event, and the store calls that decide it. Single events, batch
//! items and retries all end in one `Outcome`, so "nothing lost" is argued once, here:
//! an event is committed, or kept as a failed/rejected record, or reported unavailable.

use event_core::limits::MAX_EVENT_BYTES;
use event_core::{
    peek_client_id, ClientId, EventError, EventHash, EventTimestamp, NormalizedEvent, ParsedEvent,
};
use event_http::{ErrorCode, ErrorDetail, EventStatus};
use event_runtime::{failure_reason, reason_detail, Ctx};
use event_store::{
    CommitOutcome, FailedId, FailedRecord, FailedStatus, FailureReason, ProcessedRecord, Store,
    StoreError,
};
use serde_json::value::RawValue;

#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// New: stored and counted.
    Processed {
        hash: EventHash,
        event: NormalizedEvent,
    },
    /// Already counted: nothing changed.
    Duplicate { hash: EventHash },
    /// Not counted, but kept with its raw body under `failed_id`.
    Kept {
        error: ErrorDetail,
        failed_id: FailedId,
        retryable: bool,
    },
    /// Not counted and not kept: the client must resend (safe: resends dedupe).
    Unavailable { code: ErrorCode },
    /// Not the caller's to send: nothing was written, and a resend will not help.
    Refused { error: ErrorDetail },
}

impl Outcome {
    pub(crate) fn status(&self) -> EventStatus {
        match self {
            Outcome::Processed { .. } => EventStatus::Processed,
            Outcome::Duplicate { .. } => EventStatus::Duplicate,
            Outcome::Kept {
                retryable: false, ..
            } => EventStatus::Rejected,
            Outcome::Kept { .. } => EventStatus::Failed,
            Outcome::Unavailable { .. } => EventStatus::Unavailable,
            Outcome::Refused { .. } => EventStatus::Refused,
        }
    }

    /// The status of an outcome that is being answered, counted in the metrics: single
    /// events, retries and batch items all pass here exactly once.
    pub(crate) fn answered(&self) -> EventStatus {
        let status = self.status();
        event_http::metrics::count_event(status);
        status
    }
}

/// Why a `simulateFailure` event was kept: honoured (failed, retryable) or refused by this
/// deployment (rejected, in a batch; a single event is answered 400 and nothing is kept).
pub(crate) fn simulate_failure_reason(code: ErrorCode) -> FailureReason {
    FailureReason {
        field: Some("simulateFailure".to_owned()),
        ..failure_reason(code)
    }
}

/// The reason kept for an event whose commit failed. The store's detail goes to the log
/// only: it may name tables, keys or permissions.
pub(crate) fn storage_failure_reason(error: &StoreError) -> FailureReason {
    match error {
        StoreError::Unavailable(detail) => {
            tracing::warn!(error = %detail, "commit failed: storage unavailable");
        }
        StoreError::Internal(detail) => {
            tracing::error!(error = %detail, "commit failed: storage error");
        }
        StoreError::InvalidCursor => {
            tracing::error!("commit failed: unexpected invalid cursor");
        }
    }
    failure_reason(ErrorCode::StorageFailed)
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
fn cut_at_char_boundary(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn reason_of(error: &EventError) -> FailureReason {
    FailureReason {
        code: error.code().to_owned(),
        message: error.message(),
        field: error.field().map(str::to_owned),
    }
}

/// Keep an event that was not counted, with its raw body. `Rejected` records are not
/// retryable; `Failed` ones are.
pub(crate) async fn keep<S: Store>(
    ctx: &Ctx<'_, S>,
    raw: &str,
    client_id: Option<ClientId>,
    reason: FailureReason,
    status: FailedStatus,
    received_at: EventTimestamp,
) -> Outcome {
    let failed_id = ctx.config.store.new_failed_id(received_at);
    // Only a batch item can be over the event size limit (a single event that large is
    // refused whole); its first bytes are enough to look at, and keep the item small.
    let kept = cut_at_char_boundary(raw, MAX_EVENT_BYTES);
    let record = FailedRecord {
        failed_id: failed_id.clone(),
        client_id,
        reason,
        raw: kept.to_owned(),
        raw_truncated: kept.len() < raw.len(),
        received_at,
        // The first processing attempt is this one; each retry adds one.
        attempts: 1,
        status,
    };
    match ctx.store.put_failed(&record).await {
        Ok(()) => Outcome::Kept {
            error: reason_detail(&record.reason),
            failed_id,
            retryable: status == FailedStatus::Failed,
        },
        Err(error) => {
            tracing::warn!(%error, reason = %record.reason.code, "failed record not written");
            Outcome::Unavailable {
                code: ErrorCode::StorageUnavailable,
            }
        }
    }
}

/// Keep an invalid event as rejected.
pub(crate) async fn reject<S: Store>(
    ctx: &Ctx<'_, S>,
    raw: &RawValue,
    error: &EventError,
    received_at: EventTimestamp,
) -> Outcome {
    keep(
        ctx,
        raw.get(),
        peek_client_id(raw),
        reason_of(error),
        FailedStatus::Rejected,
        received_at,
    )
    .await
}

/// Commit a valid event; when storage fails, keep it as failed (retryable) instead.
pub(crate) async fn commit<S: Store>(
    ctx: &Ctx<'_, S>,
    raw: &RawValue,
    parsed: ParsedEvent,
    received_at: EventTimestamp,
) -> Outcome {
    let record = processed_record(parsed, received_at);
    let committed = ctx.commit_store().commit_event(&record).await;
    settle(ctx, raw, record, committed).await
}

/// What the store keeps of a valid event received at `received_at`.
pub(crate) fn processed_record(
    parsed: ParsedEvent,
    received_at: EventTimestamp,
) -> ProcessedRecord {
    ProcessedRecord {
        event: parsed.event,
        hash: parsed.hash,
        received_at,
    }
}

/// The outcome of a commit; a commit that failed keeps the event as failed (retryable).
pub(crate) async fn settle<S: Store>(
    ctx: &Ctx<'_, S>,
    raw: &RawValue,
    record: ProcessedRecord,
    committed: Result<CommitOutcome, StoreError>,
) -> Outcome {
    let received_at = record.received_at;
    match committed {
        Ok(CommitOutcome::Processed) => Outcome::Processed {
            hash: record.hash,
            event: record.event,
        },
        Ok(CommitOutcome::Duplicate) => Outcome::Duplicate { hash: record.hash },
        Err(error) => {
            let reason = storage_failure_reason(&error);
            keep(
                ctx,
                raw.get(),
                Some(record.event.client_id),
                reason,
                FailedStatus::Failed,
                received_at,
            )
            .await
        }
    }
}
