//! Reading records from an input with flat memory: NDJSON (one event per line), the same
//! gzipped (recognised by its magic bytes, whatever the name), or one JSON array of events
//! (split item by item, never parsed whole); a file or stdin.
//!
//! A record is numbered by its line in NDJSON and by its position (from 1) in an array. No
//! record is held whole past `KEEP_BYTES`: a longer one is counted and rejected as too large.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use event_core::limits::MAX_EVENT_BYTES;

/// Bytes of one record kept in memory: the event limit, plus room for the white space a
/// line may carry around it.
const KEEP_BYTES: usize = MAX_EVENT_BYTES + 4096;

/// One record's text as read (at most `KEEP_BYTES`), its number, and its whole size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    pub no: u64,
    pub text: Vec<u8>,
    /// The whole record's size; larger than `text.len()` when it was cut.
    pub bytes: usize,
}

/// The layout of an input, found from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Lines,
    Array,
}

/// Counts the bytes read from the file itself (compressed, for gzip), for progress and ETA.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The records of one input, in order.
pub struct Records {
    reader: Box<dyn BufRead + Send>,
    layout: Layout,
    next_no: u64,
    /// An array's closing bracket was read.
    done: bool,
}

/// Open `path` (`None`: stdin), undoing gzip and finding the layout. `read` counts the raw
/// bytes consumed.
pub fn open(path: Option<&Path>, read: Arc<AtomicU64>) -> io::Result<Records> {
    let source: Box<dyn Read + Send> = match path {
        Some(path) => Box::new(File::open(path)?),
        None => Box::new(io::stdin()),
    };
    from_reader(source, read)
}

/// As `open`, from any reader.
pub fn from_reader(source: Box<dyn Read + Send>, read: Arc<AtomicU64>) -> io::Result<Records> {
    let mut raw = BufReader::with_capacity(
        256 * 1024,
        Counting {
            inner: source,
            read,
        },
    );
    let magic = raw.fill_buf()?;
    let reader: Box<dyn BufRead + Send> = if magic.starts_with(&[0x1f, 0x8b]) {
        // MultiGzDecoder: `cat a.gz b.gz` is a valid gzip file too.
        Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::read::MultiGzDecoder::new(raw),
        ))
    } else {
        Box::new(raw)
    };
    Records {
        reader,
        layout: Layout::Lines,
        next_no: 1,
        done: false,
    }
    .find_layout()
}

impl Records {
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Skip leading white space (counting its lines) and look for an array's `[`.
    fn find_layout(mut self) -> io::Result<Self> {
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                return Ok(self);
            }
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(at) => {
                    if buf[at] == b'[' {
                        self.reader.consume(at + 1);
                        self.layout = Layout::Array;
                        self.next_no = 1;
                    }
                    return Ok(self);
                }
                None => {
                    let len = buf.len();
                    self.next_no += buf.iter().filter(|&&b| b == b'\n').count() as u64;
                    self.reader.consume(len);
                }
            }
        }
    }

    /// The next line that is not blank.
    fn next_line(&mut self) -> io::Result<Option<RawRecord>> {
        loop {
            let mut text = Vec::new();
            let mut bytes = 0usize;
            let mut saw_any = false;
            loop {
                let buf = self.reader.fill_buf()?;
                if buf.is_empty() {
                    break;
                }
                saw_any = true;
                let (chunk, end) = match buf.iter().position(|&b| b == b'\n') {
                    Some(at) => (&buf[..at], Some(at + 1)),
                    None => (buf, None),
                };
                bytes += chunk.len();
                let room = KEEP_BYTES.saturating_sub(text.len());
                text.extend_from_slice(&chunk[..chunk.len().min(room)]);
                let used = end.unwrap_or(chunk.len());
                self.reader.consume(used);
                if end.is_some() {
                    break;
                }
            }
            if !saw_any {
                return Ok(None);
            }
            let no = self.next_no;
            self.next_no += 1;
            if text.iter().all(u8::is_ascii_whitespace) && bytes == text.len() {
                continue; // a blank line is no record
            }
            return Ok(Some(RawRecord { no, text, bytes }));
        }
    }

    /// The next item of a JSON array: bytes up to the `,` or `]` that ends it at depth 0.
    fn next_item(&mut self) -> io::Result<Option<RawRecord>> {
        if self.done {
            return Ok(None);
        }
        let mut text = Vec::new();
        let mut bytes = 0usize;
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                // Cut short: what was read is a record (it will not parse).
                self.done = true;
                if text.iter().all(u8::is_ascii_whitespace) && bytes == text.len() {
                    return Ok(None);
                }
                break;
            }
            let mut end = None;
            for (i, &b) in buf.iter().enumerate() {
                if in_string {
                    match (escaped, b) {
                        (true, _) => escaped = false,
                        (false, b'\\') => escaped = true,
                        (false, b'"') => in_string = false,
                        _ => {}
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => depth -= 1,
                    b',' if depth == 0 => {
                        end = Some((i, false));
                        break;
                    }
                    b']' => {
                        end = Some((i, true));
                        break;
                    }
                    _ => {}
                }
            }
            let take = end.map(|(i, _)| i).unwrap_or(buf.len());
            bytes += take;
            let room = KEEP_BYTES.saturating_sub(text.len());
            text.extend_from_slice(&buf[..take.min(room)]);
            match end {
                Some((i, closing)) => {
                    self.reader.consume(i + 1);
                    if closing {
                        self.done = true;
                        if text.iter().all(u8::is_ascii_whitespace) && bytes == text.len() {
                            return Ok(None); // `[]`, or a trailing comma before `]`
                        }
                    }
                    break;
                }
                None => {
                    let len = buf.len();
                    self.reader.consume(len);
                }
            }
        }
        let no = self.next_no;
        self.next_no += 1;
        Ok(Some(RawRecord { no, text, bytes }))
    }
}

impl Iterator for Records {
    type Item = io::Result<RawRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.layout {
            Layout::Lines => self.next_line(),
            Layout::Array => self.next_item(),
        }
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn records(bytes: Vec<u8>) -> (Layout, Vec<RawRecord>) {
        let records = from_reader(Box::new(io::Cursor::new(bytes)), Arc::default()).unwrap();
        let layout = records.layout();
        (layout, records.map(Result::unwrap).collect())
    }

    fn texts(records: &[RawRecord]) -> Vec<(u64, String)> {
        records
            .iter()
            .map(|r| (r.no, String::from_utf8_lossy(&r.text).trim().to_owned()))
            .collect()
    }

    #[test]
    fn ndjson_lines_are_numbered_from_one_and_blank_lines_skipped() {
        let (layout, got) = records(b"{\"a\":1}\n\n  \n{\"b\":2}\r\n{\"c\":3}".to_vec());
        assert_eq!(layout, Layout::Lines);
        assert_eq!(
            texts(&got),
            vec![
                (1, "{\"a\":1}".into()),
                (4, "{\"b\":2}".into()),
                (5, "{\"c\":3}".into())
            ]
        );
    }

    #[test]
    fn gzip_is_recognised_by_content() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"{\"a\":1}\n{\"b\":2}\n").unwrap();
        let (layout, got) = records(gz.finish().unwrap());
        assert_eq!(layout, Layout::Lines);
        assert_eq!(
            texts(&got),
            vec![(1, "{\"a\":1}".into()), (2, "{\"b\":2}".into())]
        );
    }

    #[test]
    fn a_json_array_is_split_item_by_item_with_strings_and_nesting_respected() {
        let input = br#"  [ {"a":"x,]y","n":[1,2]}, {"b":"q\"],"}
          ,42, "s" ]"#;
        let (layout, got) = records(input.to_vec());
        assert_eq!(layout, Layout::Array);
        assert_eq!(
            texts(&got),
            vec![
                (1, r#"{"a":"x,]y","n":[1,2]}"#.into()),
                (2, r#"{"b":"q\"],"}"#.into()),
                (3, "42".into()),
                (4, "\"s\"".into()),
            ]
        );
        let (_, got) = records(b"[]".to_vec());
        assert!(got.is_empty());
    }

    #[test]
    fn a_gzipped_array_works_too() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"\n[{\"a\":1},{\"b\":2}]\n").unwrap();
        let (layout, got) = records(gz.finish().unwrap());
        assert_eq!(layout, Layout::Array);
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn a_huge_line_is_counted_whole_but_kept_short() {
        let mut input = vec![b'x'; 10 * KEEP_BYTES];
        input.extend_from_slice(b"\n{\"a\":1}\n");
        let (_, got) = records(input);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].bytes, 10 * KEEP_BYTES);
        assert_eq!(got[0].text.len(), KEEP_BYTES);
        assert_eq!(got[1].no, 2);
    }
}
