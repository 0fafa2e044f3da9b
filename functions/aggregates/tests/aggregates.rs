//! `GET /aggregates`: exact totals over a range, every 400/503, and only the caller's tenant.

use event_runtime::testing::{
    add_tenant, app, fixture_request, seed_event, with_key, Answer, FailingStore,
};
use event_runtime::{App, Config};
use event_store::{MemoryStore, Store, StoreError};
use lambda_http::http::{header, StatusCode};
use lambda_http::Request;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// `GET /aggregates?{query}` (HTTP API v2; `query` as a client encodes it).
fn get(query: &str) -> Request {
    fixture_request(FIXTURES, "http_v2_get_aggregates.json", |event| {
        event["rawQueryString"] = Value::from(query)
    })
}

/// `GET {path}?{query}` (HTTP API v2).
fn get_path(path: &str, query: &str) -> Request {
    fixture_request(FIXTURES, "http_v2_get_aggregates.json", |event| {
        event["rawPath"] = Value::from(path);
        event["rawQueryString"] = Value::from(query);
    })
}

async fn call<S: Store>(app: &App<S>, req: Request) -> Answer {
    aggregates::handle(req, app).await.into()
}

/// Commit one event; `amount` is JSON text (a number or a quoted string).
async fn seed(store: &MemoryStore, client: &str, metric: &str, amount: &str, timestamp: &str) {
    let json = format!(
        r#"{{"client_id":"{client}","payload":{{"metric":"{metric}","amount":{amount},"timestamp":"{timestamp}"}}}}"#
    );
    seed_event(store, &json).await;
}

async fn seeded() -> App<MemoryStore> {
    let app = app();
    seed(
        &app.store,
        "acme-prod",
        "purchase",
        r#""12.50""#,
        "2026-11-20T01:15:00Z",
    )
    .await;
    seed(
        &app.store,
        "acme-prod",
        "purchase",
        "0.1",
        "2026-11-20T02:30:00Z",
    )
    .await;
    seed(
        &app.store,
        "acme-prod",
        "refund",
        r#""-0.2""#,
        "2026-11-20T03:45:00Z",
    )
    .await;
    seed(
        &app.store,
        "beta",
        "purchase",
        "100",
        "2026-11-20T02:00:00Z",
    )
    .await;
    app
}

#[tokio::test]
async fn given_events_of_a_client_when_aggregated_without_bounds_then_count_and_exact_total() {
    let app = seeded().await;

    let answer = call(&app, get("client_id=acme-prod")).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        serde_json::json!({
            "client_id": "acme-prod",
            "from": null,
            "to": null,
            "metric": null,
            "count": 3,
            "total_amount": "12.4",
        })
    );
}

#[tokio::test]
async fn given_a_range_when_aggregated_then_from_is_inclusive_to_exclusive_and_both_are_normalized()
{
    let app = seeded().await;
    // 04:30+02:00 is 02:30Z (included); 03:45Z is excluded.
    let query = "client_id=acme-prod&from=2026-11-20T04:30:00%2B02:00&to=2026-11-20T03:45:00Z";

    let answer = call(&app, get(query)).await;

    assert_eq!(answer.body["from"], "2026-11-20T02:30:00Z");
    assert_eq!(answer.body["to"], "2026-11-20T03:45:00Z");
    assert_eq!(answer.body["count"], 1);
    assert_eq!(answer.body["total_amount"], "0.1");
}

#[tokio::test]
async fn given_a_metric_when_aggregated_then_only_that_metric_counts() {
    let app = seeded().await;

    let answer = call(&app, get("client_id=acme-prod&metric=purchase")).await;

    assert_eq!(answer.body["metric"], "purchase");
    assert_eq!(answer.body["count"], 2);
    assert_eq!(answer.body["total_amount"], "12.6");
}

#[tokio::test]
async fn given_a_client_without_events_when_aggregated_then_zero() {
    let app = seeded().await;

    let answer = call(&app, get("client_id=nobody")).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["count"], 0);
    assert_eq!(answer.body["total_amount"], "0");
}

#[tokio::test]
async fn given_amounts_a_float_would_round_when_aggregated_then_the_total_is_exact() {
    let app = app();
    for minute in 0..10 {
        seed(
            &app.store,
            "c",
            "m",
            "0.1",
            &format!("2026-11-20T01:{minute:02}:00Z"),
        )
        .await;
    }
    for minute in 0..3 {
        seed(
            &app.store,
            "big",
            "m",
            r#""999999999999999999.999999999""#,
            &format!("2026-11-20T01:{minute:02}:00Z"),
        )
        .await;
    }

    let small = call(&app, get("client_id=c")).await;
    let big = call(&app, get("client_id=big")).await;

    assert_eq!(small.body["total_amount"], "1");
    assert_eq!(big.body["total_amount"], "2999999999999999999.999999997");
}

#[tokio::test]
async fn given_no_client_id_when_aggregated_then_400_missing_client_id() {
    let app = seeded().await;
    for query in ["", "client_id=", "from=2026-11-20T00:00:00Z"] {
        let answer = call(&app, get(query)).await;

        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(answer.body["error"]["code"], "missing_client_id");
        assert_eq!(answer.body["error"]["field"], "client_id");
        assert_eq!(answer.body["error"]["request_id"], "http-req-agg");
    }
}

#[tokio::test]
async fn given_bad_parameters_when_aggregated_then_400_naming_the_parameter() {
    let app = seeded().await;
    for (query, code, field) in [
        ("client_id=a%2Fb", "invalid_client_id", "client_id"),
        ("client_id=c&from=soon", "invalid_timestamp", "from"),
        (
            "client_id=c&to=2026-02-30T00:00:00Z",
            "invalid_timestamp",
            "to",
        ),
        ("client_id=c&metric=a%07b", "invalid_metric", "metric"),
        (
            "client_id=c&from=2026-11-20T02:00:00Z&to=2026-11-20T01:00:00Z",
            "invalid_range",
            "to",
        ),
        (
            "client_id=c&from=2026-11-20T02:00:00Z&to=2026-11-20T02:00:00Z",
            "invalid_range",
            "to",
        ),
    ] {
        let answer = call(&app, get(query)).await;

        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(answer.body["error"]["code"], code, "{query}");
        assert_eq!(answer.body["error"]["field"], field, "{query}");
    }
}

#[tokio::test]
async fn given_a_rest_v1_request_with_the_stage_in_its_path_when_aggregated_then_200() {
    let app = seeded().await;
    let req = fixture_request(
        FIXTURES,
        "rest_v1_get_aggregates_stage_in_path.json",
        |_| {},
    );

    let answer = call(&app, req).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["from"], "2026-11-20T01:00:00Z");
    assert_eq!(answer.body["count"], 2);
}

#[tokio::test]
async fn given_a_wrong_method_or_path_when_requested_then_405_or_404() {
    let app = app();
    let wrong_method = fixture_request(FIXTURES, "http_v2_get_aggregates.json", |event| {
        event["requestContext"]["http"]["method"] = Value::from("DELETE")
    });
    let wrong_path = fixture_request(FIXTURES, "http_v2_get_aggregates.json", |event| {
        event["rawPath"] = Value::from("/aggregate")
    });

    assert_eq!(
        call(&app, wrong_method).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(call(&app, wrong_path).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn given_storage_unavailable_when_aggregated_then_503_with_retry_after() {
    let app = App::new(
        FailingStore(|| StoreError::Unavailable("throttled".into())),
        Config::default(),
    );

    let answer = call(&app, get("client_id=c")).await;

    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.headers[header::RETRY_AFTER], "1");
    assert_eq!(answer.body["error"]["code"], "storage_unavailable");
}

#[tokio::test]
async fn given_an_internal_store_error_when_aggregated_then_500_without_details() {
    let app = App::new(
        FailingStore(|| StoreError::Internal("total out of range on T#default#A#c#0".into())),
        Config::default(),
    );

    let answer = call(&app, get("client_id=c")).await;

    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body["error"]["code"], "internal_error");
    assert!(!answer.body.to_string().contains("T#default"));
}

#[tokio::test]
async fn given_another_tenants_client_when_aggregated_then_403_and_own_clients_are_per_tenant() {
    use event_store::TenantId;
    let app = app();
    let acme = add_tenant(&app.store, "acme", "acme-*");
    let acme_store = app.store.for_tenant(&TenantId::parse("acme").unwrap());
    seed(
        &acme_store,
        "acme-prod",
        "purchase",
        "5",
        "2026-11-20T08:00:00Z",
    )
    .await;
    seed(
        &app.store,
        "acme-prod",
        "purchase",
        "7",
        "2026-11-20T08:00:00Z",
    )
    .await;
    let as_acme = |query: &str| {
        fixture_request(FIXTURES, "http_v2_get_aggregates.json", |event| {
            event["rawQueryString"] = Value::from(query);
            with_key(event, Some(&acme));
        })
    };

    let foreign = call(&app, as_acme("client_id=beta")).await;
    let own = call(&app, as_acme("client_id=acme-prod")).await;
    let no_key = call(
        &app,
        fixture_request(FIXTURES, "http_v2_get_aggregates.json", |event| {
            with_key(event, None)
        }),
    )
    .await;

    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    assert_eq!(foreign.body["error"]["code"], "client_not_allowed");
    assert_eq!(own.body["total_amount"], "5", "acme's own event only");
    assert_eq!(no_key.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn given_events_over_hours_when_read_hourly_then_one_bucket_per_hour_adding_up_to_the_total()
{
    let app = app();
    seed(&app.store, "c", "purchase", "1.5", "2026-11-20T08:10:00Z").await;
    seed(&app.store, "c", "purchase", "2", "2026-11-20T08:59:59.999Z").await;
    seed(&app.store, "c", "refund", "-1", "2026-11-20T10:00:00Z").await;
    let range = "from=2026-11-20T07:00:00Z&to=2026-11-20T11:00:00Z";

    let series = call(
        &app,
        get_path("/aggregates/hourly", &format!("client_id=c&{range}")),
    )
    .await;
    let total = call(&app, get(&format!("client_id=c&{range}"))).await;

    assert_eq!(series.status, StatusCode::OK, "{}", series.body);
    let buckets = series.body["buckets"].as_array().unwrap();
    let hours: Vec<&str> = buckets
        .iter()
        .map(|b| b["hour"].as_str().unwrap())
        .collect();
    assert_eq!(
        hours,
        [
            "2026-11-20T07:00:00Z",
            "2026-11-20T08:00:00Z",
            "2026-11-20T09:00:00Z",
            "2026-11-20T10:00:00Z"
        ]
    );
    let counts: Vec<u64> = buckets
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [0, 2, 0, 1]);
    assert_eq!(buckets[1]["total_amount"], "3.5");
    assert_eq!(buckets[3]["total_amount"], "-1");
    assert_eq!(total.body["count"], 3);
    assert_eq!(total.body["total_amount"], "2.5");
    assert_eq!(series.body["from"], "2026-11-20T07:00:00Z");
    assert!(series.body["metric"].is_null());
}

#[tokio::test]
async fn given_bad_hourly_ranges_when_read_then_400_naming_the_bound() {
    let app = app();
    let cases = [
        ("client_id=c&to=2026-11-20T08:00:00Z", "from", "required"),
        ("client_id=c&from=2026-11-20T08:00:00Z", "to", "required"),
        (
            "client_id=c&from=2026-11-20T08:30:00Z&to=2026-11-20T10:00:00Z",
            "from",
            "whole hour",
        ),
        (
            "client_id=c&from=2026-11-20T08:00:00Z&to=2026-11-20T08:00:00Z",
            "to",
            "later",
        ),
        (
            "client_id=c&from=2026-10-01T00:00:00Z&to=2026-11-01T01:00:00Z",
            "to",
            "31 days",
        ),
    ];
    for (query, field, says) in cases {
        let answer = call(&app, get_path("/aggregates/hourly", query)).await;

        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(answer.body["error"]["code"], "invalid_range", "{query}");
        assert_eq!(answer.body["error"]["field"], field, "{query}");
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
    // exactly 31 days is fine
    let answer = call(
        &app,
        get_path(
            "/aggregates/hourly",
            "client_id=c&from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z",
        ),
    )
    .await;
    assert_eq!(answer.body["buckets"].as_array().unwrap().len(), 744);
}

// ------------------------------------------------------------------ key scopes

/// Both routes need the `read` scope: an ingest- or replay-only key gets 403
/// `forbidden_scope` and no number; a key narrowed to some clients aggregates only theirs.
#[tokio::test]
async fn aggregates_answer_only_keys_with_the_read_scope_and_their_narrowed_clients() {
    use event_runtime::testing::add_scoped_key;
    let app = seeded().await;
    let range = "from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z";
    for scopes in [
        "ingest",
        "replay",
        "ingest,replay",
        "read",
        "ingest,read,replay",
    ] {
        let key = add_scoped_key(&app.store, "default", scopes, None).await;
        for path in ["/aggregates", "/aggregates/hourly"] {
            let req = fixture_request(FIXTURES, "http_v2_get_aggregates.json", |event| {
                event["rawPath"] = Value::from(path);
                event["rawQueryString"] = Value::from(format!("client_id=acme-prod&{range}"));
                with_key(event, Some(&key));
            });
            let answer = call(&app, req).await;
            let case = format!("{path} with a key of {scopes}: {}", answer.body);
            if scopes.contains("read") {
                assert_eq!(answer.status, StatusCode::OK, "{case}");
            } else {
                assert_eq!(answer.status, StatusCode::FORBIDDEN, "{case}");
                assert_eq!(answer.body["error"]["code"], "forbidden_scope", "{case}");
                assert!(answer.body.get("count").is_none(), "{case}: no data");
            }
        }
    }

    let narrowed = add_scoped_key(&app.store, "default", "read", Some("acme-ios")).await;
    let as_narrowed = |client: &str| {
        fixture_request(FIXTURES, "http_v2_get_aggregates.json", |event| {
            event["rawQueryString"] = Value::from(format!("client_id={client}"));
            with_key(event, Some(&narrowed));
        })
    };
    let refused = call(&app, as_narrowed("acme-prod")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body["error"]["code"], "client_not_allowed");
    assert_eq!(
        call(&app, as_narrowed("acme-ios")).await.status,
        StatusCode::OK
    );
}
