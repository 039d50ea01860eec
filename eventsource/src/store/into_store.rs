//! Conversions from concrete stores to the shared trait objects the runtime holds.

use std::sync::Arc;

use super::{EventStore, SnapshotStore};

/// Anything the runtime can hold as a shared [`EventStore`]: a store value
/// (moved into an `Arc`) or an `Arc<dyn EventStore>` already shared.
pub trait IntoEventStore {
    /// The shared store.
    fn into_event_store(self) -> Arc<dyn EventStore>;
}

impl<S: EventStore> IntoEventStore for S {
    fn into_event_store(self) -> Arc<dyn EventStore> {
        Arc::new(self)
    }
}

impl IntoEventStore for Arc<dyn EventStore> {
    fn into_event_store(self) -> Arc<dyn EventStore> {
        self
    }
}

/// Anything the runtime can hold as a shared [`SnapshotStore`].
pub trait IntoSnapshotStore {
    /// The shared store.
    fn into_snapshot_store(self) -> Arc<dyn SnapshotStore>;
}

impl<S: SnapshotStore> IntoSnapshotStore for S {
    fn into_snapshot_store(self) -> Arc<dyn SnapshotStore> {
        Arc::new(self)
    }
}

impl IntoSnapshotStore for Arc<dyn SnapshotStore> {
    fn into_snapshot_store(self) -> Arc<dyn SnapshotStore> {
        self
    }
}
