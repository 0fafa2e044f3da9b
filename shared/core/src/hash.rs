//! `event_hash`: the identity of an event, and the byte encoding it is computed over.
//!
//! # Encoding, version 1
//!
//! `event_hash = lowercase_hex(SHA-256(identity_encoding(event)))`, where
//! `identity_encoding` is the concatenation of:
//!
//! 1. the 13 ASCII bytes `event-hash/v1` (the version: a change of any rule below gets a
//!    new tag, so old and new hashes can never be confused);
//! 2. for each of these fields, in this order, its length in bytes as a 4-byte big-endian
//!    unsigned integer followed by its UTF-8 bytes:
//!    - `client_id` (as validated: `[A-Za-z0-9._:@-]{1,128}`),
//!    - `metric` (trimmed; `unknown` when missing),
//!    - `amount` in canonical form: no `+`, no leading zeros, no trailing fractional
//!      zeros, no point for whole numbers, `0` for zero (`12.5`, `-0.001`, `100`),
//!    - `timestamp` in canonical form: RFC 3339 UTC `YYYY-MM-DDTHH:MM:SS[.fraction]Z`,
//!      the fraction (up to 9 digits) without trailing zeros and absent when zero
//!      (`2026-11-20T08:00:00Z`, `2026-11-20T08:00:00.5Z`);
//! 3. the single byte `0x00` when there is no `event_id`, or the byte `0x01` followed by
//!    the 4-byte big-endian length and the UTF-8 bytes of `event_id`.
//!
//! `source` is not part of the identity. Every field is length-prefixed, so no content
//! (a `|`, a NUL byte, digits that look like a length) can move a boundary: `("a|b", "c")`
//! and `("a", "b|c")` encode differently.
//!
//! Example: `client_id=acme`, `metric=purchase`, `amount=12.5`,
//! `timestamp=2026-11-20T08:00:00Z`, no `event_id` encodes as
//! `"event-hash/v1" 00000004 "acme" 00000008 "purchase" 00000004 "12.5" 00000014
//! "2026-11-20T08:00:00Z" 00` and hashes to
//! `93dfd8983fe3545ccff1d572ef8ca6e731edfd87d3be9237f8193d6a096f60c5`
//! (more vectors in `tests/hash.rs`).

use sha2::{Digest, Sha256};

use crate::normalized::NormalizedEvent;

/// The version tag that starts every identity encoding.
pub const ENCODING_TAG: &[u8] = b"event-hash/v1";

/// SHA-256 of the identity encoding; `Display` is lowercase hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventHash([u8; 32]);

impl EventHash {
    pub fn of(event: &NormalizedEvent) -> Self {
        // The encoding of a valid event is at most ~870 bytes (128-byte ids, a 128-char
        // metric of up to 512 bytes): build it on the stack and hash it in one call.
        let mut buf = [0u8; 1024];
        let mut len = 0;
        let mut fits = true;
        encode(event, |bytes| match buf.get_mut(len..len + bytes.len()) {
            Some(slot) if fits => {
                slot.copy_from_slice(bytes);
                len += bytes.len();
            }
            _ => fits = false,
        });
        let digest = if fits {
            Sha256::digest(&buf[..len])
        } else {
            Sha256::digest(identity_encoding(event))
        };
        EventHash(digest.into())
    }
    /// Exactly 64 lowercase hex characters; anything else is `None`.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        fn nibble(b: u8) -> Option<u8> {
            match b {
                b'0'..=b'9' => Some(b - b'0'),
                b'a'..=b'f' => Some(b - b'a' + 10),
                _ => None,
            }
        }
        let mut out = [0u8; 32];
        for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            *slot = nibble(pair[0])? << 4 | nibble(pair[1])?;
        }
        Some(EventHash(out))
    }
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        EventHash(bytes)
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// Stable shard in `0..shards` (shards >= 1), from the first 8 bytes of the hash.
    pub fn shard(&self, shards: u32) -> u32 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        (u64::from_be_bytes(first) % u64::from(shards.max(1))) as u32
    }
}

/// Here rather than in `normalized.rs`, which knows nothing of hashing: `hash` depends on
/// `normalized`, never the other way round.
impl NormalizedEvent {
    pub fn hash(&self) -> EventHash {
        EventHash::of(self)
    }
}

/// The versioned, length-prefixed bytes the hash is computed over.
pub fn identity_encoding(event: &NormalizedEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    encode(event, |bytes| out.extend_from_slice(bytes));
    out
}

fn encode(event: &NormalizedEvent, mut sink: impl FnMut(&[u8])) {
    let mut amount_buf = [0u8; 48];
    let mut timestamp_buf = [0u8; 40];
    let parts: [&[u8]; 4] = [
        event.client_id.as_str().as_bytes(),
        event.metric.as_str().as_bytes(),
        event.amount.write_canonical(&mut amount_buf).as_bytes(),
        event
            .timestamp
            .write_canonical(&mut timestamp_buf)
            .as_bytes(),
    ];
    sink(ENCODING_TAG);
    for part in parts {
        // Fields are bounded far below 4 GiB (an event is at most 32 KiB).
        sink(&(part.len() as u32).to_be_bytes());
        sink(part);
    }
    match &event.event_id {
        None => sink(&[0x00]),
        Some(id) => {
            sink(&[0x01]);
            sink(&(id.as_str().len() as u32).to_be_bytes());
            sink(id.as_str().as_bytes());
        }
    }
}

impl std::fmt::Display for EventHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (pair, byte) in out.chunks_exact_mut(2).zip(self.0) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0x0f)];
        }
        f.write_str(std::str::from_utf8(&out).unwrap_or(""))
    }
}

impl serde::Serialize for EventHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
