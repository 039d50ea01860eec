//! Parked events in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::projection::{DeadLetterStore, ParkedEvent, SkippedEvent};
use crate::store::StoreError;

/// A [`DeadLetterStore`] in memory. Cloning shares the same store.
#[derive(Clone, Debug, Default)]
pub struct InMemoryDeadLetterStore {
    parked: Arc<Mutex<Parked>>,
}

/// By projection and position: the parked events, and the skipped ones.
#[derive(Debug, Default)]
struct Parked {
    parked: HashMap<String, BTreeMap<u64, ParkedEvent>>,
    skipped: HashMap<String, BTreeMap<u64, SkippedEvent>>,
}

impl InMemoryDeadLetterStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, Parked> {
        self.parked.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl DeadLetterStore for InMemoryDeadLetterStore {
    async fn park(&self, event: ParkedEvent) -> Result<(), StoreError> {
        let mut state = self.state();
        if let Some(skipped) = state.skipped.get_mut(&event.projection) {
            skipped.remove(&event.global_position);
        }
        state
            .parked
            .entry(event.projection.clone())
            .or_default()
            .insert(event.global_position, event);
        Ok(())
    }

    async fn list(&self, projection: &str) -> Result<Vec<ParkedEvent>, StoreError> {
        Ok(self
            .state()
            .parked
            .get(projection)
            .map(|events| events.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn count(&self, projection: &str) -> Result<u64, StoreError> {
        Ok(self
            .state()
            .parked
            .get(projection)
            .map_or(0, |e| e.len() as u64))
    }

    async fn remove(&self, projection: &str, position: u64) -> Result<bool, StoreError> {
        Ok(self
            .state()
            .parked
            .get_mut(projection)
            .is_some_and(|events| events.remove(&position).is_some()))
    }

    async fn clear(&self, projection: &str) -> Result<(), StoreError> {
        let mut state = self.state();
        state.parked.remove(projection);
        state.skipped.remove(projection);
        Ok(())
    }

    async fn skip(
        &self,
        projection: &str,
        position: u64,
        reason: &str,
        skipped_by: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        let Some(parked) = state
            .parked
            .get_mut(projection)
            .and_then(|events| events.remove(&position))
        else {
            return Ok(false);
        };
        state
            .skipped
            .entry(projection.to_owned())
            .or_default()
            .insert(
                position,
                SkippedEvent {
                    parked,
                    reason: reason.to_owned(),
                    skipped_by: skipped_by.map(str::to_owned),
                    skipped_at: at,
                },
            );
        Ok(true)
    }

    async fn skipped(&self, projection: &str) -> Result<Vec<SkippedEvent>, StoreError> {
        Ok(self
            .state()
            .skipped
            .get(projection)
            .map(|events| events.values().cloned().collect())
            .unwrap_or_default())
    }
}
