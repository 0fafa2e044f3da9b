//! What a key may read: every listing route needs the `read` scope (an ingest-only key shipped
//! in a page or an app reads nothing: 403 `forbidden_scope`, and no item), and a key narrowed to
//! some of its tenant's clients lists, and opens, only theirs.

mod common;

use common::*;
use event_store::{FailedStatus, MemoryStore, Store, TenantId};
use lambda_http::http::StatusCode;
use lambda_http::Request;

fn get_as(key: &str, path: &str, query: &str) -> Request {
    request("http_v2_get.json", |event| {
        event["rawPath"] = path.into();
        event["rawQueryString"] = query.into();
        with_key(event, Some(key));
    })
}

fn acme(store: &MemoryStore) -> MemoryStore {
    store.for_tenant(&TenantId::parse("acme").unwrap())
}

/// Tenant acme (acme-*) with events of acme-ios and acme-web and a failed record of each.
/// Returns the failed ids (ios, web).
async fn acme_with_two_clients(store: &MemoryStore) -> (String, String) {
    add_tenant(store, "acme", "acme-*");
    for client in ["acme-ios", "acme-web"] {
        seed(&acme(store), client, "1", "2026-11-20T01:00:00Z").await;
    }
    let ios = seed_failed(&acme(store), Some("acme-ios"), "{}", FailedStatus::Failed).await;
    let web = seed_failed(&acme(store), Some("acme-web"), "{}", FailedStatus::Failed).await;
    (ios, web)
}

#[tokio::test]
async fn every_listing_route_answers_only_keys_with_the_read_scope() {
    for scopes in [
        "ingest",
        "replay",
        "ingest,replay",
        "read",
        "ingest,read,replay",
    ] {
        let app = app();
        let (ios, _) = acme_with_two_clients(&app.store).await;
        let key = add_scoped_key(&app.store, "acme", scopes, None).await;
        let one = format!("/events/failed/{ios}");
        for (path, query) in [
            ("/events/processed", ""),
            ("/events/processed", "client_id=acme-ios"),
            ("/events/failed", ""),
            (one.as_str(), ""),
            ("/usage", ""),
        ] {
            let answer = call(&app, get_as(&key, path, query)).await;
            let case = format!("{path}?{query} with a key of {scopes}: {}", answer.body);
            if scopes.contains("read") {
                assert_eq!(answer.status, StatusCode::OK, "{case}");
            } else {
                assert_eq!(answer.status, StatusCode::FORBIDDEN, "{case}");
                assert_eq!(answer.body["error"]["code"], "forbidden_scope", "{case}");
                assert!(
                    answer.body["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains("the read scope"),
                    "{case}"
                );
                assert!(answer.body.get("items").is_none(), "{case}: no data");
                assert!(answer.body.get("raw").is_none(), "{case}: no data");
                assert!(answer.body.get("limits").is_none(), "{case}: no data");
            }
        }
    }
}

#[tokio::test]
async fn a_narrowed_key_lists_and_opens_only_its_own_clients() {
    let app = app();
    let (ios, web) = acme_with_two_clients(&app.store).await;
    // an anonymous rejected record (no valid client id) is the tenant's, not a narrowed key's
    let anonymous = seed_failed(&acme(&app.store), None, "nope", FailedStatus::Rejected).await;
    let key = add_scoped_key(&app.store, "acme", "read", Some("acme-ios")).await;
    let items = |answer: &Answer, field: &str| -> Vec<String> {
        answer.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item[field].as_str().unwrap_or("").to_owned())
            .collect()
    };

    let processed = call(&app, get_as(&key, "/events/processed", "")).await;
    assert_eq!(items(&processed, "client_id"), ["acme-ios"]);
    let failed = call(&app, get_as(&key, "/events/failed", "")).await;
    assert_eq!(items(&failed, "failed_id"), std::slice::from_ref(&ios));

    let other = call(
        &app,
        get_as(&key, "/events/processed", "client_id=acme-web"),
    )
    .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert_eq!(other.body["error"]["code"], "client_not_allowed");
    for id in [&web, &anonymous] {
        let answer = call(&app, get_as(&key, &format!("/events/failed/{id}"), "")).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
        assert_eq!(answer.body["error"]["code"], "client_not_allowed");
    }

    // the tenant's full key still sees everything
    let full = add_scoped_key(&app.store, "acme", "read", None).await;
    let all = call(&app, get_as(&full, "/events/failed", "")).await;
    assert_eq!(items(&all, "failed_id").len(), 3);
}
