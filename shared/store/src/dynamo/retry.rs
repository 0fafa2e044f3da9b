//! Retrying transient DynamoDB faults in-process: full-jitter exponential backoff inside a
//! bounded budget (attempts and elapsed time), then `StoreError::Unavailable`.
//!
//! The SDK's own retries are switched off (`DynamoStore::new`), so this budget is the only
//! one: no hidden multiplication of attempts, and one place that decides what is transient.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use super::counters::{count_exhausted, count_retry};
use crate::{RetryBudget, StoreError};

/// How one attempt ended, when it did not succeed.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// Worth another attempt (throttled, conflicting, 5xx, timed out, connection lost).
    Transient(String),
    /// Final: another attempt would fail the same way.
    Fatal(StoreError),
}

/// Error codes DynamoDB uses for "try again later".
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "TransactionInProgressException",
    "ReplicatedWriteConflictException",
    "InternalServerError",
    "ServiceUnavailable",
    "LimitExceededException",
];

/// Reasons in a transaction's cancellation that a later attempt can overcome.
pub(crate) const TRANSIENT_REASONS: &[&str] = &[
    "TransactionConflict",
    "ProvisionedThroughputExceeded",
    "ThrottlingError",
    "RequestLimitExceeded",
];

/// Sort an SDK failure into transient or fatal.
pub(crate) fn classify<E>(what: &str, err: SdkError<E, HttpResponse>) -> AttemptError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            AttemptError::Transient(format!("{what}: {}", describe(&err)))
        }
        SdkError::DispatchFailure(failure) if !failure.is_user() => {
            AttemptError::Transient(format!("{what}: {}", describe(&err)))
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("");
            let status = service.raw().status().as_u16();
            if TRANSIENT_CODES.contains(&code) || status >= 500 || status == 429 {
                AttemptError::Transient(format!("{what}: {code} (HTTP {status})"))
            } else {
                AttemptError::Fatal(StoreError::Internal(format!(
                    "{what}: {code} (HTTP {status}): {}",
                    service.err().message().unwrap_or("")
                )))
            }
        }
        _ => AttemptError::Fatal(StoreError::Internal(format!("{what}: {}", describe(&err)))),
    }
}

/// The error and its sources on one line (the SDK's `Display` alone says little).
pub(crate) fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// Full jitter: uniform in `[0, min(max_backoff, base * 2^(retry - 1))]`.
pub(crate) fn backoff(budget: &RetryBudget, retry: u32) -> Duration {
    let ceiling = budget
        .base_backoff
        .saturating_mul(1u32 << (retry.saturating_sub(1)).min(20))
        .min(budget.max_backoff);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(fastrand::u64(..=nanos))
}

/// Run `attempt` until it succeeds, fails for good, or the budget is spent.
pub(crate) async fn with_retry<T, F, Fut>(
    budget: &RetryBudget,
    what: &str,
    mut attempt: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AttemptError>>,
{
    let started = Instant::now();
    let mut tries = 0u32;
    loop {
        tries += 1;
        let reason = match attempt().await {
            Ok(value) => return Ok(value),
            Err(AttemptError::Fatal(err)) => return Err(err),
            Err(AttemptError::Transient(reason)) => reason,
        };
        let pause = backoff(budget, tries);
        if tries >= budget.max_attempts.max(1) || started.elapsed() + pause > budget.max_elapsed {
            count_exhausted();
            tracing::warn!(operation = what, attempts = tries, elapsed_ms = started.elapsed().as_millis() as u64, reason = %reason, "retry budget spent");
            return Err(StoreError::Unavailable(format!(
                "{reason} (gave up after {tries} attempts)"
            )));
        }
        count_retry(&reason);
        tracing::debug!(operation = what, attempt = tries, pause_ms = pause.as_millis() as u64, reason = %reason, "transient fault, retrying");
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> RetryBudget {
        RetryBudget {
            max_attempts: 4,
            base_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(3),
            max_elapsed: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn backoff_stays_under_its_ceiling() {
        let b = budget();
        for retry in 1..40 {
            assert!(backoff(&b, retry) <= Duration::from_millis(3));
        }
        assert!(backoff(&b, 1) <= Duration::from_millis(1));
    }

    #[tokio::test]
    async fn transient_faults_are_retried_until_success() {
        let mut calls = 0;
        let out = with_retry(&budget(), "test", || {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(AttemptError::Transient("conflict".into()))
                } else {
                    Ok(n)
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(out, 3);
    }

    #[tokio::test]
    async fn a_spent_budget_is_unavailable() {
        let mut calls = 0;
        let err = with_retry(&budget(), "test", || {
            calls += 1;
            async { Err::<(), _>(AttemptError::Transient("throttled".into())) }
        })
        .await
        .unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)));
        assert_eq!(calls, 4);
    }

    #[tokio::test]
    async fn fatal_errors_are_not_retried() {
        let mut calls = 0;
        let err = with_retry(&budget(), "test", || {
            calls += 1;
            async { Err::<(), _>(AttemptError::Fatal(StoreError::Internal("bad".into()))) }
        })
        .await
        .unwrap_err();
        assert!(matches!(err, StoreError::Internal(_)));
        assert_eq!(calls, 1);
    }
}
