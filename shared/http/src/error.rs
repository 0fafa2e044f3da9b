//! How a failure becomes the error body `{"error":{"code","message","field"?,"request_id"}}`
//! with the status that `status.rs` gives its code. (Storage's failures become `ApiError`s in
//! `event_runtime::failure`: this crate knows nothing of storage.)

use event_core::{BodyError, EventError};
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::response::{json_response, RETRY_AFTER_SECONDS};
use crate::status::{body_error_status, ErrorCode};

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

impl From<ErrorCode> for ErrorDetail {
    fn from(code: ErrorCode) -> Self {
        ErrorDetail::new(code.as_str(), code.message(), None)
    }
}

impl From<&EventError> for ErrorDetail {
    fn from(error: &EventError) -> Self {
        ErrorDetail::new(error.code(), error.message(), error.field())
    }
}

/// Every way a request can end in an error body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON, not an object, or over a limit (400/413, from event-core).
    #[error(transparent)]
    Body(#[from] BodyError),
    /// A query parameter the event rules refuse (400): the core's code and sentence, with
    /// the error already aimed at the parameter (`EventError::with_field`).
    #[error("{error}")]
    Param {
        name: &'static str,
        error: EventError,
    },
    /// One of the service's own codes, with a more precise sentence where there is one.
    #[error("{}", message.as_deref().unwrap_or(code.message()))]
    Code {
        code: ErrorCode,
        field: Option<&'static str>,
        message: Option<String>,
    },
    /// A rate limit or quota refused the request (429): nothing was written, and
    /// `Retry-After` says when to come back.
    #[error("{message}")]
    Limited {
        code: ErrorCode,
        message: String,
        retry_after_seconds: u64,
    },
    #[error("{method} is not allowed here; allowed: {}.", allow.join(", "))]
    MethodNotAllowed {
        method: String,
        allow: Vec<&'static str>,
    },
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        ApiError::Code {
            code,
            field: None,
            message: None,
        }
    }
}

impl ApiError {
    /// `code` about `field`, with the code's own sentence.
    pub fn about(code: ErrorCode, field: &'static str) -> Self {
        ApiError::Code {
            code,
            field: Some(field),
            message: None,
        }
    }

    /// `code` with a sentence more precise than the code's own.
    pub fn with_message(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Code {
            code,
            field: None,
            message: Some(message.into()),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Body(error) => body_error_status(error),
            ApiError::Param { .. } => StatusCode::BAD_REQUEST,
            ApiError::Code { code, .. } | ApiError::Limited { code, .. } => code.status(),
            ApiError::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed.status(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Body(error) => error.code(),
            ApiError::Param { error, .. } => error.code(),
            ApiError::Code { code, .. } | ApiError::Limited { code, .. } => code.as_str(),
            ApiError::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed.as_str(),
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::Body(error) => error.field(),
            ApiError::Param { name, .. } => Some(name),
            ApiError::Code { field, .. } => *field,
            ApiError::Limited { .. } | ApiError::MethodNotAllowed { .. } => None,
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::Body(error) => error.message(),
            ApiError::Param { error, .. } => error.message(),
            other => other.to_string(),
        }
    }

    /// The `error` object without a request id (a batch item: the request id is the batch's).
    pub fn detail_without_request(&self) -> ErrorDetail {
        ErrorDetail::new(self.code(), self.message(), self.field())
    }

    pub fn detail(&self, request_id: &str) -> ErrorDetail {
        self.detail_without_request().with_request_id(request_id)
    }

    /// The error body with its status, plus `Retry-After` on 503 and 429, `WWW-Authenticate`
    /// on 401 and `Allow` on 405.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        #[derive(Serialize)]
        struct Envelope {
            error: ErrorDetail,
        }
        let envelope = Envelope {
            error: self.detail(request_id),
        };
        // An envelope of strings always serializes; the fallback only keeps this panic-free.
        let mut response = json_response(self.status(), &envelope).unwrap_or_else(|_| {
            let mut response = Response::new(Body::Text(
                serde_json::json!({"error": ErrorDetail::from(ErrorCode::InternalError)
                    .with_request_id(request_id)})
                .to_string(),
            ));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
        });
        let headers = response.headers_mut();
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        if let ApiError::Limited {
            retry_after_seconds,
            ..
        } = &self
        {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
        }
        if self.status() == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="event-ingest""#),
            );
        }
        if let ApiError::MethodNotAllowed { allow, .. } = &self {
            if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
                headers.insert(header::ALLOW, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn given_a_503_code_when_answered_then_retry_after_is_set() {
        let response = ApiError::from(ErrorCode::StorageUnavailable).into_response("req-1");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(body_json(&response)["error"]["request_id"], "req-1");
    }

    #[test]
    fn given_a_bad_request_when_answered_then_the_field_is_in_the_body() {
        let response = ApiError::about(ErrorCode::InvalidLimit, "limit").into_response("r");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = body_json(&response);
        assert_eq!(body["error"]["field"], "limit");
        assert_eq!(body["error"]["code"], "invalid_limit");
    }

    #[test]
    fn given_no_field_when_answered_then_the_field_key_is_absent() {
        let body = body_json(&ApiError::from(ErrorCode::NotFound).into_response("r"));
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
