//! Parking events a projection keeps failing on, so processing goes on.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::event::RecordedEvent;
use crate::store::CorruptRecord;
use crate::store::StoreError;

/// An event a projection gave up on: the stored record as it was read, and
/// the reason.
///
/// A record that could not even be read as an event (a
/// [`CorruptRecord`]) is parked too, with its columns as they were stored;
/// numbers out of range there read as 0 here, and the stored values are in
/// the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
    /// The schema version its payload was written with.
    pub schema_version: u32,
    /// The payload, as stored.
    pub payload: String,
    /// The metadata as JSON text, as stored.
    pub metadata: String,
    /// When the store recorded it, when that could be read.
    pub recorded_at: Option<DateTime<Utc>>,
    /// The last error.
    pub error: String,
    /// How many times the projection tried it.
    pub attempts: u32,
    /// When it was parked.
    pub parked_at: DateTime<Utc>,
}

impl ParkedEvent {
    /// A parked record of `event` for `projection`, parked now by the
    /// ambient clock ([`Clock::current`](crate::clock::Clock::current)).
    pub fn new(projection: &str, event: &RecordedEvent, error: String, attempts: u32) -> Self {
        Self {
            projection: projection.to_owned(),
            global_position: event.global_position,
            event_id: event.event_id,
            stream_id: event.stream_id.to_string(),
            stream_version: event.stream_version,
            event_name: event.event_name.to_string(),
            schema_version: event.schema_version,
            payload: event.payload.to_string(),
            metadata: serde_json::to_string(&*event.metadata).unwrap_or_default(),
            recorded_at: Some(event.recorded_at),
            error,
            attempts,
            parked_at: crate::clock::Clock::current().now(),
        }
    }

    /// A parked record of a stored record that could not be read as an event.
    pub fn corrupt(projection: &str, record: &CorruptRecord) -> Self {
        Self {
            projection: projection.to_owned(),
            global_position: record.global_position,
            event_id: record.event_id.unwrap_or_default(),
            stream_id: record.stream_id.clone(),
            stream_version: u64::try_from(record.stream_version).unwrap_or(0),
            event_name: record.event_name.clone(),
            schema_version: u32::try_from(record.schema_version).unwrap_or(0),
            payload: record.payload.clone(),
            metadata: record.metadata.clone(),
            recorded_at: record.recorded_at,
            error: format!("the stored record cannot be read: {}", record.reason),
            attempts: 1,
            parked_at: crate::clock::Clock::current().now(),
        }
    }
}

/// A parked event an operator chose not to run again, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedEvent {
    /// The event as it was parked.
    #[serde(flatten)]
    pub parked: ParkedEvent,
    /// Why it was skipped.
    pub reason: String,
    /// Who skipped it, if given.
    pub skipped_by: Option<String>,
    /// When.
    pub skipped_at: DateTime<Utc>,
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

    /// Removes every event parked for `projection`, skipped ones included.
    async fn clear(&self, projection: &str) -> Result<(), StoreError>;

    /// Marks the event parked for `projection` at `position` as skipped
    /// for `reason`, at `at`: it leaves the parked list (and its count) but
    /// is kept with the reason. `false` when no such event is parked.
    async fn skip(
        &self,
        projection: &str,
        position: u64,
        reason: &str,
        skipped_by: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// The events skipped for `projection`, by position.
    async fn skipped(&self, projection: &str) -> Result<Vec<SkippedEvent>, StoreError>;
}
