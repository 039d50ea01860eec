//! The saga store under faults: loads may be delayed or fail, a save may
//! be kept and still report an error; so may every call on its deadlines,
//! each answer of the inner store noted by the [`DeadlineOracle`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use eventsource::StoreError;
use eventsource::saga::{Deadline, DeadlineStore, SagaInstance, SagaStore};
use uuid::Uuid;

use crate::deadlines::DeadlineOracle;
use crate::faults::Faults;

/// A [`SagaStore`] passing every call to `inner` through [`Faults`].
#[derive(Clone, Debug)]
pub struct FaultySagaStore<S> {
    inner: S,
    faults: Faults,
    oracle: DeadlineOracle,
}

impl<S> FaultySagaStore<S> {
    /// Wraps `inner`, noting what its deadlines do in `oracle`.
    pub fn new(inner: S, faults: Faults, oracle: DeadlineOracle) -> Self {
        Self {
            inner,
            faults,
            oracle,
        }
    }

    /// The wrapped store, without faults.
    pub fn inner(&self) -> &S {
        &self.inner
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

#[async_trait]
impl<S: DeadlineStore> DeadlineStore for FaultySagaStore<S> {
    async fn schedule(&self, deadline: Deadline) -> Result<(), StoreError> {
        self.faults.before("deadline_schedule").await?;
        self.inner.schedule(deadline.clone()).await?;
        self.oracle.scheduled(&deadline);
        self.faults.record(format_args!(
            "deadline {} scheduled for {}",
            deadline.id, deadline.due_at
        ));
        self.faults.after("deadline_schedule").await
    }

    async fn cancel(
        &self,
        saga: &str,
        correlation_id: Uuid,
        name: &str,
    ) -> Result<bool, StoreError> {
        self.faults.before("deadline_cancel").await?;
        let removed = self.inner.cancel(saga, correlation_id, name).await?;
        if removed {
            self.oracle.cancelled(saga, correlation_id, name);
            self.faults.record(format_args!(
                "deadline {name} of {correlation_id} cancelled"
            ));
        }
        self.faults.after("deadline_cancel").await?;
        Ok(removed)
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        owner: Uuid,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Deadline>, StoreError> {
        self.faults.before("deadline_claim").await?;
        let claimed = self.inner.claim_due(now, owner, until, limit).await?;
        self.oracle.claimed(&claimed);
        for deadline in &claimed {
            self.faults
                .record(format_args!("deadline {} claimed by {owner}", deadline.id));
        }
        self.faults.after("deadline_claim").await?;
        Ok(claimed)
    }

    async fn fired(&self, id: Uuid) -> Result<(), StoreError> {
        self.faults.before("deadline_fired").await?;
        self.inner.fired(id).await?;
        self.oracle.fired(id);
        self.faults.after("deadline_fired").await
    }

    async fn pending(&self, saga: &str) -> Result<Vec<Deadline>, StoreError> {
        self.faults.before("deadline_pending").await?;
        self.inner.pending(saga).await
    }
}
