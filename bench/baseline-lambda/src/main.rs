//! The yardstick of `bench/coldstart`: the least a Lambda of this project can be. A
//! `lambda_http` handler with an `aws-sdk-dynamodb` client built at cold start the way
//! `event_runtime::aws::connect_store` builds it (standard provider chain, one warm-up GetItem so
//! the connection is open before the first `/next`), answering one GetItem per request. No
//! logging, no settings, no domain code: what the functions weigh above this is theirs.

use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_http::{service_fn, Body, Error, Request, Response};

/// One GetItem on a key nobody writes; the answer says whether the item was there.
async fn get_item(client: &Client, table: &str) -> Result<bool, aws_sdk_dynamodb::Error> {
    let output = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S("BASELINE".to_owned()))
        .key("sk", AttributeValue::S("-".to_owned()))
        .send()
        .await?;
    Ok(output.item.is_some())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let table: &'static str = Box::leak(
        std::env::var("TABLE_NAME")
            .unwrap_or_else(|_| "events".to_owned())
            .into_boxed_str(),
    );
    let sdk_config = aws_config::load_from_env().await;
    // As `DynamoStore::new` does: SDK retries off, a 3 s attempt timeout.
    let client = Client::new(&sdk_config);
    let sdk = client.config();
    let timeouts = sdk
        .timeout_config()
        .map(TimeoutConfig::to_builder)
        .unwrap_or_default()
        .operation_attempt_timeout(Duration::from_secs(3))
        .build();
    let sdk = sdk
        .to_builder()
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts)
        .build();
    let client: &'static Client = Box::leak(Box::new(Client::from_conf(sdk)));
    // The functions' warm-up: pay DNS/TCP/TLS here, not on the first request.
    let _ = get_item(client, table).await;
    lambda_http::run(service_fn(move |_req: Request| async move {
        let (status, body) = match get_item(client, table).await {
            Ok(found) => (200, format!("{{\"hello\":\"world\",\"found\":{found}}}")),
            Err(err) => (502, format!("{{\"error\":{:?}}}", err.to_string())),
        };
        Ok::<_, Error>(
            Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Body::from(body))?,
        )
    }))
    .await
}
