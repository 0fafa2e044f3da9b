//! The `aggregates` function: `GET /aggregates?client_id=X&from=Y&to=Z[&metric=M]`, the
//! count and exact total of a client's processed events with `from <= timestamp < to`, and
//! `GET /aggregates/hourly` with the same parameters (on whole hours, at most 31 days): one
//! bucket per hour, read from the hourly aggregate items only.

use event_core::{AmountSum, ClientId, EventTimestamp, Metric};
use event_http::{params, resolve, serve, ApiError, Query, Reply, RequestMeta, Route};
use event_runtime::{store_error, App, Ctx, Scope};
use event_store::{AggregateQuery, HourlyQuery, Store};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Totals,
    Hourly,
}

/// Each route with the key scope it needs (api/openapi.yaml's `x-required-scope`).
const ROUTES: [Route<(Endpoint, Scope)>; 2] = [
    Route::new(Method::GET, "/aggregates", (Endpoint::Totals, Scope::Read)),
    Route::new(
        Method::GET,
        "/aggregates/hourly",
        (Endpoint::Hourly, Scope::Read),
    ),
];

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

#[derive(Serialize)]
struct Series<'a> {
    client_id: &'a ClientId,
    from: EventTimestamp,
    to: EventTimestamp,
    metric: Option<&'a Metric>,
    buckets: Vec<Bucket>,
}

#[derive(Serialize)]
struct Bucket {
    hour: EventTimestamp,
    count: u64,
    total_amount: AmountSum,
}

async fn route<S: Store>(req: Request, meta: RequestMeta, app: &App<S>) -> Result<Reply, ApiError> {
    let ((endpoint, scope), _) = resolve(&ROUTES, &meta)?;
    let ctx = app.authorize(&req, scope).await?;
    let query = Query::of(&req);
    let work = async {
        let client_id = params::required_client_id(&query)?;
        tracing::Span::current().record("client_id", client_id.as_str());
        ctx.caller.check_client(&client_id)?;
        match endpoint {
            Endpoint::Totals => totals(&ctx, &query, client_id).await,
            Endpoint::Hourly => hourly(&ctx, &query, client_id).await,
        }
    };
    ctx.within_read_limit(&meta.request_id, work).await
}

async fn totals<S: Store>(
    ctx: &Ctx<'_, S>,
    query: &Query,
    client_id: ClientId,
) -> Result<Reply, ApiError> {
    let (from, to) = params::time_range(query)?;
    let store_query = AggregateQuery {
        client_id,
        from,
        to,
        metric: params::optional_metric(query)?,
    };
    let totals = ctx
        .store
        .aggregate(&store_query)
        .await
        .map_err(store_error)?;
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

async fn hourly<S: Store>(
    ctx: &Ctx<'_, S>,
    query: &Query,
    client_id: ClientId,
) -> Result<Reply, ApiError> {
    let (from, to) = params::hourly_range(query)?;
    let store_query = HourlyQuery {
        client_id,
        from,
        to,
        metric: params::optional_metric(query)?,
    };
    let buckets = ctx
        .store
        .aggregate_hourly(&store_query)
        .await
        .map_err(store_error)?;
    let body = Series {
        client_id: &store_query.client_id,
        from,
        to,
        metric: store_query.metric.as_ref(),
        buckets: buckets
            .into_iter()
            .map(|b| Bucket {
                hour: b.hour,
                count: b.count,
                total_amount: b.total,
            })
            .collect(),
    };
    Reply::json(StatusCode::OK, &body, "aggregated")
}
