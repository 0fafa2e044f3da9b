//! Cold start of the `dashboard` function: logs, then the Lambda loop. No settings and no
//! store: everything it serves is in the binary.

use std::convert::Infallible;

use lambda_http::{service_fn, Request};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    event_http::telemetry::init_tracing();
    lambda_http::run(service_fn(|req: Request| async {
        Ok::<_, Infallible>(dashboard::handle(req).await)
    }))
    .await
}
