//! Cold start of the `listing` function: see `event_runtime::aws::run_function`.

// The future of `run_function` holds the handler's, which holds the AWS SDK's: rustc's layout
// computation for it nests deeper than the default limit of 128 queries.
#![recursion_limit = "256"]

use event_runtime::aws::Fanout;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    event_runtime::aws::run_function(listing::handle, Fanout::EventShards).await
}
