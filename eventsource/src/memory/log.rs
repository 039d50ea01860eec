//! The in-memory store's global log, kept in fixed-size chunks.
//!
//! One vector of every record would double its allocation as it grows and
//! so hold, on average, a third more than it uses, copying every record on
//! each doubling; chunks bound the unused room to one partly filled chunk.

use std::ops::{Index, IndexMut, Range};

use crate::event::RecordedEvent;

/// Records per chunk, a power of two so an index splits with a shift.
const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

/// The records, in log order: the record at index `i` has position `i + 1`.
#[derive(Debug, Default)]
pub(super) struct Log {
    chunks: Vec<Vec<RecordedEvent>>,
    len: usize,
}

impl Log {
    /// How many records the log holds.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Adds a record at the end.
    pub(super) fn push(&mut self, record: RecordedEvent) {
        match self.chunks.last_mut() {
            // The first chunk grows as a vector does, so a small store stays
            // small; it stops at `CHUNK`, a power of two, exactly full.
            Some(chunk) if chunk.len() < CHUNK => chunk.push(record),
            _ => {
                let mut chunk = Vec::with_capacity(if self.chunks.is_empty() { 0 } else { CHUNK });
                chunk.push(record);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    /// The record at `index`, if there is one.
    pub(super) fn get(&self, index: usize) -> Option<&RecordedEvent> {
        self.chunks
            .get(index >> CHUNK_BITS)
            .and_then(|chunk| chunk.get(index & (CHUNK - 1)))
    }

    /// Up to `len` records from `first` that sit in the same chunk, as one
    /// slice (empty when `first` is past the end).
    pub(super) fn run(&self, first: usize, len: usize) -> &[RecordedEvent] {
        let Some(chunk) = self.chunks.get(first >> CHUNK_BITS) else {
            return &[];
        };
        let start = first & (CHUNK - 1);
        let end = start.saturating_add(len).min(chunk.len());
        chunk.get(start..end).unwrap_or_default()
    }

    /// The records in `range` (clipped to the log) with their indexes.
    pub(super) fn range(
        &self,
        range: Range<usize>,
    ) -> impl Iterator<Item = (usize, &RecordedEvent)> + '_ {
        let end = range.end.min(self.len);
        let mut next = range.start;
        std::iter::from_fn(move || {
            if next >= end {
                return None;
            }
            let run = self.run(next, end - next);
            let start = next;
            next += run.len().max(1);
            Some(run.iter().enumerate().map(move |(i, r)| (start + i, r)))
        })
        .flatten()
    }

    /// Every record with its index.
    #[cfg(test)]
    pub(super) fn iter(&self) -> impl Iterator<Item = (usize, &RecordedEvent)> + '_ {
        self.range(0..self.len)
    }
}

impl Index<usize> for Log {
    type Output = RecordedEvent;

    /// Indexes come from the store's own tables, which only hold indexes of
    /// records it pushed.
    fn index(&self, index: usize) -> &RecordedEvent {
        &self.chunks[index >> CHUNK_BITS][index & (CHUNK - 1)]
    }
}

/// By the `u32` indexes of the streams' entries.
impl Index<u32> for Log {
    type Output = RecordedEvent;

    fn index(&self, index: u32) -> &RecordedEvent {
        &self[index as usize]
    }
}

impl IndexMut<usize> for Log {
    fn index_mut(&mut self, index: usize) -> &mut RecordedEvent {
        &mut self.chunks[index >> CHUNK_BITS][index & (CHUNK - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::{CHUNK, Log};
    use crate::event::{Metadata, NewEvent, RecordedEvent};

    fn record(position: u64) -> RecordedEvent {
        let new = NewEvent::new("t.Happened", 1, "{}", Metadata::new());
        RecordedEvent {
            event_id: new.event_id,
            event_name: new.event_name,
            payload: new.payload,
            stream_version: position,
            global_position: position,
            schema_version: 1,
            recorded_at: chrono::DateTime::UNIX_EPOCH,
            stream_id: "s".into(),
            aggregate_type: "t".into(),
            metadata: Default::default(),
        }
    }

    #[test]
    fn runs_stop_at_chunk_ends_and_ranges_cross_them() {
        let mut log = Log::default();
        let total = CHUNK * 2 + 5;
        for i in 0..total {
            log.push(record(i as u64 + 1));
        }
        assert_eq!(log.len(), total);
        assert_eq!(log.run(CHUNK - 2, 10).len(), 2);
        assert_eq!(log.run(total, 10).len(), 0);
        let positions: Vec<u64> = log
            .range(CHUNK - 3..CHUNK + 3)
            .map(|(i, r)| {
                assert_eq!(r.global_position, i as u64 + 1);
                r.global_position
            })
            .collect();
        assert_eq!(positions.len(), 6);
        assert_eq!(log.range(total - 1..total + 10).count(), 1);
        assert!(log.get(total).is_none());
        assert_eq!(log[CHUNK].global_position, CHUNK as u64 + 1);
        assert_eq!(log.iter().count(), total);
    }
}
