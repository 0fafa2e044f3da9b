//! `GET /events/failed?client_id=&limit=&cursor=` (raw bodies previewed) and
//! `GET /events/failed/{failed_id}` (the whole raw body).

use event_http::{params, ApiError, App, ErrorCode, Query, Reply};
use event_store::{FailedId, FailedQuery, Store};
use lambda_http::http::StatusCode;

use crate::views::{FailedView, PageView};

pub(crate) async fn list<S: Store>(app: &App<S>, query: &Query) -> Result<Reply, ApiError> {
    let store_query = FailedQuery {
        client_id: params::optional_client_id(query)?,
        limit: params::limit(query)?,
        cursor: params::cursor(query),
    };
    let page = app.store.list_failed(&store_query).await?;
    let body = PageView {
        items: page.items.iter().map(FailedView::preview).collect(),
        next_cursor: page.next_cursor,
    };
    Reply::json(StatusCode::OK, &body, "listed")
}

pub(crate) async fn one<S: Store>(app: &App<S>, id: &str) -> Result<Reply, ApiError> {
    let record = app
        .store
        .get_failed(&FailedId(id.to_owned()))
        .await?
        .ok_or_else(|| {
            ApiError::with_message(
                ErrorCode::NotFound,
                "No failed or rejected event has this id.",
            )
        })?;
    Reply::json(StatusCode::OK, &FailedView::whole(&record), "found")
}
