//! Cold start of the `ingest` function: see `event_http::aws::run_function`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    event_http::aws::run_function(ingest::handle).await
}
