//! Writes `make fuzz`'s section of `RELIABILITY.md` from libFuzzer's own output: how long the
//! `event-core` fuzz target ran, how many inputs, the coverage it reached, and whether it
//! found a crash (then the section fails and names the input libFuzzer saved).
//!
//!   REPORT=1 cargo run -p integration-tests --example record_fuzz -- LOG EXIT_STATUS SECONDS

use std::time::Duration;

use integration_tests::report::{Report, Size};

/// The text after `key` on `line` up to the next space (`cov: 1991 ft: …` → `1991`).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split_whitespace().next()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(log), Some(status), Some(seconds)) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: record_fuzz LOG EXIT_STATUS SECONDS");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("read {log}: {e}"));
    let seconds: u64 = seconds.parse().unwrap_or(0);
    let mut report = Report::new(10, "fuzz_parse_body", Size::Full)
        .with_command(&format!("make fuzz FUZZ_SECONDS={seconds}"))
        .with_duration(Duration::from_secs(seconds));

    report.item(
        "target",
        "`parse_body` (shared/core/fuzz): any bytes as a request body → `parse_body`, then \
         `normalize_event` and `peek_client_id` on every event; nothing may panic, every error \
         carries a code and a sentence, every accepted event normalizes to itself again",
    );
    if let Some(seed) = text.lines().find(|l| l.contains("seed corpus: files:")) {
        report.item(
            "corpus",
            format!(
                "{} inputs at the start",
                field(seed, "files:").unwrap_or("?")
            ),
        );
    }
    // The last progress line (`#N DONE …` when it ran out its time) carries the totals.
    match text
        .lines()
        .rev()
        .find(|l| l.starts_with('#') && l.contains("cov:"))
    {
        Some(last) => report.item(
            "inputs",
            format!(
                "{} inputs, {} per second, coverage {} edges / {} features, {} corpus entries",
                last[1..].split_whitespace().next().unwrap_or("?"),
                field(last, "exec/s:").unwrap_or("?"),
                field(last, "cov:").unwrap_or("?"),
                field(last, "ft:").unwrap_or("?"),
                field(last, "corp:")
                    .and_then(|c| c.split('/').next())
                    .unwrap_or("?"),
            ),
        ),
        None => report.fail("libFuzzer printed no progress line: did it start?"),
    }
    if status != "0" {
        let summary = text
            .lines()
            .filter(|l| l.contains("SUMMARY:") || l.contains("Test unit written to"))
            .collect::<Vec<_>>()
            .join("; ");
        report.fail(format!(
            "exit status {status}: {summary} (make the saved input a regression test in \
             shared/core/tests)"
        ));
    }
    report.finish();
}
