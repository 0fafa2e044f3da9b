//! `POST /events` with one event, and the answer shape that retries share.

use event_core::{normalize_event, peek_client_id, EventTimestamp};
use event_http::{ApiError, ErrorCode, Reply};
use event_runtime::Ctx;
use event_store::{FailedStatus, Store};
use serde_json::json;
use serde_json::value::RawValue;

use crate::outcome::{commit, keep, reject, simulate_failure_reason, Outcome};

pub(crate) async fn post<S: Store>(
    ctx: &Ctx<'_, S>,
    raw: &RawValue,
    now: EventTimestamp,
    request_id: &str,
) -> Result<Reply, ApiError> {
    // Another tenant's client id is refused before anything is written, valid event or not.
    if let Some(client) = peek_client_id(raw) {
        ctx.caller.check_client(&client)?;
    }
    let outcome = match normalize_event(raw, now) {
        Err(error) => reject(ctx, raw, &error, now).await,
        Ok(parsed) => {
            let span = tracing::Span::current();
            span.record("client_id", parsed.event.client_id.as_str());
            span.record("event_hash", tracing::field::display(&parsed.hash));
            if !parsed.simulate_failure {
                commit(ctx, raw, parsed, now).await
            } else if ctx.config.allow_simulated_failure {
                let client_id = Some(parsed.event.client_id);
                let reason = simulate_failure_reason(ErrorCode::SimulatedFailure);
                keep(ctx, raw.get(), client_id, reason, FailedStatus::Failed, now).await
            } else {
                // A request this deployment refuses, not an invalid event: nothing is kept.
                return Err(ApiError::about(
                    ErrorCode::SimulateFailureDisabled,
                    "simulateFailure",
                ));
            }
        }
    };
    respond(outcome, request_id)
}

/// The answer to one event, with the status `EventStatus` gives its outcome.
pub(crate) fn respond(outcome: Outcome, request_id: &str) -> Result<Reply, ApiError> {
    let status = outcome.answered();
    let body = match outcome {
        Outcome::Processed { hash, event } => {
            json!({"status": status.wire_name(), "event_hash": hash, "event": event})
        }
        Outcome::Duplicate { hash } => json!({"status": status.wire_name(), "event_hash": hash}),
        Outcome::Kept {
            error,
            failed_id,
            retryable,
        } => json!({
            "status": status.wire_name(),
            "error": error.with_request_id(request_id),
            "failed_id": failed_id.0,
            "retryable": retryable,
        }),
        Outcome::Refused { error } => json!({
            "status": status.wire_name(),
            "error": error.with_request_id(request_id),
            "retryable": false,
        }),
        Outcome::Unavailable { code } => {
            return Ok(Reply {
                response: ApiError::from(code).into_response(request_id),
                outcome: status.label(),
            })
        }
    };
    Reply::json(status.http_status(), &body, status.label())
}
