//! Hostile input over real HTTP: a corpus of nasty bodies and requests, each with the status
//! (and error code) it must get. Nothing here may answer a 5xx, hang, or count anything it
//! should not: afterwards the corpus's client has exactly the one event the corpus meant to
//! count.

use integration_tests::{encode, unique_client, Api, StatusCode};
use serde_json::json;

/// One request of the corpus and what it must get.
struct Case {
    name: &'static str,
    body: String,
    status: u16,
    /// The error code (or, for a single event, the `status` field) it must carry.
    code: &'static str,
}

fn case(name: &'static str, body: String, status: u16, code: &'static str) -> Case {
    Case {
        name,
        body,
        status,
        code,
    }
}

fn event(client: &str, payload: &str) -> String {
    format!(r#"{{"client_id":"{client}","payload":{payload}}}"#)
}

fn corpus(client: &str) -> Vec<Case> {
    let deep = format!("{}1{}", "[".repeat(15_000), "]".repeat(15_000));
    vec![
        case(
            // unknown fields are skipped, never built: depth costs nothing, the 32 KiB
            // event limit bounds it; the event itself is valid (and counted: see the end)
            "nesting 15,000 deep in an unknown field",
            format!(r#"{{"client_id":"{client}","x":{deep},"payload":{{"timestamp":1}}}}"#),
            201,
            "",
        ),
        case(
            "NaN as a JSON token",
            event(client, r#"{"timestamp":1,"amount":NaN}"#),
            400,
            "invalid_json",
        ),
        case(
            "NaN as text",
            event(client, r#"{"timestamp":1,"amount":"NaN"}"#),
            422,
            "invalid_amount",
        ),
        case(
            "1e400",
            event(client, r#"{"timestamp":1,"amount":1e400}"#),
            422,
            "invalid_amount",
        ),
        case(
            "39 digits",
            event(
                client,
                &format!(r#"{{"timestamp":1,"amount":{}}}"#, "9".repeat(39)),
            ),
            422,
            "invalid_amount",
        ),
        case(
            "a lone surrogate in the metric",
            event(client, r#"{"timestamp":1,"metric":"\ud800"}"#),
            422,
            "invalid_metric",
        ),
        case(
            "year 9999",
            event(client, r#"{"timestamp":"9999-12-31T23:59:59Z"}"#),
            422,
            "timestamp_in_future",
        ),
        case(
            "year 0",
            event(client, r#"{"timestamp":"0000-01-01T00:00:00Z"}"#),
            422,
            "invalid_timestamp",
        ),
        case(
            "empty client_id",
            event("", r#"{"timestamp":1}"#),
            422,
            "invalid_client_id",
        ),
        case(
            "a client_id in another script",
            event("acmé", r#"{"timestamp":1}"#),
            422,
            "invalid_client_id",
        ),
        case(
            "empty metric",
            event(client, r#"{"timestamp":1,"metric":"  "}"#),
            422,
            "invalid_metric",
        ),
        case(
            "a key twice",
            format!(
                r#"{{"client_id":"{client}","client_id":"other","payload":{{"timestamp":1}}}}"#
            ),
            422,
            "invalid_field",
        ),
        case(
            "a payload key twice",
            event(client, r#"{"timestamp":1,"amount":1,"amount":2}"#),
            422,
            "invalid_field",
        ),
        case("null", "null".to_owned(), 400, "not_an_object"),
        case("nothing", String::new(), 400, "invalid_json"),
        case(
            "10 MB",
            format!(r#"{{"pad":"{}"}}"#, "x".repeat(10 * 1024 * 1024)),
            413,
            "body_too_large",
        ),
        case(
            "events is not an array",
            r#"{"events":{"0":{}}}"#.to_owned(),
            400,
            "invalid_batch",
        ),
    ]
}

#[tokio::test]
async fn every_hostile_body_gets_its_typed_answer_and_only_the_valid_one_counts() {
    let api = Api::new();
    let client = unique_client("hostile");
    for case in corpus(&client) {
        let reply = api.post_raw("/events", case.body).await;

        assert_eq!(
            reply.status.as_u16(),
            case.status,
            "{}: {}",
            case.name,
            reply.body
        );
        let code = reply.body["error"]["code"].as_str().unwrap_or("");
        assert_eq!(code, case.code, "{}: {}", case.name, reply.body);
    }
    let totals = api
        .get(&format!("/aggregates?client_id={}", encode(&client)))
        .await;
    assert_eq!(
        totals.body["count"], 1,
        "only the valid one counted: {}",
        totals.body
    );
}

#[tokio::test]
async fn one_event_500_times_in_a_batch_counts_once() {
    let api = Api::new();
    let client = unique_client("copies");
    let one =
        json!({"client_id": client, "payload": {"amount": "1.5", "timestamp": 1_795_161_600}});
    let batch = json!({ "events": vec![one; 500] });

    // a 50 KB answer: the local emulator sometimes loses it (then it is resent, and the
    // resend's copies are all duplicates)
    let reply = api.post_resending("/events", &batch).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let processed = reply.body["processed"].as_u64().unwrap();
    assert!(processed <= 1, "{}", reply.body);
    assert_eq!(processed + reply.body["duplicates"].as_u64().unwrap(), 500);
    let totals = api
        .get(&format!("/aggregates?client_id={}", encode(&client)))
        .await;
    assert_eq!(totals.body["count"], 1);
    assert_eq!(totals.body["total_amount"], "1.5");
}

#[tokio::test]
async fn unicode_forms_of_a_metric_are_different_metrics_not_errors() {
    // No Unicode normalization is applied: "café" (NFC) and "cafe\u{301}" (NFD) are two
    // metrics, two events, each counted once (documented in docs/contract.md).
    let api = Api::new();
    let client = unique_client("unicode");
    let mut hashes = Vec::new();
    for metric in ["caf\u{e9}", "cafe\u{301}"] {
        let event =
            json!({"client_id": client, "payload": {"metric": metric, "timestamp": 1_795_161_600}});
        let reply = api.post("/events", &event).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        hashes.push(reply.body["event_hash"].clone());
    }
    assert_ne!(hashes[0], hashes[1]);
}

#[tokio::test]
async fn hostile_queries_and_methods_get_4xx() {
    let api = Api::new();
    // API Gateway takes query strings up to 10 KB; 8 KB values stay under every limit before
    // the function.
    let long = "a".repeat(8 * 1024);
    for (path, status, code) in [
        (
            format!("/aggregates?client_id={long}"),
            400,
            "invalid_client_id",
        ),
        (
            format!("/events/processed?limit={long}"),
            400,
            "invalid_limit",
        ),
        (
            format!("/events/processed?cursor={long}"),
            400,
            "invalid_cursor",
        ),
        (
            "/aggregates?client_id=a&to=tomorrow".to_owned(),
            400,
            "invalid_timestamp",
        ),
        (
            "/aggregates?client_id=a&from=NaN".to_owned(),
            400,
            "invalid_timestamp",
        ),
        (
            "/events/failed/..%2F..%2Fetc%2Fpasswd".to_owned(),
            404,
            "not_found",
        ),
    ] {
        let reply = api.get(&path).await;
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{:.80}: {}",
            path,
            reply.body
        );
        assert_eq!(reply.body["error"]["code"], code, "{:.80}", path);
    }
    // An unknown method never reaches a function: the local emulator answers 404 (API
    // Gateway answers 403); either way a 4xx and nothing is written.
    let status = api.status_of(reqwest::Method::DELETE, "/events").await;
    assert!(status.is_client_error(), "DELETE /events: {status}");
}
