//! Where saga instances keep their state between events.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::store::StoreError;

/// One saga instance's persisted state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SagaInstance {
    /// The state as JSON text.
    pub state: String,
    /// Whether the instance has ended.
    pub completed: bool,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Keeps saga instances by saga name and correlation id.
#[async_trait]
pub trait SagaStore: Send + Sync + 'static {
    /// The instance of `saga` for `correlation_id`.
    async fn load(
        &self,
        saga: &str,
        correlation_id: Uuid,
    ) -> Result<Option<SagaInstance>, StoreError>;

    /// Stores the instance, replacing the previous state, unless that one
    /// is completed: completion is final. A processor that lost its lease
    /// in the middle of an event (stalled past the lease, while another
    /// instance took over and ended the saga) may still save the state it
    /// had; that late save must not reopen the saga.
    async fn save(
        &self,
        saga: &str,
        correlation_id: Uuid,
        instance: SagaInstance,
    ) -> Result<(), StoreError>;

    /// Every instance of `saga`, with its correlation id.
    async fn list(&self, saga: &str) -> Result<Vec<(Uuid, SagaInstance)>, StoreError>;
}
