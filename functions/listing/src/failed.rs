//! `GET /events/failed?client_id=&limit=&cursor=` (raw bodies previewed) and
//! `GET /events/failed/{failed_id}` (the whole raw body).

use event_http::{params, ApiError, Query, Reply};
use event_runtime::{store_error, Ctx};
use event_store::{FailedQuery, Store};
use lambda_http::http::StatusCode;

use crate::views::{FailedView, PageView};

/// Without `client_id`: every failed record of the caller's tenant, those without a valid
/// client id included (they belong to the tenant whose key sent them).
pub(crate) async fn list<S: Store>(ctx: &Ctx<'_, S>, query: &Query) -> Result<Reply, ApiError> {
    let client_id = params::optional_client_id(query)?;
    if let Some(client) = &client_id {
        ctx.caller.check_client(client)?;
    }
    let store_query = FailedQuery {
        client_id,
        limit: params::limit(query)?,
        cursor: params::cursor(query),
    };
    let page = ctx
        .store
        .list_failed(&store_query)
        .await
        .map_err(store_error)?;
    let body = PageView {
        // As for processed events: a narrowed key sees its clients' records only.
        items: page
            .items
            .iter()
            .filter(|record| ctx.caller.sees(record.client_id.as_ref()))
            .map(FailedView::preview)
            .collect(),
        next_cursor: page.next_cursor,
    };
    Reply::json(StatusCode::OK, &body, "listed")
}

pub(crate) async fn one<S: Store>(ctx: &Ctx<'_, S>, id: &str) -> Result<Reply, ApiError> {
    let record = ctx.failed_record(id).await?;
    Reply::json(StatusCode::OK, &FailedView::whole(&record), "found")
}
