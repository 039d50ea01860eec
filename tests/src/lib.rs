//! Shared helpers for the workspace integration and UI tests.

use std::sync::Arc;

use eventsource::chrono::Utc;
use eventsource::uuid::Uuid;
use eventsource::{Metadata, RecordedEvent};

/// A record as a store would hand it over: event `name` at schema
/// `version`, with the JSON `payload`, at stream version 1.
pub fn stored(name: &str, version: u32, payload: &str) -> RecordedEvent {
    RecordedEvent {
        event_id: Uuid::now_v7(),
        stream_id: Arc::from("tests-1"),
        aggregate_type: Arc::from("tests"),
        stream_version: 1,
        global_position: 1,
        event_name: Arc::from(name),
        schema_version: version,
        payload: Arc::from(payload),
        metadata: Metadata::default().into(),
        recorded_at: Utc::now(),
    }
}
