//! Stored records that cannot be read as events, handed over as they are.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A stored record a store could not turn into a
/// [`RecordedEvent`](crate::event::RecordedEvent), with every column as it
/// was read and the reason.
///
/// A subscription hands such a record over as
/// [`SubscriptionItem::Corrupt`](super::SubscriptionItem::Corrupt) at its
/// place in the log and goes on with the next one, so a consumer can put it
/// aside (the projection runner parks it in the dead-letter store) without
/// losing its place or the events after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptRecord {
    /// Where the record sits in the global log.
    pub global_position: u64,
    /// Its event id, when that column could be read.
    pub event_id: Option<Uuid>,
    /// Its stream id.
    pub stream_id: String,
    /// The aggregate type of its stream.
    pub aggregate_type: String,
    /// Its version as stored, which may be out of range.
    pub stream_version: i64,
    /// Its event name.
    pub event_name: String,
    /// Its schema version as stored, which may be out of range.
    pub schema_version: i64,
    /// The payload text as stored.
    pub payload: String,
    /// The metadata text as stored.
    pub metadata: String,
    /// When it was recorded, when that column could be read.
    pub recorded_at: Option<DateTime<Utc>>,
    /// What is wrong with it.
    pub reason: String,
}
