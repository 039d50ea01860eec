//! Deleting, recreating and truncating streams in memory (the rules are in
//! `store::lifecycle`).

use std::sync::Arc;

use crate::clock::Clock;
use crate::store::{
    DeleteMode, Deletion, ExpectedVersion, StoreError, StreamDeleted, TOMBSTONE, Truncation,
};

use super::state::State;

impl State {
    /// Whether the last event of `stream_id` is a tombstone.
    pub(super) fn is_deleted(&self, stream_id: &str) -> bool {
        self.streams
            .get(stream_id)
            .and_then(|s| s.entries.last())
            .is_some_and(|&i| &*self.log[i].event_name == TOMBSTONE)
    }

    pub(super) fn delete_stream(
        &mut self,
        stream_id: &str,
        mode: DeleteMode,
        clock: &Clock,
    ) -> Result<Deletion, StoreError> {
        let (aggregate_type, last) = self.last_entry(stream_id)?;
        let last_record = &self.log[last];
        let (tombstone_version, tombstone_position) = if &*last_record.event_name == TOMBSTONE {
            let already_hard = self
                .streams
                .get(stream_id)
                .is_some_and(|s| s.entries.len() == 1);
            if mode == DeleteMode::Soft || already_hard {
                return Err(StoreError::StreamDeleted {
                    stream_id: stream_id.into(),
                });
            }
            (last_record.stream_version, last_record.global_position)
        } else {
            let tombstone = StreamDeleted {
                stream_id: stream_id.to_owned(),
                aggregate_type: aggregate_type.to_string(),
                mode,
                last_version: last_record.stream_version,
            }
            .to_new_event(clock.uuid_v7())?;
            let expected = ExpectedVersion::Exact(last_record.stream_version);
            let appended =
                self.append(stream_id, &aggregate_type, expected, vec![tombstone], clock)?;
            (appended.last_version, appended.last_position)
        };
        let removed = match mode {
            DeleteMode::Soft => 0,
            DeleteMode::Hard => {
                self.snapshots.remove(stream_id);
                self.remove_before(stream_id, tombstone_version)
            }
        };
        Ok(Deletion {
            mode,
            tombstone_version,
            tombstone_position,
            removed,
        })
    }

    pub(super) fn recreate_stream(&mut self, stream_id: &str) -> Result<u64, StoreError> {
        let (_, last) = self.last_entry(stream_id)?;
        if &*self.log[last].event_name != TOMBSTONE {
            return Err(StoreError::StreamNotDeleted {
                stream_id: stream_id.into(),
            });
        }
        let removed = self.remove_before(stream_id, u64::MAX);
        self.streams.remove(stream_id);
        self.snapshots.remove(stream_id);
        Ok(removed)
    }

    pub(super) fn truncate_before(
        &mut self,
        stream_id: &str,
        before_version: u64,
    ) -> Result<Truncation, StoreError> {
        let (_, last) = self.last_entry(stream_id)?;
        let last_record = &self.log[last];
        if &*last_record.event_name == TOMBSTONE {
            return Err(StoreError::StreamDeleted {
                stream_id: stream_id.into(),
            });
        }
        if before_version > last_record.stream_version {
            return Err(StoreError::TruncateBeyondHead {
                stream_id: stream_id.into(),
                before: before_version,
                head: last_record.stream_version,
            });
        }
        let removed = self.remove_before(stream_id, before_version);
        Ok(Truncation {
            first_kept_version: before_version.max(1),
            removed,
        })
    }

    /// The aggregate type and the log index of the last event of `stream_id`.
    fn last_entry(&self, stream_id: &str) -> Result<(Arc<str>, usize), StoreError> {
        self.streams
            .get(stream_id)
            .and_then(|s| Some((s.aggregate_type.clone(), *s.entries.last()? as usize)))
            .ok_or_else(|| StoreError::StreamNotFound {
                stream_id: stream_id.into(),
            })
    }

    /// Removes the events of `stream_id` before `version`; how many.
    fn remove_before(&mut self, stream_id: &str, version: u64) -> u64 {
        let Some(stream) = self.streams.get_mut(stream_id) else {
            return 0;
        };
        let log = &self.log;
        let cut = stream
            .entries
            .partition_point(|&i| log[i].stream_version < version);
        let mut gone: Vec<usize> = stream.entries.drain(..cut).map(|i| i as usize).collect();
        let archived_cut = stream
            .archived
            .partition_point(|&i| log[i].stream_version < version);
        for index in stream.archived.drain(..archived_cut) {
            self.archived.remove(&(index as usize));
            gone.push(index as usize);
        }
        for &index in &gone {
            let id = self.log[index].event_id;
            self.ids.remove(&id, &self.log);
            let record = &mut self.log[index];
            // The place stays, the content goes: nothing removed is kept.
            record.payload = Arc::from("");
            record.metadata = Arc::default();
            self.removed.insert(index);
        }
        gone.len() as u64
    }
}
