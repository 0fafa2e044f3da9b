//! Cold start of the `listing` function: see `event_http::aws::run_function`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    event_http::aws::run_function(listing::handle).await
}
