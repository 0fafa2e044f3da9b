//! `POST /events/failed/{failed_id}/retry`: process a kept event again, as it was first
//! received (its original `received_at`, without the simulated failure). `retry_record` is
//! the one way a kept record is retried: the bulk replay (`replay.rs`) runs it per record.

use event_core::normalize_event;
use event_http::{ApiError, ErrorCode, ErrorDetail, Reply};
use event_runtime::{reason_detail, Ctx};
use event_store::{CommitOutcome, FailedRecord, FailedStatus, ProcessedRecord, Store};
use serde_json::value::RawValue;

use crate::outcome::{storage_failure_reason, Outcome};
use crate::single::respond;

pub(crate) async fn post<S: Store>(
    ctx: &Ctx<'_, S>,
    id: &str,
    request_id: &str,
) -> Result<Reply, ApiError> {
    let record = ctx.failed_record(id).await?;
    if record.status == FailedStatus::Rejected {
        return Err(ErrorCode::NotRetryable.into());
    }
    respond(retry_record(ctx, record).await?, request_id)
}

/// Commit a kept record's event (not a rejected one: the caller checks) and mark the record
/// `retried` in the same step; when storage fails again, count the attempt and keep it
/// retryable. Records the outcome's client and hash in the current span.
pub(crate) async fn retry_record<S: Store>(
    ctx: &Ctx<'_, S>,
    record: FailedRecord,
) -> Result<Outcome, ApiError> {
    let failed_id = record.failed_id.clone();
    let raw: &RawValue = serde_json::from_str(&record.raw).map_err(|error| {
        // Only valid events are ever kept as `failed`, so this is a corrupted item.
        tracing::error!(%error, failed_id = %failed_id.0, "stored raw event is not JSON");
        ApiError::from(ErrorCode::InternalError)
    })?;
    let parsed = match normalize_event(raw, record.received_at) {
        Ok(parsed) => parsed,
        // Valid when kept, invalid now (the rules changed): a retry cannot help.
        Err(error) => {
            return Ok(Outcome::Kept {
                error: ErrorDetail::from(&error),
                failed_id,
                retryable: false,
            });
        }
    };
    let span = tracing::Span::current();
    span.record("client_id", parsed.event.client_id.as_str());
    span.record("event_hash", tracing::field::display(&parsed.hash));
    let processed = ProcessedRecord {
        event: parsed.event,
        hash: parsed.hash,
        received_at: record.received_at,
    };
    let outcome = match ctx
        .commit_store()
        .commit_retry(&processed, &failed_id)
        .await
    {
        Ok(CommitOutcome::Processed) => Outcome::Processed {
            hash: processed.hash,
            event: processed.event,
        },
        Ok(CommitOutcome::Duplicate) => Outcome::Duplicate {
            hash: processed.hash,
        },
        Err(error) => {
            let reason = storage_failure_reason(&error);
            if let Err(error) = ctx.store.record_failed_attempt(&failed_id).await {
                // The record still exists and stays retryable; only its count is behind.
                tracing::warn!(%error, "failed attempt not recorded");
            }
            Outcome::Kept {
                error: reason_detail(&reason),
                failed_id,
                retryable: true,
            }
        }
    };
    if matches!(
        outcome,
        Outcome::Processed { .. } | Outcome::Duplicate { .. }
    ) {
        // The failed record is settled: its event is counted now (or already was).
        event_http::metrics::count_retried();
    }
    Ok(outcome)
}
