//! The status map: every error code the service answers besides the event rules of
//! `event-core`, each with its HTTP status and its sentence, and the status of every
//! event outcome. Nothing else in the workspace picks a status code or spells a code.

use event_core::BodyError;
use lambda_http::http::StatusCode;

/// The service's own error codes (the event rules' codes, such as `invalid_amount`, come
/// from `event_core::EventError` and answer 422 in an event, 400 in a query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A required query parameter is absent (`client_id` of aggregates).
    MissingClientId,
    InvalidLimit,
    InvalidRange,
    InvalidCursor,
    /// No API key, or one that is malformed, unknown, revoked or expired.
    Unauthorized,
    /// A client id the caller's tenant does not own.
    ClientNotAllowed,
    /// A route outside the API key's scopes (an ingest-only key reading, say).
    ForbiddenScope,
    /// `simulateFailure: true` where the deployment does not honour it.
    SimulateFailureDisabled,
    NotFound,
    MethodNotAllowed,
    /// Retrying a rejected event: it is invalid, a retry cannot help.
    NotRetryable,
    /// Processing failed on purpose; the event was kept and is retryable.
    SimulatedFailure,
    /// Storage kept failing past the retry budget; the event was kept and is retryable.
    StorageFailed,
    /// Storage is unavailable and nothing was kept: resend.
    StorageUnavailable,
    /// A batch item not stored before the batch deadline: resend it.
    DeadlineExceeded,
    /// The tenant's sustained rate or burst (events, or read requests) has no room now:
    /// nothing was written; `Retry-After` says when it has.
    RateLimited,
    /// The tenant's events of the UTC day are used up: nothing was written; `Retry-After`
    /// points at the next 00:00 UTC.
    QuotaExceeded,
    /// A bug or a misconfiguration: the details are in the logs only.
    InternalError,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MissingClientId => "missing_client_id",
            ErrorCode::InvalidLimit => "invalid_limit",
            ErrorCode::InvalidRange => "invalid_range",
            ErrorCode::InvalidCursor => "invalid_cursor",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::ClientNotAllowed => "client_not_allowed",
            ErrorCode::ForbiddenScope => "forbidden_scope",
            ErrorCode::SimulateFailureDisabled => "simulate_failure_disabled",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::NotRetryable => "not_retryable",
            ErrorCode::SimulatedFailure => "simulated_failure",
            ErrorCode::StorageFailed => "storage_failed",
            ErrorCode::StorageUnavailable => "storage_unavailable",
            ErrorCode::DeadlineExceeded => "deadline_exceeded",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::InternalError => "internal_error",
        }
    }

    pub const fn status(self) -> StatusCode {
        match self {
            ErrorCode::MissingClientId
            | ErrorCode::InvalidLimit
            | ErrorCode::InvalidRange
            | ErrorCode::InvalidCursor
            | ErrorCode::SimulateFailureDisabled => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::ClientNotAllowed | ErrorCode::ForbiddenScope => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::NotRetryable => StatusCode::CONFLICT,
            ErrorCode::RateLimited | ErrorCode::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::SimulatedFailure | ErrorCode::StorageFailed | ErrorCode::InternalError => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ErrorCode::StorageUnavailable | ErrorCode::DeadlineExceeded => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// The sentence of the error body, unless the caller has a more precise one.
    pub const fn message(self) -> &'static str {
        match self {
            ErrorCode::MissingClientId => "client_id is required.",
            ErrorCode::InvalidLimit => "limit must be a whole number from 1 to 500.",
            ErrorCode::InvalidRange => {
                "to must be later than from (the range is from <= timestamp < to)."
            }
            ErrorCode::InvalidCursor => {
                "The cursor does not belong to this query; start again without a cursor."
            }
            ErrorCode::Unauthorized => {
                "An API key is required; send it in the x-api-key header or as Authorization: Bearer <key>."
            }
            ErrorCode::ClientNotAllowed => "This API key's tenant does not own this client_id.",
            ErrorCode::ForbiddenScope => "This API key's scopes do not include what this route needs.",
            ErrorCode::SimulateFailureDisabled => {
                "simulateFailure is disabled in this deployment; send the event without it."
            }
            ErrorCode::NotFound => "Nothing is here.",
            ErrorCode::MethodNotAllowed => "This method is not allowed on this path.",
            ErrorCode::NotRetryable => {
                "This event was rejected as invalid; a retry cannot help."
            }
            ErrorCode::SimulatedFailure => {
                "Processing failed on purpose (simulateFailure: true); the event was kept and can be retried."
            }
            ErrorCode::StorageFailed => {
                "Storage kept failing past the retry budget; the event was kept and can be retried."
            }
            ErrorCode::StorageUnavailable => {
                "Storage is unavailable right now and nothing was kept; resend shortly (resends are safe)."
            }
            ErrorCode::DeadlineExceeded => {
                "The event was not stored before the batch deadline; resend it (resends are safe)."
            }
            ErrorCode::RateLimited => {
                "This tenant's rate limit has no room for this request now; nothing was written. Retry after the Retry-After seconds."
            }
            ErrorCode::QuotaExceeded => {
                "This tenant's daily quota of events is used up; nothing was written. It frees up at 00:00 UTC."
            }
            ErrorCode::InternalError => "Internal error; the request id identifies it in the logs.",
        }
    }
}

/// 400 for a body that is not an acceptable request, 413 for one over a limit.
pub fn body_error_status(error: &BodyError) -> StatusCode {
    match error {
        BodyError::BodyTooLarge { .. }
        | BodyError::TooManyEvents { .. }
        | BodyError::EventTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        BodyError::InvalidJson { .. }
        | BodyError::NotAnObject { .. }
        | BodyError::InvalidBatch { .. }
        | BodyError::EmptyBatch => StatusCode::BAD_REQUEST,
    }
}

/// What became of one event. Single events answer with `http_status`; batch items carry
/// `wire_name` as their `status`; logs use `label`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    /// New: stored and counted.
    Processed,
    /// Already counted: nothing changed.
    Duplicate,
    /// Invalid: kept as rejected; a retry cannot help.
    Rejected,
    /// Not counted, kept, retryable.
    Failed,
    /// Not counted and not kept: resend.
    Unavailable,
    /// Not the caller's to send (a client id its tenant does not own): nothing written.
    Refused,
}

impl EventStatus {
    pub const fn http_status(self) -> StatusCode {
        match self {
            EventStatus::Processed => StatusCode::CREATED,
            EventStatus::Duplicate => StatusCode::OK,
            EventStatus::Rejected => StatusCode::UNPROCESSABLE_ENTITY,
            EventStatus::Failed => StatusCode::INTERNAL_SERVER_ERROR,
            EventStatus::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            EventStatus::Refused => StatusCode::FORBIDDEN,
        }
    }

    /// The `status` field of the API: a rejected event is `failed` with `retryable: false`.
    pub const fn wire_name(self) -> &'static str {
        match self {
            EventStatus::Processed => "processed",
            EventStatus::Duplicate => "duplicate",
            EventStatus::Rejected | EventStatus::Failed | EventStatus::Refused => "failed",
            EventStatus::Unavailable => "unavailable",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            EventStatus::Rejected => "rejected",
            EventStatus::Refused => "refused",
            other => other.wire_name(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ErrorCode; 18] = [
        ErrorCode::RateLimited,
        ErrorCode::QuotaExceeded,
        ErrorCode::MissingClientId,
        ErrorCode::Unauthorized,
        ErrorCode::ClientNotAllowed,
        ErrorCode::ForbiddenScope,
        ErrorCode::InvalidLimit,
        ErrorCode::InvalidRange,
        ErrorCode::InvalidCursor,
        ErrorCode::SimulateFailureDisabled,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::NotRetryable,
        ErrorCode::SimulatedFailure,
        ErrorCode::StorageFailed,
        ErrorCode::StorageUnavailable,
        ErrorCode::DeadlineExceeded,
        ErrorCode::InternalError,
    ];

    #[test]
    fn every_code_is_distinct_snake_case_with_an_error_status_and_a_sentence() {
        let mut seen = std::collections::HashSet::new();
        for code in ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert!(code.status().is_client_error() || code.status().is_server_error());
            assert!(code.message().ends_with('.'), "{text}");
        }
    }

    #[test]
    fn body_errors_over_a_limit_answer_413_and_the_others_400() {
        let cases = [
            (BodyError::BodyTooLarge { bytes: 2 << 20 }, 413),
            (BodyError::TooManyEvents { count: 501 }, 413),
            (BodyError::EventTooLarge { bytes: 40_000 }, 413),
            (BodyError::EmptyBatch, 400),
            (BodyError::NotAnObject { found: "an array" }, 400),
            (
                BodyError::InvalidBatch {
                    detail: "got a string".into(),
                },
                400,
            ),
            (
                BodyError::InvalidJson {
                    detail: "EOF".into(),
                    line: 1,
                    column: 0,
                },
                400,
            ),
        ];
        for (error, status) in cases {
            assert_eq!(
                body_error_status(&error).as_u16(),
                status,
                "{}",
                error.code()
            );
        }
    }

    #[test]
    fn only_the_resend_codes_answer_503() {
        for code in ALL {
            let resend = matches!(
                code,
                ErrorCode::StorageUnavailable | ErrorCode::DeadlineExceeded
            );
            assert_eq!(code.status() == StatusCode::SERVICE_UNAVAILABLE, resend);
        }
    }
}
