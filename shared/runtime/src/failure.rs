//! Where storage meets the error body: a `StoreError` answered as an `ApiError`, and the
//! `FailureReason` a kept failed record carries, made from and shown as the HTTP error codes.
//!
//! Functions rather than `From` impls: event-http knows nothing of event-store (so the
//! dashboard builds without the DynamoDB SDK), and the orphan rule lets no third crate join
//! two types it does not own. Handlers write `.map_err(store_error)?`.

use event_http::{ApiError, ErrorCode, ErrorDetail};
use event_store::{FailureReason, StoreError};

/// A storage failure as the request's error. Storage details go to the log (inside the
/// request's span, so with its request id), never into the body.
pub fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::InvalidCursor => ApiError::about(ErrorCode::InvalidCursor, "cursor"),
        StoreError::Unavailable(detail) => {
            tracing::warn!(error = %detail, "storage unavailable");
            ErrorCode::StorageUnavailable.into()
        }
        StoreError::Internal(detail) => {
            tracing::error!(error = %detail, "storage error");
            ErrorCode::InternalError.into()
        }
    }
}

/// What a kept failed record says about why it was kept: `code`, with its sentence.
pub fn failure_reason(code: ErrorCode) -> FailureReason {
    FailureReason {
        code: code.as_str().to_owned(),
        message: code.message().to_owned(),
        field: None,
    }
}

/// A kept record's reason as the `error` object of an answer.
pub fn reason_detail(reason: &FailureReason) -> ErrorDetail {
    ErrorDetail::new(
        reason.code.clone(),
        reason.message.clone(),
        reason.field.as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::{header, StatusCode};
    use lambda_http::{Body, Response};

    fn body_json(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn given_unavailable_when_answered_then_503_with_retry_after_and_no_details() {
        let response =
            store_error(StoreError::Unavailable("throttled on pk X".into())).into_response("req-1");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let body = body_json(&response);
        assert_eq!(body["error"]["code"], "storage_unavailable");
        assert_eq!(body["error"]["request_id"], "req-1");
        assert!(!body.to_string().contains("pk X"));
    }

    #[test]
    fn given_internal_store_error_when_answered_then_500_without_details() {
        let response =
            store_error(StoreError::Internal("AccessDenied arn:aws:...".into())).into_response("r");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_json(&response);
        assert_eq!(body["error"]["code"], "internal_error");
        assert!(!body.to_string().contains("AccessDenied"));
    }

    #[test]
    fn given_an_invalid_cursor_when_answered_then_400_about_the_cursor() {
        let error = store_error(StoreError::InvalidCursor);
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error.code(), "invalid_cursor");
        assert_eq!(error.field(), Some("cursor"));
    }

    #[test]
    fn a_reason_reads_back_as_the_codes_own_detail() {
        let reason = failure_reason(ErrorCode::StorageFailed);
        assert_eq!(
            reason_detail(&reason),
            ErrorDetail::from(ErrorCode::StorageFailed)
        );
    }
}
