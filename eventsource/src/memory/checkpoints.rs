//! `CheckpointStore` in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::store::CheckpointStore;
use crate::store::StoreError;

/// Checkpoints held in memory. Cloning gives another handle to the same map.
#[derive(Clone, Debug, Default)]
pub struct InMemoryCheckpointStore {
    positions: Arc<Mutex<HashMap<String, u64>>>,
}

impl InMemoryCheckpointStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl CheckpointStore for InMemoryCheckpointStore {
    async fn load(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let positions = self
            .positions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(positions.get(name).copied())
    }

    async fn save(&self, name: &str, position: u64) -> Result<(), StoreError> {
        let mut positions = self
            .positions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let kept = positions.entry(name.to_owned()).or_insert(position);
        *kept = (*kept).max(position);
        Ok(())
    }

    async fn reset(&self, name: &str) -> Result<(), StoreError> {
        let mut positions = self
            .positions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        positions.remove(name);
        Ok(())
    }
}
