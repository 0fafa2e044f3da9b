//! Hostile input over real HTTP: a corpus of nasty bodies and requests, each with the status
//! (and error code) it must get. Nothing here may answer a 5xx, hang, or count anything it
//! should not: afterwards the corpus's client has exactly the one event the corpus meant to
//! count. Each test writes its section of `RELIABILITY.md` (what it sent, what it got).

use integration_tests::report::{Report, Size};
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

/// This test's section of `RELIABILITY.md` (orders 6 to 9, after the reliability tests).
fn report(order: u32, test: &str) -> Report {
    Report::new(order, test, Size::Small).with_command(&format!(
        "REPORT=1 cargo test -p integration-tests --test hostile -- {test}"
    ))
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
    let mut report = report(
        6,
        "every_hostile_body_gets_its_typed_answer_and_only_the_valid_one_counts",
    );
    let api = Api::new();
    let client = unique_client("hostile");
    let corpus = corpus(&client);
    let mut answered = Vec::new();
    for case in &corpus {
        let reply = api.post_raw("/events", case.body.clone()).await;
        let code = reply.body["error"]["code"].as_str().unwrap_or("");
        report.check(
            reply.status.as_u16() == case.status && code == case.code,
            || {
                format!(
                    "{}: expected {} {}, got {} {:.300}",
                    case.name, case.status, case.code, reply.status, reply.body
                )
            },
        );
        answered.push(
            format!("{} → {} {code}", case.name, reply.status.as_u16())
                .trim_end()
                .to_owned(),
        );
    }
    report.item(
        "corpus",
        format!(
            "{} bodies to POST /events: {}",
            corpus.len(),
            answered.join("; ")
        ),
    );
    let totals = api
        .get(&format!("/aggregates?client_id={}", encode(&client)))
        .await;
    report.check(totals.body["count"] == 1, || {
        format!("only the valid one may count: {}", totals.body)
    });
    report.item(
        "counted",
        format!("{} (the one valid event)", totals.body["count"]),
    );
    report.finish();
}

#[tokio::test]
async fn one_event_500_times_in_a_batch_counts_once() {
    let mut report = report(7, "one_event_500_times_in_a_batch_counts_once");
    let api = Api::new();
    let client = unique_client("copies");
    let one =
        json!({"client_id": client, "payload": {"amount": "1.5", "timestamp": 1_795_161_600}});
    let batch = json!({ "events": vec![one; 500] });

    let reply = api.post("/events", &batch).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let processed = reply.body["processed"].as_u64().unwrap();
    let duplicates = reply.body["duplicates"].as_u64().unwrap();
    report.check(processed <= 1 && processed + duplicates == 500, || {
        format!("500 copies: {processed} processed, {duplicates} duplicates")
    });
    let totals = api
        .get(&format!("/aggregates?client_id={}", encode(&client)))
        .await;
    report.check(
        totals.body["count"] == 1 && totals.body["total_amount"] == "1.5",
        || format!("counted more than once: {}", totals.body),
    );
    report.item(
        "load",
        format!(
            "one batch of 500 copies of one event: {processed} processed, {duplicates} duplicates"
        ),
    );
    report.item(
        "counted",
        format!(
            "count {}, total {}",
            totals.body["count"], totals.body["total_amount"]
        ),
    );
    report.finish();
}

#[tokio::test]
async fn unicode_forms_of_a_metric_are_different_metrics_not_errors() {
    // No Unicode normalization is applied: "café" (NFC) and "cafe\u{301}" (NFD) are two
    // metrics, two events, each counted once (documented in docs/contract.md).
    let mut report = report(
        8,
        "unicode_forms_of_a_metric_are_different_metrics_not_errors",
    );
    let api = Api::new();
    let client = unique_client("unicode");
    let mut hashes = Vec::new();
    for metric in ["caf\u{e9}", "cafe\u{301}"] {
        let event =
            json!({"client_id": client, "payload": {"metric": metric, "timestamp": 1_795_161_600}});
        let reply = api.post("/events", &event).await;
        report.check(reply.status == StatusCode::CREATED, || {
            format!("{metric:?}: {} {}", reply.status, reply.body)
        });
        hashes.push(reply.body["event_hash"].clone());
    }
    report.check(hashes[0] != hashes[1], || {
        format!("NFC and NFD gave one hash: {}", hashes[0])
    });
    report.item(
        "load",
        "the metric \"café\" sent in NFC and in NFD: two events, both 201, two hashes",
    );
    report.finish();
}

#[tokio::test]
async fn hostile_queries_and_methods_get_4xx() {
    let mut report = report(9, "hostile_queries_and_methods_get_4xx");
    let api = Api::new();
    // API Gateway takes query strings up to 10 KB; 8 KB values stay under every limit before
    // the function.
    let long = "a".repeat(8 * 1024);
    let mut answered = Vec::new();
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
        let shown = path.replace(&long, "<8 KB>");
        report.check(
            reply.status.as_u16() == status && reply.body["error"]["code"] == code,
            || {
                format!(
                    "GET {shown}: expected {status} {code}, got {} {}",
                    reply.status, reply.body
                )
            },
        );
        answered.push(format!("GET {shown} → {}", reply.status.as_u16()));
    }
    // An unknown method never reaches a function: the local emulator answers 404 (API
    // Gateway answers 403); either way a 4xx and nothing is written.
    let status = api.status_of(reqwest::Method::DELETE, "/events").await;
    report.check(status.is_client_error(), || {
        format!("DELETE /events: {status}")
    });
    answered.push(format!("DELETE /events → {}", status.as_u16()));
    report.item("requests", answered.join("; "));
    report.finish();
}
