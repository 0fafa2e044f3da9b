//! Listing cursors: an opaque base64url token holding, for each partition a listing reads,
//! where the previous page stopped there (the last sort key returned, or "exhausted"), and a
//! fingerprint of the query it belongs to. A token that does not decode, belongs to another
//! query, or points outside the query's range is `StoreError::InvalidCursor`.

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::keys::SkRange;
use crate::StoreError;

/// Where one partition's listing stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Position {
    /// Nothing read yet: start at the newest key.
    #[serde(rename = "s")]
    Start,
    /// Continue strictly below this sort key (the last one returned).
    #[serde(rename = "a")]
    After(String),
    /// Every item of this partition has been returned.
    #[serde(rename = "d")]
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub positions: Vec<Position>,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    v: u8,
    f: String,
    p: Vec<Position>,
}

/// Identifies a query (not its page size): a cursor is only valid for the query it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(u64);

impl Fingerprint {
    /// FNV-1a over length-prefixed parts: stable across processes and releases (unlike std's
    /// hasher), so a cursor minted by one Lambda instance is understood by every other.
    pub fn of(parts: &[&str]) -> Fingerprint {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for byte in bytes {
                hash ^= u64::from(*byte);
                hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        for part in parts {
            eat(&(part.len() as u64).to_be_bytes());
            eat(part.as_bytes());
        }
        Fingerprint(hash)
    }
}

/// Longer tokens are not ours; refuse before decoding them.
const MAX_TOKEN_LEN: usize = 64 * 1024;

impl Cursor {
    pub fn start(partitions: usize) -> Cursor {
        Cursor {
            positions: vec![Position::Start; partitions],
        }
    }

    pub fn is_done(&self) -> bool {
        self.positions.iter().all(|p| *p == Position::Done)
    }

    pub fn encode(&self, query: Fingerprint) -> String {
        let wire = Wire {
            v: 1,
            f: format!("{:016x}", query.0),
            p: self.positions.clone(),
        };
        let json = serde_json::to_vec(&wire).expect("a cursor always serializes");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// The cursor `token` of query `query`, which reads `partitions` partitions whose sort
    /// keys lie in `range`.
    pub fn decode(
        token: &str,
        query: Fingerprint,
        partitions: usize,
        range: &SkRange,
    ) -> Result<Cursor, StoreError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(StoreError::InvalidCursor);
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| StoreError::InvalidCursor)?;
        let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
        if wire.v != 1 || wire.f != format!("{:016x}", query.0) || wire.p.len() != partitions {
            return Err(StoreError::InvalidCursor);
        }
        let inside = |p: &Position| match p {
            Position::After(sk) => crate::keys::sk_time(sk).is_some() && range.contains(sk),
            _ => true,
        };
        if !wire.p.iter().all(inside) {
            return Err(StoreError::InvalidCursor);
        }
        Ok(Cursor { positions: wire.p })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range() -> SkRange {
        SkRange {
            lo: Some(format!("{:019}", 100)),
            hi: Some(format!("{:019}#~", 199)),
        }
    }

    fn sk(ns: i64) -> String {
        format!("{ns:019}#{}", "a".repeat(64))
    }

    #[test]
    fn a_cursor_round_trips() {
        let query = Fingerprint::of(&["processed", "default", "acme", "100", "200"]);
        let cursor = Cursor {
            positions: vec![Position::Start, Position::After(sk(150)), Position::Done],
        };
        let token = cursor.encode(query);
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(Cursor::decode(&token, query, 3, &range()).unwrap(), cursor);
    }

    #[test]
    fn a_cursor_of_another_query_is_invalid() {
        let mine = Fingerprint::of(&["processed", "default", "acme", "100", "200"]);
        let theirs = Fingerprint::of(&["processed", "default", "acme", "100", "201"]);
        let token = Cursor::start(2).encode(theirs);
        assert!(matches!(
            Cursor::decode(&token, mine, 2, &range()),
            Err(StoreError::InvalidCursor)
        ));
        // Same query, different partition count (another shard setting): invalid too.
        let token = Cursor::start(2).encode(mine);
        assert!(matches!(
            Cursor::decode(&token, mine, 4, &range()),
            Err(StoreError::InvalidCursor)
        ));
    }

    #[test]
    fn fingerprints_do_not_collide_on_delimiters() {
        assert_ne!(
            Fingerprint::of(&["a|b", "c"]),
            Fingerprint::of(&["a", "b|c"])
        );
        assert_ne!(Fingerprint::of(&["ab", ""]), Fingerprint::of(&["a", "b"]));
    }

    #[test]
    fn garbage_and_out_of_range_positions_are_invalid() {
        let query = Fingerprint::of(&["q"]);
        for token in ["", "!!!", "e30", "bm90IGpzb24", &"A".repeat(70_000)] {
            assert!(
                matches!(
                    Cursor::decode(token, query, 1, &range()),
                    Err(StoreError::InvalidCursor)
                ),
                "{token:.20}"
            );
        }
        for outside in [sk(99), sk(200), "garbage".to_owned()] {
            let token = Cursor {
                positions: vec![Position::After(outside)],
            }
            .encode(query);
            assert!(matches!(
                Cursor::decode(&token, query, 1, &range()),
                Err(StoreError::InvalidCursor)
            ));
        }
    }
}
