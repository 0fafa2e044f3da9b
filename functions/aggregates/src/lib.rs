//! The `aggregates` function: `GET /aggregates?client_id=X&from=Y&to=Z[&metric=M]`, the
//! count and exact total of a client's processed events with `from <= timestamp < to`.

use event_core::{AmountSum, ClientId, EventTimestamp, Metric};
use event_http::{params, resolve, serve, ApiError, App, Query, Reply, RequestMeta, Route};
use event_store::{AggregateQuery, Store};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

const ROUTES: [Route<()>; 1] = [Route::new(Method::GET, "/aggregates", ())];

/// Answer one request. Generic over the store so tests run it on `MemoryStore`.
pub async fn handle<S: Store>(req: Request, app: &App<S>) -> Response<Body> {
    serve(req, |req, meta| route(req, meta, app)).await
}

#[derive(Serialize)]
struct Totals<'a> {
    client_id: &'a ClientId,
    /// Normalized RFC 3339, or `null` when the range is open on that side.
    from: Option<EventTimestamp>,
    to: Option<EventTimestamp>,
    metric: Option<&'a Metric>,
    count: u64,
    /// An exact decimal string (never through f64).
    total_amount: AmountSum,
}

async fn route<S: Store>(req: Request, meta: RequestMeta, app: &App<S>) -> Result<Reply, ApiError> {
    resolve(&ROUTES, &meta)?;
    let ctx = app.authorize(&req).await?;
    let query = Query::of(&req);
    let client_id = params::required_client_id(&query)?;
    tracing::Span::current().record("client_id", client_id.as_str());
    ctx.caller.check_client(&client_id)?;
    let (from, to) = params::time_range(&query)?;
    let metric = params::optional_metric(&query)?;
    let store_query = AggregateQuery {
        client_id,
        from,
        to,
        metric,
    };
    let totals = ctx.store.aggregate(&store_query).await?;
    let body = Totals {
        client_id: &store_query.client_id,
        from,
        to,
        metric: store_query.metric.as_ref(),
        count: totals.count,
        total_amount: totals.total,
    };
    Reply::json(StatusCode::OK, &body, "aggregated")
}
