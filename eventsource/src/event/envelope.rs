//! What travels with an event: its stored record and its causal metadata.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Causal and contextual metadata carried by commands and the events they produce.
///
/// A command's metadata flows to its events: they share its correlation id,
/// and their causation id is the command's causation id (the event that
/// triggered the command) or, for a command from outside, the command's id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Groups every message of one business transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The message that directly caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// Who or what issued the command (a user id, a service name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Free-form headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the correlation id.
    pub fn with_correlation_id(mut self, id: Uuid) -> Self {
        self.correlation_id = Some(id);
        self
    }

    /// Sets the causation id.
    pub fn with_causation_id(mut self, id: Uuid) -> Self {
        self.causation_id = Some(id);
        self
    }

    /// Sets the actor.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(key.into(), value.into());
        self
    }

    /// Metadata for a command caused by `event`: the same correlation, the
    /// event as its cause, and the event's actor and headers.
    ///
    /// Headers flow on by default, so a tenant, a trace context or any
    /// header an interceptor added follows a business transaction through
    /// every saga step. To keep one local to the event, remove it from the
    /// result (`metadata.headers.remove("name")`) before dispatching.
    pub fn caused_by(event: &RecordedEvent) -> Self {
        Self {
            correlation_id: Some(event.metadata.correlation_id.unwrap_or(event.event_id)),
            causation_id: Some(event.event_id),
            actor: event.metadata.actor.clone(),
            headers: event.metadata.headers.clone(),
        }
    }
}

/// An event as the store holds it: position, identity, payload and metadata.
///
/// Cloning is cheap: the strings and the metadata are shared.
// `repr(C)` keeps the fields a load reads for every event (name, payload,
// versions, position, time) together in the first 64 bytes, and the
// alignment puts those bytes in one cache line: replaying a long stream
// touches one line per record. Unaligned, most records would straddle two.
// The metadata sits behind an `Arc` so that a record is two lines in all.
#[derive(Clone, Debug, PartialEq)]
#[repr(C, align(64))]
pub struct RecordedEvent {
    /// The event's stable name.
    pub event_name: Arc<str>,
    /// The payload as JSON text.
    pub payload: Arc<str>,
    /// Position within the stream, starting at 1 and contiguous.
    pub stream_version: u64,
    /// Position in the store's global log: positive and increasing in
    /// delivery order, but not necessarily contiguous.
    pub global_position: u64,
    /// The schema version the payload was written with.
    pub schema_version: u32,
    /// When the store recorded the event.
    pub recorded_at: DateTime<Utc>,
    /// The stream the event belongs to.
    pub stream_id: Arc<str>,
    /// The aggregate type that owns the stream.
    pub aggregate_type: Arc<str>,
    /// Unique id of the event (UUID v7, assigned when the event is produced).
    pub event_id: Uuid,
    /// Causal metadata, shared by the record's clones.
    pub metadata: Arc<Metadata>,
}

/// An event ready to be appended, not yet positioned by a store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// Unique id; appending a batch whose ids are already stored is a no-op.
    pub event_id: Uuid,
    /// The event's stable name.
    pub event_name: Arc<str>,
    /// The schema version of `payload`.
    pub schema_version: u32,
    /// The payload as JSON text.
    pub payload: Arc<str>,
    /// Causal metadata.
    pub metadata: Metadata,
}

impl NewEvent {
    /// A new event with a fresh UUID v7 id from the ambient clock
    /// ([`Clock::current`](crate::clock::Clock::current)).
    pub fn new(
        event_name: impl Into<Arc<str>>,
        schema_version: u32,
        payload: impl Into<Arc<str>>,
        metadata: Metadata,
    ) -> Self {
        Self {
            event_id: crate::clock::Clock::current_uuid_v7(),
            event_name: event_name.into(),
            schema_version,
            payload: payload.into(),
            metadata,
        }
    }

    /// Serializes a typed event at its current schema version.
    pub fn from_event<E: crate::Event>(
        event: &E,
        metadata: Metadata,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self::new(
            E::NAME,
            E::VERSION,
            serde_json::to_string(event)?,
            metadata,
        ))
    }
}

#[cfg(test)]
mod layout {
    use std::mem::{offset_of, size_of};
    use std::sync::Arc;

    use chrono::{DateTime, Utc};

    use super::RecordedEvent;

    #[test]
    fn the_fields_a_load_reads_share_the_first_cache_line() {
        let text = size_of::<Arc<str>>();
        for end in [
            offset_of!(RecordedEvent, event_name) + text,
            offset_of!(RecordedEvent, payload) + text,
            offset_of!(RecordedEvent, stream_version) + size_of::<u64>(),
            offset_of!(RecordedEvent, global_position) + size_of::<u64>(),
            offset_of!(RecordedEvent, schema_version) + size_of::<u32>(),
            offset_of!(RecordedEvent, recorded_at) + size_of::<DateTime<Utc>>(),
        ] {
            assert!(end <= 64, "a hot field ends at byte {end}");
        }
    }

    #[test]
    fn a_record_starts_a_cache_line_and_fills_two() {
        assert_eq!(std::mem::align_of::<RecordedEvent>(), 64);
        assert_eq!(size_of::<RecordedEvent>(), 128);
    }
}
