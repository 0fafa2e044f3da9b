//! A function's cold start: logs, metrics, settings and the DynamoDB-backed store, once;
//! then the Lambda loop.

use std::convert::Infallible;
use std::future::Future;

use aws_smithy_http_client::tls;
use event_store::{DynamoStore, StoreConfig};
use lambda_http::{service_fn, Body, Request, Response};

use crate::telemetry::init_tracing;
use crate::{App, Config};

/// How many DynamoDB requests one invocation of a function sends at once, so that its cold
/// start opens that many connections and its first invocation opens none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fanout {
    /// One request at a time (ingest: key reads, then one transaction).
    One,
    /// One query per event shard at once (listings).
    EventShards,
    /// Aggregates: one query per aggregate shard for the range's whole hours, and one per event
    /// shard for each of the (up to two) partial hours at its edges, all at once.
    Aggregates,
}

impl Fanout {
    pub fn connections(self, store: &StoreConfig) -> u32 {
        match self {
            Fanout::One => 1,
            Fanout::EventShards => store.event_shards,
            Fanout::Aggregates => store.aggregate_shards + 2 * store.event_shards,
        }
    }
}

/// The whole `main` of a function: JSON logs, `Config` from the environment, the store with
/// as many connections open as `fanout` says, then every invocation answered by `handle`.
pub async fn run_function<F, Fut>(handle: F, fanout: Fanout) -> Result<(), lambda_http::Error>
where
    F: Fn(Request, &'static App<DynamoStore>) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    init_tracing();
    crate::metrics::init();
    let config = Config::from_env()?;
    if !config.auth.enabled {
        tracing::warn!(
            tenant = %config.store.tenant,
            "AUTH=off: EVERY REQUEST IS SERVED WITHOUT AN API KEY, as tenant {} owning every \
             client id. For local experiments only; never deploy this.",
            config.store.tenant
        );
    }
    let store = connect_store(&config, fanout).await;
    // One app for the life of the process; leaking it lets each invocation borrow it.
    let app: &'static App<DynamoStore> = Box::leak(Box::new(App::new(store, config)));
    lambda_http::run(service_fn(move |req: Request| {
        let reply = handle(req, app);
        async move { Ok::<_, Infallible>(reply.await) }
    }))
    .await
}

/// A `DynamoStore` over a client from the standard provider chain (region, credentials,
/// and `AWS_ENDPOINT_URL` when set, which points it at LocalStack locally), with `fanout`'s
/// connections already open: the cold start pays for DNS/TCP/TLS, not the first request.
pub async fn connect_store(config: &Config, fanout: Fanout) -> DynamoStore {
    // rustls over ring rather than the SDK's default aws-lc: the same TLS to DynamoDB in
    // 0.74 MB less binary, and a first handshake ~30 ms sooner (BENCHMARKS.md, "Cold start,
    // part 2").
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let sdk_config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https)
        .load()
        .await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk_config),
        config.store.clone(),
    );
    store.warm_up(fanout.connections(&config.store)).await;
    store
}
