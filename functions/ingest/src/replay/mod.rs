//! `POST /events/failed/retry`: bulk replay. Retries one page of the caller's failed records
//! that match a selection (`selection.rs`), each exactly as `POST /events/failed/{id}/retry`
//! does (`retry::retry_record`), and answers one result per record with a cursor for the rest.
//!
//! Counting nothing twice needs no bookkeeping here: a retry is the same atomic commit as any
//! event (a duplicate when already counted) and marks its record `retried`, which takes it out
//! of every later selection. Rejected records are never replayed: they are listed as skipped.
//!
//! Within the deadline: records are started only during the first half of the time the request
//! has left, and a record still in flight at the deadline is answered `unavailable`. The
//! cursor then resumes at the first record not finished, so stopping early loses nothing.

mod selection;

use std::time::Instant;

use event_core::EventHash;
use event_http::{ApiError, ErrorCode, EventStatus, Reply};
use event_runtime::{store_error, Ctx};
use event_store::{FailedRecord, FailedStatus, ReplayItem, Store};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use lambda_http::http::StatusCode;
use serde::Serialize;
use tracing::Instrument;

use crate::outcome::Outcome;
use crate::retry::retry_record;

/// What became of one selected record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum ReplayStatus {
    /// Counted now.
    Processed,
    /// Already counted: nothing changed but the record, now `retried`.
    Duplicate,
    /// Storage failed again: still kept, still retryable.
    Failed,
    /// In flight at the deadline: not known to be counted; the cursor resumes at it.
    Unavailable,
    /// Never replayed (rejected, another tenant's client now, or invalid by today's rules).
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
struct RecordResult {
    failed_id: String,
    status: ReplayStatus,
    /// Why it is not counted now: the error code of a failed or unavailable retry, or why
    /// it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_hash: Option<EventHash>,
}

impl RecordResult {
    fn new(failed_id: &str, status: ReplayStatus) -> Self {
        RecordResult {
            failed_id: failed_id.to_owned(),
            status,
            code: None,
            event_hash: None,
        }
    }

    fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    fn with_hash(mut self, hash: EventHash) -> Self {
        self.event_hash = Some(hash);
        self
    }

    /// Retrying it again later may count it: the cursor must not move past it.
    fn unfinished(&self) -> bool {
        self.status == ReplayStatus::Unavailable
    }
}

#[derive(Serialize)]
struct ReplayAnswer {
    results: Vec<RecordResult>,
    next_cursor: Option<String>,
}

pub(crate) async fn post<S: Store>(ctx: &Ctx<'_, S>, body: &[u8]) -> Result<Reply, ApiError> {
    let now = Instant::now();
    // Records start only in the first half of the time left: each started one still has the
    // rest to commit, or to be kept retryable when storage fails (`Ctx::commit_store`).
    let stop_starting_at = now + ctx.deadline.saturating_duration_since(now) / 2;
    let query = selection::parse(body)?;
    if let Some(client) = &query.client_id {
        ctx.caller.check_client(client)?;
    }
    let page = ctx
        .store
        .list_failed_for_replay(&query)
        .await
        .map_err(store_error)?;

    let mut results: Vec<Option<RecordResult>> = vec![None; page.items.len()];
    let mut started = 0;
    let work = async {
        let mut pending = page
            .items
            .iter()
            .enumerate()
            .map(|(index, item)| async move { (index, replay_one(ctx, item).await) });
        let mut in_flight = FuturesUnordered::new();
        let concurrency = ctx.config.batch_concurrency.max(1);
        loop {
            // Started in order, so the records started are always a prefix of the page.
            while in_flight.len() < concurrency && Instant::now() < stop_starting_at {
                let Some(next) = pending.next() else { break };
                in_flight.push(next);
                started += 1;
            }
            let Some((index, result)) = in_flight.next().await else {
                break;
            };
            results[index] = Some(result);
        }
    };
    // The store gives up at the deadline by itself; this catches any other slowness. A commit
    // dropped here may still land: then its record is `retried` and no later selection has it.
    if tokio::time::timeout_at(ctx.backstop().into(), work)
        .await
        .is_err()
    {
        tracing::warn!("request deadline passed; records in flight answered unavailable");
    }

    let results: Vec<RecordResult> = results
        .into_iter()
        .zip(&page.items)
        .take(started)
        .map(|(result, item)| {
            result.unwrap_or_else(|| {
                Outcome::Unavailable {
                    code: ErrorCode::StorageUnavailable,
                }
                .answered();
                RecordResult::new(&item.record.failed_id.0, ReplayStatus::Unavailable)
                    .with_code(ErrorCode::StorageUnavailable.as_str())
            })
        })
        .collect();
    let resume_at = results
        .iter()
        .position(RecordResult::unfinished)
        .unwrap_or(started);
    let next_cursor = match page.items.get(resume_at) {
        Some(item) => Some(item.cursor_at.clone()),
        None => page.next_cursor,
    };
    log_summary(&results, page.items.len(), next_cursor.is_some());
    // A key narrowed to some clients is told nothing of the tenant's other records, not even
    // their ids (they were skipped, never retried); the cursor above still walks past them.
    let narrowed = ctx.caller.only_clients.is_some();
    let results: Vec<RecordResult> = results
        .into_iter()
        .zip(&page.items)
        .filter(|(_, item)| !narrowed || ctx.caller.sees(item.record.client_id.as_ref()))
        .map(|(result, _)| result)
        .collect();
    Reply::json(
        StatusCode::OK,
        &ReplayAnswer {
            results,
            next_cursor,
        },
        "replay",
    )
}

/// One selected record: skipped, or retried by the single retry's own code path.
async fn replay_one<S: Store>(ctx: &Ctx<'_, S>, item: &ReplayItem) -> RecordResult {
    let record: &FailedRecord = &item.record;
    let id = record.failed_id.0.as_str();
    if record.status == FailedStatus::Rejected {
        return RecordResult::new(id, ReplayStatus::Skipped)
            .with_code(ErrorCode::NotRetryable.as_str());
    }
    // A client the tenant no longer owns: the single retry answers 403 for it.
    if let Some(client) = &record.client_id {
        if let Err(refused) = ctx.caller.check_client(client) {
            return RecordResult::new(id, ReplayStatus::Skipped).with_code(refused.code());
        }
    }
    let span = tracing::info_span!(
        "replay_record",
        failed_id = id,
        client_id = tracing::field::Empty,
        event_hash = tracing::field::Empty,
    );
    match retry_record(ctx, record.clone()).instrument(span).await {
        Ok(outcome) => result_of(id, outcome),
        // A corrupted record (the single retry answers 500): a retry cannot help.
        Err(error) => RecordResult::new(id, ReplayStatus::Skipped).with_code(error.code()),
    }
}

fn result_of(id: &str, outcome: Outcome) -> RecordResult {
    let status = outcome.answered();
    match outcome {
        Outcome::Processed { hash, .. } => {
            RecordResult::new(id, ReplayStatus::Processed).with_hash(hash)
        }
        Outcome::Duplicate { hash } => {
            RecordResult::new(id, ReplayStatus::Duplicate).with_hash(hash)
        }
        // Invalid by today's rules: kept, never retryable.
        Outcome::Kept { error, .. } if status == EventStatus::Rejected => {
            RecordResult::new(id, ReplayStatus::Skipped).with_code(error.code)
        }
        Outcome::Kept { error, .. } => {
            RecordResult::new(id, ReplayStatus::Failed).with_code(error.code)
        }
        Outcome::Unavailable { code } => {
            RecordResult::new(id, ReplayStatus::Unavailable).with_code(code.as_str())
        }
        Outcome::Refused { error } => {
            RecordResult::new(id, ReplayStatus::Skipped).with_code(error.code)
        }
    }
}

fn log_summary(results: &[RecordResult], selected: usize, more: bool) {
    let count = |status| results.iter().filter(|r| r.status == status).count();
    tracing::info!(
        selected,
        answered = results.len(),
        processed = count(ReplayStatus::Processed),
        duplicate = count(ReplayStatus::Duplicate),
        failed = count(ReplayStatus::Failed),
        skipped = count(ReplayStatus::Skipped),
        unavailable = count(ReplayStatus::Unavailable),
        more,
        "replay done"
    );
}
