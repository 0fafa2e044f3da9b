//! The resume state: per input file, which records the server acknowledged (or that were
//! rejected locally), and the counts of their outcomes, with a fingerprint of the file.
//!
//! Written atomically (a temporary file, fsync, rename, fsync of the folder) after the
//! server's answers, never before: a `kill -9` loses at most the last second of
//! acknowledgements, whose records are then sent again and answered `duplicate`. Losing
//! the whole file costs the same: duplicates, never a double count.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const VERSION: u32 = 1;
/// The bytes hashed at each end of a file for its fingerprint.
const FINGERPRINT_SPAN: u64 = 1024 * 1024;

/// What identifies a file's content cheaply: its size and hashes of its first and last MiB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub size: u64,
    pub head_sha256: String,
    pub tail_sha256: String,
}

impl Fingerprint {
    pub fn of(path: &Path) -> io::Result<Self> {
        let mut file = File::open(path)?;
        let size = file.metadata()?.len();
        let head = hash_span(&mut file, 0, FINGERPRINT_SPAN.min(size))?;
        let tail_start = size.saturating_sub(FINGERPRINT_SPAN);
        let tail = hash_span(&mut file, tail_start, size - tail_start)?;
        Ok(Fingerprint {
            size,
            head_sha256: head,
            tail_sha256: tail,
        })
    }
}

fn hash_span(file: &mut File, start: u64, len: u64) -> io::Result<String> {
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(len).read_to_end(&mut bytes)?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Record numbers as sorted, disjoint, inclusive ranges (merged as they are added): small
/// however many records, since acknowledgements arrive in nearly contiguous runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// start -> end (inclusive).
    ranges: BTreeMap<u64, u64>,
}

impl RangeSet {
    pub fn contains(&self, n: u64) -> bool {
        self.ranges
            .range(..=n)
            .next_back()
            .is_some_and(|(_, &end)| n <= end)
    }

    pub fn insert(&mut self, n: u64) {
        if self.contains(n) {
            return;
        }
        let before = self
            .ranges
            .range(..n)
            .next_back()
            .filter(|(_, &end)| end + 1 == n)
            .map(|(&start, _)| start);
        let after = n.checked_add(1).and_then(|next| self.ranges.remove(&next));
        match (before, after) {
            (Some(start), Some(end)) => {
                self.ranges.insert(start, end);
            }
            (Some(start), None) => {
                self.ranges.insert(start, n);
            }
            (None, Some(end)) => {
                self.ranges.insert(n, end);
            }
            (None, None) => {
                self.ranges.insert(n, n);
            }
        }
    }

    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|(s, e)| e - s + 1).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// How many disjoint ranges (the state file's size grows with this, not with records).
    pub fn runs(&self) -> usize {
        self.ranges.len()
    }
}

impl Serialize for RangeSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.ranges.iter().map(|(a, b)| [*a, *b]))
    }
}

impl<'de> Deserialize<'de> for RangeSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pairs: Vec<[u64; 2]> = Vec::deserialize(d)?;
        let mut set = RangeSet::default();
        for [start, end] in pairs {
            if start > end {
                return Err(serde::de::Error::custom("a range ends before it starts"));
            }
            set.ranges.insert(start, end);
        }
        Ok(set)
    }
}

/// Outcomes counted for the acknowledged records of one input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub processed: u64,
    pub duplicate: u64,
    pub failed: u64,
}

/// An event the server kept as failed (or refused), for the report and `--retry-failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedEvent {
    pub record: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_id: Option<String>,
    pub code: String,
    pub message: String,
    pub retryable: bool,
}

/// One input's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputState {
    pub fingerprint: Fingerprint,
    /// Records the server answered for good, or that were rejected locally.
    pub acknowledged: RangeSet,
    pub counts: Counts,
    #[serde(default)]
    pub failed: Vec<FailedEvent>,
}

impl InputState {
    pub fn new(fingerprint: Fingerprint) -> Self {
        InputState {
            fingerprint,
            acknowledged: RangeSet::default(),
            counts: Counts::default(),
            failed: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct StateDocument {
    version: u32,
    /// Keyed by the input's absolute path.
    inputs: HashMap<String, InputState>,
}

/// Why an input cannot be resumed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read the state file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("the state file {path} is not a state file of this program ({detail}); move it away, or pass --restart")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{input} changed since {state} recorded its progress (size {was} -> {now} bytes, or its first/last MiB differ): refusing to resume blindly. Pass --restart to send it from the start (events already counted are then answered duplicate, never counted twice)")]
    Changed {
        input: PathBuf,
        state: PathBuf,
        was: u64,
        now: u64,
    },
    #[error("cannot write the state file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// A state file on disk and what it holds.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    document: StateDocument,
}

impl StateFile {
    /// Load `path` (an absent file is an empty state).
    pub fn load(path: &Path) -> Result<Self, StateError> {
        let document = match fs::read(path) {
            Ok(bytes) => {
                let document: StateDocument =
                    serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
                        path: path.to_owned(),
                        detail: e.to_string(),
                    })?;
                if document.version != VERSION {
                    return Err(StateError::Corrupt {
                        path: path.to_owned(),
                        detail: format!("version {}", document.version),
                    });
                }
                document
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => StateDocument {
                version: VERSION,
                inputs: HashMap::new(),
            },
            Err(source) => {
                return Err(StateError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        Ok(StateFile {
            path: path.to_owned(),
            document,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The progress of `input` to resume from: none when it is new or `restart`; an error
    /// when the file changed since it was recorded.
    pub fn resume(
        &mut self,
        input: &Path,
        fingerprint: &Fingerprint,
        restart: bool,
    ) -> Result<InputState, StateError> {
        let key = key_of(input);
        match self.document.inputs.get(&key) {
            Some(known) if !restart && known.fingerprint != *fingerprint => {
                Err(StateError::Changed {
                    input: input.to_owned(),
                    state: self.path.clone(),
                    was: known.fingerprint.size,
                    now: fingerprint.size,
                })
            }
            Some(known) if !restart => Ok(known.clone()),
            _ => Ok(InputState::new(fingerprint.clone())),
        }
    }

    /// Record `state` as `input`'s progress (in memory; `save` writes it).
    pub fn set(&mut self, input: &Path, state: InputState) {
        self.document.inputs.insert(key_of(input), state);
    }

    /// Write the file atomically and durably.
    pub fn save(&self) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(&self.document).expect("the state serializes");
        write_atomically(&self.path, &bytes).map_err(|source| StateError::Write {
            path: self.path.clone(),
            source,
        })
    }
}

fn key_of(input: &Path) -> String {
    fs::canonicalize(input)
        .unwrap_or_else(|_| input.to_owned())
        .to_string_lossy()
        .into_owned()
}

/// temp file + fsync + rename + fsync of the folder: a reader (or a crash) sees the old
/// file or the new one, never half of one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".tmp{}", std::process::id()));
    let tmp = dir.join(name);
    {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Ok(dir) = File::open(dir) {
        // Makes the rename itself durable; not every platform can fsync a folder.
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_as_records_are_acknowledged_out_of_order() {
        let mut set = RangeSet::default();
        for n in [5, 1, 3, 2, 4, 10, 9] {
            set.insert(n);
        }
        assert_eq!(set.runs(), 2, "{set:?}");
        assert_eq!(set.len(), 7);
        assert!(set.contains(1) && set.contains(5) && set.contains(9) && set.contains(10));
        assert!(!set.contains(6) && !set.contains(0) && !set.contains(11));
        set.insert(7);
        set.insert(8);
        set.insert(6);
        assert_eq!(set.runs(), 1);
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, "[[1,10]]");
        assert_eq!(serde_json::from_str::<RangeSet>(&json).unwrap(), set);
    }

    #[test]
    fn a_saved_state_resumes_with_the_acknowledged_records() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("events.ndjson");
        fs::write(&input, "{}\n{}\n{}\n").unwrap();
        let state_path = dir.path().join("events.ndjson.event-ingest-state");
        let fingerprint = Fingerprint::of(&input).unwrap();

        let mut state = StateFile::load(&state_path).unwrap();
        let mut progress = state.resume(&input, &fingerprint, false).unwrap();
        assert!(progress.acknowledged.is_empty());
        progress.acknowledged.insert(1);
        progress.acknowledged.insert(3);
        progress.counts.processed = 2;
        state.set(&input, progress);
        state.save().unwrap();

        let mut again = StateFile::load(&state_path).unwrap();
        let resumed = again.resume(&input, &fingerprint, false).unwrap();
        assert!(resumed.acknowledged.contains(1) && resumed.acknowledged.contains(3));
        assert!(!resumed.acknowledged.contains(2), "line 2 is still to send");
        assert_eq!(resumed.counts.processed, 2);
    }

    #[test]
    fn a_changed_file_is_refused_unless_restarted() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("events.ndjson");
        fs::write(&input, "{\"a\":1}\n").unwrap();
        let state_path = dir.path().join("state");
        let mut state = StateFile::load(&state_path).unwrap();
        let before = Fingerprint::of(&input).unwrap();
        let mut progress = state.resume(&input, &before, false).unwrap();
        progress.acknowledged.insert(1);
        state.set(&input, progress);
        state.save().unwrap();

        // Same size, other content: still a change.
        fs::write(&input, "{\"b\":1}\n").unwrap();
        let after = Fingerprint::of(&input).unwrap();
        assert_eq!(before.size, after.size);
        let mut state = StateFile::load(&state_path).unwrap();
        let error = state.resume(&input, &after, false).unwrap_err();
        assert!(matches!(error, StateError::Changed { .. }), "{error}");
        assert!(error.to_string().contains("--restart"));
        let fresh = state.resume(&input, &after, true).unwrap();
        assert!(fresh.acknowledged.is_empty(), "--restart starts over");
    }

    #[test]
    fn the_tail_of_a_large_file_is_part_of_the_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("big");
        let mut bytes = vec![b'a'; 3 * 1024 * 1024];
        fs::write(&input, &bytes).unwrap();
        let before = Fingerprint::of(&input).unwrap();
        *bytes.last_mut().unwrap() = b'b';
        fs::write(&input, &bytes).unwrap();
        assert_ne!(before, Fingerprint::of(&input).unwrap());
    }

    #[test]
    fn a_corrupt_state_file_is_an_error_not_an_empty_state() {
        let dir = tempfile::tempdir().unwrap();
        let state_path = dir.path().join("state");
        fs::write(&state_path, "not json").unwrap();
        assert!(matches!(
            StateFile::load(&state_path),
            Err(StateError::Corrupt { .. })
        ));
    }
}
