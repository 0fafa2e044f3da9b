//! JSON responses.

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

/// What a 503 tells the client to wait before resending: the store already spent its
/// retry budget, so a short pause gives throttling time to clear.
pub const RETRY_AFTER_SECONDS: u16 = 1;

/// `body` as JSON with `status`.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let (status, text) = match serde_json::to_string(body) {
        Ok(text) => (status, text),
        // Our response types are plain structs; this only guards against a future one
        // that cannot serialize, without a panic inside the runtime.
        Err(error) => {
            tracing::error!(%error, "response did not serialize");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"error":{"code":"internal_error","message":"internal error"}}"#.to_owned(),
            )
        }
    };
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}
