//! Writes the cases of `tests/common/cases.rs` with their native answers as JSON lines,
//! `{"input": body, "now_ms": receive time, "expected": normalize's JSON text}`, for the
//! Node tests to replay on the .wasm: `cargo run -p event-core-js --example vectors > FILE`.

use std::io::{BufWriter, Write};

use event_core_js::{normalize_json, received_at};

#[path = "../tests/common/cases.rs"]
#[allow(dead_code)]
mod cases;

fn main() -> std::io::Result<()> {
    let out = std::io::stdout();
    let mut out = BufWriter::new(out.lock());
    for case in cases::cases(500) {
        let now = received_at(case.now_ms).expect("the cases have finite receive times");
        let line = serde_json::json!({
            "input": case.body,
            "now_ms": case.now_ms,
            "expected": normalize_json(&case.body, now),
        });
        writeln!(out, "{line}")?;
    }
    out.flush()
}
