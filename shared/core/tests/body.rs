//! `parse_body`: size, syntax, shape and count limits of a request body, with codes and
//! field paths (their HTTP statuses are event-http's `status` module).

use event_core::limits::{MAX_BATCH_EVENTS, MAX_BODY_BYTES, MAX_EVENT_BYTES};
use event_core::{parse_body, Body, BodyError};
use serde_json::json;

#[track_caller]
fn rejects(body: &[u8], code: &str, field: Option<&str>) -> BodyError {
    let err = parse_body(body).expect_err("body must be rejected");
    assert_eq!(
        (err.code(), err.field()),
        (code, field),
        "message: {}",
        err.message()
    );
    err
}

fn event(i: usize) -> String {
    json!({"client_id": format!("c{i}"), "payload": {"amount": i, "timestamp": 0}}).to_string()
}

fn batch(n: usize) -> String {
    format!(
        r#"{{"events":[{}]}}"#,
        (0..n).map(event).collect::<Vec<_>>().join(",")
    )
}

#[test]
fn given_one_event_when_parsed_then_single_keeps_its_exact_text() {
    let text = r#"{"client_id":"a", "payload":{"amount":"1.50","timestamp":0}}"#;
    match parse_body(format!("  \n{text}\t ").as_bytes()).unwrap() {
        Body::Single(raw) => assert_eq!(raw.get(), text),
        other => panic!("expected a single event, got {other:?}"),
    }
}

#[test]
fn given_a_batch_when_parsed_then_each_item_keeps_its_exact_text_in_order() {
    let body = r#"{"events":[ {"client_id":"a"} , 5, {"b" : [1, 2]} ,"x"]}"#;
    match parse_body(body.as_bytes()).unwrap() {
        Body::Batch(items) => {
            let texts: Vec<&str> = items.iter().map(|r| r.get()).collect();
            assert_eq!(
                texts,
                [r#"{"client_id":"a"}"#, "5", r#"{"b" : [1, 2]}"#, r#""x""#]
            );
        }
        other => panic!("expected a batch, got {other:?}"),
    }
}

#[test]
fn given_a_batch_with_other_top_level_keys_when_parsed_then_they_are_ignored() {
    let body = r#"{"note":"hi","events":[{"client_id":"a"}],"more":{"events":1}}"#;
    let parsed = parse_body(body.as_bytes()).unwrap();
    assert!(parsed.is_batch());
    assert_eq!(parsed.events().len(), 1);
}

#[test]
fn given_events_spelled_with_an_escape_when_parsed_then_it_is_a_batch() {
    let body = r#"{"\u0065vents":[{"client_id":"a"},{"client_id":"b"}]}"#;
    assert_eq!(parse_body(body.as_bytes()).unwrap().events().len(), 2);
}

#[test]
fn given_a_single_event_mentioning_events_in_a_value_when_parsed_then_it_is_single() {
    let body = r#"{"client_id":"a","payload":{"metric":"events","note":{"events":[]}}}"#;
    assert!(matches!(
        parse_body(body.as_bytes()).unwrap(),
        Body::Single(_)
    ));
}

#[test]
fn given_a_body_over_1_mib_when_parsed_then_413_body_too_large() {
    let body = vec![b' '; MAX_BODY_BYTES + 1];
    let err = rejects(&body, "body_too_large", None);
    assert!(err.message().contains("1048576"), "{}", err.message());
}

#[test]
fn given_a_body_of_exactly_1_mib_when_parsed_then_the_size_is_accepted() {
    let mut body = batch(1).into_bytes();
    body.resize(MAX_BODY_BYTES, b' ');
    assert!(parse_body(&body).is_ok());
}

#[test]
fn given_malformed_json_when_parsed_then_400_invalid_json_with_line_and_column() {
    let err = rejects(
        b"{\n  \"client_id\": \"a\",\n  oops\n}",
        "invalid_json",
        None,
    );
    match &err {
        BodyError::InvalidJson { line, column, .. } => assert_eq!((*line, *column), (3, 3)),
        other => panic!("{other:?}"),
    }
    assert!(
        err.message().contains("line 3, column 3"),
        "{}",
        err.message()
    );
    for bad in [
        &b""[..],
        b"{",
        b"{\"a\":1}}",
        b"{\"a\":1} x",
        b"nul",
        b"{\"a\":\"\xff\"}",
    ] {
        rejects(bad, "invalid_json", None);
    }
}

#[test]
fn given_json_that_is_not_an_object_when_parsed_then_400_not_an_object() {
    for (body, found) in [
        ("[]", "an array"),
        ("[{\"client_id\":\"a\"}]", "an array"),
        ("\"x\"", "a string"),
        ("1e400", "a number"),
        ("null", "null"),
        ("true", "a boolean"),
    ] {
        let err = rejects(body.as_bytes(), "not_an_object", None);
        assert!(err.message().contains(found), "{}", err.message());
    }
}

#[test]
fn given_events_that_is_not_an_array_when_parsed_then_400_invalid_batch_on_events() {
    for body in [
        r#"{"events":{}}"#,
        r#"{"events":"a"}"#,
        r#"{"events":1e400}"#,
        r#"{"events":null}"#,
        r#"{"events":true}"#,
    ] {
        rejects(body.as_bytes(), "invalid_batch", Some("events"));
    }
}

#[test]
fn given_events_twice_when_parsed_then_400_invalid_batch() {
    let body = r#"{"events":[{}],"events":[{}]}"#;
    rejects(body.as_bytes(), "invalid_batch", Some("events"));
}

#[test]
fn given_an_empty_events_array_when_parsed_then_400_empty_batch() {
    rejects(br#"{"events":[]}"#, "empty_batch", Some("events"));
}

#[test]
fn given_500_events_when_parsed_then_accepted_and_501_is_413_too_many_events() {
    assert_eq!(
        parse_body(batch(MAX_BATCH_EVENTS).as_bytes())
            .unwrap()
            .events()
            .len(),
        500
    );
    let err = rejects(
        batch(MAX_BATCH_EVENTS + 1).as_bytes(),
        "too_many_events",
        Some("events"),
    );
    assert!(err.message().contains("501"), "{}", err.message());
    assert!(err.message().contains("500"), "{}", err.message());
}

#[test]
fn given_a_single_event_over_32_kib_when_parsed_then_413_event_too_large() {
    let body = json!({"client_id": "a", "pad": "x".repeat(MAX_EVENT_BYTES)}).to_string();
    rejects(body.as_bytes(), "event_too_large", None);
}

#[test]
fn given_a_batch_with_one_item_over_32_kib_when_parsed_then_the_batch_is_accepted() {
    // The item is rejected later, by normalize_event, without failing the others.
    let big = json!({"client_id": "a", "pad": "x".repeat(MAX_EVENT_BYTES)}).to_string();
    let body = format!(r#"{{"events":[{big},{}]}}"#, event(1));
    assert_eq!(parse_body(body.as_bytes()).unwrap().events().len(), 2);
}

#[test]
fn given_every_body_error_when_displayed_then_it_is_a_sentence() {
    let errors = [
        parse_body(&vec![b' '; MAX_BODY_BYTES + 1]).unwrap_err(),
        parse_body(b"{").unwrap_err(),
        parse_body(b"[]").unwrap_err(),
        parse_body(br#"{"events":1}"#).unwrap_err(),
        parse_body(br#"{"events":[]}"#).unwrap_err(),
        parse_body(batch(501).as_bytes()).unwrap_err(),
        parse_body(
            json!({"p": "x".repeat(MAX_EVENT_BYTES)})
                .to_string()
                .as_bytes(),
        )
        .unwrap_err(),
    ];
    for err in errors {
        let message = err.message();
        assert!(message.ends_with('.'), "{message}");
        assert!(message.chars().next().unwrap().is_alphabetic(), "{message}");
    }
}

#[test]
fn given_nesting_thousands_deep_in_an_unknown_field_when_parsed_then_no_stack_overflow() {
    // Unknown fields are skipped without building a tree; the size limits bound the depth a
    // body can reach (16,000 in one event, ~500,000 in a batch), and none overflows the stack.
    let now = event_core::EventTimestamp::from_unix_nanos(1_000_000_000_000_000_000).unwrap();
    let deep = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    let single = format!(
        r#"{{"client_id":"a","payload":{{"timestamp":1}},"x":{}}}"#,
        deep(16_000)
    );
    match parse_body(single.as_bytes()).unwrap() {
        Body::Single(raw) => assert!(event_core::normalize_event(raw, now).is_ok()),
        other => panic!("one event expected, got {other:?}"),
    }
    let batch = format!(r#"{{"events":[{{"x":{}}}]}}"#, deep(500_000));
    if let Ok(body) = parse_body(batch.as_bytes()) {
        for raw in body.events() {
            assert!(
                event_core::normalize_event(raw, now).is_err(),
                "over 32 KiB"
            );
        }
    }
}
