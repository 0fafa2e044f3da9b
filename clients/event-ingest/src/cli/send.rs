//! `event-ingest send`: run the `Sender` over the inputs, show progress, print the summary,
//! write the report, choose the exit status.

use std::path::PathBuf;

use event_ingest::sender::{Ending, InputSpec, RunSummary, SendOptions, Sender};
use event_ingest::{Client, RetryPolicy};
use serde_json::json;

use super::args::{SendArgs, TargetArgs};
use super::config;
use super::exit;
use super::progress::Progress;

pub async fn run(args: SendArgs, target: TargetArgs) -> u8 {
    let client = if args.dry_run {
        None
    } else {
        let target = match config::resolve(target.url, target.key) {
            Ok(target) => target,
            Err(message) => {
                eprintln!("event-ingest: {message}");
                return exit::USAGE;
            }
        };
        let policy = RetryPolicy {
            cap: args.backoff_cap,
            max_attempts: args.max_attempts,
            ..RetryPolicy::default()
        };
        match Client::builder(target.url, target.key)
            .timeout(args.timeout)
            .retry_policy(policy)
            .build()
        {
            Ok(client) => Some(client),
            Err(error) => {
                eprintln!("event-ingest: {error}");
                return exit::USAGE;
            }
        }
    };
    let stdin = PathBuf::from("-");
    if args.files.iter().filter(|f| **f == stdin).count() > 1 {
        eprintln!("event-ingest: stdin (-) can be read only once");
        return exit::USAGE;
    }
    let inputs: Vec<InputSpec> = args
        .files
        .iter()
        .map(|file| {
            let path = (*file != stdin).then(|| file.clone());
            let mut spec = InputSpec::beside(path);
            if let Some(state) = &args.state {
                spec.state = Some(state.clone());
            }
            if let Some(rejects) = &args.rejects {
                spec.rejects = rejects.clone();
            }
            spec
        })
        .collect();
    if args.rejects.is_some() && inputs.len() > 1 {
        // One rejects file for all inputs: each input would truncate it. Keep it simple
        // and explicit.
        eprintln!("event-ingest: --rejects names one file; with several inputs leave it out (each input gets FILE.rejects.ndjson)");
        return exit::USAGE;
    }
    let total_bytes = inputs
        .iter()
        .map(|spec| {
            spec.path
                .as_ref()
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
        })
        .sum::<Option<u64>>();

    let options = SendOptions {
        batch_size: args.batch_size.into(),
        concurrency: args.concurrency.into(),
        max_time: args.max_time,
        retry_failed: args.retry_failed,
        dry_run: args.dry_run,
        restart: args.restart,
    };
    let sender = std::sync::Arc::new(Sender::new(client, options));
    let interrupted = {
        let sender = std::sync::Arc::clone(&sender);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                sender.interrupt("interrupted (Ctrl-C)");
            }
        })
    };
    let progress = Progress::start(sender.stats(), total_bytes, args.quiet, args.dry_run);
    let result = sender.run(&inputs).await;
    interrupted.abort();
    progress.finish();
    let summary = match result {
        Ok(summary) => summary,
        Err(error) => {
            eprintln!("event-ingest: {error}");
            return exit::USAGE;
        }
    };
    let report = report_json(&summary, &inputs, args.dry_run);
    if let Some(path) = &args.report {
        let text = serde_json::to_vec_pretty(&report).expect("the report serializes");
        if let Err(error) = event_ingest::state::write_atomically(path, &text) {
            eprintln!(
                "event-ingest: cannot write the report {}: {error}",
                path.display()
            );
        }
    }
    if !args.quiet {
        print_summary(&summary, &inputs, args.dry_run);
    } else if let Some(error) = &summary.error {
        eprintln!("event-ingest: {error}");
    }
    exit_status(&summary)
}

/// The exit status of a run (documented in `send --help`).
pub fn exit_status(summary: &RunSummary) -> u8 {
    match summary.ending {
        Ending::KeyRefused => exit::KEY_REFUSED,
        Ending::GaveUp => exit::GAVE_UP,
        Ending::Complete if summary.rejected > 0 || summary.failed > 0 => exit::SOME_FAILED,
        Ending::Complete => exit::OK,
    }
}

/// Records this run handled: settled (answered for good, or rejected); in a dry run, read.
fn records_this_run(summary: &RunSummary, dry_run: bool) -> u64 {
    if dry_run {
        summary.records_read
    } else {
        summary.settled_this_run
    }
}

fn report_json(summary: &RunSummary, inputs: &[InputSpec], dry_run: bool) -> serde_json::Value {
    let elapsed = summary.elapsed.as_secs_f64();
    json!({
        "inputs": inputs.iter().map(InputSpec::name).collect::<Vec<_>>(),
        "dry_run": dry_run,
        "ending": summary.ending,
        "error": summary.error,
        "processed": summary.processed,
        "duplicate": summary.duplicate,
        "rejected": summary.rejected,
        "failed": summary.failed,
        "unavailable_resent": summary.unavailable_resent,
        "requests": summary.requests,
        "retries": summary.retries,
        "elapsed_s": (elapsed * 1000.0).round() / 1000.0,
        "records_read": summary.records_read,
        "skipped_acknowledged": summary.skipped_acknowledged,
        "events_sent": summary.events_sent,
        "events_per_s": (records_this_run(summary, dry_run) as f64 / elapsed.max(0.001)).round(),
        "duplicates_in_input": summary.duplicates_in_input,
        "retried_failed": summary.retried_failed,
        "rejects_files": inputs.iter().map(|s| s.rejects.display().to_string()).collect::<Vec<_>>(),
        "failed_events": summary.failed_events,
    })
}

fn print_summary(summary: &RunSummary, inputs: &[InputSpec], dry_run: bool) {
    let elapsed = summary.elapsed.as_secs_f64();
    if dry_run {
        eprintln!(
            "dry run: {} records read, {} valid ({} of them duplicates of an earlier record), {} rejected, in {elapsed:.1} s; nothing sent",
            summary.records_read,
            summary.records_read - summary.rejected,
            summary.duplicates_in_input,
            summary.rejected
        );
    } else {
        eprintln!(
            "processed {}  duplicate {}  rejected {}  failed {}   ({} records read this run, {} acknowledged earlier; {} requests, {} retries, {} unavailable resent; {elapsed:.1} s, {:.0} events/s)",
            summary.processed,
            summary.duplicate,
            summary.rejected,
            summary.failed,
            summary.records_read,
            summary.skipped_acknowledged,
            summary.requests,
            summary.retries,
            summary.unavailable_resent,
            records_this_run(summary, dry_run) as f64 / elapsed.max(0.001)
        );
    }
    if summary.rejected > 0 {
        for spec in inputs {
            if spec.rejects.exists() {
                eprintln!("rejected records: {}", spec.rejects.display());
            }
        }
    }
    for failed in &summary.failed_events {
        eprintln!(
            "failed: {} record {}: {} {}{}",
            failed.input,
            failed.event.record,
            failed.event.code,
            failed.event.message,
            failed
                .event
                .failed_id
                .as_ref()
                .map(|id| format!(
                    " (failed_id {id}{})",
                    if failed.event.retryable {
                        ", retryable: --retry-failed or event-ingest failed replay"
                    } else {
                        ""
                    }
                ))
                .unwrap_or_default()
        );
    }
    match summary.ending {
        Ending::Complete => {}
        Ending::KeyRefused => eprintln!(
            "stopped: {}",
            summary.error.as_deref().unwrap_or("the key was refused")
        ),
        Ending::GaveUp => eprintln!(
            "gave up: {}. The state is saved: run the same command again to send the rest.",
            summary
                .error
                .as_deref()
                .unwrap_or("the server is unreachable")
        ),
    }
}
