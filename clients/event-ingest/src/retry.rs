//! When to try a request again, and how long to wait first: the same rules for every request.
//!
//! - `429` and `503` carry `Retry-After`: wait at least that long (the server knows when it
//!   can take more; going sooner only earns another refusal);
//! - other 5xx, timeouts and connection errors: exponential backoff with full jitter (a
//!   uniformly random wait in `[0, min(cap, base · 2^attempt)]`, so clients that failed
//!   together do not come back together);
//! - any other 4xx: never (the same request gets the same answer).

use std::time::Duration;

use crate::client::ApiError;

/// The retry budget of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first backoff's upper bound.
    pub base: Duration,
    /// No backoff is longer than this (Retry-After may be: the server asked for it).
    pub cap: Duration,
    /// Attempts in all, the first included, before the request is given up.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(30),
            max_attempts: 10,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// Stop: the error is final, or the attempts are spent.
    GiveUp,
}

impl RetryPolicy {
    /// The full-jitter backoff before attempt `attempt + 1` (`attempt` counts from 1), with
    /// `unit` a uniform random number in `[0, 1)`.
    pub fn backoff(&self, attempt: u32, unit: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let ceiling = self.base.saturating_mul(1u32 << exponent).min(self.cap);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// After attempt number `attempt` (from 1) failed with `error`.
    pub fn decide(&self, attempt: u32, error: &ApiError, unit: f64) -> Decision {
        if attempt >= self.max_attempts || !error.is_retryable() {
            return Decision::GiveUp;
        }
        match error.retry_after() {
            // At least what the server asked; a little jitter above it spreads the clients
            // it refused at the same moment.
            Some(wait) => Decision::RetryAfter(wait + self.base.mul_f64(unit.clamp(0.0, 1.0))),
            None => Decision::RetryAfter(self.backoff(attempt, unit)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            max_attempts: 5,
        }
    }

    #[test]
    fn retry_after_is_honoured_as_a_minimum() {
        let error = ApiError::Throttled {
            status: 429,
            retry_after: Some(Duration::from_secs(2)),
        };
        for unit in [0.0, 0.5, 0.999] {
            match policy().decide(1, &error, unit) {
                Decision::RetryAfter(wait) => assert!(wait >= Duration::from_secs(2), "{wait:?}"),
                Decision::GiveUp => panic!("429 is retried"),
            }
        }
    }

    #[test]
    fn full_jitter_stays_within_the_exponential_bound_and_the_cap() {
        let p = policy();
        for attempt in 1..=20 {
            let ceiling = Duration::from_millis(100 * (1u64 << (attempt - 1).min(20))).min(p.cap);
            assert_eq!(
                p.backoff(attempt, 0.0),
                Duration::ZERO,
                "full jitter starts at 0"
            );
            let top = p.backoff(attempt, 0.999_999);
            assert!(top <= ceiling && top <= p.cap, "attempt {attempt}: {top:?}");
            assert!(
                top >= ceiling.mul_f64(0.99),
                "the bound is reached: {top:?}"
            );
        }
    }

    #[test]
    fn jitter_spreads_the_waits() {
        let p = policy();
        let waits: std::collections::HashSet<_> =
            (0..50).map(|_| p.backoff(4, fastrand::f64())).collect();
        assert!(waits.len() > 40, "random waits, not one: {}", waits.len());
    }

    #[test]
    fn client_errors_are_never_retried() {
        for error in [
            ApiError::Refused {
                status: 400,
                code: "invalid_json".into(),
                message: "no".into(),
            },
            ApiError::Refused {
                status: 413,
                code: "body_too_large".into(),
                message: "no".into(),
            },
            ApiError::KeyRefused {
                status: 401,
                message: "no key".into(),
            },
        ] {
            assert_eq!(policy().decide(1, &error, 0.5), Decision::GiveUp, "{error}");
        }
    }

    #[test]
    fn server_errors_and_transport_errors_are_retried_until_the_attempts_are_spent() {
        let error = ApiError::Server {
            status: 502,
            message: "bad gateway".into(),
        };
        assert!(matches!(
            policy().decide(1, &error, 0.5),
            Decision::RetryAfter(_)
        ));
        assert!(matches!(
            policy().decide(4, &error, 0.5),
            Decision::RetryAfter(_)
        ));
        assert_eq!(policy().decide(5, &error, 0.5), Decision::GiveUp);
        let error = ApiError::Transport {
            message: "connection reset".into(),
            timeout: false,
        };
        assert!(matches!(
            policy().decide(1, &error, 0.5),
            Decision::RetryAfter(_)
        ));
    }
}
