//! `GET /events/processed?client_id=&from=&to=&limit=&cursor=`: newest first, paged.

use event_http::{params, ApiError, Query, Reply};
use event_runtime::{store_error, Ctx};
use event_store::{ProcessedQuery, Store};
use lambda_http::http::StatusCode;

use crate::views::{PageView, ProcessedView};

/// Without `client_id`: every client of the caller's tenant (its feed), and no other's.
pub(crate) async fn list<S: Store>(ctx: &Ctx<'_, S>, query: &Query) -> Result<Reply, ApiError> {
    let client_id = params::optional_client_id(query)?;
    if let Some(client) = &client_id {
        ctx.caller.check_client(client)?;
    }
    let (from, to) = params::time_range(query)?;
    let store_query = ProcessedQuery {
        client_id,
        from,
        to,
        limit: params::limit(query)?,
        cursor: params::cursor(query),
    };
    let page = ctx
        .store
        .list_processed(&store_query)
        .await
        .map_err(store_error)?;
    let body = PageView {
        // A key narrowed to some clients sees only theirs in the tenant's feed; the page may
        // then hold fewer items than `limit`, and the cursor still walks the whole feed.
        items: page
            .items
            .iter()
            .filter(|record| ctx.caller.sees(Some(&record.event.client_id)))
            .map(ProcessedView::from)
            .collect(),
        next_cursor: page.next_cursor,
    };
    tracing::debug!(
        items = body.items.len(),
        more = body.next_cursor.is_some(),
        "listed"
    );
    Reply::json(StatusCode::OK, &body, "listed")
}
