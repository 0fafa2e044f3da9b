//! `GET /events/failed` and `GET /events/failed/{failed_id}`.

mod common;

use common::*;
use event_runtime::App;
use event_store::FailedStatus;
use lambda_http::http::{header, StatusCode};
use serde_json::Value;

fn long_raw() -> String {
    // 3 KiB with a two-byte char straddling byte 1024.
    format!(
        r#"{{"client_id":"acme-prod","pad":"{}é{}"}}"#,
        "a".repeat(1024 - 33),
        "b".repeat(2048)
    )
}

#[tokio::test]
async fn given_failed_records_when_listed_then_items_have_the_spec_shape() {
    let app = app();
    let id = seed_failed(&app.store, None, "42", FailedStatus::Rejected).await;

    let answer = call(&app, get("/events/failed", "")).await;

    assert_eq!(answer.status, StatusCode::OK);
    let item = &answer.body["items"][0];
    assert_eq!(item["failed_id"], id);
    assert_eq!(item["client_id"], Value::Null);
    assert_eq!(item["reason"]["code"], "invalid_amount");
    assert_eq!(item["reason"]["field"], "payload.amount");
    assert!(item["reason"]["message"].is_string());
    assert_eq!(item["raw"], "42");
    assert_eq!(item["raw_truncated"], false);
    assert_eq!(item["received_at"], "2026-11-20T12:00:00Z");
    assert_eq!(item["attempts"], 1);
    assert_eq!(item["status"], "rejected");
    assert_eq!(answer.body["next_cursor"], Value::Null);
}

#[tokio::test]
async fn given_a_long_raw_body_when_listed_then_the_first_kib_is_shown_cut_on_a_char_boundary() {
    let app = app();
    let raw = long_raw();
    seed_failed(&app.store, Some("acme-prod"), &raw, FailedStatus::Failed).await;

    let answer = call(&app, get("/events/failed", "")).await;

    let item = &answer.body["items"][0];
    let shown = item["raw"].as_str().unwrap();
    assert_eq!(item["raw_truncated"], true);
    assert!(
        shown.len() <= 1024 && shown.len() >= 1021,
        "{}",
        shown.len()
    );
    assert!(raw.starts_with(shown));
    assert_eq!(item["status"], "failed");
}

#[tokio::test]
async fn given_a_long_raw_body_when_fetched_by_id_then_the_whole_body_is_shown() {
    let app = app();
    let raw = long_raw();
    let id = seed_failed(&app.store, Some("acme-prod"), &raw, FailedStatus::Retried).await;

    let answer = call(&app, get(&format!("/events/failed/{id}"), "")).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["raw"], raw.as_str());
    assert_eq!(answer.body["raw_truncated"], false);
    assert_eq!(answer.body["client_id"], "acme-prod");
    assert_eq!(answer.body["status"], "retried");
}

#[tokio::test]
async fn given_an_unknown_id_when_fetched_then_404_not_found() {
    let app = app();
    for id in ["1795176000000000000-0-0123456789abcdef", "nope"] {
        let answer = call(&app, get(&format!("/events/failed/{id}"), "")).await;

        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(answer.body["error"]["code"], "not_found");
    }
}

#[tokio::test]
async fn given_a_rest_v1_request_with_the_stage_in_its_path_when_fetched_then_the_record_is_found()
{
    let app = app();
    let id = seed_failed(&app.store, None, "{}", FailedStatus::Rejected).await;
    let text = fixture(FIXTURES, "rest_v1_get_failed_stage_in_path.json")
        .to_string()
        .replace("FAILED_ID", &id);

    let answer = call(&app, lambda_http::request::from_str(&text).unwrap()).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["failed_id"], id);
}

#[tokio::test]
async fn given_records_of_two_clients_when_listed_by_client_then_only_that_client_is_shown() {
    let app = app();
    seed_failed(&app.store, Some("acme-prod"), "{}", FailedStatus::Rejected).await;
    seed_failed(&app.store, Some("beta"), "{}", FailedStatus::Rejected).await;
    seed_failed(&app.store, None, "[]", FailedStatus::Rejected).await;

    let answer = call(&app, get("/events/failed", "client_id=beta")).await;

    let items = answer.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["client_id"], "beta");
}

#[tokio::test]
async fn given_more_records_than_the_limit_when_listed_then_a_cursor_pages_through_all() {
    let app = app();
    for _ in 0..5 {
        seed_failed(&app.store, None, "{}", FailedStatus::Rejected).await;
    }
    let first = call(&app, get("/events/failed", "limit=3")).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 3);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let req = request("http_v2_get.json", |event| {
        event["rawPath"] = Value::from("/events/failed");
        event["rawQueryString"] = Value::from(format!("limit=3&cursor={cursor}"));
    });

    let second = call(&app, req).await;

    assert_eq!(second.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(second.body["next_cursor"], Value::Null);
}

#[tokio::test]
async fn given_bad_parameters_when_listed_then_400_with_their_codes() {
    let app = app();
    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("client_id=%23bad", "invalid_client_id"),
        ("cursor=zzz", "invalid_cursor"),
    ] {
        let answer = call(&app, get("/events/failed", query)).await;

        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(answer.body["error"]["code"], code, "{query}");
    }
}

#[tokio::test]
async fn given_storage_unavailable_when_failed_events_are_read_then_503_with_retry_after() {
    let app = App::new(
        FailingStore::unavailable(),
        event_runtime::testing::test_config(),
    );
    for path in [
        "/events/failed",
        "/events/failed/1795176000000000000-0-0123456789abcdef",
    ] {
        let answer = call(&app, get(path, "")).await;

        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(answer.headers[header::RETRY_AFTER], "1");
    }
}
