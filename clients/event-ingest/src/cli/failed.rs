//! `event-ingest failed list` and `failed replay`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use event_ingest::client::ReplayResult;
use event_ingest::stats::Stats;
use event_ingest::{ApiError, Client, ReplaySelection};
use serde_json::json;

use super::args::{FailedListArgs, FailedReplayArgs};
use super::exit;
use super::progress::Progress;

/// The exit status for an error that ended a command.
pub fn exit_for(error: &ApiError) -> u8 {
    match error {
        ApiError::KeyRefused { .. } => exit::KEY_REFUSED,
        ApiError::Refused { .. } | ApiError::Config(_) => exit::USAGE,
        _ => exit::GAVE_UP,
    }
}

pub async fn list(args: FailedListArgs, client: Client) -> u8 {
    let mut cursor: Option<String> = None;
    let mut first = true;
    loop {
        let page = match client
            .list_failed(args.client.as_deref(), Some(args.limit), cursor.as_deref())
            .await
        {
            Ok(page) => page,
            Err(error) => {
                eprintln!("event-ingest: {error}");
                return exit_for(&error);
            }
        };
        if args.json {
            for item in &page.items {
                println!("{}", serde_json::to_string(item).expect("serializes"));
            }
        } else {
            if first {
                println!(
                    "{:<40} {:<24} {:<9} {:<22} {:>8}  {:<31}",
                    "FAILED_ID", "CLIENT_ID", "STATUS", "CODE", "ATTEMPTS", "RECEIVED_AT"
                );
            }
            for item in &page.items {
                println!(
                    "{:<40} {:<24} {:<9} {:<22} {:>8}  {:<31}",
                    item.failed_id,
                    item.client_id.as_deref().unwrap_or("-"),
                    item.status,
                    item.reason.code,
                    item.attempts,
                    item.received_at
                );
            }
        }
        first = false;
        match page.next_cursor {
            Some(next) if args.all => cursor = Some(next),
            Some(_) => {
                if !args.json {
                    eprintln!("(more: --all follows every page)");
                }
                return exit::OK;
            }
            None => return exit::OK,
        }
    }
}

pub async fn replay(args: FailedReplayArgs, client: Client) -> u8 {
    let stats = Arc::new(Stats::default());
    let progress = Progress::start(Arc::clone(&stats), None, args.quiet, false);
    let started = Instant::now();
    let mut selection = ReplaySelection {
        client_id: args.client.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        codes: args.codes.clone(),
        limit: Some(args.limit),
        cursor: None,
    };
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    let mut still_failed: Vec<ReplayResult> = Vec::new();
    let mut error: Option<ApiError> = None;
    // Records answered `unavailable`: the server's cursor comes back to them (it resumes at
    // the first record not started or unavailable), so they are waited for, not retried
    // one by one; whatever is still here at the end did not settle.
    let mut unsettled: BTreeMap<String, ReplayResult> = BTreeMap::new();
    let policy = client.retry_policy();
    let work = async {
        let mut idle_pages = 0;
        loop {
            let page = client
                .with_retries(
                    || {
                        Stats::add(&stats.requests, 1);
                        client.replay_failed_once(&selection)
                    },
                    &RetryCounter(&stats),
                )
                .await?;
            let mut settled_any = false;
            for result in page.results {
                if result.status == "unavailable" {
                    Stats::add(&stats.unavailable_resent, 1);
                    unsettled.insert(result.failed_id.clone(), result);
                    continue;
                }
                unsettled.remove(&result.failed_id);
                settled_any = true;
                Stats::add(&stats.records_read, 1);
                match result.status.as_str() {
                    "processed" => Stats::add(&stats.processed, 1),
                    "duplicate" => Stats::add(&stats.duplicate, 1),
                    "skipped" => Stats::add(&stats.skipped, 1),
                    _ => {
                        Stats::add(&stats.failed, 1);
                        still_failed.push(result.clone());
                    }
                }
                *by_status.entry(result.status.clone()).or_default() += 1;
            }
            let Some(next) = page.next_cursor else {
                return Ok::<(), ApiError>(());
            };
            selection.cursor = Some(next);
            // A page that settled nothing (storage down, or the deadline hit at once): back
            // off as for any unavailable answer, and give up after as many pages as attempts.
            if settled_any || unsettled.is_empty() {
                idle_pages = 0;
                continue;
            }
            idle_pages += 1;
            if idle_pages >= policy.max_attempts {
                return Err(ApiError::Server {
                    status: 503,
                    message: format!(
                        "{} records stayed unavailable over {idle_pages} pages",
                        unsettled.len()
                    ),
                });
            }
            Stats::add(&stats.retries, 1);
            tokio::time::sleep(policy.backoff(idle_pages, fastrand::f64()).max(policy.base)).await;
        }
    };
    let finished = match args.max_time {
        Some(limit) => tokio::time::timeout(limit, work).await.ok(),
        None => Some(work.await),
    };
    let timed_out = finished.is_none();
    if let Some(Err(e)) = finished {
        error = Some(e);
    }
    for (_, result) in std::mem::take(&mut unsettled) {
        Stats::add(&stats.records_read, 1);
        Stats::add(&stats.failed, 1);
        *by_status.entry(result.status.clone()).or_default() += 1;
        still_failed.push(result);
    }
    progress.finish();
    let s = stats.snapshot();
    let elapsed = started.elapsed().as_secs_f64();
    let report = json!({
        "selection": {"client_id": args.client, "from": args.from, "to": args.to, "codes": args.codes},
        "ending": if timed_out { "gave_up" } else if error.is_some() { "stopped" } else { "complete" },
        "error": error.as_ref().map(|e| e.to_string()).or(timed_out.then(|| "--max-time passed".to_owned())),
        "records": s.records_read,
        "processed": s.processed,
        "duplicate": s.duplicate,
        "skipped": s.skipped,
        "failed": s.failed,
        "unavailable_resent": s.unavailable_resent,
        "requests": s.requests,
        "retries": s.retries,
        "elapsed_s": (elapsed * 1000.0).round() / 1000.0,
        "by_status": by_status,
        "failed_events": still_failed,
    });
    if let Some(path) = &args.report {
        let text = serde_json::to_vec_pretty(&report).expect("serializes");
        if let Err(e) = event_ingest::state::write_atomically(path, &text) {
            eprintln!(
                "event-ingest: cannot write the report {}: {e}",
                path.display()
            );
        }
    }
    if !args.quiet {
        eprintln!(
            "replayed {} records: processed {}  duplicate {}  skipped (rejected, never replayed) {}  failed {}   ({} requests, {elapsed:.1} s)",
            s.records_read, s.processed, s.duplicate, s.skipped, s.failed, s.requests
        );
        for result in &still_failed {
            eprintln!(
                "still {}: {} {}",
                result.status,
                result.failed_id,
                result.code.as_deref().unwrap_or("")
            );
        }
    }
    if let Some(error) = &error {
        eprintln!("event-ingest: {error}");
        if matches!(error, ApiError::Refused { status: 404, .. }) {
            eprintln!("event-ingest: this deployment has no POST /events/failed/retry (a newer route); retry one record with POST /events/failed/{{failed_id}}/retry, or deploy a newer version");
        }
        return exit_for(error);
    }
    if timed_out {
        eprintln!("event-ingest: gave up: --max-time passed");
        return exit::GAVE_UP;
    }
    if s.failed > 0 {
        exit::SOME_FAILED
    } else {
        exit::OK
    }
}

struct RetryCounter<'a>(&'a Stats);

impl event_ingest::client::RetryObserver for RetryCounter<'_> {
    fn on_retry(&self, _error: &ApiError, _wait: std::time::Duration) {
        Stats::add(&self.0.retries, 1);
    }
}
