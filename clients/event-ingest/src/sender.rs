//! The batching sender: reads inputs, judges every record locally, cuts batches, delivers
//! them concurrently under an adaptive limit, resends what the server could not take, and
//! records what it acknowledged so a new run resumes where this one stopped.
//!
//! Reading and judging run on a thread of their own (`reader`: blocking file I/O and CPU),
//! feeding a bounded channel: memory holds one waiting batch per slot of concurrency plus
//! those in flight, whatever the input's size. Each batch is delivered by `delivery`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::aimd::Aimd;
use crate::batch::Batch;
use crate::client::{ApiError, Client, Outcome};
use crate::delivery::{deliver, Observer, Stop, Tracker};
use crate::input;
use crate::reader::{read_and_batch, ReadError};
use crate::state::{FailedEvent, Fingerprint, InputState, StateError, StateFile};
use crate::stats::Stats;

/// How a run sends.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// Events per request (at most 500).
    pub batch_size: usize,
    /// Requests in flight at most (the adaptive limit starts here).
    pub concurrency: usize,
    /// The whole run's time limit.
    pub max_time: Option<Duration>,
    /// Retry the events kept as failed (retryable) at the end.
    pub retry_failed: bool,
    /// Validate and hash only; send nothing, write no state.
    pub dry_run: bool,
    /// Ignore recorded progress (and a changed fingerprint).
    pub restart: bool,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            batch_size: 500,
            concurrency: 8,
            max_time: None,
            retry_failed: false,
            dry_run: false,
            restart: false,
        }
    }
}

/// One input of a run.
#[derive(Debug, Clone)]
pub struct InputSpec {
    /// `None`: standard input (never resumed: it cannot be read twice).
    pub path: Option<PathBuf>,
    /// Where its progress is recorded (`None`: nowhere).
    pub state: Option<PathBuf>,
    /// Where its rejected records go.
    pub rejects: PathBuf,
}

impl InputSpec {
    /// `FILE` with the defaults beside it: `FILE.event-ingest-state` and
    /// `FILE.rejects.ndjson`; stdin has no state and `stdin.rejects.ndjson` in the current folder.
    pub fn beside(path: Option<PathBuf>) -> Self {
        match path {
            Some(path) => InputSpec {
                state: Some(with_suffix(&path, ".event-ingest-state")),
                rejects: with_suffix(&path, ".rejects.ndjson"),
                path: Some(path),
            },
            None => InputSpec {
                path: None,
                state: None,
                rejects: PathBuf::from("stdin.rejects.ndjson"),
            },
        }
    }

    pub fn name(&self) -> String {
        self.path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "-".to_owned())
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Every record was answered for good (processed, duplicate, failed) or rejected.
    Complete,
    /// The key was refused (401/403): nothing more can be sent with it.
    KeyRefused,
    /// The server stayed unreachable past the retry budget, or `--max-time` passed. The
    /// state is saved: run the same command again.
    GaveUp,
}

/// Why a run could not start or could not go on.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot read {path}: {source}")]
    Input {
        path: String,
        source: std::io::Error,
    },
    #[error("another event-ingest is sending {path} right now (it holds a lock on the file); wait for it, or stop it first")]
    Busy { path: String },
    #[error("cannot write the rejects file {path}: {source}")]
    Rejects {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One failed event in the report, with the input it came from.
#[derive(Debug, Clone, Serialize)]
pub struct FailedLine {
    pub input: String,
    #[serde(flatten)]
    pub event: FailedEvent,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub ending: Ending,
    /// The error that ended the run early.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub elapsed: Duration,
    /// Over every input, earlier runs included (their records are in the state file).
    pub processed: u64,
    pub duplicate: u64,
    pub rejected: u64,
    pub failed: u64,
    /// This run only.
    pub records_read: u64,
    /// Records this run answered for good or rejected.
    pub settled_this_run: u64,
    pub skipped_acknowledged: u64,
    pub unavailable_resent: u64,
    pub requests: u64,
    pub retries: u64,
    pub events_sent: u64,
    pub duplicates_in_input: u64,
    /// Events kept as failed by `--retry-failed` and then processed or found duplicate.
    pub retried_failed: u64,
    pub failed_events: Vec<FailedLine>,
}

/// Sends inputs through one client.
pub struct Sender {
    client: Option<Client>,
    options: SendOptions,
    stats: Arc<Stats>,
    stop: Arc<Stop>,
    /// `--dry-run`: the hashes seen so far, over all inputs.
    seen: Arc<Mutex<std::collections::HashSet<u64>>>,
}

impl Sender {
    /// `client` may be `None` for a dry run.
    pub fn new(client: Option<Client>, options: SendOptions) -> Self {
        Sender {
            client,
            options,
            stats: Arc::default(),
            stop: Arc::default(),
            seen: Arc::default(),
        }
    }

    /// Stop the run soon (Ctrl-C): requests in flight are abandoned, the state is saved, and
    /// the run ends as `GaveUp` with `why`. Abandoned requests cost only duplicates later.
    pub fn interrupt(&self, why: &str) {
        self.stop.set(Ending::GaveUp, why.to_owned());
    }

    /// The live counters (for progress).
    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.stats)
    }

    /// Send every input in turn (a `Sender` runs once). Errors are those that stop before or
    /// outside sending (state, input, rejects file); the server's are in the summary's
    /// ending. The summary's totals cover the inputs the run reached.
    pub async fn run(&self, inputs: &[InputSpec]) -> Result<RunSummary, SendError> {
        let started = Instant::now();
        let deadline = self.options.max_time.map(|limit| started + limit);
        let aimd = Arc::new(Aimd::new(self.options.concurrency));
        let stop = Arc::clone(&self.stop);
        let mut totals = (0u64, 0u64, 0u64); // processed, duplicate, failed of earlier runs + this
        let mut failed_events = Vec::new();
        let mut retried_failed = 0;

        for spec in inputs {
            if stop.get().is_some() {
                break;
            }
            // Two runs on one input would each resend what the other is sending.
            let _lock = match &spec.path {
                Some(path) if !self.options.dry_run => Some(lock_input(path, &spec.name())?),
                _ => None,
            };
            let (state_file, progress) = self.prepare(spec)?;
            let tracker = Arc::new(Tracker {
                state: Mutex::new(progress),
                dirty: false.into(),
            });
            let state_file = state_file.map(|f| Arc::new(Mutex::new(f)));
            let saver = state_file.as_ref().map(|file| {
                tokio::spawn(save_periodically(
                    Arc::clone(file),
                    spec.path.clone(),
                    Arc::clone(&tracker),
                ))
            });

            let result = self
                .send_input(spec, &tracker, &aimd, &stop, deadline)
                .await;

            if let Some(saver) = saver {
                saver.abort();
            }
            if let Err(error) = result {
                save_now(state_file.as_ref(), spec.path.as_deref(), &tracker)?;
                return Err(error);
            }
            if self.options.retry_failed && stop.get().is_none() {
                let retrying = self.retry_failed(&tracker, &aimd, &stop);
                match deadline {
                    Some(deadline) => {
                        match tokio::time::timeout_at(deadline.into(), retrying).await {
                            Ok(settled) => retried_failed += settled,
                            Err(_) => stop.set(Ending::GaveUp, "--max-time passed".to_owned()),
                        }
                    }
                    None => retried_failed += retrying.await,
                }
            }
            save_now(state_file.as_ref(), spec.path.as_deref(), &tracker)?;
            let progress = tracker.lock();
            totals.0 += progress.counts.processed;
            totals.1 += progress.counts.duplicate;
            totals.2 += progress.counts.failed;
            failed_events.extend(progress.failed.iter().map(|event| FailedLine {
                input: spec.name(),
                event: event.clone(),
            }));
        }

        let snapshot = self.stats.snapshot();
        let (ending, error) = match stop.get() {
            Some((ending, message)) => (ending, Some(message)),
            None => (Ending::Complete, None),
        };
        failed_events.sort_by(|a, b| (&a.input, a.event.record).cmp(&(&b.input, b.event.record)));
        Ok(RunSummary {
            ending,
            error,
            elapsed: started.elapsed(),
            processed: totals.0,
            duplicate: totals.1,
            rejected: snapshot.rejected,
            failed: totals.2,
            records_read: snapshot.records_read,
            settled_this_run: snapshot.settled(),
            skipped_acknowledged: snapshot.skipped,
            unavailable_resent: snapshot.unavailable_resent,
            requests: snapshot.requests,
            retries: snapshot.retries,
            events_sent: snapshot.events_sent,
            duplicates_in_input: snapshot.duplicates_in_input,
            retried_failed,
            failed_events,
        })
    }

    /// Load the state of one input and check its fingerprint.
    fn prepare(&self, spec: &InputSpec) -> Result<(Option<StateFile>, InputState), SendError> {
        let fingerprint = match &spec.path {
            Some(path) => Fingerprint::of(path).map_err(|source| SendError::Input {
                path: spec.name(),
                source,
            })?,
            None => Fingerprint {
                size: 0,
                head_sha256: String::new(),
                tail_sha256: String::new(),
            },
        };
        match (&spec.path, &spec.state) {
            (Some(path), Some(state_path)) if !self.options.dry_run => {
                let mut file = StateFile::load(state_path)?;
                let progress = file.resume(path, &fingerprint, self.options.restart)?;
                Ok((Some(file), progress))
            }
            _ => Ok((None, InputState::new(fingerprint))),
        }
    }

    async fn send_input(
        &self,
        spec: &InputSpec,
        tracker: &Arc<Tracker>,
        aimd: &Arc<Aimd>,
        stop: &Arc<Stop>,
        deadline: Option<Instant>,
    ) -> Result<(), SendError> {
        let records = input::open(spec.path.as_deref(), Arc::clone(&self.stats.bytes_read))
            .map_err(|source| SendError::Input {
                path: spec.name(),
                source,
            })?;
        let rejects = File::create(&spec.rejects).map_err(|source| SendError::Rejects {
            path: spec.rejects.clone(),
            source,
        })?;
        let already = tracker.lock().acknowledged.clone();
        // One batch waiting per slot keeps every slot busy; more would only cost memory.
        let (batches, mut incoming) = mpsc::channel::<Batch>(self.options.concurrency.max(1));
        let reader = {
            let stats = Arc::clone(&self.stats);
            let name = spec.name();
            let batch_size = self.options.batch_size;
            let seen = self.options.dry_run.then(|| Arc::clone(&self.seen));
            std::thread::spawn(move || {
                read_and_batch(
                    records,
                    already,
                    batch_size,
                    seen.as_deref(),
                    &stats,
                    batches,
                    rejects,
                    &name,
                )
            })
        };

        let mut deliveries = JoinSet::new();
        let sending = async {
            loop {
                let batch = tokio::select! {
                    batch = incoming.recv() => batch,
                    () = stop.wait() => None,
                };
                let Some(batch) = batch else { break };
                let Some(client) = self.client.clone() else {
                    continue;
                };
                let permit = tokio::select! {
                    permit = aimd.acquire() => permit,
                    () = stop.wait() => break,
                };
                let (stats, tracker, aimd, stop) = (
                    Arc::clone(&self.stats),
                    Arc::clone(tracker),
                    Arc::clone(aimd),
                    Arc::clone(stop),
                );
                deliveries.spawn(async move {
                    deliver(&client, batch, &stats, &tracker, &aimd, &stop).await;
                    drop(permit);
                });
                // Reap finished deliveries so the set stays small.
                while deliveries.try_join_next().is_some() {}
            }
            // Once stopped, what is in flight is abandoned (dropping the set aborts it):
            // its answers are lost, which costs duplicates on the next run, nothing more.
            tokio::select! {
                () = async { while deliveries.join_next().await.is_some() {} } => {}
                () = stop.wait() => {}
            }
        };
        let timed_out = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), sending)
                .await
                .is_err(),
            None => {
                sending.await;
                false
            }
        };
        if timed_out {
            stop.set(Ending::GaveUp, "--max-time passed".to_owned());
        }
        // Stops the reader (its sends fail) when we stopped early.
        drop(incoming);
        let outcome = tokio::task::spawn_blocking(move || reader.join())
            .await
            .expect("the reader thread is joined");
        let rejected = match outcome {
            Ok(result) => result.map_err(|e| match e {
                ReadError::Input(source) => SendError::Input {
                    path: spec.name(),
                    source,
                },
                ReadError::Rejects(source) => SendError::Rejects {
                    path: spec.rejects.clone(),
                    source,
                },
            })?,
            Err(_) => panic!("the reader thread panicked"),
        };
        // Rejected records are settled: mark them so the state's runs stay contiguous.
        let mut progress = tracker.lock();
        for no in rejected {
            progress.acknowledged.insert(no);
        }
        tracker.changed();
        drop(progress);
        if std::fs::metadata(&spec.rejects).is_ok_and(|m| m.len() == 0) {
            let _ = std::fs::remove_file(&spec.rejects);
        }
        Ok(())
    }

    /// `--retry-failed`: retry every retryable kept event once more; returns how many are
    /// now counted (or found duplicate).
    async fn retry_failed(&self, tracker: &Tracker, aimd: &Aimd, stop: &Stop) -> u64 {
        let Some(client) = &self.client else { return 0 };
        // One retry per failed record: two lines of the same event in one batch (a resend in
        // another spelling) were both answered with the first one's failed record.
        let mut candidates: Vec<FailedEvent> = tracker
            .lock()
            .failed
            .iter()
            .filter(|f| f.retryable && f.failed_id.is_some())
            .cloned()
            .collect();
        let mut seen = std::collections::HashSet::new();
        candidates.retain(|f| seen.insert(f.failed_id.clone()));
        let mut settled = 0;
        for event in candidates {
            let id = event.failed_id.as_deref().unwrap_or_default();
            let observer = Observer {
                stats: &self.stats,
                aimd,
            };
            let result = client
                .with_retries(
                    || async {
                        Stats::add(&self.stats.requests, 1);
                        client.retry_failed_once(id).await
                    },
                    &observer,
                )
                .await;
            match result {
                Ok(outcome @ (Outcome::Processed { .. } | Outcome::Duplicate { .. })) => {
                    let mut progress = tracker.lock();
                    let before = progress.failed.len();
                    progress
                        .failed
                        .retain(|f| f.failed_id.as_deref() != Some(id));
                    // Every line of that record is settled: the first is what the retry
                    // answered, any other is a duplicate of it.
                    let lines = (before - progress.failed.len()) as u64;
                    progress.counts.failed -= lines;
                    if matches!(outcome, Outcome::Processed { .. }) {
                        progress.counts.processed += 1;
                        progress.counts.duplicate += lines.saturating_sub(1);
                    } else {
                        progress.counts.duplicate += lines;
                    }
                    tracker.changed();
                    settled += 1;
                }
                Ok(_) => {}
                Err(error @ ApiError::KeyRefused { .. }) => {
                    stop.set(Ending::KeyRefused, error.to_string());
                    break;
                }
                Err(error) => {
                    tracing::warn!(failed_id = id, %error, "retry of a failed event did not settle it");
                }
            }
        }
        settled
    }
}

/// An exclusive advisory lock on the input for as long as the returned file lives.
fn lock_input(path: &Path, name: &str) -> Result<File, SendError> {
    let file = File::open(path).map_err(|source| SendError::Input {
        path: name.to_owned(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock only reads the descriptor, which `file` keeps open.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if locked != 0 {
            let error = std::io::Error::last_os_error();
            return Err(if error.kind() == std::io::ErrorKind::WouldBlock {
                SendError::Busy {
                    path: name.to_owned(),
                }
            } else {
                SendError::Input {
                    path: name.to_owned(),
                    source: error,
                }
            });
        }
    }
    Ok(file)
}

async fn save_periodically(
    file: Arc<Mutex<StateFile>>,
    input: Option<PathBuf>,
    tracker: Arc<Tracker>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        if !tracker
            .dirty
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            continue;
        }
        let (file, input, tracker) = (Arc::clone(&file), input.clone(), Arc::clone(&tracker));
        let saved =
            tokio::task::spawn_blocking(move || save_now(Some(&file), input.as_deref(), &tracker))
                .await;
        if let Ok(Err(error)) = saved {
            tracing::warn!(%error, "could not save the state (will try again)");
        }
    }
}

fn save_now(
    file: Option<&Arc<Mutex<StateFile>>>,
    input: Option<&Path>,
    tracker: &Tracker,
) -> Result<(), StateError> {
    let (Some(file), Some(input)) = (file, input) else {
        return Ok(());
    };
    let progress = tracker.lock().clone();
    let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
    file.set(input, progress);
    file.save()
}
