//! The saga store under faults: loads may be delayed or fail, a save may
//! be kept and still report an error.

use async_trait::async_trait;
use eventsource::StoreError;
use eventsource::saga::{SagaInstance, SagaStore};
use uuid::Uuid;

use crate::faults::Faults;

/// A [`SagaStore`] passing every call to `inner` through [`Faults`].
#[derive(Clone, Debug)]
pub struct FaultySagaStore<S> {
    inner: S,
    faults: Faults,
}

impl<S> FaultySagaStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, faults: Faults) -> Self {
        Self { inner, faults }
    }
}

#[async_trait]
impl<S: SagaStore> SagaStore for FaultySagaStore<S> {
    async fn load(
        &self,
        saga: &str,
        correlation_id: Uuid,
    ) -> Result<Option<SagaInstance>, StoreError> {
        self.faults.before("saga_load").await?;
        self.inner.load(saga, correlation_id).await
    }

    async fn save(
        &self,
        saga: &str,
        correlation_id: Uuid,
        instance: SagaInstance,
    ) -> Result<(), StoreError> {
        self.faults.before("saga_save").await?;
        self.inner.save(saga, correlation_id, instance).await?;
        self.faults.after("saga_save").await
    }

    async fn list(&self, saga: &str) -> Result<Vec<(Uuid, SagaInstance)>, StoreError> {
        self.inner.list(saga).await
    }
}
