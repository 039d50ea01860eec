//! What an event store holds, summarised: its streams, and the event names
//! and schema versions stored. For operators; not on any hot path.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Which streams [`EventStore::streams`](super::EventStore::streams) lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamQuery {
    /// Only streams of this aggregate type.
    pub aggregate_type: Option<String>,
    /// Only streams whose id starts with this.
    pub prefix: Option<String>,
    /// Only streams whose id sorts after this one (the last of a previous page).
    pub after: Option<String>,
    /// At most this many (by stream id).
    pub limit: usize,
}

impl StreamQuery {
    /// Up to `limit` streams of any type.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }

    /// Only streams of `aggregate_type`.
    pub fn with_aggregate_type(mut self, aggregate_type: impl Into<String>) -> Self {
        self.aggregate_type = Some(aggregate_type.into());
        self
    }

    /// Only streams whose id starts with `prefix`.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Only streams whose id sorts after `stream_id`.
    pub fn after(mut self, stream_id: impl Into<String>) -> Self {
        self.after = Some(stream_id.into());
        self
    }

    /// Whether a stream passes the query's conditions (not its limit).
    pub fn matches(&self, stream_id: &str, aggregate_type: &str) -> bool {
        self.aggregate_type
            .as_deref()
            .is_none_or(|t| t == aggregate_type)
            && self
                .prefix
                .as_deref()
                .is_none_or(|p| stream_id.starts_with(p))
            && self.after.as_deref().is_none_or(|a| stream_id > a)
    }
}

/// One stream, summarised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StreamSummary {
    /// The stream.
    pub stream_id: String,
    /// The aggregate type that owns it.
    pub aggregate_type: String,
    /// The version of its last event.
    pub version: u64,
    /// The global position of its last event.
    pub last_position: u64,
    /// When its last event was recorded.
    pub last_recorded_at: DateTime<Utc>,
}

/// One event name at one schema version, as stored, with how many events
/// have it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredEventType {
    /// The stored event name.
    pub event_name: String,
    /// The stored schema version.
    pub schema_version: u32,
    /// How many events.
    pub count: u64,
    /// The global position of the first.
    pub first_position: u64,
    /// The global position of the last.
    pub last_position: u64,
}
