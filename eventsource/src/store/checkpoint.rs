//! Checkpoints: how far each projection or processor has read the global log.

use async_trait::async_trait;

use crate::store::StoreError;

/// Keeps the last processed global position of each named consumer.
///
/// Positions only move forward through [`CheckpointStore::save`]; a rebuild
/// goes through [`CheckpointStore::reset`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a checkpoint store",
    note = "use `eventsource::memory::InMemoryCheckpointStore`, the PostgreSQL store, or implement `CheckpointStore`"
)]
#[async_trait]
pub trait CheckpointStore: Send + Sync + 'static {
    /// The last position `name` processed; `None` if it never checkpointed.
    async fn load(&self, name: &str) -> Result<Option<u64>, StoreError>;

    /// Records that `name` processed everything up to `position`.
    async fn save(&self, name: &str, position: u64) -> Result<(), StoreError>;

    /// Forgets the checkpoint of `name`, so it starts again from the beginning.
    async fn reset(&self, name: &str) -> Result<(), StoreError>;
}
