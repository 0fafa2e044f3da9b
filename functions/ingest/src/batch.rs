//! `POST /events` with `{"events":[...]}`: every item gets its own outcome, in order.
//! Items are judged one by one (one bad item never fails the others); the valid new ones are
//! committed together (`Store::commit_events`: one transaction per client and hour), the
//! others kept or refused, with bounded concurrency; the whole batch answers before its
//! deadline even if storage is slow.

use event_core::{
    normalize_event, peek_client_id, BatchDeduper, EventError, EventHash, EventTimestamp,
    ParsedEvent,
};
use event_http::{ApiError, ErrorCode, ErrorDetail, Reply};
use event_runtime::Ctx;
use event_store::{FailedStatus, FailureReason, Store};
use futures::StreamExt;
use lambda_http::http::StatusCode;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::outcome::{keep, processed_record, reject, settle, simulate_failure_reason, Outcome};

/// The store work one item needs.
enum Job<'a> {
    /// A client id the caller's tenant does not own: answered, nothing written.
    Refuse(ErrorDetail),
    Reject(&'a RawValue, EventError),
    Keep(&'a RawValue, ParsedEvent, FailureReason, FailedStatus),
}

async fn run<S: Store>(ctx: &Ctx<'_, S>, job: Job<'_>, now: EventTimestamp) -> Outcome {
    match job {
        Job::Refuse(error) => Outcome::Refused { error },
        Job::Reject(raw, error) => reject(ctx, raw, &error, now).await,
        Job::Keep(raw, parsed, reason, status) => {
            keep(
                ctx,
                raw.get(),
                Some(parsed.event.client_id),
                reason,
                status,
                now,
            )
            .await
        }
    }
}

pub(crate) async fn post<S: Store>(
    ctx: &Ctx<'_, S>,
    items: &[&RawValue],
    now: EventTimestamp,
) -> Result<Reply, ApiError> {
    let mut jobs = Vec::with_capacity(items.len());
    // (index, raw) of each new valid event, and its record at the same position of `records`.
    let mut commits = Vec::with_capacity(items.len());
    let mut records = Vec::with_capacity(items.len());
    // (index, index of its first occurrence, hash): settled after the first one is.
    let mut repeats = Vec::new();
    let mut deduper = BatchDeduper::new();
    for (index, &raw) in items.iter().enumerate() {
        if let Some(client) = peek_client_id(raw) {
            if let Err(refused) = ctx.caller.check_client(&client) {
                jobs.push((index, Job::Refuse(refused.detail_without_request())));
                continue;
            }
        }
        let job = match normalize_event(raw, now) {
            Err(error) => Job::Reject(raw, error),
            // Simulated failures are decided before dedupe: such an item is never
            // committed, so a later copy of it must not be called a duplicate of it.
            Ok(parsed) if parsed.simulate_failure => {
                if ctx.config.allow_simulated_failure {
                    Job::Keep(
                        raw,
                        parsed,
                        simulate_failure_reason(ErrorCode::SimulatedFailure),
                        FailedStatus::Failed,
                    )
                } else {
                    // Kept as rejected (a retry would not help) so the item still gets a
                    // `failed_id`, like every other failed item of a batch.
                    Job::Keep(
                        raw,
                        parsed,
                        simulate_failure_reason(ErrorCode::SimulateFailureDisabled),
                        FailedStatus::Rejected,
                    )
                }
            }
            Ok(parsed) => match deduper.first_occurrence(index, parsed.hash) {
                Some(first) => {
                    repeats.push((index, first, parsed.hash));
                    continue;
                }
                None => {
                    commits.push((index, raw));
                    records.push(processed_record(parsed, now));
                    continue;
                }
            },
        };
        jobs.push((index, job));
    }

    let concurrency = ctx.config.batch_concurrency.max(1);
    let mut outcomes: Vec<Option<Outcome>> = vec![None; items.len()];
    let mut committed: Vec<Option<Outcome>> = vec![None; items.len()];
    // Futures built up front (they do nothing until polled): a closure inside the stream
    // type trips the compiler's higher-ranked lifetime check on the `Send` future.
    let pending: Vec<_> = jobs
        .into_iter()
        .map(|(index, job)| async move { (index, run(ctx, job, now).await) })
        .collect();
    let others = async {
        let mut done = futures::stream::iter(pending).buffer_unordered(concurrency);
        while let Some((index, outcome)) = done.next().await {
            outcomes[index] = Some(outcome);
        }
    };
    let commit_store = ctx.commit_store();
    let new_events = async {
        let mut failed = Vec::new();
        let mut results = std::pin::pin!(commit_store.commit_events(&records, concurrency));
        while let Some((position, result)) = results.next().await {
            let (index, raw) = commits[position];
            match result {
                Ok(_) => {
                    let record = records[position].clone();
                    committed[index] = Some(settle(ctx, raw, record, result).await);
                }
                Err(_) => failed.push((position, result)),
            }
        }
        // Commits that failed for good: each event kept as failed (retryable).
        let keeps: Vec<_> = failed
            .into_iter()
            .map(|(position, result)| {
                let (index, raw) = commits[position];
                let record = records[position].clone();
                async move { (index, settle(ctx, raw, record, result).await) }
            })
            .collect();
        let mut kept = futures::stream::iter(keeps).buffer_unordered(concurrency);
        while let Some((index, outcome)) = kept.next().await {
            committed[index] = Some(outcome);
        }
    };
    let work = futures::future::join(others, new_events);
    // The store gives up at the deadline by itself; this catches any other slowness.
    // Past the deadline the unfinished commits are dropped. One may still land in
    // DynamoDB; its item is answered `unavailable`, and the resend is then a duplicate.
    if tokio::time::timeout_at(ctx.backstop().into(), work)
        .await
        .is_err()
    {
        tracing::warn!("request deadline passed; unfinished items answered unavailable");
    }

    for (slot, outcome) in outcomes.iter_mut().zip(committed) {
        if outcome.is_some() {
            *slot = outcome;
        }
    }
    for (index, first, hash) in repeats {
        outcomes[index] = Some(repeat_of(outcomes[first].as_ref(), hash));
    }
    let outcomes: Vec<Outcome> = outcomes
        .into_iter()
        .map(|outcome| {
            outcome.unwrap_or(Outcome::Unavailable {
                code: ErrorCode::DeadlineExceeded,
            })
        })
        .collect();
    answer(outcomes)
}

/// A repeat inside the batch is a duplicate once its first copy is counted. If the first
/// copy was not counted, saying "duplicate" would claim a count that did not happen, so
/// the repeat shares the first copy's fate (same failed record, or resend).
fn repeat_of(first: Option<&Outcome>, hash: EventHash) -> Outcome {
    match first {
        Some(Outcome::Processed { .. } | Outcome::Duplicate { .. }) => Outcome::Duplicate { hash },
        Some(
            kept @ (Outcome::Kept { .. } | Outcome::Unavailable { .. } | Outcome::Refused { .. }),
        ) => kept.clone(),
        None => Outcome::Unavailable {
            code: ErrorCode::DeadlineExceeded,
        },
    }
}

#[derive(Serialize)]
struct ItemResult {
    index: usize,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_hash: Option<EventHash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retryable: Option<bool>,
}

#[derive(Serialize)]
struct BatchAnswer {
    processed: usize,
    duplicates: usize,
    /// Every item neither processed nor duplicate (failed, rejected or unavailable).
    failed: usize,
    results: Vec<ItemResult>,
}

fn answer(outcomes: Vec<Outcome>) -> Result<Reply, ApiError> {
    let mut body = BatchAnswer {
        processed: 0,
        duplicates: 0,
        failed: 0,
        results: Vec::with_capacity(outcomes.len()),
    };
    for (index, outcome) in outcomes.into_iter().enumerate() {
        let status = outcome.answered();
        let mut item = ItemResult {
            index,
            status: status.wire_name(),
            event_hash: None,
            error: None,
            failed_id: None,
            retryable: None,
        };
        match outcome {
            Outcome::Processed { hash, .. } => {
                body.processed += 1;
                item.event_hash = Some(hash);
            }
            Outcome::Duplicate { hash } => {
                body.duplicates += 1;
                item.event_hash = Some(hash);
            }
            Outcome::Kept {
                error,
                failed_id,
                retryable,
            } => {
                body.failed += 1;
                item.error = Some(error);
                item.failed_id = Some(failed_id.0);
                item.retryable = Some(retryable);
            }
            Outcome::Refused { error } => {
                body.failed += 1;
                item.error = Some(error);
                item.retryable = Some(false);
            }
            Outcome::Unavailable { code } => {
                body.failed += 1;
                item.error = Some(code.into());
                item.retryable = Some(true);
            }
        }
        tracing::debug!(
            index,
            event_hash = item.event_hash.as_ref().map(tracing::field::display),
            code = item.error.as_ref().map(|error| error.code.as_str()),
            outcome = status.label()
        );
        body.results.push(item);
    }
    tracing::info!(
        events = body.results.len(),
        processed = body.processed,
        duplicates = body.duplicates,
        failed = body.failed,
        "batch done"
    );
    Reply::json(StatusCode::OK, &body, "batch")
}
