//! The `listing` function: `GET /events/processed`, `GET /events/failed`,
//! `GET /events/failed/{failed_id}` and `GET /usage`, each within the tenant's read limit.

mod failed;
mod processed;
mod usage;
mod views;

use event_http::{resolve, serve, ApiError, Query, Reply, RequestMeta, Route};
use event_runtime::{App, Scope};
use event_store::Store;
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};

pub use views::RAW_PREVIEW_BYTES;

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Processed,
    Failed,
    OneFailed,
    Usage,
}

/// Each route with the key scope it needs (api/openapi.yaml's `x-required-scope`).
const ROUTES: [Route<(Endpoint, Scope)>; 4] = [
    Route::new(
        Method::GET,
        "/events/processed",
        (Endpoint::Processed, Scope::Read),
    ),
    Route::new(
        Method::GET,
        "/events/failed",
        (Endpoint::Failed, Scope::Read),
    ),
    Route::new(
        Method::GET,
        "/events/failed/{failed_id}",
        (Endpoint::OneFailed, Scope::Read),
    ),
    Route::new(Method::GET, "/usage", (Endpoint::Usage, Scope::Read)),
];

/// Answer one request. Generic over the store so tests run it on `MemoryStore`.
pub async fn handle<S: Store>(req: Request, app: &App<S>) -> Response<Body> {
    serve(req, |req, meta| route(req, meta, app)).await
}

async fn route<S: Store>(req: Request, meta: RequestMeta, app: &App<S>) -> Result<Reply, ApiError> {
    let ((endpoint, scope), params) = resolve(&ROUTES, &meta)?;
    let ctx = app.authorize(&req, scope).await?;
    let query = Query::of(&req);
    let work = async {
        match endpoint {
            Endpoint::Processed => processed::list(&ctx, &query).await,
            Endpoint::Failed => failed::list(&ctx, &query).await,
            Endpoint::OneFailed => {
                failed::one(&ctx, params.get("failed_id").unwrap_or_default()).await
            }
            Endpoint::Usage => usage::show(&ctx).await,
        }
    };
    ctx.within_read_limit(&meta.request_id, work).await
}
