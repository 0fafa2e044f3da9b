//! The `ingest` function: `POST /events` (one event or a batch) and its CORS preflight
//! `OPTIONS /events`, `POST /events/failed/{failed_id}/retry` and the bulk replay
//! `POST /events/failed/retry`.

mod batch;
mod outcome;
mod replay;
mod retry;
mod single;

use event_core::{parse_body, Body as EventsBody};
use event_http::{
    body_bytes, cors, resolve, serve, ApiError, ErrorCode, EventStatus, Reply, RequestMeta, Route,
};
use event_runtime::{with_limit_headers, Admission, App, LimitState, Scope};
use event_store::{Meter, Store};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    PostEvents,
    Retry,
    Replay,
}

/// Each keyed route with the key scope it needs (api/openapi.yaml's `x-required-scope`).
const ROUTES: [Route<(Endpoint, Scope)>; 3] = [
    Route::new(
        Method::POST,
        "/events",
        (Endpoint::PostEvents, Scope::Ingest),
    ),
    Route::new(
        Method::POST,
        "/events/failed/{failed_id}/retry",
        (Endpoint::Retry, Scope::Replay),
    ),
    Route::new(
        Method::POST,
        "/events/failed/retry",
        (Endpoint::Replay, Scope::Replay),
    ),
];

/// The browsers' preflight of `POST /events`: no key (browsers send none with it).
const PREFLIGHT: [Route<()>; 1] = [Route::new(Method::OPTIONS, "/events", ())];

/// Answer one request. Generic over the store so tests run it on `MemoryStore`.
pub async fn handle<S: Store>(req: Request, app: &App<S>) -> Response<Body> {
    // CORS is for POST /events only: every answer of it (errors included, so a page can read
    // a 401 or 403) carries the allowed origin; other routes stay closed to browsers.
    let meta = RequestMeta::of(&req);
    let cors_headers = matches!(resolve(&ROUTES, &meta), Ok(((Endpoint::PostEvents, _), _)))
        .then(|| req.headers().clone());
    let mut response = serve(req, |req, meta| route(req, meta, app)).await;
    if let Some(headers) = cors_headers {
        cors::decorate(&mut response, &app.config.allowed_origins, &headers);
    }
    response
}

async fn route<S: Store>(req: Request, meta: RequestMeta, app: &App<S>) -> Result<Reply, ApiError> {
    if resolve(&PREFLIGHT, &meta).is_ok() {
        return Ok(Reply {
            response: cors::preflight(&app.config.allowed_origins, req.headers()),
            outcome: "preflight",
        });
    }
    let ((endpoint, scope), params) = resolve(&ROUTES, &meta)?;
    let ctx = app.authorize(&req, scope).await?;
    // The tenant's limits as this request left them, for the RateLimit headers.
    let mut limit_state: Option<LimitState> = None;
    let work = async {
        match endpoint {
            Endpoint::PostEvents => {
                // One clock reading per request: every event of a batch is received together.
                let now = ctx.now();
                let body = parse_body(body_bytes(&req))?;
                // Limits count events: a batch spends its size, and one that does not fit
                // is refused whole, before anything is written.
                let events = match &body {
                    EventsBody::Single(_) => 1,
                    EventsBody::Batch(items) => items.len() as u64,
                };
                let admission = ctx.admit(Meter::Events, events).await;
                limit_state = admission.state().copied();
                if let Admission::Refused { error, .. } = admission {
                    return Err(error);
                }
                match body {
                    EventsBody::Single(raw) => single::post(&ctx, raw, now, &meta.request_id).await,
                    EventsBody::Batch(items) => batch::post(&ctx, &items, now).await,
                }
            }
            Endpoint::Retry => {
                let id = params.get("failed_id").unwrap_or_default();
                retry::post(&ctx, id, &meta.request_id).await
            }
            Endpoint::Replay => replay::post(&ctx, body_bytes(&req)).await,
        }
    };
    // The store gives up at the deadline by itself (`Ctx::store`); this is the backstop for
    // anything else that is slow. Whatever was in flight is dropped: a commit may still land,
    // and then the resend the 503 asks for is a duplicate.
    let answer = match tokio::time::timeout_at(ctx.backstop().into(), work).await {
        Ok(reply) => reply,
        Err(_) => {
            tracing::warn!("request deadline passed before an answer; answered unavailable");
            // One event (a single POST or a retry): a batch and a replay answer by their own
            // backstop at the same instant, item by item, and are counted there.
            event_http::metrics::count_event(EventStatus::Unavailable);
            Err(ErrorCode::StorageUnavailable.into())
        }
    };
    with_limit_headers(limit_state, answer, &meta.request_id)
}
