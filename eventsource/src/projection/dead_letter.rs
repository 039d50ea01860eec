//! Parking events a projection keeps failing on, so processing goes on.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::StoreError;
use crate::event::RecordedEvent;

/// An event a projection gave up on, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParkedEvent {
    /// The projection that failed.
    pub projection: String,
    /// The event's global position.
    pub global_position: u64,
    /// The event's id.
    pub event_id: Uuid,
    /// Its stream.
    pub stream_id: String,
    /// Its version in the stream.
    pub stream_version: u64,
    /// Its name.
    pub event_name: String,
    /// The last error.
    pub error: String,
    /// How many times the projection tried it.
    pub attempts: u32,
    /// When it was parked.
    pub parked_at: DateTime<Utc>,
}

impl ParkedEvent {
    /// A parked record of `event` for `projection`.
    pub fn new(projection: &str, event: &RecordedEvent, error: String, attempts: u32) -> Self {
        Self {
            projection: projection.to_owned(),
            global_position: event.global_position,
            event_id: event.event_id,
            stream_id: event.stream_id.to_string(),
            stream_version: event.stream_version,
            event_name: event.event_name.to_string(),
            error,
            attempts,
            parked_at: Utc::now(),
        }
    }
}

/// Keeps parked events per projection, one per global position.
#[async_trait]
pub trait DeadLetterStore: Send + Sync + 'static {
    /// Parks `event`, replacing an earlier record for the same projection and position.
    async fn park(&self, event: ParkedEvent) -> Result<(), StoreError>;

    /// The events parked for `projection`, by position.
    async fn list(&self, projection: &str) -> Result<Vec<ParkedEvent>, StoreError>;

    /// How many events are parked for `projection`.
    async fn count(&self, projection: &str) -> Result<u64, StoreError>;

    /// Removes the parked event at `position`; `false` if there was none.
    async fn remove(&self, projection: &str, position: u64) -> Result<bool, StoreError>;

    /// Removes every event parked for `projection`.
    async fn clear(&self, projection: &str) -> Result<(), StoreError>;
}
