//! The in-memory store's data and its append rules.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use super::ids::{self, EventIds};
use super::log::Log;
use crate::clock::Clock;
use crate::event::{Metadata, NewEvent, RecordedEvent};
use crate::store::{AppendResult, EventFilter, ExpectedVersion, Snapshot};
use crate::store::{StoreError, rules};

#[derive(Debug, Default)]
pub(super) struct State {
    /// The global log; the event at index `i` has global position `i + 1`.
    pub(super) log: Log,
    pub(super) streams: HashMap<Arc<str>, Stream>,
    pub(super) ids: EventIds,
    /// Indexes into `log` of removed events (hard deletes, truncations):
    /// their places stay, so positions keep meaning the same; reads skip them.
    pub(super) removed: BTreeSet<usize>,
    /// Indexes into `log` of archived events: still in the global log,
    /// no longer in their stream's hot `entries`.
    pub(super) archived: BTreeSet<usize>,
    /// When the latest archive move happened.
    pub(super) last_archived_at: Option<chrono::DateTime<chrono::Utc>>,
    pub(super) snapshots: HashMap<Arc<str>, Snapshot>,
    /// One shared copy of each event name, so a log of millions of events
    /// holds a handful of names, and reading it compares names in cache.
    names: HashSet<Arc<str>>,
}

#[derive(Debug)]
pub(super) struct Stream {
    pub(super) aggregate_type: Arc<str>,
    /// Indexes into `log` of the hot events, in stream-version order
    /// (`u32`, as in the event-id index: half the memory of `usize`, and
    /// the append refuses to grow the log past what they can hold).
    pub(super) entries: Vec<u32>,
    /// Indexes into `log` of the archived events, in stream-version order
    /// (all before the first hot one).
    pub(super) archived: Vec<u32>,
}

/// The shared copy of `name`.
fn intern(names: &mut HashSet<Arc<str>>, name: Arc<str>) -> Arc<str> {
    if let Some(known) = names.get(&*name) {
        return known.clone();
    }
    names.insert(name.clone());
    name
}

impl State {
    /// The version of the stream's last event (truncation leaves versions
    /// as they were, so it is not the count of entries).
    pub(super) fn version(&self, stream_id: &str) -> Option<u64> {
        let stream = self.streams.get(stream_id)?;
        stream.entries.last().map(|&i| self.log[i].stream_version)
    }

    /// The highest position of an event still stored (0 when none).
    pub(super) fn head(&self) -> u64 {
        let mut head = self.log.len();
        while head > 0 && self.removed.contains(&(head - 1)) {
            head -= 1;
        }
        head as u64
    }

    /// Where in `stream.entries` the event at `version` or the next after it sits.
    fn first_entry(&self, stream: &Stream, version: u64) -> usize {
        stream
            .entries
            .partition_point(|&i| self.log[i].stream_version < version)
    }

    pub(super) fn append(
        &mut self,
        stream_id: &str,
        aggregate_type: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        clock: &Clock,
    ) -> Result<AppendResult, StoreError> {
        rules::check_append(stream_id, aggregate_type, &events).map_err(StoreError::Invalid)?;
        let remembers =
            !crate::mutation::enabled(crate::mutation::Mutation::ReplayedAppendStoredAgain);
        if remembers {
            if let Some(replay) = self.replayed(stream_id, &events)? {
                return Ok(replay);
            }
        }
        if self.is_deleted(stream_id) {
            return Err(StoreError::StreamDeleted {
                stream_id: stream_id.into(),
            });
        }
        let actual = self.version(stream_id);
        if !expected.is_satisfied_by(actual) {
            return Err(StoreError::Conflict {
                stream_id: stream_id.into(),
                expected,
                actual,
            });
        }
        let current = actual.unwrap_or(0);
        let head = self.log.len() as u64;
        if events.is_empty() {
            return Ok(AppendResult {
                first_version: current,
                last_version: current,
                first_position: head,
                last_position: head,
                replayed: false,
            });
        }
        let stream = match self.streams.get_key_value(stream_id) {
            Some((key, stream)) => {
                if &*stream.aggregate_type != aggregate_type {
                    return Err(StoreError::invalid(format!(
                        "stream `{stream_id}` belongs to aggregate type `{}`, not `{aggregate_type}`",
                        stream.aggregate_type
                    )));
                }
                key.clone()
            }
            None => Arc::from(stream_id),
        };
        let aggregate_type: Arc<str> = self
            .streams
            .get(stream_id)
            .map_or_else(|| aggregate_type.into(), |s| s.aggregate_type.clone());
        if self.log.len().saturating_add(events.len()) > ids::CAPACITY {
            return Err(StoreError::invalid(format!(
                "the in-memory store holds at most {} events",
                ids::CAPACITY
            )));
        }
        let recorded_at = clock.now();
        let count = events.len() as u64;
        let mut entries = Vec::with_capacity(events.len());
        // The events of one command carry the same metadata: they share
        // one copy, as they share their stream id and names.
        let mut previous: Option<Arc<Metadata>> = None;
        for (offset, event) in events.into_iter().enumerate() {
            let metadata = match previous.take() {
                Some(shared) if *shared == event.metadata => shared,
                _ => Arc::new(event.metadata),
            };
            previous = Some(metadata.clone());
            let index = self.log.len();
            // Below `ids::CAPACITY`, checked before the loop.
            entries.push(index as u32);
            let event_id = event.event_id;
            self.log.push(RecordedEvent {
                event_id,
                stream_id: stream.clone(),
                aggregate_type: aggregate_type.clone(),
                stream_version: current + offset as u64 + 1,
                global_position: index as u64 + 1,
                event_name: intern(&mut self.names, event.event_name),
                schema_version: event.schema_version,
                payload: event.payload,
                metadata,
                recorded_at,
            });
            self.ids.insert(event_id, index, &self.log);
        }
        self.streams
            .entry(stream)
            .or_insert_with(|| Stream {
                aggregate_type,
                entries: Vec::new(),
                archived: Vec::new(),
            })
            .entries
            .extend(entries);
        Ok(AppendResult {
            first_version: current + 1,
            last_version: current + count,
            first_position: head + 1,
            last_position: head + count,
            replayed: false,
        })
    }

    /// `Some` when the whole batch is already stored, in order, in this stream.
    fn replayed(
        &self,
        stream_id: &str,
        events: &[NewEvent],
    ) -> Result<Option<AppendResult>, StoreError> {
        let Some(first) = events.first() else {
            return Ok(None);
        };
        let Some(start) = self.ids.get(&first.event_id, &self.log) else {
            if let Some(stored) = events
                .iter()
                .find_map(|e| self.ids.get(&e.event_id, &self.log))
            {
                return Err(self.duplicate(stream_id, stored));
            }
            return Ok(None);
        };
        for (offset, event) in events.iter().enumerate() {
            let stored = self
                .log
                .get(start + offset)
                .filter(|_| !self.removed.contains(&(start + offset)));
            let same = stored.is_some_and(|s| {
                s.event_id == event.event_id
                    && &*s.stream_id == stream_id
                    && s.stream_version == self.log[start].stream_version + offset as u64
            });
            if !same {
                return Err(self.duplicate(stream_id, start));
            }
        }
        let first_stored = &self.log[start];
        let count = events.len() as u64;
        Ok(Some(AppendResult {
            first_version: first_stored.stream_version,
            last_version: first_stored.stream_version + count - 1,
            first_position: first_stored.global_position,
            last_position: first_stored.global_position + count - 1,
            replayed: true,
        }))
    }

    fn duplicate(&self, stream_id: &str, index: usize) -> StoreError {
        let stored = &self.log[index];
        StoreError::DuplicateEvent {
            stream_id: stream_id.into(),
            event_id: stored.event_id,
            stored_stream: stored.stream_id.clone(),
            stored_version: stored.stream_version,
        }
    }

    /// Up to `limit` events of `stream_id` from `from_version`.
    pub(super) fn stream_chunk(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Vec<RecordedEvent> {
        let Some(stream) = self.streams.get(stream_id) else {
            return Vec::new();
        };
        let skip = self.first_entry(stream, from_version.max(1));
        stream
            .entries
            .iter()
            .skip(skip)
            .take(limit)
            .map(|&i| self.log[i].clone())
            .collect()
    }

    /// Lends up to `limit` events of `stream_id` from `from_version` to
    /// `visit`, each run of neighbours in the log as one slice; returns the
    /// version after the last it lent (`None`: none lent) and whether
    /// `visit` asked to stop.
    pub(super) fn visit_stream_chunk(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
        visit: &mut (dyn for<'e> FnMut(&'e [RecordedEvent]) -> bool + Send),
    ) -> (Option<u64>, bool) {
        let Some(stream) = self.streams.get(stream_id) else {
            return (None, false);
        };
        let skip = self.first_entry(stream, from_version.max(1));
        let entries = stream.entries.get(skip..).unwrap_or_default();
        let mut rest = &entries[..entries.len().min(limit)];
        let mut lent = None;
        while let Some(&first) = rest.first() {
            // A stream's events sit next to each other in the log wherever
            // no other stream appended in between: at least one batch.
            let run = contiguous(rest);
            // A run may also end where a chunk of the log does.
            let records = self.log.run(first as usize, run);
            let run = records.len();
            if run == 0 {
                break;
            }
            lent = records.last().map(|r| r.stream_version + 1);
            if !visit(records) {
                return (lent, true);
            }
            rest = &rest[run..];
        }
        (lent, false)
    }

    /// Scans up to `limit` log entries from `from_position` (not past `until`),
    /// returning the matches and the last position scanned.
    pub(super) fn log_chunk(
        &self,
        from_position: u64,
        until: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> (Vec<RecordedEvent>, u64) {
        let end = until.min(self.log.len() as u64);
        let start = from_position.max(1);
        if start > end {
            return (Vec::new(), start - 1);
        }
        let last = end.min(start + limit as u64 - 1);
        let range = (start - 1) as usize..last as usize;
        // Most chunks hold no removed event: then no index is looked up.
        let any_removed = self.removed.range(range.clone()).next().is_some();
        let matches = self
            .log
            .range(range)
            .filter(|(i, e)| !(any_removed && self.removed.contains(i)) && filter.matches(e))
            .map(|(_, e)| e.clone())
            .collect();
        (matches, last)
    }
}

/// How many of `entries` (log indexes, rising strictly) follow the first
/// without a gap. Since each index is at least one above the one before,
/// `entries[k] == entries[0] + k` holds for a prefix and fails after it,
/// so the prefix is found by bisection: a load visits its stream in a few
/// probes per run instead of one comparison per event.
fn contiguous(entries: &[u32]) -> usize {
    let Some(&first) = entries.first() else {
        return 0;
    };
    let follows = |length: usize| {
        entries
            .get(length - 1)
            .is_some_and(|&index| index.wrapping_sub(first) as usize == length - 1)
    };
    if follows(entries.len()) {
        return entries.len();
    }
    // Invariant: a prefix of `low` entries follows, one of `high + 1` does not.
    let (mut low, mut high) = (1, entries.len() - 1);
    while low < high {
        let middle = low + (high - low).div_ceil(2);
        if follows(middle) {
            low = middle;
        } else {
            high = middle - 1;
        }
    }
    low
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{State, contiguous};
    use crate::clock::Clock;
    use crate::event::{Metadata, NewEvent};
    use crate::store::ExpectedVersion;

    #[test]
    fn every_record_of_one_name_shares_one_copy() {
        let mut state = State::default();
        for stream in ["a", "b"] {
            let events = (0..2)
                .map(|i| {
                    NewEvent::new(
                        String::from("t.Happened"),
                        1,
                        format!("{i}"),
                        Metadata::new(),
                    )
                })
                .collect();
            state
                .append(
                    stream,
                    "t.Thing",
                    ExpectedVersion::Any,
                    events,
                    &Clock::system(),
                )
                .unwrap();
        }
        let first = &state.log[0_usize].event_name;
        assert!(
            state
                .log
                .iter()
                .all(|(_, r)| Arc::ptr_eq(&r.event_name, first))
        );
        assert_eq!(state.names.len(), 1);
    }

    #[test]
    fn the_contiguous_prefix_is_found_by_bisection() {
        // Every gap placement in short rising sequences, against a scan.
        for len in 0..12u32 {
            for gap_at in 0..=len {
                for gap in [1u32, 2, 7] {
                    let entries: Vec<u32> = (0..len)
                        .map(|i| 5 + i + if i >= gap_at { gap } else { 0 })
                        .collect();
                    let scanned = entries
                        .iter()
                        .zip(entries.first().copied().unwrap_or(0)..)
                        .take_while(|&(&index, expected)| index == expected)
                        .count();
                    assert_eq!(contiguous(&entries), scanned, "{entries:?}");
                }
            }
        }
        assert_eq!(contiguous(&[3, 4, 9, 10, 11, 30]), 2);
    }
}
