//! The DynamoDB-backed store, built once at cold start.

use event_store::DynamoStore;

use crate::Config;

/// A `DynamoStore` over a client from the standard provider chain (region, credentials,
/// and `AWS_ENDPOINT_URL` when set, which points it at LocalStack locally), with its
/// connection already open: the cold start pays for DNS/TCP/TLS, not the first request.
pub async fn connect_store(config: &Config) -> DynamoStore {
    let sdk_config = aws_config::load_from_env().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk_config),
        config.store.clone(),
    );
    store.warm_up().await;
    store
}
