//! `GET /events/processed`: shape, order, filters, pagination and every 400/503.

mod common;

use common::*;
use event_runtime::App;
use event_store::MemoryStore;
use lambda_http::http::{header, StatusCode};
use serde_json::Value;

async fn seeded() -> App<MemoryStore> {
    let app = app();
    for hour in 1..=5 {
        seed(
            &app.store,
            "acme-prod",
            &format!("{hour}.50"),
            &format!("2026-11-20T0{hour}:00:00Z"),
        )
        .await;
    }
    seed(&app.store, "beta", "1", "2026-11-20T03:30:00Z").await;
    seed(&app.store, "beta", "2", "2026-11-20T04:30:00Z").await;
    app
}

fn timestamps(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["timestamp"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn given_events_when_listed_for_a_client_then_items_have_the_spec_shape_newest_first() {
    let app = seeded().await;

    let answer = call(&app, get("/events/processed", "client_id=acme-prod")).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        timestamps(&answer.body),
        ["05", "04", "03", "02", "01"].map(|h| format!("2026-11-20T{h}:00:00Z"))
    );
    assert_eq!(answer.body["next_cursor"], Value::Null);
    let item = answer.body["items"][0].as_object().unwrap();
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "amount",
            "client_id",
            "event_hash",
            "metric",
            "received_at",
            "source",
            "timestamp"
        ]
    );
    assert_eq!(item["amount"], "5.5");
    assert_eq!(item["source"], "unknown");
    assert_eq!(item["received_at"], "2026-11-20T12:00:00Z");
}

#[tokio::test]
async fn given_an_event_with_an_event_id_when_listed_then_the_event_id_is_shown() {
    let app = app();
    seed_event(
        &app.store,
        r#"{"client_id":"c","event_id":"order-7","payload":{"amount":1,"timestamp":"2026-11-20T01:00:00Z"}}"#,
    )
    .await;

    let answer = call(&app, get("/events/processed", "")).await;

    assert_eq!(answer.body["items"][0]["event_id"], "order-7");
}

#[tokio::test]
async fn given_no_client_id_when_listed_then_every_client_is_included() {
    let app = seeded().await;

    let answer = call(&app, get("/events/processed", "")).await;

    assert_eq!(answer.body["items"].as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn given_a_small_limit_when_following_cursors_then_every_event_is_seen_once() {
    let app = seeded().await;
    let mut seen = Vec::new();
    let mut query = "client_id=acme-prod&limit=2".to_owned();
    let mut pages = 0;

    loop {
        let answer = call(&app, get("/events/processed", &query)).await;
        assert_eq!(answer.status, StatusCode::OK);
        let page = timestamps(&answer.body);
        assert!(page.len() <= 2);
        seen.extend(page);
        pages += 1;
        match answer.body["next_cursor"].as_str() {
            Some(cursor) => {
                query = format!("client_id=acme-prod&limit=2&cursor={}", urlencode(cursor))
            }
            None => break,
        }
        assert!(pages < 10, "cursors never end");
    }

    assert_eq!(seen.len(), 5);
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique, seen);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn given_no_limit_when_listed_then_at_most_50_items_and_a_cursor() {
    let app = app();
    for minute in 0..55 {
        seed(
            &app.store,
            "acme-prod",
            "1",
            &format!("2026-11-20T01:{minute:02}:00Z"),
        )
        .await;
    }

    let answer = call(&app, get("/events/processed", "")).await;

    assert_eq!(answer.body["items"].as_array().unwrap().len(), 50);
    assert!(answer.body["next_cursor"].is_string());
}

#[tokio::test]
async fn given_from_and_to_when_listed_then_from_is_inclusive_and_to_exclusive() {
    let app = seeded().await;

    let answer = call(
        &app,
        get(
            "/events/processed",
            "client_id=acme-prod&from=2026-11-20T02:00:00Z&to=2026-11-20T04:00:00Z",
        ),
    )
    .await;

    assert_eq!(
        timestamps(&answer.body),
        ["2026-11-20T03:00:00Z", "2026-11-20T02:00:00Z"]
    );
}

#[tokio::test]
async fn given_an_offset_whose_plus_became_a_space_when_listed_then_it_is_read_as_plus() {
    let app = seeded().await;

    // `+02:00` sent unencoded: form decoding turns `+` into a space.
    let answer = call(
        &app,
        get(
            "/events/processed",
            "client_id=acme-prod&from=2026-11-20T06:00:00+02:00",
        ),
    )
    .await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(timestamps(&answer.body).len(), 2);
}

#[tokio::test]
async fn given_epoch_bounds_when_listed_then_they_are_seconds_or_milliseconds() {
    let app = seeded().await;
    // 2026-11-20T04:00:00Z in seconds, 2026-11-20T05:00:00Z in milliseconds.
    let query = "client_id=acme-prod&from=1795147200&to=1795150800000";

    let answer = call(&app, get("/events/processed", query)).await;

    assert_eq!(timestamps(&answer.body), ["2026-11-20T04:00:00Z"]);
}

#[tokio::test]
async fn given_a_limit_out_of_range_when_listed_then_400_invalid_limit() {
    let app = seeded().await;
    for limit in ["0", "501", "-3", "ten", "2.5"] {
        let answer = call(&app, get("/events/processed", &format!("limit={limit}"))).await;

        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{limit}");
        assert_eq!(answer.body["error"]["code"], "invalid_limit");
        assert_eq!(answer.body["error"]["field"], "limit");
        assert_eq!(answer.body["error"]["request_id"], "http-req-list");
    }
    let answer = call(&app, get("/events/processed", "limit=500")).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn given_a_bad_client_id_when_listed_then_400_invalid_client_id() {
    let app = app();

    let answer = call(&app, get("/events/processed", "client_id=a%20b")).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"]["code"], "invalid_client_id");
    assert_eq!(answer.body["error"]["field"], "client_id");
}

#[tokio::test]
async fn given_a_bad_from_or_to_when_listed_then_400_invalid_timestamp_naming_it() {
    let app = app();
    for (query, field) in [
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
    ] {
        let answer = call(&app, get("/events/processed", query)).await;

        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(answer.body["error"]["code"], "invalid_timestamp");
        assert_eq!(answer.body["error"]["field"], field);
    }
}

#[tokio::test]
async fn given_to_not_after_from_when_listed_then_400_invalid_range() {
    let app = app();
    let query = "from=2026-11-20T05:00:00Z&to=2026-11-20T05:00:00Z";

    let answer = call(&app, get("/events/processed", query)).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"]["code"], "invalid_range");
}

#[tokio::test]
async fn given_a_garbage_cursor_when_listed_then_400_invalid_cursor() {
    let app = seeded().await;

    let answer = call(&app, get("/events/processed", "cursor=not-a-cursor")).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"]["code"], "invalid_cursor");
    assert_eq!(answer.body["error"]["field"], "cursor");
}

#[tokio::test]
async fn given_a_cursor_of_another_query_when_listed_then_400_invalid_cursor() {
    let app = seeded().await;
    let first = call(
        &app,
        get("/events/processed", "client_id=acme-prod&limit=1"),
    )
    .await;
    let cursor = urlencode(first.body["next_cursor"].as_str().unwrap());

    let answer = call(
        &app,
        get(
            "/events/processed",
            &format!("client_id=beta&limit=1&cursor={cursor}"),
        ),
    )
    .await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"]["code"], "invalid_cursor");
}

#[tokio::test]
async fn given_storage_unavailable_when_listed_then_503_with_retry_after_and_no_details() {
    let app = App::new(
        FailingStore::unavailable(),
        event_runtime::testing::test_config(),
    );

    let answer = call(&app, get("/events/processed", "")).await;

    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.headers[header::RETRY_AFTER], "1");
    assert_eq!(answer.body["error"]["code"], "storage_unavailable");
    assert!(!answer.body.to_string().contains("throttled"));
}

#[tokio::test]
async fn given_a_rest_v1_request_with_query_parameters_when_listed_then_they_apply() {
    let app = seeded().await;

    let answer = call(&app, request("rest_v1_get_processed.json", |_| {})).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["items"].as_array().unwrap().len(), 2);
    assert!(answer.body["next_cursor"].is_string());
}

#[tokio::test]
async fn given_a_post_on_a_listing_path_when_requested_then_405() {
    let app = app();
    let req = request("http_v2_get.json", |event| {
        event["requestContext"]["http"]["method"] = Value::from("POST");
    });

    let answer = call(&app, req).await;

    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn given_an_unknown_path_when_requested_then_404() {
    let app = app();

    let answer = call(&app, get("/events/everything", "")).await;

    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.body["error"]["code"], "not_found");
}
