//! The frame around every request: its span (request id on every log line), error to
//! response conversion, the one summary log line with outcome and latency, and the one
//! flush of the invocation's metrics.

use std::future::Future;
use std::time::Instant;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use tracing::Instrument;

use crate::metrics;
use crate::telemetry::log_response;
use crate::{json_response, request_span, ApiError, ErrorCode, RequestMeta};

/// A handler's answer and a one-word outcome for the logs (`processed`, `listed`, ...).
#[derive(Debug)]
pub struct Reply {
    pub response: Response<Body>,
    pub outcome: &'static str,
}

impl Reply {
    /// `body` as JSON; a body that cannot be JSON is a bug, answered `internal_error`.
    pub fn json(
        status: StatusCode,
        body: &impl Serialize,
        outcome: &'static str,
    ) -> Result<Self, ApiError> {
        match json_response(status, body) {
            Ok(response) => Ok(Reply { response, outcome }),
            Err(error) => {
                tracing::error!(%error, "response did not serialize");
                Err(ErrorCode::InternalError.into())
            }
        }
    }
}

/// Run `handler` for `req` inside its request span; errors become error bodies.
pub async fn serve<F, Fut>(req: Request, handler: F) -> Response<Body>
where
    F: FnOnce(Request, RequestMeta) -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    let started = Instant::now();
    let meta = RequestMeta::of(&req);
    let span = request_span!(meta);
    let request_id = meta.request_id.clone();
    async move {
        let reply = match handler(req, meta).await {
            Ok(reply) => reply,
            Err(error) => Reply {
                outcome: error.code(),
                response: error.into_response(&request_id),
            },
        };
        let status = reply.response.status();
        log_response(status.as_u16(), reply.outcome, started);
        metrics::count_response(status);
        metrics::flush(&request_id);
        reply.response
    }
    .instrument(span)
    .await
}
