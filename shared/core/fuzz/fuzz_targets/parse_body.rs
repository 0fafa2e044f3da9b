//! Any bytes as a request body: `parse_body`, then `normalize_event` and `peek_client_id`
//! on every event it yields. Nothing may panic; every accepted event must normalize to
//! itself again (idempotence), and every error must carry a code and a sentence.
#![no_main]

use event_core::{normalize_event, parse_body, peek_client_id, EventTimestamp};
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

fuzz_target!(|data: &[u8]| {
    let received_at = EventTimestamp::from_unix_nanos(1_795_161_600_000_000_000).unwrap();
    match parse_body(data) {
        Err(err) => assert!(!err.code().is_empty() && !err.message().is_empty()),
        Ok(body) => {
            for raw in body.events() {
                let _ = peek_client_id(raw);
                if let Ok(parsed) = normalize_event(raw, received_at) {
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
    }
});
