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
}
