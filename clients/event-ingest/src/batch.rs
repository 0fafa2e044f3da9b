//! Cutting a stream of valid events into request bodies within the server's limits: at
//! most 500 events and 1 MiB of body per request (`{"events":[…]}`, counted exactly).

use event_core::limits::{MAX_BATCH_EVENTS, MAX_BODY_BYTES};

use crate::record::ValidEvent;

/// `{"events":[` + `]}`: the bytes of a body around its events.
const ENVELOPE_BYTES: usize = r#"{"events":[]}"#.len();

/// The events of one request, in order, and the exact size of the body they make.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub events: Vec<ValidEvent>,
    body_bytes: usize,
}

impl Batch {
    /// The size of the body if `event` were added.
    fn bytes_with(&self, event: &ValidEvent) -> usize {
        let separator = usize::from(!self.events.is_empty());
        self.body_bytes.max(ENVELOPE_BYTES) + separator + event.raw.get().len()
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The exact size of `body()`.
    pub fn body_bytes(&self) -> usize {
        self.body_bytes.max(ENVELOPE_BYTES)
    }

    /// The request body: each event's text exactly as read, so the server hashes what we hashed.
    pub fn body(&self) -> Vec<u8> {
        body_of(self.events.iter())
    }
}

/// `{"events":[…]}` of these events.
pub fn body_of<'a>(events: impl Iterator<Item = &'a ValidEvent>) -> Vec<u8> {
    let mut body = Vec::with_capacity(1024);
    body.extend_from_slice(br#"{"events":["#);
    for (i, event) in events.enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(event.raw.get().as_bytes());
    }
    body.extend_from_slice(b"]}");
    body
}

/// Fills batches up to `max_events` (at most 500) and 1 MiB; hands back each full batch.
#[derive(Debug)]
pub struct Batcher {
    max_events: usize,
    max_bytes: usize,
    current: Batch,
}

impl Batcher {
    pub fn new(max_events: usize) -> Self {
        Self::with_limits(max_events, MAX_BODY_BYTES)
    }

    fn with_limits(max_events: usize, max_bytes: usize) -> Self {
        Batcher {
            max_events: max_events.clamp(1, MAX_BATCH_EVENTS),
            max_bytes,
            current: Batch::default(),
        }
    }

    /// Add an event (at most 32 KiB, so it always fits an empty batch); returns the batch
    /// that was full before it, if any.
    pub fn push(&mut self, event: ValidEvent) -> Option<Batch> {
        let full = if !self.current.is_empty()
            && (self.current.len() >= self.max_events
                || self.current.bytes_with(&event) > self.max_bytes)
        {
            Some(std::mem::take(&mut self.current))
        } else {
            None
        };
        self.current.body_bytes = self.current.bytes_with(&event);
        self.current.events.push(event);
        if self.current.len() >= self.max_events {
            return full.or_else(|| Some(std::mem::take(&mut self.current)));
        }
        full
    }

    /// The last, partly filled batch.
    pub fn finish(self) -> Option<Batch> {
        (!self.current.is_empty()).then_some(self.current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{judge, now};

    /// A valid event of exactly `size` bytes.
    fn event(record: u64, size: usize) -> ValidEvent {
        let head = format!(
            r#"{{"client_id":"c","payload":{{"timestamp":{}}},"pad":""#,
            1_795_161_600 + record
        );
        let tail = r#""}"#;
        let text = format!("{head}{}{tail}", "x".repeat(size - head.len() - tail.len()));
        assert_eq!(text.len(), size);
        judge(record, text.as_bytes(), size, now()).expect("valid")
    }

    fn drain(batcher: &mut Batcher, events: impl IntoIterator<Item = ValidEvent>) -> Vec<Batch> {
        events.into_iter().filter_map(|e| batcher.push(e)).collect()
    }

    #[test]
    fn exactly_500_events_make_one_full_batch() {
        let mut batcher = Batcher::new(500);
        let full = drain(&mut batcher, (0..500).map(|i| event(i, 80)));
        assert_eq!(full.len(), 1);
        assert_eq!(full[0].len(), 500);
        assert!(batcher.finish().is_none(), "nothing left over");
    }

    #[test]
    fn the_501st_event_starts_a_second_batch() {
        let mut batcher = Batcher::new(500);
        let full = drain(&mut batcher, (0..501).map(|i| event(i, 80)));
        assert_eq!(full.len(), 1);
        assert_eq!(batcher.finish().map(|b| b.len()), Some(1));
    }

    #[test]
    fn a_body_of_exactly_1_mib_travels_as_one_batch_and_one_byte_more_splits() {
        // 32 events of 32,000 bytes plus commas and envelope: size the last one so the body
        // is exactly 1 MiB.
        let fixed: Vec<ValidEvent> = (0..32).map(|i| event(i, 32_000)).collect();
        let used = ENVELOPE_BYTES + 32 * 32_000 + 32; // 32 commas before the 33rd event
        let last = MAX_BODY_BYTES - used;
        assert!(last <= 32 * 1024);

        let mut batcher = Batcher::new(500);
        let mut events = fixed.clone();
        events.push(event(99, last));
        assert!(drain(&mut batcher, events).is_empty());
        let batch = batcher.finish().expect("one batch");
        assert_eq!(batch.len(), 33);
        assert_eq!(batch.body_bytes(), MAX_BODY_BYTES);
        assert_eq!(
            batch.body().len(),
            MAX_BODY_BYTES,
            "the size is counted exactly"
        );

        let mut batcher = Batcher::new(500);
        let mut events = fixed;
        events.push(event(99, last + 1));
        let full = drain(&mut batcher, events);
        assert_eq!(full.len(), 1);
        assert_eq!(full[0].len(), 32);
        assert!(full[0].body().len() <= MAX_BODY_BYTES);
        assert_eq!(batcher.finish().map(|b| b.len()), Some(1));
    }

    #[test]
    fn batch_size_is_capped_at_the_servers_500() {
        let mut batcher = Batcher::new(10_000);
        let full = drain(&mut batcher, (0..1000).map(|i| event(i, 80)));
        assert_eq!(
            full.iter().map(Batch::len).collect::<Vec<_>>(),
            vec![500, 500]
        );
    }

    #[test]
    fn the_body_is_the_events_text_verbatim() {
        let mut batcher = Batcher::new(2);
        let a = event(1, 100);
        let b = event(2, 120);
        let expected = format!(r#"{{"events":[{},{}]}}"#, a.raw.get(), b.raw.get());
        batcher.push(a);
        let batch = batcher.push(b).expect("full at 2");
        assert_eq!(String::from_utf8(batch.body()).unwrap(), expected);
        assert_eq!(batch.body_bytes(), expected.len());
    }
}
