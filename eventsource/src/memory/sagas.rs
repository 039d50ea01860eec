//! Saga instances in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use uuid::Uuid;

use chrono::{DateTime, Utc};

use super::deadlines::Deadlines;
use crate::saga::{Deadline, DeadlineStore, SagaInstance, SagaStore};
use crate::store::StoreError;

/// A [`SagaStore`] in memory. Cloning shares the same store.
#[derive(Clone, Debug, Default)]
pub struct InMemorySagaStore {
    instances: Arc<Mutex<HashMap<String, BTreeMap<Uuid, SagaInstance>>>>,
    /// The instances' deadlines (see `memory/deadlines.rs`).
    deadlines: Arc<Mutex<Deadlines>>,
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

impl InMemorySagaStore {
    fn deadlines(&self) -> MutexGuard<'_, Deadlines> {
        self.deadlines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl DeadlineStore for InMemorySagaStore {
    async fn schedule(&self, deadline: Deadline) -> Result<(), StoreError> {
        self.deadlines().schedule(deadline);
        Ok(())
    }

    async fn cancel(
        &self,
        saga: &str,
        correlation_id: Uuid,
        name: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.deadlines().cancel(saga, correlation_id, name))
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        _owner: Uuid,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Deadline>, StoreError> {
        Ok(self.deadlines().claim_due(now, until, limit))
    }

    async fn fired(&self, id: Uuid) -> Result<(), StoreError> {
        self.deadlines().fired(id);
        Ok(())
    }

    async fn pending(&self, saga: &str) -> Result<Vec<Deadline>, StoreError> {
        Ok(self.deadlines().pending(saga))
    }
}
