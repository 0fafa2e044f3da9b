//! JSON responses.

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

/// What a 503 tells the client to wait before resending: the store already spent its
/// retry budget, so a short pause gives throttling time to clear.
pub const RETRY_AFTER_SECONDS: u16 = 1;

/// `body` as JSON with `status`. Fails only for a value that cannot be JSON (a map with
/// non-string keys): the caller answers `internal_error` with the request id instead.
pub fn json_response(
    status: StatusCode,
    body: &impl Serialize,
) -> Result<Response<Body>, serde_json::Error> {
    let text = serde_json::to_string(body)?;
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
