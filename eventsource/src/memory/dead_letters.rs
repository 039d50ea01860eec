//! Parked events in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::projection::{DeadLetterStore, ParkedEvent};
use crate::store::StoreError;

/// A [`DeadLetterStore`] in memory. Cloning shares the same store.
#[derive(Clone, Debug, Default)]
pub struct InMemoryDeadLetterStore {
    parked: Arc<Mutex<HashMap<String, BTreeMap<u64, ParkedEvent>>>>,
}

impl InMemoryDeadLetterStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn parked(&self) -> MutexGuard<'_, HashMap<String, BTreeMap<u64, ParkedEvent>>> {
        self.parked.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl DeadLetterStore for InMemoryDeadLetterStore {
    async fn park(&self, event: ParkedEvent) -> Result<(), StoreError> {
        self.parked()
            .entry(event.projection.clone())
            .or_default()
            .insert(event.global_position, event);
        Ok(())
    }

    async fn list(&self, projection: &str) -> Result<Vec<ParkedEvent>, StoreError> {
        Ok(self
            .parked()
            .get(projection)
            .map(|events| events.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn count(&self, projection: &str) -> Result<u64, StoreError> {
        Ok(self.parked().get(projection).map_or(0, |e| e.len() as u64))
    }

    async fn remove(&self, projection: &str, position: u64) -> Result<bool, StoreError> {
        Ok(self
            .parked()
            .get_mut(projection)
            .is_some_and(|events| events.remove(&position).is_some()))
    }

    async fn clear(&self, projection: &str) -> Result<(), StoreError> {
        self.parked().remove(projection);
        Ok(())
    }
}
