//! `EventHash` and `identity_encoding`: the documented v1 encoding, byte for byte, and
//! test vectors computed independently (Python `hashlib` over the documented layout) so
//! another implementation can check itself against them.

use event_core::hash::{identity_encoding, ENCODING_TAG};
use event_core::{normalize_event, BatchDeduper, EventHash, EventTimestamp, NormalizedEvent};
use serde_json::value::RawValue;

fn event(json: &str, received_at: EventTimestamp) -> NormalizedEvent {
    let raw = RawValue::from_string(json.to_owned()).unwrap();
    normalize_event(&raw, received_at)
        .unwrap_or_else(|e| panic!("{json}: {}", e.message()))
        .event
}

fn received() -> EventTimestamp {
    EventTimestamp::parse("2026-11-21T00:00:00Z").unwrap()
}

/// (event JSON, received at, expected lowercase hex SHA-256)
fn vectors() -> Vec<(&'static str, EventTimestamp, &'static str)> {
    vec![
        (
            // client_id=acme metric=purchase amount=12.5 timestamp=2026-11-20T08:00:00Z
            r#"{"client_id":"acme","payload":{"metric":"purchase","amount":"12.50","timestamp":"2026-11-20T10:00:00+02:00"}}"#,
            received(),
            "93dfd8983fe3545ccff1d572ef8ca6e731edfd87d3be9237f8193d6a096f60c5",
        ),
        (
            // the example of docs/contract.md; source does not count
            r#"{"client_id":"acme-prod","source":"web","payload":{"metric":"purchase","amount":"12.50","timestamp":"2026-11-20T10:00:00+02:00"},"simulateFailure":false}"#,
            received(),
            "ecb033f0946ea0890f020f7906619a8afb5e4d2af1765898210df7528a321bfa",
        ),
        (
            // with event_id=evt-1
            r#"{"client_id":"acme-prod","event_id":"evt-1","payload":{"metric":"purchase","amount":12.5,"timestamp":1795161600}}"#,
            received(),
            "0f1f2950bab6cabea63a137321dda1eba18e722275e97f982e5a890ac14178ab",
        ),
        (
            // defaults: metric=unknown amount=0 timestamp=epoch
            r#"{"client_id":"c:1@x","payload":{"timestamp":0}}"#,
            received(),
            "2fe4f15f3ac1cbe4320338db45a8b894092407011f4d5b4ab309e2eea5241239",
        ),
        (
            // non-ASCII metric with a '|', smallest negative amount, the last instant
            r#"{"client_id":"client.A_b-9","event_id":"a.b:c@d-e_f","payload":{"metric":" Käufe | total ","amount":"-1e-9","timestamp":"2262-04-11T23:47:16.854775807Z"}}"#,
            EventTimestamp::MAX,
            "bc876b1d4ed978424483953bf16ed87d0fc9ad8936aa8c01c3823510187d4201",
        ),
        (
            // the largest amount, nanosecond timestamp
            r#"{"client_id":"x","payload":{"metric":"m","amount":"999999999999999999.999999999","timestamp":"2026-11-20T08:00:00.123456789Z"}}"#,
            received(),
            "b22503c7133f0f052af929e7235d6ccbc35b7a3276eeac7ec24ae2dad0c20565",
        ),
    ]
}

#[test]
fn given_the_test_vectors_when_hashed_then_the_hex_matches() {
    for (json, at, hex) in vectors() {
        let e = event(json, at);
        assert_eq!(EventHash::of(&e).to_string(), hex, "{json}");
        assert_eq!(e.hash().to_string(), hex);
    }
}

#[test]
fn given_an_event_when_encoded_then_the_bytes_follow_the_documented_layout() {
    let e = event(vectors()[0].0, received());
    let mut expected = b"event-hash/v1".to_vec();
    for field in ["acme", "purchase", "12.5", "2026-11-20T08:00:00Z"] {
        expected.extend_from_slice(&(field.len() as u32).to_be_bytes());
        expected.extend_from_slice(field.as_bytes());
    }
    expected.push(0x00);
    assert_eq!(identity_encoding(&e), expected);
    assert_eq!(ENCODING_TAG, b"event-hash/v1");

    let with_id = event(vectors()[2].0, received());
    let encoding = identity_encoding(&with_id);
    assert_eq!(
        &encoding[encoding.len() - 10..],
        b"\x01\x00\x00\x00\x05evt-1"
    );
}

#[test]
fn given_the_encoding_when_hashed_with_plain_sha256_then_it_equals_event_hash() {
    use sha2::{Digest, Sha256};
    for (json, at, _) in vectors() {
        let e = event(json, at);
        let digest: [u8; 32] = Sha256::digest(identity_encoding(&e)).into();
        assert_eq!(&digest, EventHash::of(&e).as_bytes());
    }
}

#[test]
fn given_events_differing_only_in_source_or_simulate_failure_when_hashed_then_equal() {
    let a = event(
        r#"{"client_id":"a","source":"web","payload":{"timestamp":0}}"#,
        received(),
    );
    let b = event(
        r#"{"client_id":"a","source":"ios","simulateFailure":true,"payload":{"timestamp":0}}"#,
        received(),
    );
    assert_eq!(a.hash(), b.hash());
}

#[test]
fn given_fields_whose_concatenations_collide_when_hashed_then_the_hashes_differ() {
    // "a|b" + "c" vs "a" + "b|c" in client_id/metric.
    let a = event(
        r#"{"client_id":"ab","payload":{"metric":"c","timestamp":0}}"#,
        received(),
    );
    let b = event(
        r#"{"client_id":"a","payload":{"metric":"bc","timestamp":0}}"#,
        received(),
    );
    assert_ne!(identity_encoding(&a), identity_encoding(&b));
    assert_ne!(a.hash(), b.hash());
}

#[test]
fn given_a_hash_when_printed_and_parsed_from_hex_then_it_round_trips() {
    let e = event(vectors()[1].0, received());
    let hash = e.hash();
    let hex = hash.to_string();
    assert_eq!(hex.len(), 64);
    assert_eq!(EventHash::from_hex(&hex), Some(hash));
    assert_eq!(serde_json::to_string(&hash).unwrap(), format!("\"{hex}\""));
}

#[test]
fn given_bad_hex_when_parsed_then_none() {
    let good = "93dfd8983fe3545ccff1d572ef8ca6e731edfd87d3be9237f8193d6a096f60c5";
    assert!(EventHash::from_hex(good).is_some());
    for bad in [
        "",
        &good[..63],
        &format!("{good}0"),
        &good.to_uppercase(),
        &format!("g{}", &good[1..]),
        &format!("é{}", &good[2..]),
    ] {
        assert_eq!(EventHash::from_hex(bad), None, "{bad}");
    }
}

#[test]
fn given_a_hash_when_sharded_then_the_shard_is_stable_and_in_range() {
    let hash =
        EventHash::from_hex("00000000000000ff93dfd8983fe3545ccff1d572ef8ca6e731edfd87d3be9237")
            .unwrap();
    assert_eq!(hash.shard(16), 0xff % 16);
    assert_eq!(hash.shard(1), 0);
    assert_eq!(hash.shard(0), 0);
    for shards in 1..50 {
        assert!(hash.shard(shards) < shards);
    }
}

#[test]
fn given_a_batch_with_a_repeated_hash_when_deduped_then_the_second_points_to_the_first() {
    let a = EventHash::from_bytes([1; 32]);
    let b = EventHash::from_bytes([2; 32]);
    let mut dedupe = BatchDeduper::new();
    assert_eq!(dedupe.first_occurrence(0, a), None);
    assert_eq!(dedupe.first_occurrence(1, b), None);
    assert_eq!(dedupe.first_occurrence(2, a), Some(0));
    assert_eq!(dedupe.first_occurrence(3, a), Some(0));
}
