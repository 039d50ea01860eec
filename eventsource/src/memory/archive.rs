//! Archiving in memory (the rules are in `store::archive`): an archived
//! event keeps its place in the global log and leaves its stream's hot
//! entries.

use chrono::{DateTime, Utc};

use crate::event::RecordedEvent;
use crate::store::{ArchiveRange, ArchiveStatus, ArchivedStream};

use super::state::State;

impl State {
    /// Moves every hot event of each stream but its last into the archive.
    pub(super) fn archive_streams(
        &mut self,
        stream_ids: &[String],
        now: DateTime<Utc>,
    ) -> Vec<ArchivedStream> {
        let mut done = Vec::with_capacity(stream_ids.len());
        for stream_id in stream_ids {
            let Some(stream) = self.streams.get_mut(stream_id.as_str()) else {
                continue;
            };
            let Some(&last) = stream.entries.last() else {
                continue;
            };
            let keep = stream.entries.len() - 1;
            let moved: Vec<u32> = stream.entries.drain(..keep).collect();
            self.archived.extend(moved.iter().map(|&i| i as usize));
            stream.archived.extend(moved.iter().copied());
            if !moved.is_empty() {
                self.last_archived_at = Some(now);
            }
            done.push(ArchivedStream {
                stream_id: stream_id.clone(),
                moved: moved.len() as u64,
                last_version: self.log[last].stream_version,
            });
        }
        done
    }

    /// Up to `limit` archived events of `stream_id` from `from_version`.
    pub(super) fn archived_stream_chunk(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Vec<RecordedEvent> {
        let Some(stream) = self.streams.get(stream_id) else {
            return Vec::new();
        };
        let log = &self.log;
        let skip = stream
            .archived
            .partition_point(|&i| log[i].stream_version < from_version);
        stream.archived[skip..]
            .iter()
            .take(limit)
            .map(|&i| log[i].clone())
            .collect()
    }

    /// Up to `limit` archived events with positions from `from` to `to`
    /// (inclusive).
    pub(super) fn archive_chunk(&self, from: u64, to: u64, limit: usize) -> Vec<RecordedEvent> {
        let (Ok(start), Ok(end)) = (usize::try_from(from.max(1) - 1), usize::try_from(to)) else {
            return Vec::new();
        };
        if start >= end {
            return Vec::new();
        }
        self.archived
            .range(start..end)
            .take(limit)
            .map(|&i| self.log[i].clone())
            .collect()
    }

    pub(super) fn archive_status(&self) -> ArchiveStatus {
        let first = self.archived.first().map(|&i| i as u64 + 1);
        let last = self.archived.last().map(|&i| i as u64 + 1);
        let events = self.archived.len() as u64;
        let streams = self
            .streams
            .values()
            .filter(|s| !s.archived.is_empty())
            .count() as u64;
        let ranges = match (first, last) {
            (Some(from), Some(to)) => vec![ArchiveRange {
                name: "memory".to_owned(),
                from_position: from,
                to_position: to + 1,
                events,
            }],
            _ => Vec::new(),
        };
        ArchiveStatus {
            events,
            streams,
            first_position: first,
            last_position: last,
            last_archived_at: self.last_archived_at.filter(|_| events > 0),
            ranges,
        }
    }
}
