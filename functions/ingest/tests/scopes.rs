//! What a key may do at ingest: every route needs its one scope (`POST /events`: ingest;
//! the single and the bulk retry: replay), refused with 403 `forbidden_scope` before anything
//! is read or written; a key narrowed to some of its tenant's clients writes only those (and a
//! tenant narrowed later narrows its keys too); and CORS: only `POST /events` and its
//! preflight answer the allowed origins, never with credentials.

mod common;

use common::*;
use event_http::AllowedOrigins;
use event_runtime::{App, Config};
use event_store::{ClientPatterns, MemoryStore, Store, TenantId};
use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, Response};

/// Every route of ingest with the scope it needs and a request for it.
#[derive(Debug, Clone, Copy)]
enum Call {
    Single,
    Batch,
    Retry,
    Replay,
}

const CALLS: [(Call, &str); 4] = [
    (Call::Single, "ingest"),
    (Call::Batch, "ingest"),
    (Call::Retry, "replay"),
    (Call::Replay, "replay"),
];

/// The scope sets a key can have (the last one is every scope).
const KEYS: [&str; 6] = [
    "ingest",
    "read",
    "replay",
    "ingest,read",
    "read,replay",
    "ingest,read,replay",
];

fn request_for(call: Call, key: &str, failed_id: &str) -> Request {
    let mut req = match call {
        Call::Single => post(EVENT),
        Call::Batch => post(&format!(r#"{{"events":[{EVENT}]}}"#)),
        Call::Retry => retry(failed_id),
        Call::Replay => replay_text(r#"{"client_id":"acme-prod"}"#),
    };
    req.headers_mut()
        .insert("x-api-key", key.parse().expect("a header value"));
    req
}

/// Everything tenant `default` holds, to compare before and after a refused call.
fn snapshot(store: &MemoryStore) -> String {
    let scoped = store.for_tenant(&TenantId::default());
    format!(
        "{:?}\n{:?}",
        scoped.processed_records(),
        scoped.failed_records()
    )
}

/// An app whose tenant `default` keeps one failed (retryable) event of acme-prod: returns
/// the app and its failed_id.
async fn app_with_a_failed_event() -> (App<MemoryStore>, String) {
    let app = app();
    let failed = call(&app, post(&simulated_failure_event())).await;
    assert_eq!(
        failed.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        failed.body
    );
    let id = failed.body["failed_id"].as_str().unwrap().to_owned();
    (app, id)
}

fn simulated_failure_event() -> String {
    EVENT.replacen('{', r#"{"simulateFailure":true,"#, 1)
}

#[tokio::test]
async fn every_route_answers_only_the_keys_with_its_scope_and_a_refusal_writes_nothing() {
    for (route, needs) in CALLS {
        for scopes in KEYS {
            let (app, failed_id) = app_with_a_failed_event().await;
            let key = add_scoped_key(&app.store, "default", scopes, None).await;
            let before = snapshot(&app.store);

            let answer = call(&app, request_for(route, &key, &failed_id)).await;

            let allowed = scopes.split(',').any(|s| s == needs);
            let case = format!("{route:?} with a key of {scopes}: {}", answer.body);
            if allowed {
                assert!(answer.status.is_success(), "{case}");
            } else {
                assert_eq!(answer.status, StatusCode::FORBIDDEN, "{case}");
                assert_eq!(answer.body["error"]["code"], "forbidden_scope", "{case}");
                let message = answer.body["error"]["message"].as_str().unwrap();
                assert!(message.contains(&format!("the {needs} scope")), "{case}");
                assert_eq!(snapshot(&app.store), before, "{case}: nothing written");
            }
        }
    }
}

#[tokio::test]
async fn a_key_without_scopes_stored_keeps_every_scope() {
    // TEST_KEY is stored as keys were before scopes (KeyState::new: every scope)
    for (route, _) in CALLS {
        let (app, failed_id) = app_with_a_failed_event().await;
        let answer = call(&app, request_for(route, TEST_KEY, &failed_id)).await;
        assert!(answer.status.is_success(), "{route:?}: {}", answer.body);
    }
}

#[tokio::test]
async fn a_narrowed_key_writes_only_its_own_clients_and_the_rest_of_a_batch_still_counts() {
    let app = app();
    add_tenant(&app.store, "acme", "acme-*");
    let key = add_scoped_key(&app.store, "acme", "ingest", Some("acme-ios")).await;
    let event = |client: &str| EVENT.replace("acme-prod", client);
    let acme = app.store.for_tenant(&TenantId::parse("acme").unwrap());

    let mut refused = post(&event("acme-web"));
    refused
        .headers_mut()
        .insert("x-api-key", key.parse().unwrap());
    let answer = call(&app, refused).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], "client_not_allowed");
    assert!(answer.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("limited to client ids acme-ios"));
    assert!(acme.processed_records().is_empty() && acme.failed_records().is_empty());

    let mut batch = post(&format!(
        r#"{{"events":[{},{}]}}"#,
        event("acme-ios"),
        event("acme-web")
    ));
    batch
        .headers_mut()
        .insert("x-api-key", key.parse().unwrap());
    let answer = call(&app, batch).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["results"][0]["status"], "processed");
    assert_eq!(
        answer.body["results"][1]["error"]["code"],
        "client_not_allowed"
    );
    let written: Vec<_> = acme
        .processed_records()
        .iter()
        .map(|r| r.event.client_id.as_str().to_owned())
        .collect();
    assert_eq!(written, ["acme-ios"]);
}

#[tokio::test]
async fn a_tenant_narrowed_after_the_key_was_made_narrows_the_key() {
    let app = app_with(Config {
        auth: event_runtime::AuthConfig {
            enabled: true,
            cache_ttl: std::time::Duration::ZERO,
        },
        ..test_config()
    });
    add_tenant(&app.store, "acme", "acme-*");
    let key = add_scoped_key(&app.store, "acme", "ingest", Some("acme-ios-*")).await;
    let send = |client: &str| {
        let mut req = post(&EVENT.replace("acme-prod", client));
        req.headers_mut().insert("x-api-key", key.parse().unwrap());
        req
    };
    assert_eq!(
        call(&app, send("acme-ios-1")).await.status,
        StatusCode::CREATED
    );

    // the tenant gives up acme-ios-1: the key, narrowed inside it, loses it too
    app.store
        .put_tenant(
            &TenantId::parse("acme").unwrap(),
            &ClientPatterns::parse("acme-ios-2", false).unwrap(),
            0,
        )
        .await
        .unwrap();
    let answer = call(&app, send("acme-ios-1")).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], "client_not_allowed");
    assert_eq!(
        call(&app, send("acme-ios-2")).await.status,
        StatusCode::CREATED
    );
}

// ------------------------------------------------------------------ CORS

const ORIGIN: &str = "http://localhost:5173";

fn cors_app() -> App<MemoryStore> {
    app_with(Config {
        allowed_origins: AllowedOrigins::parse(ORIGIN).unwrap(),
        ..test_config()
    })
}

fn preflight(origin: &str) -> Request {
    let mut req = post("");
    *req.method_mut() = Method::OPTIONS;
    let headers = req.headers_mut();
    headers.remove("x-api-key");
    headers.insert(header::ORIGIN, origin.parse().unwrap());
    headers.insert("access-control-request-method", "POST".parse().unwrap());
    headers.insert(
        "access-control-request-headers",
        "content-type,x-api-key".parse().unwrap(),
    );
    req
}

fn cors_headers(response: &Response<Body>) -> Vec<(String, String)> {
    response
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("access-control-"))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_allows_the_key_header_without_credentials() {
    let app = cors_app();
    let response = ingest::handle(preflight(ORIGIN), &app).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let headers = response.headers();
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], ORIGIN);
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_HEADERS],
        "content-type, x-api-key"
    );
    assert!(headers[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
}

#[tokio::test]
async fn a_preflight_from_another_origin_or_without_configured_origins_gets_no_cors_header() {
    let response = ingest::handle(preflight("http://127.0.0.1:5173"), &cors_app()).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(cors_headers(&response), []);
    let response = ingest::handle(preflight(ORIGIN), &app()).await;
    assert_eq!(cors_headers(&response), []);
}

#[tokio::test]
async fn posting_from_an_allowed_origin_carries_the_origin_on_success_and_on_refusal() {
    let app = cors_app();
    let ingest_only = add_scoped_key(&app.store, "default", "ingest", None).await;
    let from = |mut req: Request, origin: &str| {
        req.headers_mut()
            .insert(header::ORIGIN, origin.parse().unwrap());
        req.headers_mut()
            .insert("x-api-key", ingest_only.parse().unwrap());
        req
    };

    let created = ingest::handle(from(post(EVENT), ORIGIN), &app).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(
        created.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        ORIGIN
    );
    assert!(!created
        .headers()
        .contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));

    // a page may read why it was refused (here: a key that is not one)
    let mut bad = from(post(EVENT), ORIGIN);
    bad.headers_mut()
        .insert("x-api-key", "nope".parse().unwrap());
    let refused = ingest::handle(bad, &app).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        ORIGIN
    );

    let other = ingest::handle(from(post(EVENT), "https://evil.example"), &app).await;
    assert_eq!(
        other.status(),
        StatusCode::OK,
        "a duplicate, but unreadable to that page"
    );
    assert_eq!(cors_headers(&other), []);

    // the other routes never answer browsers: no CORS header on the replay
    let replay = ingest::handle(from(replay_text("{}"), ORIGIN), &app).await;
    assert_eq!(replay.status(), StatusCode::FORBIDDEN);
    assert_eq!(cors_headers(&replay), []);
}

#[tokio::test]
async fn a_narrowed_key_replays_only_its_clients_and_hears_nothing_of_the_others() {
    let app = app();
    add_tenant(&app.store, "acme", "acme-*");
    let full = add_scoped_key(&app.store, "acme", "ingest,read,replay", None).await;
    let narrowed = add_scoped_key(&app.store, "acme", "replay", Some("acme-ios")).await;
    let as_key = |mut req: Request, key: &str| {
        req.headers_mut().insert("x-api-key", key.parse().unwrap());
        req
    };
    let mut kept = Vec::new();
    for client in ["acme-ios", "acme-web"] {
        let event = simulated_failure_event().replace("acme-prod", client);
        let answer = call(&app, as_key(post(&event), &full)).await;
        kept.push(answer.body["failed_id"].as_str().unwrap().to_owned());
    }

    let answer = call(&app, as_key(replay_text("{}"), &narrowed)).await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let ids: Vec<&str> = answer.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["failed_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [kept[0].as_str()], "{}", answer.body);
    assert_eq!(answer.body["results"][0]["status"], "processed");
    let acme = app.store.for_tenant(&TenantId::parse("acme").unwrap());
    let still_failed: Vec<_> = acme
        .failed_records()
        .into_iter()
        .filter(|r| r.status == event_store::FailedStatus::Failed)
        .map(|r| r.failed_id.0)
        .collect();
    assert_eq!(
        still_failed,
        [kept[1].clone()],
        "acme-web's record was not retried"
    );
}
