//! Dedupe inside one batch: the second occurrence of a hash is a duplicate.

use std::collections::HashMap;

use crate::EventHash;

/// Remembers the first index at which each hash appeared in a batch.
#[derive(Debug, Default)]
pub struct BatchDeduper {
    first_seen: HashMap<EventHash, usize>,
}

impl BatchDeduper {
    pub fn new() -> Self {
        Self::default()
    }
    /// `None` when `hash` is new (and remembers `index`), else the index of its first occurrence.
    pub fn first_occurrence(&mut self, index: usize, hash: EventHash) -> Option<usize> {
        match self.first_seen.entry(hash) {
            std::collections::hash_map::Entry::Occupied(seen) => Some(*seen.get()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(index);
                None
            }
        }
    }
}
