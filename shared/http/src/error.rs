//! The one place where a failure becomes a status code and the SPEC error body
//! `{"error":{"code","message","field"?,"request_id"}}`.

use event_core::{BodyError, EventError};
use event_store::{FailureReason, StoreError};
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::response::{json_response, RETRY_AFTER_SECONDS};

/// The `error` object of every error body, and of failed results inside 4xx/5xx and
/// batch answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ErrorDetail {
    pub fn new(code: impl Into<String>, message: impl Into<String>, field: Option<&str>) -> Self {
        ErrorDetail {
            code: code.into(),
            message: message.into(),
            field: field.map(str::to_owned),
            request_id: None,
        }
    }

    pub fn with_request_id(mut self, request_id: &str) -> Self {
        self.request_id = Some(request_id.to_owned());
        self
    }
}

impl From<&EventError> for ErrorDetail {
    fn from(error: &EventError) -> Self {
        ErrorDetail::new(error.code(), error.message(), error.field())
    }
}

impl From<&FailureReason> for ErrorDetail {
    fn from(reason: &FailureReason) -> Self {
        ErrorDetail::new(
            reason.code.clone(),
            reason.message.clone(),
            reason.field.as_deref(),
        )
    }
}

impl From<&ErrorDetail> for FailureReason {
    fn from(detail: &ErrorDetail) -> Self {
        FailureReason {
            code: detail.code.clone(),
            message: detail.message.clone(),
            field: detail.field.clone(),
        }
    }
}

/// Every way a request can end in an error body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON, not an object, or over a limit (400/413, from event-core).
    #[error(transparent)]
    Body(#[from] BodyError),
    /// A request that is well formed HTTP but asks for something invalid (400).
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        field: Option<&'static str>,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{method} is not allowed here; allowed: {}", allow.join(", "))]
    MethodNotAllowed {
        method: String,
        allow: Vec<&'static str>,
    },
    /// Retrying a rejected event: it is invalid, a retry cannot help (409).
    #[error("this event was rejected as invalid; a retry cannot help")]
    NotRetryable,
    /// Storage is unavailable or throttled and nothing was kept: resend (503).
    #[error("storage is unavailable right now; resend the request shortly, resends are safe")]
    Unavailable,
    /// A bug or a misconfiguration: the details are in the logs only (500).
    #[error("internal error; the request id identifies it in the logs")]
    Internal,
}

impl ApiError {
    pub fn bad_request(
        code: &'static str,
        field: Option<&'static str>,
        message: impl Into<String>,
    ) -> Self {
        ApiError::BadRequest {
            code,
            field,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Body(error) => {
                StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotRetryable => StatusCode::CONFLICT,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Body(error) => error.code(),
            ApiError::BadRequest { code, .. } => code,
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::NotRetryable => "not_retryable",
            ApiError::Unavailable => "storage_unavailable",
            ApiError::Internal => "internal_error",
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::Body(error) => error.field(),
            ApiError::BadRequest { field, .. } => *field,
            _ => None,
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::Body(error) => error.message(),
            other => other.to_string(),
        }
    }

    pub fn detail(&self, request_id: &str) -> ErrorDetail {
        ErrorDetail::new(self.code(), self.message(), self.field()).with_request_id(request_id)
    }

    /// The error body with its status, plus `Retry-After` on 503 and `Allow` on 405.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        #[derive(Serialize)]
        struct Envelope {
            error: ErrorDetail,
        }
        let mut response = json_response(
            self.status(),
            &Envelope {
                error: self.detail(request_id),
            },
        );
        let headers = response.headers_mut();
        match &self {
            ApiError::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
                    headers.insert(header::ALLOW, value);
                }
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    /// Storage details go to the log (inside the request's span, so with its request id),
    /// never into the body.
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::InvalidCursor => ApiError::bad_request(
                "invalid_cursor",
                Some("cursor"),
                "cursor does not belong to this query; start again without a cursor",
            ),
            StoreError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "storage unavailable");
                ApiError::Unavailable
            }
            StoreError::Internal(detail) => {
                tracing::error!(error = %detail, "storage error");
                ApiError::Internal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn given_unavailable_when_answered_then_503_with_retry_after_and_no_details() {
        let response = ApiError::from(StoreError::Unavailable("throttled on pk X".into()))
            .into_response("req-1");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let body = body_json(&response);
        assert_eq!(body["error"]["code"], "storage_unavailable");
        assert_eq!(body["error"]["request_id"], "req-1");
        assert!(!body.to_string().contains("pk X"));
    }

    #[test]
    fn given_internal_store_error_when_answered_then_500_without_details() {
        let response = ApiError::from(StoreError::Internal("AccessDenied arn:aws:...".into()))
            .into_response("r");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_json(&response);
        assert_eq!(body["error"]["code"], "internal_error");
        assert!(!body.to_string().contains("AccessDenied"));
    }

    #[test]
    fn given_a_bad_request_when_answered_then_the_field_is_in_the_body() {
        let response =
            ApiError::bad_request("invalid_limit", Some("limit"), "limit must be 1 to 500")
                .into_response("r");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = body_json(&response);
        assert_eq!(body["error"]["field"], "limit");
        assert_eq!(body["error"]["code"], "invalid_limit");
    }

    #[test]
    fn given_no_field_when_answered_then_the_field_key_is_absent() {
        let body = body_json(&ApiError::NotFound("no such thing".into()).into_response("r"));
        assert!(body["error"].get("field").is_none());
        assert_eq!(body["error"]["code"], "not_found");
    }

    #[test]
    fn given_a_wrong_method_when_answered_then_405_lists_the_allowed_ones() {
        let response = ApiError::MethodNotAllowed {
            method: "PUT".into(),
            allow: vec!["GET"],
        }
        .into_response("r");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "GET");
    }
}
