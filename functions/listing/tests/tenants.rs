//! Who may read: a key lists only its own tenant's events and failed records (without
//! `client_id`: all of its tenant's clients, and no other's), a client id its tenant does not
//! own is 403, and no cursor reaches outside the caller's own query.

mod common;

use common::*;
use event_store::{FailedStatus, MemoryStore, TenantId};
use lambda_http::http::StatusCode;
use lambda_http::Request;

fn get_as(key: &str, path: &str, query: &str) -> Request {
    request("http_v2_get.json", |event| {
        event["rawPath"] = path.into();
        event["rawQueryString"] = query.into();
        with_key(event, Some(key));
    })
}

fn scoped(store: &MemoryStore, tenant: &str) -> MemoryStore {
    use event_store::Store;
    store.for_tenant(&TenantId::parse(tenant).unwrap())
}

fn clients_of(answer: &Answer) -> Vec<String> {
    answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["client_id"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Tenants acme (acme-*) and beta (beta-*), three events each; returns their keys.
async fn two_tenants(app: &event_runtime::App<MemoryStore>) -> (String, String) {
    let acme = add_tenant(&app.store, "acme", "acme-*");
    let beta = add_tenant(&app.store, "beta", "beta-*");
    for hour in 1..=3 {
        let at = format!("2026-11-20T0{hour}:00:00Z");
        seed(&scoped(&app.store, "acme"), "acme-prod", "1", &at).await;
        seed(&scoped(&app.store, "beta"), "beta-prod", "2", &at).await;
    }
    (acme, beta)
}

#[tokio::test]
async fn given_two_tenants_when_each_lists_without_client_then_each_sees_only_its_own() {
    let app = app();
    let (acme, beta) = two_tenants(&app).await;

    let acme_page = call(&app, get_as(&acme, "/events/processed", "")).await;
    let beta_page = call(&app, get_as(&beta, "/events/processed", "")).await;

    assert_eq!(clients_of(&acme_page), ["acme-prod"; 3]);
    assert_eq!(clients_of(&beta_page), ["beta-prod"; 3]);
}

#[tokio::test]
async fn given_a_client_of_another_tenant_when_listed_then_403() {
    let app = app();
    let (acme, _) = two_tenants(&app).await;

    for path in ["/events/processed", "/events/failed"] {
        let answer = call(&app, get_as(&acme, path, "client_id=beta-prod")).await;

        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(answer.body["error"]["code"], "client_not_allowed");
    }
}

#[tokio::test]
async fn given_a_cursor_from_another_tenants_page_when_used_then_400() {
    let app = app();
    let (acme, beta) = two_tenants(&app).await;
    let beta_page = call(&app, get_as(&beta, "/events/processed", "limit=1")).await;
    let cursor = beta_page.body["next_cursor"].as_str().unwrap();

    // The same query string, but acme's key: the cursor is not a position of acme's query.
    let answer = call(
        &app,
        get_as(
            &acme,
            "/events/processed",
            &format!("limit=1&cursor={cursor}"),
        ),
    )
    .await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"]["code"], "invalid_cursor");
}

/// `cursor` decoded, changed by `edit`, encoded again (as a client could craft one).
fn tamper(cursor: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut wire: serde_json::Value =
        serde_json::from_slice(&engine.decode(cursor).unwrap()).unwrap();
    edit(&mut wire);
    engine.encode(wire.to_string())
}

#[tokio::test]
async fn given_crafted_cursors_when_used_then_400_and_nothing_listed() {
    let app = app();
    let (acme, _) = two_tenants(&app).await;
    let query = "from=2026-11-20T02:00:00Z&limit=1";
    let page = call(&app, get_as(&acme, "/events/processed", query)).await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let crafted = [
        // another query's fingerprint
        tamper(cursor, |wire| wire["f"] = "0123456789abcdef".into()),
        // a position before `from`: outside the query's range
        tamper(cursor, |wire| {
            for position in wire["p"].as_array_mut().unwrap() {
                *position = serde_json::json!({ "a": format!("{:019}#{}", 1, "0".repeat(64)) });
            }
        }),
        "not-a-cursor".to_owned(),
    ];

    for cursor in crafted {
        let answer = call(
            &app,
            get_as(
                &acme,
                "/events/processed",
                &format!("{query}&cursor={cursor}"),
            ),
        )
        .await;

        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{cursor}");
        assert_eq!(answer.body["error"]["code"], "invalid_cursor");
        assert!(answer.body.get("items").is_none());
    }
}

#[tokio::test]
async fn given_failed_records_of_two_tenants_when_listed_then_each_sees_its_own_even_without_client(
) {
    let app = app();
    let (acme, beta) = two_tenants(&app).await;
    let anonymous = seed_failed(
        &scoped(&app.store, "acme"),
        None,
        "not json",
        FailedStatus::Rejected,
    )
    .await;
    let beta_failed = seed_failed(
        &scoped(&app.store, "beta"),
        Some("beta-prod"),
        "{}",
        FailedStatus::Failed,
    )
    .await;

    let acme_list = call(&app, get_as(&acme, "/events/failed", "")).await;
    let beta_list = call(&app, get_as(&beta, "/events/failed", "")).await;
    let cross = call(
        &app,
        get_as(&acme, &format!("/events/failed/{beta_failed}"), ""),
    )
    .await;
    let own = call(
        &app,
        get_as(&acme, &format!("/events/failed/{anonymous}"), ""),
    )
    .await;

    let ids = |answer: &Answer| -> Vec<String> {
        answer.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["failed_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&acme_list), std::slice::from_ref(&anonymous));
    assert_eq!(ids(&beta_list), [beta_failed]);
    assert_eq!(cross.status, StatusCode::NOT_FOUND);
    assert_eq!(own.status, StatusCode::OK);
}

#[tokio::test]
async fn given_no_key_when_listing_then_401() {
    let app = app();
    let req = request("http_v2_get.json", |event| with_key(event, None));

    let answer = call(&app, req).await;

    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body["error"]["code"], "unauthorized");
}
