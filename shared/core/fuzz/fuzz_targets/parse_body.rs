//! Any bytes as a request body: `parse_body`, then `normalize_event` and `peek_client_id`
//! on every event it yields. Nothing may panic; every accepted event must normalize to
//! itself again (idempotence), and every error — of the body or of an event — must carry a
//! code and a sentence (naming the field, where one applies).
#![no_main]

use event_core::{normalize_event, parse_body, peek_client_id, EventTimestamp};
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

fuzz_target!(|data: &[u8]| {
    let received_at = EventTimestamp::from_unix_nanos(1_795_161_600_000_000_000).unwrap();
    match parse_body(data) {
        Err(err) => {
            assert!(!err.code().is_empty(), "a body error without a code");
            assert!(
                err.message().ends_with('.') && err.message().len() > 10,
                "{}: not a sentence: {:?}",
                err.code(),
                err.message()
            );
        }
        Ok(body) => {
            for raw in body.events() {
                let _ = peek_client_id(raw);
                let parsed = match normalize_event(raw, received_at) {
                    Err(err) => {
                        assert!(!err.code().is_empty(), "an event error without a code");
                        assert!(
                            err.message().ends_with('.') && err.message().len() > 10,
                            "{}: not a sentence: {:?}",
                            err.code(),
                            err.message()
                        );
                        if let Some(field) = err.field() {
                            assert!(err.message().contains(field), "{}", err.message());
                        }
                        continue;
                    }
                    Ok(parsed) => parsed,
                };
                let flat = serde_json::to_value(&parsed.event).unwrap();
                let mut again = serde_json::json!({
                    "client_id": flat["client_id"],
                    "source": flat["source"],
                    "payload": {
                        "metric": flat["metric"],
                        "amount": flat["amount"],
                        "timestamp": flat["timestamp"],
                    },
                });
                if let Some(id) = flat.get("event_id") {
                    again["event_id"] = id.clone();
                }
                let again = RawValue::from_string(again.to_string()).unwrap();
                let reparsed = normalize_event(&again, received_at).unwrap();
                assert_eq!(reparsed.hash, parsed.hash);
            }
        }
    }
});
