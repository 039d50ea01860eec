//! Snapshots: an aggregate's state at a version, to shorten loads.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::store::StoreError;

/// An aggregate's serialized state after the event at `version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The stream the state was built from.
    pub stream_id: Arc<str>,
    /// The aggregate type.
    pub aggregate_type: Arc<str>,
    /// The stream version the state includes.
    pub version: u64,
    /// The aggregate's schema revision; a snapshot of another revision is ignored.
    pub revision: u64,
    /// The state as JSON text.
    pub state: Arc<str>,
    /// When the snapshot was taken.
    pub taken_at: DateTime<Utc>,
}

/// Keeps the latest snapshot of each stream.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a snapshot store",
    note = "use `eventsource::memory::InMemorySnapshotStore`, the PostgreSQL store, or implement `SnapshotStore`"
)]
#[async_trait]
pub trait SnapshotStore: Send + Sync + 'static {
    /// Stores `snapshot` unless one at a higher version is already kept.
    async fn save(&self, snapshot: Snapshot) -> Result<(), StoreError>;

    /// The latest snapshot of `stream_id`.
    async fn load(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError>;

    /// Forgets the snapshot of `stream_id`.
    async fn delete(&self, stream_id: &str) -> Result<(), StoreError>;

    /// Where this store keeps its snapshots, when an event store keeps its
    /// events there too and can read a snapshot and the events after it at
    /// once (see [`EventStore::visit_stream_after_snapshot`](crate::store::EventStore::visit_stream_after_snapshot)).
    /// The default: nowhere an event store knows of.
    fn home(&self) -> Option<SnapshotHome> {
        None
    }
}

/// Names the place a snapshot store keeps its snapshots ([`SnapshotStore::home`]).
///
/// Equal only to its own clones: a store hands out clones of one value, so
/// an event store recognises its own snapshots and nothing else, and a
/// wrapper that does not forward [`SnapshotStore::home`] is never taken for
/// the store it wraps.
#[derive(Clone, Debug, Default)]
pub struct SnapshotHome(Arc<()>);

impl SnapshotHome {
    /// A home equal to no other.
    pub fn new() -> Self {
        Self::default()
    }
}

impl PartialEq for SnapshotHome {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SnapshotHome {}
