//! The command line (clap derive): every subcommand with its help and examples.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use super::parse_duration;

#[derive(Parser)]
#[command(
    name = "event-ingest",
    version,
    about = "Send events to an event-ingest API so that each is counted exactly once, and read back failed events and aggregates.",
    after_help = "The URL and key: --url/--key, else EVENT_INGEST_URL/EVENT_INGEST_KEY, else (inside a checkout with a running local stack) .local/api.env and .local/dev.key. The key is never printed or logged.\n\nExamples:\n  event-ingest send events.ndjson\n  event-ingest failed list --client acme-web\n  event-ingest stats --client acme-web --from 2026-11-20 --to 2026-11-21"
)]
pub struct Cli {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Log filter for diagnostics on stderr (RUST_LOG syntax; default warn).
    #[arg(long, global = true, value_name = "FILTER")]
    pub log: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct TargetArgs {
    /// The API's base URL [env: EVENT_INGEST_URL].
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// The API key [env: EVENT_INGEST_KEY]. Prefer the environment: arguments show in `ps`.
    #[arg(long, global = true, value_name = "KEY", hide_env_values = true)]
    pub key: Option<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Send events from NDJSON files (gzipped or not), JSON array files or stdin, resumably.
    #[command(
        long_about = "Send events from NDJSON files (one event per line; gzipped ones are recognised by content), files holding one JSON array of events, or stdin (-).\n\nEvery record is validated and hashed locally with the server's own rules: an invalid one, or one over 32 KiB, never travels and goes to the rejects file with its line number (its position for an array), code and sentence. Valid events travel in batches of up to 500 events and 1 MiB, N requests at a time (halved on 429/503, grown back by one slowly). 429/503 are retried after at least Retry-After; other 5xx, timeouts and connection errors with exponential backoff and full jitter; items answered `unavailable` are resent (the same event, so at worst a duplicate); other 4xx are never retried; 401/403 stop the run.\n\nResume: the state file records what the server acknowledged, with a fingerprint of the input. Run the same command again after a crash, a kill -9 or exit status 4, and only what was not acknowledged is sent. A changed input is refused unless --restart. Losing the state file costs only duplicates, never a double count: the server counts each event once, however often it arrives.",
        after_help = "Exit status:\n  0  every record processed or duplicate\n  1  some records rejected or failed (listed, and in --report)\n  2  usage or configuration error (bad arguments, no URL/key, a changed input)\n  3  the key was refused (401/403): the server's sentence is printed\n  4  gave up (server unreachable past the retry budget, or --max-time passed); state saved, run again to resume\n\nExamples:\n  event-ingest send events.ndjson\n  event-ingest send --report run.json --concurrency 4 day1.ndjson.gz day2.ndjson\n  zcat events.gz | event-ingest send -\n  event-ingest send --dry-run export.json\n  event-ingest send --max-time 10m --retry-failed events.ndjson   # run again to resume"
    )]
    Send(SendArgs),
    /// Failed and rejected events kept by the server: list them, replay them.
    #[command(
        subcommand,
        after_help = "Examples:\n  event-ingest failed list --client acme-web\n  event-ingest failed replay --client acme-web --code storage_failed"
    )]
    Failed(FailedCommand),
    /// Count and exact total of a client's processed events (GET /aggregates).
    #[command(
        after_help = "Examples:\n  event-ingest stats --client acme-web\n  event-ingest stats --client acme-web --from 2026-11-20T00:00:00Z --to 2026-11-21T00:00:00Z --metric purchase\n  event-ingest stats --client acme-web --from 2026-11-20T00:00:00Z --to 2026-11-21T00:00:00Z --hourly --json"
    )]
    Stats(StatsArgs),
}

#[derive(Args)]
pub struct SendArgs {
    /// Input files (NDJSON, gzipped NDJSON, a JSON array), or - for stdin.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The state file [default: FILE.event-ingest-state beside each input; stdin has none].
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// The rejected records, as JSON lines [default: FILE.rejects.ndjson beside each input].
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Write the summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Events per request (1 to 500).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(1..=500))]
    pub batch_size: u16,
    /// Requests in flight at most (lowered on 429/503, grown back slowly).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Give up after this long (90s, 10m, 2h), with the state saved (exit 4).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_time: Option<Duration>,
    /// Attempts per request before giving up (exit 4).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
    /// The longest backoff between attempts (Retry-After may ask for longer).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub backoff_cap: Duration,
    /// One request's time limit.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// At the end, retry the events the server kept as failed (retryable).
    #[arg(long)]
    pub retry_failed: bool,
    /// Validate and hash locally, count duplicates inside the input; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Ignore the recorded progress (and a changed input) and send from the start.
    #[arg(long)]
    pub restart: bool,
    /// No progress and no summary (errors only).
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Subcommand)]
pub enum FailedCommand {
    /// List failed and rejected events, newest first (GET /events/failed).
    #[command(
        after_help = "Examples:\n  event-ingest failed list\n  event-ingest failed list --client acme-web --all --json"
    )]
    List(FailedListArgs),
    /// Retry the retryable failed events matching a selection (POST /events/failed/retry),
    /// page by page until the selection is done. Rejected events are skipped.
    #[command(
        after_help = "Exit status: 0 all replayed (processed, duplicate or skipped); 1 some still failed; 2 usage; 3 key refused; 4 gave up.\n\nExamples:\n  event-ingest failed replay --client acme-web\n  event-ingest failed replay --code storage_failed --from 2026-11-20T00:00:00Z --report replay.json"
    )]
    Replay(FailedReplayArgs),
}

#[derive(Args)]
pub struct FailedListArgs {
    /// Only this client's events.
    #[arg(long, value_name = "CLIENT_ID")]
    pub client: Option<String>,
    /// Items per page (1 to 500).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Follow the pages to the end (default: the first page only).
    #[arg(long)]
    pub all: bool,
    /// JSON lines (one record per line) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct FailedReplayArgs {
    /// Only this client's records.
    #[arg(long, value_name = "CLIENT_ID")]
    pub client: Option<String>,
    /// Received at or after this time (RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Received before this time (RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    /// Only records failed with this code (repeatable).
    #[arg(long = "code", value_name = "CODE")]
    pub codes: Vec<String>,
    /// Records per request (1 to 100).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: u32,
    /// Write the summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Give up after this long (exit 4).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_time: Option<Duration>,
    /// No progress and no summary.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args)]
pub struct StatsArgs {
    /// The client.
    #[arg(long, value_name = "CLIENT_ID")]
    pub client: String,
    /// From this time, inclusive (RFC 3339, or epoch seconds).
    #[arg(long)]
    pub from: Option<String>,
    /// To this time, exclusive.
    #[arg(long)]
    pub to: Option<String>,
    /// Only this metric.
    #[arg(long)]
    pub metric: Option<String>,
    /// One row per hour (GET /aggregates/hourly; from and to on whole hours, 31 days at most).
    #[arg(long)]
    pub hourly: bool,
    /// The server's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}
