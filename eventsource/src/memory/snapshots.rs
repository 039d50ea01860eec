//! `SnapshotStore` for the in-memory store.

use async_trait::async_trait;

use super::InMemoryStore;
use crate::store::StoreError;
use crate::store::{Snapshot, SnapshotStore};

#[async_trait]
impl SnapshotStore for InMemoryStore {
    async fn save(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        let mut state = self.shared.write();
        let newer_kept = state
            .snapshots
            .get(&snapshot.stream_id)
            .is_some_and(|kept| kept.version > snapshot.version);
        if !newer_kept {
            state.snapshots.insert(snapshot.stream_id.clone(), snapshot);
        }
        Ok(())
    }

    async fn load(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        Ok(self.shared.read().snapshots.get(stream_id).cloned())
    }

    async fn delete(&self, stream_id: &str) -> Result<(), StoreError> {
        self.shared.write().snapshots.remove(stream_id);
        Ok(())
    }
}
