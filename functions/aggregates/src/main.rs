//! Cold start of the `aggregates` function: settings, logs and the store, once; then serve.

use event_http::{aws::connect_store, telemetry::init_tracing, App, Config};
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    let store = connect_store(&config).await;
    let app = App::new(store, config);
    let app = &app;
    run(service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(aggregates::handle(req, app).await)
    }))
    .await
}
