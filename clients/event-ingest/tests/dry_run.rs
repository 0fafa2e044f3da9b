//! `event-ingest send --dry-run`: validates and hashes locally, counts repeats across the
//! inputs (whatever their format), writes the rejects, and needs no server, URL or key.

use std::io::Write;

use serde_json::{json, Value};

#[test]
fn a_dry_run_counts_repeats_across_a_gzipped_ndjson_and_a_json_array_and_sends_nothing() {
    // GIVEN 20 events as gzipped NDJSON, and the same 20 in other spellings plus 2 invalid
    // ones as a JSON array
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<Value> = (0..20)
        .map(|i| json!({"client_id": "dry", "payload": {"amount": i, "timestamp": 1_795_161_600 + i}}))
        .collect();
    let ndjson: String = events.iter().map(|e| format!("{e}\n")).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(ndjson.as_bytes()).unwrap();
    // No .gz in the name: the content says it is gzip.
    let gzipped = dir.path().join("events.data");
    std::fs::write(&gzipped, gz.finish().unwrap()).unwrap();
    let mut respelled: Vec<Value> = (0..20u64)
        .map(|i| json!({"payload": {"timestamp": (1_795_161_600 + i) * 1000, "amount": format!("{i}.0")}, "client_id": "dry"}))
        .collect();
    respelled.push(json!({"client_id": "dry"}));
    respelled.push(json!(42));
    let array = dir.path().join("events.json");
    std::fs::write(&array, serde_json::to_string_pretty(&respelled).unwrap()).unwrap();
    let report = dir.path().join("report.json");

    // WHEN they are dry-run, with no URL or key anywhere
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_event-ingest"))
        .current_dir(dir.path())
        .env_remove("EVENT_INGEST_URL")
        .env_remove("EVENT_INGEST_KEY")
        .args(["send", "--dry-run", "--quiet", "--report"])
        .arg(&report)
        .arg(&gzipped)
        .arg(&array)
        .output()
        .unwrap();

    // THEN the 20 respelled events are repeats, the 2 invalid ones rejected (status 1)
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["records_read"], json!(42));
    assert_eq!(report["duplicates_in_input"], json!(20));
    assert_eq!(report["rejected"], json!(2));
    assert_eq!(report["events_sent"], json!(0));
    assert_eq!(report["requests"], json!(0));
    let rejects = std::fs::read_to_string(dir.path().join("events.json.rejects.ndjson")).unwrap();
    let records: Vec<u64> = rejects
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["record"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        records,
        vec![21, 22],
        "array items are numbered by position"
    );
    assert!(
        !dir.path().join("events.data.rejects.ndjson").exists(),
        "no empty rejects file"
    );
    assert!(
        !dir.path().join("events.json.event-ingest-state").exists(),
        "a dry run keeps no state"
    );
}
