//! What an uncached API key costs: the two reads `authenticate` makes on a cache miss (the key's
//! pointer, then its tenant) against the stack's DynamoDB, next to one bare GetItem of a key
//! that does not exist (the least a lookup can cost) in the same run.
//!
//!   cargo run -p integration-tests --example auth_reads -- 200     (a stack must be up)

use std::time::{Duration, Instant};

use event_runtime::api_key::key_hash;
use event_store::{DynamoStore, Store, TenantId};
use integration_tests::{dynamo_client, new_tenant, stack_store_config};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() * 99 / 100]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let client = dynamo_client().await;
    let config = stack_store_config();
    let table = config.table_name.clone();
    let store = DynamoStore::new(client.clone(), config);
    let (tenant, key) = new_tenant("bench", "bench-*").await;
    let (tenant, hash) = (TenantId::parse(&tenant).unwrap(), key_hash(&key));

    let (mut lookups, mut bare) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let started = Instant::now();
        let found = store.tenant_of_key(&hash).await.unwrap().unwrap();
        store.get_tenant(&found).await.unwrap().unwrap();
        lookups.push(started.elapsed());
        assert_eq!(found, tenant);

        let started = Instant::now();
        client
            .get_item()
            .table_name(&table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S("none".into()),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("none".into()),
            )
            .send()
            .await
            .unwrap();
        bare.push(started.elapsed());
    }
    let (lookup, base) = (median(lookups.clone()), median(bare.clone()));
    println!(
        "{runs} runs: uncached key lookup (2 GetItems) median {lookup:?} p99 {:?}; bare GetItem median {base:?} p99 {:?}; ratio {:.2}",
        p99(lookups),
        p99(bare),
        lookup.as_secs_f64() / base.as_secs_f64()
    );
}
