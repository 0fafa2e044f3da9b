//! Who may write: every request needs a usable API key (401 otherwise, with a sentence that
//! says what to fix and never whether a key exists), and a key writes only the client ids its
//! tenant owns (403 `client_not_allowed`; in a batch only that item), into its own tenant.

mod common;

use std::time::Duration;

use common::*;
use event_runtime::api_key::{key_hash, ApiKey};
use event_runtime::{App, AuthConfig, Config};
use event_store::{FailedId, KeyState, MemoryStore, Store, TenantId};
use lambda_http::http::{header, StatusCode};
use lambda_http::Request;
use serde_json::Value;

/// `POST /events` with `body`, after `edit` changed the fixture (headers, query).
fn post_with(body: &str, edit: impl FnOnce(&mut Value)) -> Request {
    request("http_v2_post_events.json", |event| {
        event["body"] = Value::String(body.to_owned());
        edit(event);
    })
}

fn post_as(key: &str, body: &str) -> Request {
    post_with(body, |event| with_key(event, Some(key)))
}

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

/// Nothing was written anywhere: no processed or failed record in either tenant.
fn nothing_written(store: &MemoryStore, tenants: &[&str]) {
    for name in tenants {
        let scoped = store.for_tenant(&tenant(name));
        assert!(scoped.processed_records().is_empty(), "{name}");
        assert!(scoped.failed_records().is_empty(), "{name}");
    }
}

#[track_caller]
fn assert_unauthorized(answer: &Answer, says: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], "unauthorized");
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(message.contains(says), "{message:?} should say {says:?}");
    assert!(answer.body["error"]["request_id"].is_string());
    assert!(answer.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
}

#[tokio::test]
async fn given_no_key_when_posting_then_401_and_nothing_is_written() {
    let app = app();

    let answer = call(&app, post_with(EVENT, |event| with_key(event, None))).await;

    assert_unauthorized(&answer, "API key is required");
    nothing_written(&app.store, &["default"]);
}

#[tokio::test]
async fn given_a_bearer_key_when_posting_then_it_is_accepted() {
    let app = app();
    let req = post_with(EVENT, |event| {
        with_key(event, None);
        set_header(event, "authorization", Some(&format!("Bearer {TEST_KEY}")));
    });

    assert_eq!(call(&app, req).await.status, StatusCode::CREATED);
}

type EditEvent = dyn FnOnce(&mut Value);

#[tokio::test]
async fn given_a_key_in_the_wrong_place_when_posting_then_401_says_where_it_goes() {
    let app = app();
    let cases: [(&str, Box<EditEvent>); 6] = [
        (
            "Bearer scheme",
            Box::new(|e| {
                with_key(e, None);
                set_header(e, "authorization", Some(TEST_KEY));
            }),
        ),
        (
            "API key is required",
            Box::new(|e| {
                with_key(e, None);
                set_header(e, "api-key", Some(TEST_KEY));
            }),
        ),
        (
            "no key",
            Box::new(|e| {
                with_key(e, None);
                set_header(e, "authorization", Some("Bearer "));
            }),
        ),
        (
            "malformed",
            Box::new(|e| with_key(e, Some(&format!("{TEST_KEY}\t")))),
        ),
        (
            "too long",
            Box::new(|e| with_key(e, Some(&"x".repeat(10 * 1024)))),
        ),
        (
            "not accepted in the URL",
            Box::new(|e| {
                with_key(e, None);
                e["rawQueryString"] = Value::from(format!("api_key={TEST_KEY}"));
                e["queryStringParameters"] = serde_json::json!({ "api_key": TEST_KEY });
            }),
        ),
    ];
    for (says, edit) in cases {
        let answer = call(&app, post_with(EVENT, edit)).await;
        assert_unauthorized(&answer, says);
        assert!(!answer.body.to_string().contains(TEST_KEY));
    }
    nothing_written(&app.store, &["default"]);
}

#[tokio::test]
async fn given_unknown_revoked_or_expired_keys_when_posting_then_each_reads_the_same() {
    let app = app_with(Config {
        auth: AuthConfig {
            cache_ttl: Duration::ZERO,
            ..AuthConfig::default()
        },
        ..test_config()
    });
    let revoked = add_tenant(&app.store, "acme", "acme-*");
    app.store
        .revoke_key(&tenant("acme"), &key_hash(&revoked))
        .await
        .unwrap();
    let expired = ApiKey::generate().unwrap();
    let expiry = KeyState {
        expires_at: Some(NOW_NANOS / 1_000_000_000),
        ..KeyState::new("expired", 0)
    };
    app.store
        .add_key(&tenant("acme"), &expired.hash(), &expiry)
        .await
        .unwrap();
    let unknown = format!("eik_unknownKey{}", "A".repeat(33));

    let answers = [
        call(&app, post_as(&revoked, EVENT)).await,
        call(&app, post_as(expired.as_str(), EVENT)).await,
        call(&app, post_as(&unknown, EVENT)).await,
    ];

    for answer in &answers {
        assert_unauthorized(answer, "The API key is not valid.");
    }
    nothing_written(&app.store, &["default", "acme"]);
}

#[tokio::test]
async fn given_a_key_revoked_while_cached_when_the_cache_time_passes_then_it_is_refused() {
    let app = app_with(Config {
        auth: AuthConfig {
            cache_ttl: Duration::from_millis(200),
            ..AuthConfig::default()
        },
        ..test_config()
    });
    let key = add_tenant(&app.store, "acme", "acme-*");
    assert_eq!(
        call(&app, post_as(&key, EVENT)).await.status,
        StatusCode::CREATED
    );
    app.store
        .revoke_key(&tenant("acme"), &key_hash(&key))
        .await
        .unwrap();

    // Within the cache time the warm function still trusts what it read...
    let cached = call(&app, post_as(&key, EVENT)).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    // ...and after it, it reads the revocation.
    let after = call(&app, post_as(&key, EVENT)).await;

    assert_eq!(cached.status, StatusCode::OK, "duplicate, still accepted");
    assert_unauthorized(&after, "not valid");
}

#[tokio::test]
async fn given_another_tenants_client_when_posting_then_403_and_nothing_is_written() {
    let app = app();
    let key = add_tenant(&app.store, "beta", "beta,beta-*");
    let invalid_too = r#"{"client_id":"acme-prod","payload":{"amount":"NaN","timestamp":0}}"#;

    for body in [EVENT, invalid_too] {
        let answer = call(&app, post_as(&key, body)).await;

        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(answer.body["error"]["code"], "client_not_allowed");
        assert_eq!(answer.body["error"]["field"], "client_id");
    }
    nothing_written(&app.store, &["default", "beta"]);
}

#[tokio::test]
async fn given_a_batch_with_one_foreign_client_when_posted_then_only_that_item_fails() {
    let app = app();
    let key = add_tenant(&app.store, "acme", "acme-*");
    let mine =
        r#"{"client_id":"acme-eu","payload":{"amount":2,"timestamp":"2026-11-20T08:00:00Z"}}"#;
    let body = format!(r#"{{"events":[{mine},{EVENT_OF_BETA}]}}"#);

    let answer = call(&app, post_as(&key, &body)).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["processed"], 1);
    assert_eq!(answer.body["failed"], 1);
    let refused = &answer.body["results"][1];
    assert_eq!(refused["status"], "failed");
    assert_eq!(refused["error"]["code"], "client_not_allowed");
    assert_eq!(refused["retryable"], false);
    assert!(
        refused.get("failed_id").is_none(),
        "nothing kept: {refused}"
    );
    let acme = app.store.for_tenant(&tenant("acme"));
    assert_eq!(acme.processed_records().len(), 1);
    assert!(acme.failed_records().is_empty());
}

const EVENT_OF_BETA: &str =
    r#"{"client_id":"beta","payload":{"amount":1,"timestamp":"2026-11-20T08:00:00Z"}}"#;

#[tokio::test]
async fn given_two_tenants_when_each_posts_then_each_event_lands_in_its_own_tenant() {
    let app = app();
    let acme = add_tenant(&app.store, "acme", "acme-*");
    let other = add_tenant(&app.store, "other", "acme-*");

    // The same event, from two tenants that both own acme-*: two separate worlds.
    assert_eq!(
        call(&app, post_as(&acme, EVENT)).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        call(&app, post_as(&other, EVENT)).await.status,
        StatusCode::CREATED
    );

    for name in ["acme", "other"] {
        let scoped = app.store.for_tenant(&tenant(name));
        assert_eq!(scoped.processed_records().len(), 1, "{name}");
    }
    assert!(
        app.store.processed_records().is_empty(),
        "default untouched"
    );
}

#[tokio::test]
async fn given_another_tenants_failed_id_when_retried_then_404() {
    let app = app();
    let acme = add_tenant(&app.store, "acme", "acme-*");
    let kept = call(
        &app,
        post_as(
            &acme,
            r#"{"client_id":"acme-x","simulateFailure":true,"payload":{"timestamp":0}}"#,
        ),
    )
    .await;
    let id = kept.body["failed_id"].as_str().unwrap();

    let answer = call(&app, retry(id)).await; // with TEST_KEY: tenant default

    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let record = app
        .store
        .for_tenant(&tenant("acme"))
        .get_failed(&FailedId(id.to_owned()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.attempts, 1, "untouched");
}

#[tokio::test]
async fn given_auth_off_when_posting_without_a_key_then_the_configured_tenant_is_used() {
    let app = App::new(
        memory_store(),
        Config {
            auth: AuthConfig {
                enabled: false,
                ..AuthConfig::default()
            },
            ..test_config()
        },
    )
    .with_clock(fixed_now);

    let answer = call(&app, post_with(EVENT, |event| with_key(event, None))).await;

    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(app.store.processed_records().len(), 1);
}
