//! Loading a snapshot and the events after it in one read.

use crate::event::RecordedEvent;
use crate::store::Snapshot;

/// Which snapshot a load can start from
/// ([`EventStore::visit_stream_after_snapshot`](crate::store::EventStore::visit_stream_after_snapshot)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotWanted {
    /// The aggregate's snapshot revision: a snapshot of another is ignored.
    pub revision: u64,
    /// The highest version the load reads (a load of an earlier version):
    /// a later snapshot is ignored, and the events end there.
    pub max_version: u64,
}

impl SnapshotWanted {
    /// A snapshot of `revision` at a version up to `max_version`.
    pub fn new(revision: u64, max_version: u64) -> Self {
        Self {
            revision,
            max_version,
        }
    }
}

/// What a load does with a snapshot and the events after it, as an event
/// store reads them together
/// ([`EventStore::visit_stream_after_snapshot`](crate::store::EventStore::visit_stream_after_snapshot)).
pub trait StreamLoad: Send {
    /// Offered the snapshot the load may start from, before any event;
    /// returns whether it does (`false`: its state does not decode, say,
    /// and the events are lent from version 1 instead).
    fn snapshot(&mut self, snapshot: &Snapshot) -> bool;

    /// Lent the events after the snapshot taken (from version 1 without
    /// one), in order and a run at a time, with at least the fields of
    /// [`RecordFields::REPLAY`](crate::store::RecordFields::REPLAY);
    /// returns `false` to stop.
    fn events(&mut self, records: &[RecordedEvent]) -> bool;
}
