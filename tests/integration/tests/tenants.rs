//! Tenants over real HTTP: two tenants with their own keys, and neither can write, read,
//! list, aggregate or retry the other's client ids, with its own cursors or the other's,
//! tampered or not; requests without a usable key get 401; a revoked key is refused once the
//! functions' key cache time has passed.

use std::time::Duration;

use event_runtime::api_key::key_hash;
use event_store::{DynamoStore, Store, TenantId};
use integration_tests::{
    assert_error, dynamo_client, encode, new_tenant, stack_setting, stack_store_config,
    unique_client, Api, StatusCode,
};
use serde_json::{json, Value};

/// A tenant owning `{prefix}-*`, its key's client, and one processed and one failed event.
struct Tenant {
    api: Api,
    name: String,
    key: String,
    client: String,
    failed_id: String,
}

async fn tenant(prefix: &str) -> Tenant {
    let client_prefix = unique_client(prefix);
    let (name, key) = new_tenant(prefix, &format!("{client_prefix}-*")).await;
    let api = Api::new().with_key(Some(&key));
    let client = format!("{client_prefix}-prod");
    for hour in 1..=3 {
        let event = json!({"client_id": client, "payload": {"amount": hour,
            "timestamp": format!("2026-11-20T0{hour}:00:00Z")}});
        assert_eq!(
            api.post("/events", &event).await.status,
            StatusCode::CREATED
        );
    }
    let failing = json!({"client_id": client, "simulateFailure": true,
        "payload": {"timestamp": "2026-11-20T05:00:00Z"}});
    let kept = api.post("/events", &failing).await;
    assert_eq!(
        kept.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        kept.body
    );
    Tenant {
        failed_id: kept.body["failed_id"].as_str().unwrap().to_owned(),
        api,
        name,
        key,
        client,
    }
}

fn clients(reply: &Value) -> Vec<&str> {
    reply["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["client_id"].as_str().unwrap_or("-"))
        .collect()
}

#[tokio::test]
async fn two_tenants_never_write_or_read_each_others_clients() {
    let (a, b) = tokio::join!(tenant("ta"), tenant("tb"));
    let b_client = encode(&b.client);

    // write: single and batch
    let theirs =
        json!({"client_id": b.client, "payload": {"amount": 1, "timestamp": 1_763_625_600}});
    assert_error(
        &a.api.post("/events", &theirs).await,
        403,
        "client_not_allowed",
    );
    let mine = json!({"client_id": a.client, "payload": {"amount": 9, "timestamp": 1_763_625_600}});
    let batch = a
        .api
        .post("/events", &json!({"events": [mine, theirs]}))
        .await;
    assert_eq!(batch.status, StatusCode::OK);
    assert_eq!(batch.body["results"][0]["status"], "processed");
    assert_eq!(
        batch.body["results"][1]["error"]["code"],
        "client_not_allowed"
    );
    assert!(batch.body["results"][1].get("failed_id").is_none());

    // read, list, aggregate, retry
    for path in [
        format!("/events/processed?client_id={b_client}"),
        format!("/events/failed?client_id={b_client}"),
        format!("/aggregates?client_id={b_client}"),
    ] {
        assert_error(&a.api.get(&path).await, 403, "client_not_allowed");
    }
    let failed = format!("/events/failed/{}", b.failed_id);
    assert_error(&a.api.get(&failed).await, 404, "not_found");
    let retry = format!("/events/failed/{}/retry", b.failed_id);
    assert_error(&a.api.post(&retry, &json!({})).await, 404, "not_found");

    // listings without client_id: each tenant's own clients only (the feed index lags ~1 s)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for (tenant, other) in [(&a, &b), (&b, &a)] {
        let processed = tenant.api.get("/events/processed?limit=500").await;
        let listed = clients(&processed.body);
        assert!(!listed.is_empty());
        assert!(listed.iter().all(|c| *c == tenant.client), "{listed:?}");
        let failed = tenant.api.get("/events/failed?limit=500").await;
        assert!(clients(&failed.body).iter().all(|c| *c == tenant.client));
        assert!(!failed.body.to_string().contains(&other.failed_id));
    }

    // b's events still count once, untouched by a's attempts
    let totals = b
        .api
        .get(&format!("/aggregates?client_id={b_client}"))
        .await;
    assert_eq!(totals.body["count"], 3);
    assert_eq!(totals.body["total_amount"], "6");
}

#[tokio::test]
async fn cursors_never_cross_tenants_and_crafted_ones_are_refused() {
    let (a, b) = tokio::join!(tenant("ca"), tenant("cb"));
    let query = format!("client_id={}&limit=1", encode(&b.client));
    let b_page = b.api.get(&format!("/events/processed?{query}")).await;
    let b_cursor = b_page.body["next_cursor"]
        .as_str()
        .expect("more pages")
        .to_owned();
    let feed_page = b.api.get("/events/processed?limit=1").await;
    let feed_cursor = feed_page.body["next_cursor"]
        .as_str()
        .expect("more")
        .to_owned();

    // b's cursor with a's own query, and with a's feed
    let a_query = format!("client_id={}&limit=1", encode(&a.client));
    for path in [
        format!("/events/processed?{a_query}&cursor={}", encode(&b_cursor)),
        format!("/events/processed?limit=1&cursor={}", encode(&feed_cursor)),
    ] {
        assert_error(&a.api.get(&path).await, 400, "invalid_cursor");
    }
    // a tampered cursor, and b's own query sent with a's key
    let mut tampered = b_cursor.clone().into_bytes();
    tampered.truncate(tampered.len() - 3);
    let tampered = String::from_utf8(tampered).unwrap();
    assert_error(
        &b.api
            .get(&format!(
                "/events/processed?{query}&cursor={}",
                encode(&tampered)
            ))
            .await,
        400,
        "invalid_cursor",
    );
    assert_error(
        &a.api
            .get(&format!(
                "/events/processed?{query}&cursor={}",
                encode(&b_cursor)
            ))
            .await,
        403,
        "client_not_allowed",
    );
}

#[tokio::test]
async fn requests_without_a_usable_key_get_401_on_every_route() {
    let anonymous = Api::new().with_key(None);
    let wrong = Api::new().with_key(Some("eik_0000000000000000000000000000000000000000000"));
    let event = json!({"client_id": "x", "payload": {"timestamp": 0}});
    for api in [&anonymous, &wrong] {
        assert_error(&api.post("/events", &event).await, 401, "unauthorized");
        assert_error(
            &api.post("/events/failed/x/retry", &json!({})).await,
            401,
            "unauthorized",
        );
        for path in [
            "/events/processed",
            "/events/failed",
            "/events/failed/x",
            "/aggregates?client_id=x",
        ] {
            assert_error(&api.get(path).await, 401, "unauthorized");
        }
    }
}

#[tokio::test]
async fn a_revoked_key_is_refused_after_the_cache_time() {
    let t = tenant("rv").await;
    let client = encode(&t.client);
    let path = format!("/aggregates?client_id={client}");
    assert_eq!(t.api.get(&path).await.status, StatusCode::OK);

    let store = DynamoStore::new(dynamo_client().await, stack_store_config());
    let revoked = store
        .revoke_key(&TenantId::parse(&t.name).unwrap(), &key_hash(&t.key))
        .await
        .unwrap();
    assert!(revoked);
    let cache: u64 = stack_setting("AUTH_CACHE_SECONDS")
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    tokio::time::sleep(Duration::from_secs(cache) + Duration::from_millis(500)).await;

    // every function instance has now dropped what it cached
    for _ in 0..6 {
        assert_error(&t.api.get(&path).await, 401, "unauthorized");
    }
}
