//! Progress while a run goes on: an indicatif bar on a terminal, else a plain line every few
//! seconds (logs, CI), or nothing with `--quiet`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use event_ingest::stats::{Snapshot, Stats};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    task: Option<tokio::task::JoinHandle<()>>,
    bar: Option<ProgressBar>,
}

fn counts(s: &Snapshot, started: Instant, dry_run: bool) -> String {
    // Events answered, not read: the reader runs ahead of the server by a few batches. A
    // dry run answers nothing, so there it is the reading.
    let done = if dry_run { s.records_read } else { s.settled() };
    let rate = done as f64 / started.elapsed().as_secs_f64().max(0.001);
    format!(
        "{rate:.0} events/s  processed {}  duplicate {}  rejected {}  failed {}",
        s.processed, s.duplicate, s.rejected, s.failed
    )
}

impl Progress {
    /// Start showing `stats`; `total_bytes` (the inputs' sizes) gives the bar its length.
    pub fn start(
        stats: Arc<Stats>,
        total_bytes: Option<u64>,
        quiet: bool,
        dry_run: bool,
    ) -> Progress {
        let started = Instant::now();
        if quiet {
            return Progress {
                task: None,
                bar: None,
            };
        }
        if std::io::stderr().is_terminal() {
            let bar = match total_bytes {
                Some(total) => {
                    ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
                }
                None => ProgressBar::new_spinner(),
            };
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} eta {eta}\n  {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            let shown = bar.clone();
            let task = tokio::spawn(async move {
                loop {
                    let s = stats.snapshot();
                    shown.set_position(s.bytes_read);
                    shown.set_message(counts(&s, started, dry_run));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
            return Progress {
                task: Some(task),
                bar: Some(bar),
            };
        }
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let s = stats.snapshot();
                let of = total_bytes.map(|t| format!(" of {t}")).unwrap_or_default();
                eprintln!(
                    "[event-ingest] {:.0} s: {} records, {} bytes{of} read; {}",
                    started.elapsed().as_secs_f64(),
                    s.records_read,
                    s.bytes_read,
                    counts(&s, started, dry_run)
                );
            }
        });
        Progress {
            task: Some(task),
            bar: None,
        }
    }

    pub fn finish(self) {
        if let Some(task) = self.task {
            task.abort();
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
