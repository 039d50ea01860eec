//! Saga instances in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use uuid::Uuid;

use crate::saga::{SagaInstance, SagaStore};
use crate::store::StoreError;

/// A [`SagaStore`] in memory. Cloning shares the same store.
#[derive(Clone, Debug, Default)]
pub struct InMemorySagaStore {
    instances: Arc<Mutex<HashMap<String, BTreeMap<Uuid, SagaInstance>>>>,
}

impl InMemorySagaStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn instances(&self) -> MutexGuard<'_, HashMap<String, BTreeMap<Uuid, SagaInstance>>> {
        self.instances
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl SagaStore for InMemorySagaStore {
    async fn load(
        &self,
        saga: &str,
        correlation_id: Uuid,
    ) -> Result<Option<SagaInstance>, StoreError> {
        Ok(self
            .instances()
            .get(saga)
            .and_then(|instances| instances.get(&correlation_id))
            .cloned())
    }

    async fn save(
        &self,
        saga: &str,
        correlation_id: Uuid,
        instance: SagaInstance,
    ) -> Result<(), StoreError> {
        let mut instances = self.instances();
        let saved = instances.entry(saga.to_owned()).or_default();
        // Completion is final (see `SagaStore::save`).
        if !saved.get(&correlation_id).is_some_and(|i| i.completed) {
            saved.insert(correlation_id, instance);
        }
        Ok(())
    }

    async fn list(&self, saga: &str) -> Result<Vec<(Uuid, SagaInstance)>, StoreError> {
        Ok(self
            .instances()
            .get(saga)
            .map(|instances| instances.iter().map(|(id, i)| (*id, i.clone())).collect())
            .unwrap_or_default())
    }
}
