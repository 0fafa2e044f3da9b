//! Paths and methods: stage prefixes, unknown paths (404) and wrong methods (405).

mod common;

use common::*;
use lambda_http::http::{header, StatusCode};
use serde_json::Value;

#[tokio::test]
async fn given_a_rest_v1_request_with_the_stage_in_its_path_when_posted_then_201() {
    let app = app();

    let answer = call(
        &app,
        request("rest_v1_post_events_stage_in_path.json", |_| {}),
    )
    .await;

    assert_eq!(answer.status, StatusCode::CREATED);
}

#[tokio::test]
async fn given_an_http_v2_request_with_the_stage_in_its_raw_path_when_posted_then_201() {
    let app = app();

    let answer = call(&app, request("http_v2_stage_in_path.json", |_| {})).await;

    assert_eq!(answer.status, StatusCode::CREATED);
}

#[tokio::test]
async fn given_an_unknown_path_when_requested_then_404_not_found_with_the_error_body() {
    let app = app();
    let req = request("http_v2_post_events.json", |event| {
        event["rawPath"] = Value::from("/evnts");
    });

    let answer = call(&app, req).await;

    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.body["error"]["code"], "not_found");
    assert_eq!(answer.body["error"]["request_id"], "http-req-0001");
}

#[tokio::test]
async fn given_a_get_on_post_events_when_requested_then_405_method_not_allowed() {
    let app = app();
    let req = request("http_v2_post_events.json", |event| {
        event["requestContext"]["http"]["method"] = Value::from("GET");
    });

    let answer = call(&app, req).await;

    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.body["error"]["code"], "method_not_allowed");
    assert_eq!(answer.headers[header::ALLOW], "POST");
}

#[tokio::test]
async fn given_no_request_id_anywhere_when_answered_then_one_is_generated() {
    let app = app();
    let req = request("http_v2_post_events.json", |event| {
        event["requestContext"]
            .as_object_mut()
            .unwrap()
            .remove("requestId");
        event["body"] = Value::from("nope");
    });

    let answer = call(&app, req).await;

    let id = answer.body["error"]["request_id"].as_str().unwrap();
    assert_eq!(id.len(), 36);
}
