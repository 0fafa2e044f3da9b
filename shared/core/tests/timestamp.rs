//! `EventTimestamp`: the accepted spellings, the range, the canonical text, hour keys.

use chrono::{DateTime, Timelike};
use event_core::EventTimestamp;

fn utc(text: &str) -> String {
    EventTimestamp::parse(text)
        .unwrap_or_else(|e| panic!("{text}: {}", e.message()))
        .to_string()
}

#[test]
fn given_rfc3339_with_offsets_when_parsed_then_the_same_utc_instant() {
    for text in [
        "2026-11-20T10:00:00+02:00",
        "2026-11-20T10:00:00+0200",
        "2026-11-20T10:00:00+02",
        "2026-11-20T10:00:00 02:00",
        "2026-11-20T10:00:00 0200",
        "2026-11-20T08:00:00Z",
        "2026-11-20T08:00:00z",
        "2026-11-20t08:00:00Z",
        "2026-11-20 08:00:00Z",
        "2026-11-20T08:00:00",
        "2026-11-20T08:00",
        "2026-11-20T08:00Z",
        "2026-11-20T08:00:00-00:00",
        "2026-11-19T23:30:00-08:30",
        "2026-11-20T08:00:00,000Z",
    ] {
        assert_eq!(utc(text), "2026-11-20T08:00:00Z", "{text}");
    }
}

#[test]
fn given_a_date_only_when_parsed_then_it_is_midnight_utc() {
    assert_eq!(utc("2026-11-20"), "2026-11-20T00:00:00Z");
}

#[test]
fn given_fractional_seconds_when_parsed_then_kept_to_the_nanosecond_without_trailing_zeros() {
    assert_eq!(utc("2026-11-20T08:00:00.5Z"), "2026-11-20T08:00:00.5Z");
    assert_eq!(utc("2026-11-20T08:00:00.50Z"), "2026-11-20T08:00:00.5Z");
    assert_eq!(
        utc("2026-11-20T08:00:00.000000001Z"),
        "2026-11-20T08:00:00.000000001Z"
    );
    assert_eq!(
        utc("2026-11-20T08:00:00.123456789+01:00"),
        "2026-11-20T07:00:00.123456789Z"
    );
    assert!(EventTimestamp::parse("2026-11-20T08:00:00.1234567890Z").is_err());
}

#[test]
fn given_epoch_digits_when_parsed_then_seconds_or_milliseconds_above_10_to_the_11() {
    assert_eq!(utc("0"), "1970-01-01T00:00:00Z");
    assert_eq!(utc("1795161600"), "2026-11-20T08:00:00Z");
    assert_eq!(utc("1795161600000"), "2026-11-20T08:00:00Z");
    assert_eq!(utc("1795161600123"), "2026-11-20T08:00:00.123Z");
    assert_eq!(utc("100000000001"), "1973-03-03T09:46:40.001Z");
}

#[test]
fn given_epoch_json_number_text_when_read_then_fractions_and_exponents_are_exact() {
    let read = |t: &str| EventTimestamp::from_epoch_number(t).map(|ts| ts.to_string());
    assert_eq!(read("1795161600.5").unwrap(), "2026-11-20T08:00:00.5Z");
    assert_eq!(read("1.7951616e9").unwrap(), "2026-11-20T08:00:00Z");
    assert_eq!(read("1.7951616E12").unwrap(), "2026-11-20T08:00:00Z");
    assert_eq!(
        read("1795161600000.000001").unwrap(),
        "2026-11-20T08:00:00.000000001Z"
    );
    assert_eq!(
        read("1795161600.000000001").unwrap(),
        "2026-11-20T08:00:00.000000001Z"
    );
    assert_eq!(read("0.0").unwrap(), "1970-01-01T00:00:00Z");
    assert_eq!(read("-0").unwrap(), "1970-01-01T00:00:00Z");
    for bad in [
        "1795161600.0000000001",
        "-1",
        "abc",
        "1e400",
        "\"1\"",
        "1e-999999999",
    ] {
        let err = EventTimestamp::from_epoch_number(bad).expect_err(bad);
        assert_eq!(err.code(), "invalid_timestamp", "{bad}");
    }
}

#[test]
fn given_text_before_1970_or_after_2262_when_parsed_then_invalid_timestamp() {
    for bad in [
        "1969-12-31T23:59:59.999999999Z",
        "-5",
        "2262-04-12T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ] {
        let err = EventTimestamp::parse(bad).expect_err(bad);
        assert_eq!(
            (err.code(), err.field()),
            ("invalid_timestamp", Some("payload.timestamp"))
        );
    }
}

#[test]
fn given_the_last_representable_instant_when_parsed_then_it_is_max() {
    let max = EventTimestamp::parse("2262-04-11T23:47:16.854775807Z").unwrap();
    assert_eq!(max, EventTimestamp::MAX);
    assert!(EventTimestamp::parse("2262-04-11T23:47:16.854775808Z").is_err());
}

#[test]
fn given_bounds_out_of_range_when_parsed_as_bounds_then_they_saturate() {
    assert_eq!(
        EventTimestamp::parse_bound("9999-12-31T23:59:59Z").unwrap(),
        EventTimestamp::MAX
    );
    assert_eq!(
        EventTimestamp::parse_bound("1e30").unwrap(),
        EventTimestamp::MAX
    );
    assert_eq!(
        EventTimestamp::parse_bound("1900-01-01T00:00:00Z").unwrap(),
        EventTimestamp::MIN
    );
    assert_eq!(
        EventTimestamp::parse_bound("2026-11-20T10:00:00 02:00").unwrap(),
        EventTimestamp::parse("2026-11-20T08:00:00Z").unwrap()
    );
    assert_eq!(
        EventTimestamp::parse_bound("tomorrow").unwrap_err().code(),
        "invalid_timestamp"
    );
}

#[test]
fn given_malformed_text_when_parsed_then_invalid_timestamp_naming_the_forms() {
    for bad in [
        "",
        " ",
        "now",
        "2026-11",
        "2026-1-20",
        "2026-11-20T8:00:00Z",
        "2026-11-20T08",
        "2026-11-20T08:00:00ZZ",
        "2026-11-20T08:00:00+2",
        "2026-11-20T08:00:00+02:0",
        "2026-11-20T08:00:00+02:000",
        "2026-11-20T08:00:00 +02:00",
        "2026-11-20T08:00:00.Z",
        "2026-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-11-20T08:00:00+24:00",
        " 2026-11-20T08:00:00Z",
        "2026-11-20T08:00:00Z ",
        "2026-11-20T08:00:60Z",
        "+2026-11-20T08:00:00Z",
        "1795161600 ",
        "0x10",
        "1.2.3",
    ] {
        let err = EventTimestamp::parse(bad).expect_err(bad);
        assert_eq!(err.code(), "invalid_timestamp", "{bad}");
    }
    let message = EventTimestamp::parse("now").unwrap_err().message();
    assert!(
        message.contains("RFC 3339") && message.contains("epoch"),
        "{message}"
    );
}

#[test]
fn given_leap_days_when_parsed_then_calendar_rules_apply() {
    assert_eq!(utc("2024-02-29T12:00:00Z"), "2024-02-29T12:00:00Z");
    assert_eq!(utc("2000-02-29T00:00:00Z"), "2000-02-29T00:00:00Z");
    assert!(EventTimestamp::parse("2100-02-29T00:00:00Z").is_err());
}

#[test]
fn given_instants_when_displayed_then_text_matches_chrono_rfc3339() {
    let mut nanos: i64 = 0;
    for step in 0..2000i64 {
        nanos = nanos
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407 + step)
            & i64::MAX;
        let ts = EventTimestamp::from_unix_nanos(nanos).unwrap();
        let dt = DateTime::from_timestamp_nanos(nanos);
        let mut expected = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
        let frac = dt.nanosecond();
        if frac != 0 {
            let digits = format!("{frac:09}");
            expected.push('.');
            expected.push_str(digits.trim_end_matches('0'));
        }
        expected.push('Z');
        assert_eq!(ts.to_string(), expected);
        assert_eq!(EventTimestamp::parse(&expected).unwrap(), ts);
        assert_eq!(ts.hour_key(), dt.format("%Y%m%d%H").to_string());
    }
}

#[test]
fn given_an_instant_when_keyed_by_hour_then_yyyymmddhh_utc_and_floor_agrees() {
    let ts = EventTimestamp::parse("2026-11-20T10:59:59.999+02:00").unwrap();
    assert_eq!(ts.hour_key(), "2026112008");
    assert_eq!(ts.floor_hour().to_string(), "2026-11-20T08:00:00Z");
    assert_eq!(EventTimestamp::MIN.hour_key(), "1970010100");
}

#[test]
fn given_a_timestamp_when_serialized_then_it_is_its_rfc3339_text() {
    let ts = EventTimestamp::parse("2026-11-20T08:00:00.25Z").unwrap();
    assert_eq!(
        serde_json::to_string(&ts).unwrap(),
        "\"2026-11-20T08:00:00.25Z\""
    );
}

#[test]
fn given_negative_nanos_when_constructed_then_none_and_saturating_add_clamps() {
    assert_eq!(EventTimestamp::from_unix_nanos(-1), None);
    assert_eq!(
        EventTimestamp::MAX.saturating_add_seconds(86_400),
        EventTimestamp::MAX
    );
    assert_eq!(
        EventTimestamp::MIN.saturating_add_seconds(-1),
        EventTimestamp::MIN
    );
}
