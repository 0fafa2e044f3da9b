//! Retrying transient DynamoDB faults in-process: full-jitter exponential backoff inside a
//! bounded budget (attempts and elapsed time), then `StoreError::Unavailable`.
//!
//! The SDK's own retries are switched off (`DynamoStore::new`), so this budget is the only
//! one: no hidden multiplication of attempts, and one place that decides what is transient.
//! A request's deadline (`Store::until`) bounds it too: no attempt starts that could not end
//! before the deadline with at least `MIN_ATTEMPT` of time, and a started one is cut at it.

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

/// Less time than this before the deadline is not worth an attempt: one DynamoDB call
/// takes a few milliseconds in AWS, but one that waits on a busy partition takes longer.
pub(crate) const MIN_ATTEMPT: Duration = Duration::from_millis(100);

/// What bounds one logical operation: the store's retry budget and the request's deadline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits<'a> {
    pub budget: &'a RetryBudget,
    pub deadline: Option<Instant>,
}

impl Limits<'_> {
    /// How long the next attempt may take, or `None` when the deadline leaves too little.
    fn attempt_time(&self) -> Option<Duration> {
        let Some(deadline) = self.deadline else {
            return Some(self.budget.attempt_timeout);
        };
        let left = deadline.saturating_duration_since(Instant::now());
        (left >= MIN_ATTEMPT).then(|| left.min(self.budget.attempt_timeout))
    }

    /// Whether an attempt could still start after sleeping `pause`.
    fn time_after(&self, pause: Duration) -> bool {
        self.deadline
            .is_none_or(|deadline| Instant::now() + pause + MIN_ATTEMPT <= deadline)
    }
}

/// Run `attempt` until it succeeds, fails for good, or the budget or the deadline is spent.
pub(crate) async fn with_retry<T, F, Fut>(
    limits: Limits<'_>,
    what: &str,
    mut attempt: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AttemptError>>,
{
    let budget = limits.budget;
    let started = Instant::now();
    let mut tries = 0u32;
    loop {
        let Some(allowed) = limits.attempt_time() else {
            count_exhausted();
            tracing::warn!(
                operation = what,
                attempts = tries,
                "request deadline: no time for an attempt"
            );
            return Err(StoreError::Unavailable(format!(
                "{what}: the request's deadline left no time for an attempt (after {tries} attempts)"
            )));
        };
        tries += 1;
        // The SDK ends an attempt at the budget's timeout; a shorter one is the deadline's. A
        // commit cut off here may still land: then its event's resend is a duplicate.
        let outcome = if allowed < budget.attempt_timeout {
            tokio::time::timeout(allowed, attempt())
                .await
                .unwrap_or_else(|_| {
                    Err(AttemptError::Transient(format!(
                        "{what}: cut off at the request's deadline"
                    )))
                })
        } else {
            attempt().await
        };
        let reason = match outcome {
            Ok(value) => return Ok(value),
            Err(AttemptError::Fatal(err)) => return Err(err),
            Err(AttemptError::Transient(reason)) => reason,
        };
        let pause = backoff(budget, tries);
        if tries >= budget.max_attempts.max(1)
            || started.elapsed() + pause > budget.max_elapsed
            || !limits.time_after(pause)
        {
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

    fn limits(budget: &RetryBudget) -> Limits<'_> {
        Limits {
            budget,
            deadline: None,
        }
    }

    #[tokio::test]
    async fn transient_faults_are_retried_until_success() {
        let mut calls = 0;
        let out = with_retry(limits(&budget()), "test", || {
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
        let err = with_retry(limits(&budget()), "test", || {
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
        let err = with_retry(limits(&budget()), "test", || {
            calls += 1;
            async { Err::<(), _>(AttemptError::Fatal(StoreError::Internal("bad".into()))) }
        })
        .await
        .unwrap_err();
        assert!(matches!(err, StoreError::Internal(_)));
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn no_attempt_starts_past_the_deadline() {
        let b = budget();
        let mut calls = 0;
        let err = with_retry(
            Limits {
                budget: &b,
                deadline: Some(Instant::now() + MIN_ATTEMPT / 2),
            },
            "test",
            || {
                calls += 1;
                async { Ok(()) }
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        assert_eq!(calls, 0);
    }

    #[tokio::test]
    async fn an_attempt_is_cut_off_at_the_deadline() {
        let b = budget();
        let started = Instant::now();
        let err = with_retry(
            Limits {
                budget: &b,
                deadline: Some(started + Duration::from_millis(300)),
            },
            "test",
            || async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(())
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }

    #[tokio::test]
    async fn no_backoff_sleeps_past_the_deadline() {
        // backoffs (up to 20 s) that only the deadline can cut short
        let b = RetryBudget {
            base_backoff: Duration::from_secs(20),
            max_backoff: Duration::from_secs(20),
            max_elapsed: Duration::from_secs(60),
            ..budget()
        };
        let mut calls = 0;
        let started = Instant::now();
        let result = with_retry(
            Limits {
                budget: &b,
                deadline: Some(started + Duration::from_millis(500)),
            },
            "test",
            || {
                calls += 1;
                async { Err::<(), _>(AttemptError::Transient("throttled".into())) }
            },
        )
        .await;
        assert!(matches!(result, Err(StoreError::Unavailable(_))));
        assert!(calls >= 1);
        let took = started.elapsed();
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }
}
