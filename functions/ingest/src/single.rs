//! `POST /events` with one event, and the answer shape that retries share.

use event_core::{normalize_event, EventTimestamp};
use event_http::{ApiError, App, Reply};
use event_store::{FailedStatus, Store};
use lambda_http::http::StatusCode;
use serde_json::json;
use serde_json::value::RawValue;

use crate::outcome::{
    commit, keep, reject, simulate_disabled_reason, simulated_failure_reason, Outcome,
};

pub(crate) async fn post<S: Store>(
    app: &App<S>,
    raw: &RawValue,
    now: EventTimestamp,
    request_id: &str,
) -> Result<Reply, ApiError> {
    let outcome = match normalize_event(raw, now) {
        Err(error) => reject(app, raw, &error, now).await,
        Ok(parsed) => {
            let span = tracing::Span::current();
            span.record("client_id", parsed.event.client_id.as_str());
            span.record("event_hash", tracing::field::display(&parsed.hash));
            if !parsed.simulate_failure {
                commit(app, raw, parsed, now).await
            } else if app.config.allow_simulated_failure {
                let client_id = Some(parsed.event.client_id);
                let reason = simulated_failure_reason();
                keep(app, raw.get(), client_id, reason, FailedStatus::Failed, now).await
            } else {
                // A request this deployment refuses, not an invalid event: nothing is kept.
                let reason = simulate_disabled_reason();
                return Err(ApiError::bad_request(
                    "simulate_failure_disabled",
                    Some("simulateFailure"),
                    reason.message,
                ));
            }
        }
    };
    Ok(respond(outcome, request_id))
}

/// 201 processed / 200 duplicate / 422 rejected / 500 kept and retryable / 503 resend.
pub(crate) fn respond(outcome: Outcome, request_id: &str) -> Reply {
    let label = outcome.label();
    match outcome {
        Outcome::Processed { hash, event } => Reply::json(
            StatusCode::CREATED,
            &json!({"status": "processed", "event_hash": hash, "event": event}),
            label,
        ),
        Outcome::Duplicate { hash } => Reply::json(
            StatusCode::OK,
            &json!({"status": "duplicate", "event_hash": hash}),
            label,
        ),
        Outcome::Kept {
            error,
            failed_id,
            retryable,
        } => {
            let status = if retryable {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            Reply::json(
                status,
                &json!({
                    "status": "failed",
                    "error": error.with_request_id(request_id),
                    "failed_id": failed_id.0,
                    "retryable": retryable,
                }),
                label,
            )
        }
        Outcome::Unavailable { .. } => Reply {
            response: ApiError::Unavailable.into_response(request_id),
            outcome: label,
        },
    }
}
