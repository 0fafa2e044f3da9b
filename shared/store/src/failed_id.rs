//! Failed-record ids: `{received_ns:019}-{k}-{16 hex}`. The id carries everything its item's
//! key needs (receipt time for the sort key, shard `k` for the partition), so looking a record
//! up by id is a single GetItem, and ids sort by receipt time like the records they name.

use event_core::EventTimestamp;

use crate::FailedId;

/// What a well-formed failed id says about where its record lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedIdParts {
    pub received_ns: i64,
    /// The `T#{t}#F#{k}` partition.
    pub shard: u32,
}

/// A fresh, unique id for a failed or rejected record received at `received_at`; `shards` is
/// `EVENT_SHARDS`. The shard is chosen from the random part, so failed records spread evenly
/// across the `F` partitions whatever their receipt time.
pub fn new_failed_id(received_at: EventTimestamp, shards: u32) -> FailedId {
    let random = fastrand::u64(..);
    let shard = (random % u64::from(shards.max(1))) as u32;
    FailedId(format!(
        "{:019}-{shard}-{random:016x}",
        received_at.unix_nanos()
    ))
}

impl FailedId {
    /// `None` for any text that is not an id made by `new_failed_id`.
    pub fn parts(&self) -> Option<FailedIdParts> {
        let mut pieces = self.0.split('-');
        let (ns, shard, random) = (pieces.next()?, pieces.next()?, pieces.next()?);
        if pieces.next().is_some() {
            return None;
        }
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if ns.len() != 19 || !digits(ns) {
            return None;
        }
        // One spelling per shard ("07" is not shard 7), so ids compare as text.
        if !digits(shard) || shard.len() > 4 || (shard.len() > 1 && shard.starts_with('0')) {
            return None;
        }
        if random.len() != 16
            || !random
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        Some(FailedIdParts {
            received_ns: ns.parse().ok()?,
            shard: shard.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_id_round_trips_its_parts() {
        let at = EventTimestamp::from_unix_nanos(1_763_625_600_123_456_789).unwrap();
        for _ in 0..200 {
            let id = new_failed_id(at, 4);
            let parts = id.parts().expect("well formed");
            assert_eq!(parts.received_ns, at.unix_nanos());
            assert!(parts.shard < 4);
            assert_eq!(id.0.len(), 19 + 1 + 1 + 1 + 16);
        }
    }

    #[test]
    fn ids_spread_over_every_shard() {
        let at = EventTimestamp::from_unix_nanos(5).unwrap();
        let mut seen = [false; 4];
        for _ in 0..400 {
            seen[new_failed_id(at, 4).parts().unwrap().shard as usize] = true;
        }
        assert_eq!(seen, [true; 4]);
    }

    #[test]
    fn malformed_ids_have_no_parts() {
        for bad in [
            "",
            "abc",
            "0000000000000000005-1",
            "000000000000000005-1-0123456789abcdef",
            "0000000000000000005-01-0123456789abcdef",
            "0000000000000000005-1-0123456789ABCDEF",
            "0000000000000000005-1-0123456789abcde",
            "0000000000000000005-1-0123456789abcdef-x",
            "9999999999999999999-1-0123456789abcdef",
            "0000000000000000005--0123456789abcdef",
            "../../etc/passwd",
        ] {
            assert_eq!(FailedId(bad.to_owned()).parts(), None, "{bad}");
        }
        assert_eq!(
            FailedId("0000000000000000005-12-0123456789abcdef".to_owned()).parts(),
            Some(FailedIdParts {
                received_ns: 5,
                shard: 12
            })
        );
    }
}
