//! `normalize_event`'s two number fields (part of tests/event.rs, whose helpers it uses):
//! amounts read exactly from JSON numbers and strings, timestamps in every spelling of one
//! instant, and every rejection of either with its code and message.

use super::*;

// ---------- amount ----------

fn amount_of(value: Value) -> String {
    normalize(&with("/payload/amount", value))
        .unwrap()
        .event
        .amount
        .to_string()
}

#[test]
fn given_no_or_null_amount_when_normalized_then_amount_is_zero() {
    let e = normalize(&without("/payload/amount")).unwrap().event;
    assert_eq!(e.amount, Amount::ZERO);
    assert_eq!(amount_of(Value::Null), "0");
}

#[test]
fn given_amounts_as_json_numbers_when_normalized_then_they_are_read_exactly() {
    let cases = [
        ("10", "10"),
        ("10.00", "10"),
        ("1e1", "10"),
        ("1E+1", "10"),
        ("-0", "0"),
        ("-0.0", "0"),
        ("0.1", "0.1"),
        (
            "123456789012345678.123456789",
            "123456789012345678.123456789",
        ),
        ("1.5000000000", "1.5"),
        ("-12.340", "-12.34"),
    ];
    for (number, canonical) in cases {
        let text = format!(r#"{{"client_id":"a","payload":{{"amount":{number},"timestamp":0}}}}"#);
        assert_eq!(
            normalize_text(&text).unwrap().event.amount.to_string(),
            canonical,
            "{number}"
        );
    }
}

#[test]
fn given_amounts_as_numeric_strings_when_normalized_then_they_are_read_exactly() {
    for (text, canonical) in [
        ("12.50", "12.5"),
        ("+7", "7"),
        ("1e1", "10"),
        ("-0", "0"),
        ("0.000000001", "0.000000001"),
    ] {
        assert_eq!(amount_of(json!(text)), canonical, "{text}");
    }
}

#[test]
fn given_bad_amounts_when_normalized_then_invalid_amount() {
    for bad in [
        json!("abc"),
        json!("NaN"),
        json!("Infinity"),
        json!("-Infinity"),
        json!(""),
        json!(" 1"),
        json!("1 "),
        json!("1,5"),
        json!(".5"),
        json!("5."),
        json!("0x10"),
        json!("1_000"),
        json!(true),
        json!(false),
        json!([1]),
        json!({"value": 1}),
        json!("1234567890123456789"),
        json!("0.0000000001"),
        json!("1e18"),
        json!("1e999999999"),
        json!("1e-999999999"),
    ] {
        rejects(
            &with("/payload/amount", bad),
            "invalid_amount",
            Some("payload.amount"),
        );
    }
}

#[test]
fn given_json_number_amounts_out_of_range_when_normalized_then_invalid_amount() {
    for number in [
        "1e400",
        "1234567890123456789",
        "0.0000000001",
        "1e999999999999999999999",
    ] {
        let text = format!(r#"{{"client_id":"a","payload":{{"amount":{number},"timestamp":0}}}}"#);
        rejects_text(&text, "invalid_amount", Some("payload.amount"));
    }
}

#[test]
fn given_a_bad_amount_when_rejected_then_the_message_explains_the_rule_and_echoes_the_input() {
    let err = rejects(
        &with("/payload/amount", json!("abc")),
        "invalid_amount",
        Some("payload.amount"),
    );
    assert_eq!(
        err.message(),
        "payload.amount must be a decimal number with at most 18 digits before the point and 9 after; got \"abc\"."
    );
    let err = rejects(
        &with("/payload/amount", json!(true)),
        "invalid_amount",
        Some("payload.amount"),
    );
    assert!(
        err.message().ends_with("; got a boolean."),
        "{}",
        err.message()
    );
}

#[test]
fn given_a_very_long_bad_amount_when_rejected_then_the_echo_is_truncated_to_64_characters() {
    let long = "9".repeat(5000);
    let err = rejects(
        &with("/payload/amount", json!(long)),
        "invalid_amount",
        Some("payload.amount"),
    );
    let message = err.message();
    assert!(
        message.contains(&format!("\"{}…\"", "9".repeat(64))),
        "{message}"
    );
    assert!(message.len() < 200, "{message}");
}

// ---------- timestamp ----------

fn timestamp_of(value: Value) -> Result<String, EventError> {
    normalize(&with("/payload/timestamp", value)).map(|p| p.event.timestamp.to_string())
}

#[test]
fn given_no_or_null_timestamp_when_normalized_then_missing_timestamp() {
    rejects(
        &without("/payload/timestamp"),
        "missing_timestamp",
        Some("payload.timestamp"),
    );
    rejects(
        &with("/payload/timestamp", Value::Null),
        "missing_timestamp",
        Some("payload.timestamp"),
    );
}

#[test]
fn given_timestamp_spellings_of_one_instant_when_normalized_then_they_give_one_utc_text() {
    for spelling in [
        json!("2026-11-20T10:00:00+02:00"),
        json!("2026-11-20T10:00:00+0200"),
        json!("2026-11-20T10:00:00+02"),
        json!("2026-11-20T10:00:00 02:00"),
        json!("2026-11-20T08:00:00Z"),
        json!("2026-11-20t08:00:00z"),
        json!("2026-11-20 08:00:00"),
        json!("2026-11-20T08:00:00"),
        json!("2026-11-20T08:00"),
        json!("2026-11-20T08:00:00.000Z"),
        json!("2026-11-20T03:00:00-05:00"),
        json!("1795161600"),
        json!(1795161600),
        json!(1795161600000u64),
        json!("1795161600000"),
        json!(1.7951616e9),
    ] {
        assert_eq!(
            timestamp_of(spelling.clone()).unwrap(),
            "2026-11-20T08:00:00Z",
            "{spelling}"
        );
    }
}

#[test]
fn given_sub_second_timestamps_when_normalized_then_digits_are_kept_without_trailing_zeros() {
    assert_eq!(
        timestamp_of(json!("2026-11-20T08:00:00.500Z")).unwrap(),
        "2026-11-20T08:00:00.5Z"
    );
    assert_eq!(
        timestamp_of(json!("2026-11-20T08:00:00.123456789Z")).unwrap(),
        "2026-11-20T08:00:00.123456789Z"
    );
    assert_eq!(
        timestamp_of(json!(1795161600.25)).unwrap(),
        "2026-11-20T08:00:00.25Z"
    );
    assert_eq!(
        timestamp_of(json!(1795161600123u64)).unwrap(),
        "2026-11-20T08:00:00.123Z"
    );
}

#[test]
fn given_bad_timestamps_when_normalized_then_invalid_timestamp() {
    for bad in [
        json!("yesterday"),
        json!(""),
        json!("2026-13-01T00:00:00Z"),
        json!("2026-02-30T00:00:00Z"),
        json!("2026-11-20T24:00:00Z"),
        json!("2026-11-20T23:60:00Z"),
        json!("2026-11-20T23:59:60Z"),
        json!("2026-11-20T08:00:00.1234567891Z"),
        json!("2026-11-20T08:00:00+25:00"),
        json!("2026-11-20T08:00:00  02:00"),
        json!("2026-11-20T08:00:00Zjunk"),
        json!("20261120T080000Z"),
        json!(true),
        json!([2026]),
        json!({"s": 1}),
    ] {
        rejects(
            &with("/payload/timestamp", bad),
            "invalid_timestamp",
            Some("payload.timestamp"),
        );
    }
    // Finer than a nanosecond, as raw JSON numbers (f64 would round these away).
    for number in ["1795161600.0000000001", "1795161600000.0000001"] {
        let text = format!(r#"{{"client_id":"a","payload":{{"timestamp":{number}}}}}"#);
        rejects_text(&text, "invalid_timestamp", Some("payload.timestamp"));
    }
}

#[test]
fn given_timestamps_before_1970_when_normalized_then_invalid_timestamp() {
    for bad in [
        json!("1969-12-31T23:59:59Z"),
        json!("1970-01-01T00:30:00+01:00"),
        json!(-1),
        json!("-1"),
        json!("0001-01-01T00:00:00Z"),
    ] {
        let err = rejects(
            &with("/payload/timestamp", bad),
            "invalid_timestamp",
            Some("payload.timestamp"),
        );
        assert!(err.message().contains("1970"), "{}", err.message());
    }
    assert_eq!(timestamp_of(json!(0)).unwrap(), "1970-01-01T00:00:00Z");
}

#[test]
fn given_a_timestamp_more_than_24h_after_receipt_when_normalized_then_timestamp_in_future() {
    // received at 2026-11-21T00:00:00Z
    assert!(timestamp_of(json!("2026-11-22T00:00:00Z")).is_ok());
    for bad in [
        json!("2026-11-22T00:00:00.000000001Z"),
        json!("2030-01-01T00:00:00Z"),
        json!("9999-12-31T23:59:59Z"),
        json!(1e12 * 1000.0),
        json!("1e400"),
    ] {
        rejects(
            &with("/payload/timestamp", bad),
            "timestamp_in_future",
            Some("payload.timestamp"),
        );
    }
    let text = r#"{"client_id":"a","payload":{"timestamp":1e400}}"#;
    rejects_text(text, "timestamp_in_future", Some("payload.timestamp"));
}

#[test]
fn given_epoch_numbers_around_10_to_the_11_when_normalized_then_seconds_and_millis_are_told_apart()
{
    let late = EventTimestamp::MAX;
    let at = |n: &str| {
        let text = format!(r#"{{"client_id":"a","payload":{{"timestamp":{n}}}}}"#);
        normalize_event(&raw(&text), late).map(|p| p.event.timestamp.unix_nanos())
    };
    // 10^11 itself is seconds (year 5138, past what an i64 of nanoseconds holds); anything
    // above is milliseconds (1973).
    assert_eq!(
        at("100000000000").unwrap_err().code(),
        "timestamp_in_future"
    );
    assert_eq!(at("100000000001").unwrap(), 100_000_000_001 * 1_000_000);
    assert_eq!(at("99999999999").unwrap_err().code(), "timestamp_in_future");
    assert_eq!(at("9000000000").unwrap(), 9_000_000_000 * 1_000_000_000);
}
