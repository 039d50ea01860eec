//! The in-memory store's index from event id to the event's place in the log.
//!
//! A map from id to index would keep a second copy of every 16-byte id and
//! an 8-byte index per event; this table keeps only a 4-byte index and
//! compares ids against the log's records, halving the index's memory.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;
use uuid::Uuid;

use super::log::Log;

/// The most events the index can place (indexes are stored as `u32`).
pub(super) const CAPACITY: usize = u32::MAX as usize;

/// Event id → log index, for the records of `Log` that are still stored.
#[derive(Debug, Default)]
pub(super) struct EventIds {
    table: HashTable<u32>,
    hasher: RandomState,
}

impl EventIds {
    /// The log index of the event with `id`, if it is stored.
    pub(super) fn get(&self, id: &Uuid, log: &Log) -> Option<usize> {
        let hash = self.hasher.hash_one(id);
        self.table
            .find(hash, |&i| {
                log.get(i as usize).is_some_and(|r| r.event_id == *id)
            })
            .map(|&i| i as usize)
    }

    /// Records that the event at `index` of `log` (already pushed) has `id`.
    /// Indexes at or past [`CAPACITY`] are refused by the append before.
    pub(super) fn insert(&mut self, id: Uuid, index: usize, log: &Log) {
        let Ok(index) = u32::try_from(index) else {
            return;
        };
        let hasher = &self.hasher;
        let hash = hasher.hash_one(id);
        self.table.insert_unique(hash, index, |&i| {
            log.get(i as usize)
                .map_or(0, |r| hasher.hash_one(r.event_id))
        });
    }

    /// Forgets `id` (its event is removed from the log, which must still
    /// hold the record's id when this is called).
    pub(super) fn remove(&mut self, id: &Uuid, log: &Log) {
        let hash = self.hasher.hash_one(id);
        if let Ok(entry) = self.table.find_entry(hash, |&i| {
            log.get(i as usize).is_some_and(|r| r.event_id == *id)
        }) {
            entry.remove();
        }
    }
}
