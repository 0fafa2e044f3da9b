//! A function's cold start: logs, metrics, settings and the DynamoDB-backed store, once;
//! then the Lambda loop.

use std::convert::Infallible;
use std::future::Future;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_sdk_dynamodb::config::{BehaviorVersion, Region};
use aws_smithy_http_client::tls;
use event_http::telemetry::init_tracing;
use event_store::{DynamoStore, StoreConfig};
use lambda_http::{service_fn, Body, Request, Response};

use crate::app::App;
use crate::config::Config;

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
    event_http::metrics::init();
    let config = Config::from_env()?;
    if !config.auth.enabled {
        tracing::warn!(
            tenant = %config.store.tenant,
            "AUTH=off: EVERY REQUEST IS SERVED WITHOUT AN API KEY, as tenant {} owning every \
             client id. For local experiments only; never deploy this.",
            config.store.tenant
        );
    }
    let store = connect_store(&config, fanout).await?;
    // One app for the life of the process; leaking it lets each invocation borrow it.
    let app: &'static App<DynamoStore> = Box::leak(Box::new(App::new(store, config)));
    lambda_http::run(service_fn(move |req: Request| {
        let reply = handle(req, app);
        async move { Ok::<_, Infallible>(reply.await) }
    }))
    .await
}

/// A `DynamoStore` over a client configured from the environment Lambda sets (see
/// `dynamodb_config`), with `fanout`'s connections already open: the cold start pays for
/// DNS/TCP/TLS, not the first request.
pub async fn connect_store(
    config: &Config,
    fanout: Fanout,
) -> Result<DynamoStore, lambda_http::Error> {
    let sdk = dynamodb_config(|name| std::env::var(name).ok())?;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(sdk),
        config.store.clone(),
    );
    store.warm_up(fanout.connections(&config.store)).await;
    Ok(store)
}

/// The DynamoDB client's configuration from what Lambda puts in a function's environment:
/// the region (`AWS_REGION`), the execution role's credentials (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and, locally, the endpoint
/// (`AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`). Not aws-config's default chain: its
/// profile files, web identity (STS), container and instance-metadata providers are code a
/// Lambda never runs (their size in each binary: BENCHMARKS.md, "Cold start, part 2").
pub fn dynamodb_config(
    get: impl Fn(&str) -> Option<String>,
) -> Result<aws_sdk_dynamodb::Config, String> {
    let get = |name: &str| get(name).filter(|value| !value.is_empty());
    let region = get("AWS_REGION")
        .or_else(|| get("AWS_DEFAULT_REGION"))
        .ok_or("AWS_REGION is not set: the region of the DynamoDB table")?;
    let mut sdk = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .http_client(https_client());
    if let Some(endpoint) = endpoint_url(get) {
        sdk = sdk.endpoint_url(endpoint);
    }
    Ok(sdk.build())
}

/// The HTTPS client of every AWS call here and of tools/admin: rustls over ring rather than
/// the SDK's default aws-lc, the same TLS to DynamoDB in a smaller binary with a sooner first
/// handshake (measured in BENCHMARKS.md, "Cold start, part 2"), and no aws-lc C library to
/// compile before a first `make dev` can register its key.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// `AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL` (none: DynamoDB's own for the region).
fn endpoint_url(get: impl Fn(&str) -> Option<String>) -> Option<String> {
    get("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| get("AWS_ENDPOINT_URL"))
}

#[cfg(test)]
mod tests {
    use super::{dynamodb_config, endpoint_url};
    use crate::config::tests::lookup;

    #[test]
    fn the_region_comes_from_aws_region_then_aws_default_region() {
        let config = dynamodb_config(lookup(&[("AWS_REGION", "eu-west-1")])).unwrap();
        assert_eq!(config.region().unwrap().as_ref(), "eu-west-1");
        let config = dynamodb_config(lookup(&[
            ("AWS_REGION", ""),
            ("AWS_DEFAULT_REGION", "us-east-2"),
        ]))
        .unwrap();
        assert_eq!(config.region().unwrap().as_ref(), "us-east-2");
    }

    #[test]
    fn without_a_region_the_cold_start_fails_with_a_sentence() {
        let err = dynamodb_config(lookup(&[])).unwrap_err();
        assert!(err.contains("AWS_REGION"), "{err}");
    }

    #[test]
    fn the_dynamodb_endpoint_wins_over_the_general_one_and_none_is_aws() {
        let both = lookup(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
        ]);
        assert_eq!(endpoint_url(both).as_deref(), Some("http://127.0.0.1:8000"));
        let general = lookup(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")]);
        assert_eq!(
            endpoint_url(general).as_deref(),
            Some("http://127.0.0.1:4566")
        );
        assert_eq!(endpoint_url(lookup(&[])), None);
    }
}
