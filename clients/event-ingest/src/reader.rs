//! The reader thread of a run: reads the records of one input, judges each one, writes
//! the rejected ones to the rejects file, skips those acknowledged by an earlier run, and
//! hands the rest on in batches through a bounded channel (which is what keeps memory flat).

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::batch::{Batch, Batcher};
use crate::input::{self, RawRecord};
use crate::record::{self, Rejected};
use crate::state::RangeSet;
use crate::stats::Stats;

pub(crate) enum ReadError {
    Input(std::io::Error),
    Rejects(std::io::Error),
}

/// One line of the rejects file.
#[derive(Serialize)]
struct RejectLine<'a> {
    input: &'a str,
    record: u64,
    code: &'a str,
    message: &'a str,
    /// The record as read (its first KiB when it is over the size limit).
    raw: std::borrow::Cow<'a, str>,
}

/// The reader thread: judge every record, write the rejected ones, batch the valid ones not
/// acknowledged yet (in a dry run, `dry_run` holds the hashes seen, and nothing is batched).
/// Returns the rejected records' numbers.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_and_batch(
    records: input::Records,
    already: RangeSet,
    batch_size: usize,
    dry_run: Option<&Mutex<HashSet<u64>>>,
    stats: &Stats,
    batches: mpsc::Sender<Batch>,
    rejects: File,
    input_name: &str,
) -> Result<Vec<u64>, ReadError> {
    let mut rejects = BufWriter::new(rejects);
    let mut rejected_numbers = Vec::new();
    let mut batcher = Batcher::new(batch_size);
    let now = record::now();
    for record in records {
        if batches.is_closed() {
            break; // the run stopped (a resume may skip for long without sending)
        }
        let RawRecord { no, text, bytes } = record.map_err(ReadError::Input)?;
        Stats::add(&stats.records_read, 1);
        match record::judge(no, &text, bytes, now) {
            Err(Rejected { code, message, .. }) => {
                Stats::add(&stats.rejected, 1);
                let shown =
                    if bytes > text.len() || text.len() > event_core::limits::MAX_EVENT_BYTES {
                        &text[..text.len().min(1024)]
                    } else {
                        &text[..]
                    };
                let line = RejectLine {
                    input: input_name,
                    record: no,
                    code: &code,
                    message: &message,
                    raw: String::from_utf8_lossy(shown.trim_ascii()),
                };
                serde_json::to_writer(&mut rejects, &line)
                    .map_err(|e| ReadError::Rejects(e.into()))?;
                rejects.write_all(b"\n").map_err(ReadError::Rejects)?;
                rejected_numbers.push(no);
            }
            Ok(event) => {
                if let Some(seen) = dry_run {
                    // 8 bytes of the hash per distinct event (a collision among a billion
                    // events has odds of about 3 in 100): the one memory that grows with
                    // the input, and only in a dry run. Shared by the run's inputs: a repeat
                    // in another file is a repeat too.
                    let bytes = event.hash.as_bytes();
                    let key = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
                    let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                    if !seen.insert(key) {
                        Stats::add(&stats.duplicates_in_input, 1);
                    }
                    continue;
                }
                if already.contains(no) {
                    Stats::add(&stats.skipped, 1);
                    continue;
                }
                if let Some(full) = batcher.push(event) {
                    if batches.blocking_send(full).is_err() {
                        break; // the run stopped
                    }
                }
            }
        }
    }
    if let Some(last) = batcher.finish() {
        let _ = batches.blocking_send(last);
    }
    rejects.flush().map_err(ReadError::Rejects)?;
    rejects.get_ref().sync_all().map_err(ReadError::Rejects)?;
    Ok(rejected_numbers)
}
