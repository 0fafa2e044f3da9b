//! `normalize_event` and `peek_client_id`: every field rule of docs/contract.md "Event", every
//! error code with its field path, the order in which rules are checked, duplicate keys.

use event_core::limits::MAX_EVENT_BYTES;
use event_core::{
    normalize_event, peek_client_id, Amount, EventError, EventTimestamp, ParsedEvent,
};
use serde_json::value::RawValue;
use serde_json::{json, Value};

fn now() -> EventTimestamp {
    EventTimestamp::parse("2026-11-21T00:00:00Z").unwrap()
}

fn raw(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).expect("test JSON is valid")
}

fn normalize_text(text: &str) -> Result<ParsedEvent, EventError> {
    normalize_event(&raw(text), now())
}

fn normalize(value: &Value) -> Result<ParsedEvent, EventError> {
    normalize_text(&value.to_string())
}

/// A valid event; tests change one thing at a time.
fn base() -> Value {
    json!({
        "client_id": "acme-prod",
        "source": "web",
        "payload": {"metric": "purchase", "amount": "12.50", "timestamp": "2026-11-20T10:00:00+02:00"},
        "simulateFailure": false
    })
}

fn with(pointer: &str, value: Value) -> Value {
    let mut event = base();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        &mut event
    } else {
        event.pointer_mut(parent).unwrap()
    };
    target
        .as_object_mut()
        .unwrap()
        .insert(key.to_owned(), value);
    event
}

fn without(pointer: &str) -> Value {
    let mut event = base();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        &mut event
    } else {
        event.pointer_mut(parent).unwrap()
    };
    target.as_object_mut().unwrap().remove(key);
    event
}

#[track_caller]
fn rejects(value: &Value, code: &str, field: Option<&str>) -> EventError {
    let err = normalize(value).expect_err("event must be rejected");
    assert_eq!(
        (err.code(), err.field()),
        (code, field),
        "message: {}",
        err.message()
    );
    err
}

#[track_caller]
fn rejects_text(text: &str, code: &str, field: Option<&str>) -> EventError {
    let err = normalize_text(text).expect_err("event must be rejected");
    assert_eq!(
        (err.code(), err.field()),
        (code, field),
        "message: {}",
        err.message()
    );
    err
}

// ---------- a valid event ----------

#[test]
fn given_the_spec_example_when_normalized_then_every_field_takes_its_canonical_form() {
    let parsed = normalize(&base()).unwrap();
    let e = &parsed.event;
    assert_eq!(e.client_id.as_str(), "acme-prod");
    assert_eq!(e.source.as_str(), "web");
    assert_eq!(e.metric.as_str(), "purchase");
    assert_eq!(e.amount.to_string(), "12.5");
    assert_eq!(e.timestamp.to_string(), "2026-11-20T08:00:00Z");
    assert_eq!(e.event_id, None);
    assert!(!parsed.simulate_failure);
    assert_eq!(parsed.hash, e.hash());
}

#[test]
fn given_a_normalized_event_when_serialized_then_amount_is_a_string_and_event_id_is_omitted() {
    let parsed = normalize(&base()).unwrap();
    assert_eq!(
        serde_json::to_value(&parsed.event).unwrap(),
        json!({"client_id": "acme-prod", "source": "web", "metric": "purchase",
               "amount": "12.5", "timestamp": "2026-11-20T08:00:00Z"})
    );
    let with_id = normalize(&with("/event_id", json!("evt-1"))).unwrap();
    assert_eq!(
        serde_json::to_value(&with_id.event).unwrap()["event_id"],
        json!("evt-1")
    );
}

#[test]
fn given_unknown_fields_at_top_and_in_payload_when_normalized_then_they_are_ignored() {
    let mut event = with("/extra", json!({"nested": [1, 2, {"x": null}]}));
    event["payload"]["note"] = json!("hello");
    let plain = normalize(&base()).unwrap();
    assert_eq!(normalize(&event).unwrap(), plain);
}

#[test]
fn given_whitespace_and_other_key_order_when_normalized_then_the_event_is_the_same() {
    let text = r#"
      { "simulateFailure" : false ,
        "payload" : { "timestamp" : "2026-11-20T10:00:00+02:00" , "amount" : "12.50" , "metric" : "purchase" } ,
        "source" : "web" , "client_id" : "acme-prod" }
    "#;
    assert_eq!(normalize_text(text).unwrap(), normalize(&base()).unwrap());
}

#[test]
fn given_strings_with_escapes_when_normalized_then_they_are_decoded() {
    let text = r#"{"client_id":"acme\u002dprod","source":"w\u00e9b","payload":{"metric":"pur\"chase","amount":"1\u0032.5","timestamp":"2026-11-20T08:00:00Z"}}"#;
    let e = normalize_text(text).unwrap().event;
    assert_eq!(e.client_id.as_str(), "acme-prod");
    assert_eq!(e.source.as_str(), "wéb");
    assert_eq!(e.metric.as_str(), "pur\"chase");
    assert_eq!(e.amount.to_string(), "12.5");
}

// ---------- client_id ----------

#[test]
fn given_no_client_id_when_normalized_then_missing_client_id() {
    rejects(
        &without("/client_id"),
        "missing_client_id",
        Some("client_id"),
    );
}

#[test]
fn given_a_null_client_id_when_normalized_then_missing_client_id() {
    rejects(
        &with("/client_id", Value::Null),
        "missing_client_id",
        Some("client_id"),
    );
}

#[test]
fn given_bad_client_ids_when_normalized_then_invalid_client_id() {
    for bad in [
        json!(""),
        json!("a b"),
        json!("acme/prod"),
        json!("café"),
        json!("x".repeat(129)),
        json!(42),
        json!(true),
        json!(["acme"]),
        json!({"id": "acme"}),
    ] {
        rejects(
            &with("/client_id", bad),
            "invalid_client_id",
            Some("client_id"),
        );
    }
}

#[test]
fn given_client_ids_at_the_limits_when_normalized_then_they_are_kept_verbatim() {
    for good in ["a", "A-z.0_9:@-", &"x".repeat(128)] {
        let e = normalize(&with("/client_id", json!(good))).unwrap().event;
        assert_eq!(e.client_id.as_str(), good);
    }
}

#[test]
fn given_a_client_id_with_surrounding_spaces_when_normalized_then_it_is_rejected_not_trimmed() {
    rejects(
        &with("/client_id", json!(" acme ")),
        "invalid_client_id",
        Some("client_id"),
    );
}

// ---------- source ----------

#[test]
fn given_no_or_null_source_when_normalized_then_source_is_unknown() {
    assert_eq!(
        normalize(&without("/source"))
            .unwrap()
            .event
            .source
            .as_str(),
        "unknown"
    );
    assert_eq!(
        normalize(&with("/source", Value::Null))
            .unwrap()
            .event
            .source
            .as_str(),
        "unknown"
    );
}

#[test]
fn given_a_source_with_surrounding_whitespace_when_normalized_then_it_is_trimmed() {
    let e = normalize(&with("/source", json!("  mobile app \t\n")))
        .unwrap()
        .event;
    assert_eq!(e.source.as_str(), "mobile app");
}

#[test]
fn given_bad_sources_when_normalized_then_invalid_source() {
    for bad in [
        json!(""),
        json!("   "),
        json!("we\u{0007}b"),
        json!("line\nbreak"),
        json!("s".repeat(129)),
        json!(7),
        json!(false),
        json!([]),
    ] {
        rejects(&with("/source", bad), "invalid_source", Some("source"));
    }
}

#[test]
fn given_a_source_of_128_multibyte_characters_when_normalized_then_it_is_accepted() {
    let long = "é".repeat(128); // 256 bytes, 128 characters
    let e = normalize(&with("/source", json!(long))).unwrap().event;
    assert_eq!(e.source.as_str(), long);
    rejects(
        &with("/source", json!("é".repeat(129))),
        "invalid_source",
        Some("source"),
    );
}

// ---------- payload ----------

#[test]
fn given_no_payload_when_normalized_then_it_is_an_empty_object_and_the_timestamp_is_missing() {
    rejects(
        &without("/payload"),
        "missing_timestamp",
        Some("payload.timestamp"),
    );
    rejects(
        &with("/payload", Value::Null),
        "missing_timestamp",
        Some("payload.timestamp"),
    );
}

#[test]
fn given_a_payload_that_is_not_an_object_when_normalized_then_invalid_field_payload() {
    for bad in [json!("x"), json!([1]), json!(3), json!(true)] {
        let err = rejects(&with("/payload", bad), "invalid_field", Some("payload"));
        assert!(err.message().starts_with("payload must be a JSON object"));
    }
}

#[test]
fn given_a_payload_number_beyond_f64_when_normalized_then_invalid_field_payload_not_a_crash() {
    let text = r#"{"client_id":"a","payload":1e400}"#;
    rejects_text(text, "invalid_field", Some("payload"));
}

// ---------- metric ----------

#[test]
fn given_no_or_null_metric_when_normalized_then_metric_is_unknown() {
    assert_eq!(
        normalize(&without("/payload/metric"))
            .unwrap()
            .event
            .metric
            .as_str(),
        "unknown"
    );
    assert_eq!(
        normalize(&with("/payload/metric", Value::Null))
            .unwrap()
            .event
            .metric
            .as_str(),
        "unknown"
    );
}

#[test]
fn given_a_metric_with_whitespace_when_normalized_then_it_is_trimmed() {
    let e = normalize(&with("/payload/metric", json!(" page view ")))
        .unwrap()
        .event;
    assert_eq!(e.metric.as_str(), "page view");
}

#[test]
fn given_bad_metrics_when_normalized_then_invalid_metric() {
    for bad in [
        json!(""),
        json!(" "),
        json!("a\u{0000}b"),
        json!("m".repeat(129)),
        json!(1),
        json!({}),
    ] {
        rejects(
            &with("/payload/metric", bad),
            "invalid_metric",
            Some("payload.metric"),
        );
    }
}

// ---------- amount, timestamp: tests/event/amount_and_timestamp.rs ----------

#[path = "event/amount_and_timestamp.rs"]
mod amount_and_timestamp;

// ---------- event_id ----------

#[test]
fn given_an_event_id_when_normalized_then_it_is_kept_and_part_of_the_identity() {
    let a = normalize(&with("/event_id", json!("evt-1"))).unwrap();
    let b = normalize(&with("/event_id", json!("evt-2"))).unwrap();
    let none = normalize(&base()).unwrap();
    assert_eq!(a.event.event_id.as_ref().unwrap().as_str(), "evt-1");
    assert_ne!(a.hash, b.hash);
    assert_ne!(a.hash, none.hash);
}

#[test]
fn given_a_null_event_id_when_normalized_then_there_is_none() {
    let e = normalize(&with("/event_id", Value::Null)).unwrap().event;
    assert_eq!(e.event_id, None);
}

#[test]
fn given_bad_event_ids_when_normalized_then_invalid_event_id() {
    for bad in [
        json!(""),
        json!("a|b"),
        json!("e".repeat(129)),
        json!(12),
        json!(true),
    ] {
        rejects(
            &with("/event_id", bad),
            "invalid_event_id",
            Some("event_id"),
        );
    }
}

// ---------- simulateFailure ----------

#[test]
fn given_simulate_failure_values_when_normalized_then_true_false_null_and_missing_are_read() {
    assert!(
        normalize(&with("/simulateFailure", json!(true)))
            .unwrap()
            .simulate_failure
    );
    assert!(
        !normalize(&with("/simulateFailure", json!(false)))
            .unwrap()
            .simulate_failure
    );
    assert!(
        !normalize(&with("/simulateFailure", Value::Null))
            .unwrap()
            .simulate_failure
    );
    assert!(
        !normalize(&without("/simulateFailure"))
            .unwrap()
            .simulate_failure
    );
}

#[test]
fn given_a_simulate_failure_that_is_not_a_boolean_when_normalized_then_invalid_field() {
    for bad in [json!("true"), json!(1), json!([]), json!({})] {
        rejects(
            &with("/simulateFailure", bad),
            "invalid_field",
            Some("simulateFailure"),
        );
    }
}

#[test]
fn given_simulate_failure_true_when_normalized_then_the_hash_is_the_same_as_without() {
    let a = normalize(&with("/simulateFailure", json!(true))).unwrap();
    let b = normalize(&base()).unwrap();
    assert_eq!(a.hash, b.hash);
}

// ---------- duplicate keys ----------

#[test]
fn given_a_duplicate_top_level_key_when_normalized_then_invalid_field_names_it() {
    let text = r#"{"client_id":"a","client_id":"b","payload":{"timestamp":0}}"#;
    let err = rejects_text(text, "invalid_field", Some("client_id"));
    assert!(
        err.message().contains("more than once"),
        "{}",
        err.message()
    );
}

#[test]
fn given_a_duplicate_payload_key_when_normalized_then_invalid_field_names_its_path() {
    let text = r#"{"client_id":"a","payload":{"amount":1,"timestamp":0,"amount":2}}"#;
    rejects_text(text, "invalid_field", Some("payload.amount"));
    let text = r#"{"client_id":"a","payload":{"timestamp":0},"payload":{"timestamp":0}}"#;
    rejects_text(text, "invalid_field", Some("payload"));
}

#[test]
fn given_a_duplicate_key_spelled_with_an_escape_when_normalized_then_it_is_still_a_duplicate() {
    let text = r#"{"client_id":"a","client\u005fid":"b","payload":{"timestamp":0}}"#;
    rejects_text(text, "invalid_field", Some("client_id"));
}

#[test]
fn given_a_duplicate_unknown_key_when_normalized_then_invalid_field_names_it() {
    let text = r#"{"client_id":"a","note":1,"note":2,"payload":{"timestamp":0}}"#;
    rejects_text(text, "invalid_field", Some("note"));
    let text = r#"{"client_id":"a","payload":{"timestamp":0,"x":1,"x":1}}"#;
    rejects_text(text, "invalid_field", Some("payload.x"));
}

#[test]
fn given_a_duplicate_null_key_when_normalized_then_it_is_still_a_duplicate() {
    let text = r#"{"client_id":"a","event_id":null,"event_id":"x","payload":{"timestamp":0}}"#;
    rejects_text(text, "invalid_field", Some("event_id"));
    let text = r#"{"client_id":"a","payload":null,"payload":{"timestamp":0}}"#;
    rejects_text(text, "invalid_field", Some("payload"));
}

#[test]
fn given_the_same_key_in_different_objects_when_normalized_then_it_is_not_a_duplicate() {
    let text =
        r#"{"client_id":"a","amount":5,"payload":{"amount":1,"timestamp":0,"client_id":"z"}}"#;
    let e = normalize_text(text).unwrap().event;
    assert_eq!(e.amount.to_string(), "1");
    assert_eq!(e.client_id.as_str(), "a");
}

// ---------- check order ----------

#[test]
fn given_several_bad_fields_when_normalized_then_the_first_in_spec_order_is_reported() {
    // Order: client_id, event_id, source, payload, metric, amount, timestamp, simulateFailure.
    let all_bad = json!({
        "client_id": 1, "event_id": 2, "source": 3,
        "payload": {"metric": 4, "amount": "x", "timestamp": "y"},
        "simulateFailure": "z"
    });
    let order = [
        ("/client_id", "invalid_client_id", "client_id"),
        ("/event_id", "invalid_event_id", "event_id"),
        ("/source", "invalid_source", "source"),
        ("/payload/metric", "invalid_metric", "payload.metric"),
        ("/payload/amount", "invalid_amount", "payload.amount"),
        (
            "/payload/timestamp",
            "invalid_timestamp",
            "payload.timestamp",
        ),
        ("/simulateFailure", "invalid_field", "simulateFailure"),
    ];
    let mut event = all_bad;
    for (i, (pointer, code, field)) in order.iter().enumerate() {
        let err = normalize(&event).expect_err("still bad");
        assert_eq!((err.code(), err.field()), (*code, Some(*field)), "step {i}");
        // Fix this field; the next one must be reported.
        let fixed = base().pointer(pointer).cloned().unwrap_or(json!("evt-1"));
        *event.pointer_mut(pointer).unwrap() = fixed;
    }
    assert!(normalize(&event).is_ok());
}

#[test]
fn given_a_bad_source_and_a_bad_payload_when_normalized_then_source_comes_first_then_payload() {
    let event = json!({"client_id": "a", "source": "", "payload": 5});
    rejects(&event, "invalid_source", Some("source"));
    let event = json!({"client_id": "a", "payload": 5, "simulateFailure": "x"});
    rejects(&event, "invalid_field", Some("payload"));
}

// ---------- not an object, too large ----------

#[test]
fn given_values_that_are_not_objects_when_normalized_then_not_an_object() {
    for (text, found) in [
        ("[1,2]", "an array"),
        ("\"event\"", "a string"),
        ("42", "a number"),
        ("null", "null"),
        ("true", "a boolean"),
    ] {
        let err = rejects_text(text, "not_an_object", None);
        assert!(err.message().contains(found), "{}", err.message());
    }
}

#[test]
fn given_an_event_over_32_kib_when_normalized_then_event_too_large() {
    let mut event = base();
    event["padding"] = json!("x".repeat(MAX_EVENT_BYTES));
    let err = rejects(&event, "event_too_large", None);
    assert!(err.message().contains("32768"), "{}", err.message());
}

#[test]
fn given_an_event_of_exactly_32_kib_when_normalized_then_it_is_accepted() {
    let mut event = base();
    event["padding"] = json!("");
    let len = event.to_string().len();
    event["padding"] = json!("x".repeat(MAX_EVENT_BYTES - len));
    assert_eq!(event.to_string().len(), MAX_EVENT_BYTES);
    assert!(normalize(&event).is_ok());
}

// ---------- peek_client_id ----------

#[test]
fn given_a_valid_client_id_and_a_bad_amount_when_peeked_then_the_client_id_is_found() {
    let event = with("/payload/amount", json!("abc"));
    assert!(normalize(&event).is_err());
    let peeked = peek_client_id(&raw(&event.to_string())).unwrap();
    assert_eq!(peeked.as_str(), "acme-prod");
}

#[test]
fn given_an_oversized_event_when_peeked_then_the_client_id_is_still_found() {
    let mut event = base();
    event["padding"] = json!("x".repeat(MAX_EVENT_BYTES));
    assert_eq!(
        peek_client_id(&raw(&event.to_string())).unwrap().as_str(),
        "acme-prod"
    );
}

#[test]
fn given_no_valid_client_id_when_peeked_then_none() {
    for text in [
        r#"{"client_id":"bad id"}"#,
        r#"{"client_id":5}"#,
        r#"{"source":"web"}"#,
        r#"{"client_id":"a","client_id":"b"}"#,
        r#"["client_id"]"#,
        r#""acme""#,
    ] {
        assert_eq!(peek_client_id(&raw(text)), None, "{text}");
    }
}

// ---------- messages ----------

#[test]
fn given_any_field_error_when_displayed_then_it_is_a_sentence_naming_the_field() {
    let cases = [
        with("/client_id", json!("a b")),
        with("/event_id", json!("a b")),
        with("/source", json!("")),
        with("/payload", json!(1)),
        with("/payload/metric", json!("")),
        with("/payload/amount", json!("x")),
        with("/payload/timestamp", json!("x")),
        with("/payload/timestamp", json!("2099-01-01T00:00:00Z")),
        with("/simulateFailure", json!(1)),
        without("/client_id"),
        without("/payload/timestamp"),
    ];
    for event in cases {
        let err = normalize(&event).unwrap_err();
        let message = err.message();
        assert!(message.ends_with('.'), "{message}");
        assert!(message.contains(err.field().unwrap()), "{message}");
        assert_eq!(message, err.to_string());
    }
}

#[test]
fn given_an_error_when_retargeted_with_with_field_then_code_stays_and_field_changes() {
    let err = EventTimestamp::parse("soon").unwrap_err();
    assert_eq!(err.field(), Some("payload.timestamp"));
    let err = err.with_field("from");
    assert_eq!(
        (err.code(), err.field()),
        ("invalid_timestamp", Some("from"))
    );
    assert!(
        err.message().starts_with("from must be"),
        "{}",
        err.message()
    );
}
