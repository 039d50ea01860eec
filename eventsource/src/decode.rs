//! Turning stored records into typed events, through the upcaster chain.

use crate::envelope::RecordedEvent;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::event::{EncodedEvent, Event};
use crate::registry::Registry;

/// Decodes `record` as event type `T`, upcasting an older schema version.
///
/// The record's name is not checked here; see [`Event::is_named`]. A record
/// at the current version is decoded straight from its JSON text; an older one
/// goes through every upcaster from its version to the current one, in order.
pub fn decode_event<T: Event>(record: &RecordedEvent) -> Result<T, DecodeError> {
    decode_with::<T>(record, Registry::global())
}

/// Like [`decode_event`], with upcasters from `registry`.
pub fn decode_with<T: Event>(
    record: &RecordedEvent,
    registry: &Registry,
) -> Result<T, DecodeError> {
    let stored = record.schema_version;
    let result = if stored == T::VERSION {
        serde_json::from_str(&record.payload).map_err(DecodeErrorKind::Payload)
    } else if stored > T::VERSION {
        Err(DecodeErrorKind::NewerVersion {
            current: T::VERSION,
        })
    } else {
        serde_json::from_str(&record.payload)
            .map_err(DecodeErrorKind::Payload)
            .and_then(|value| registry.upcast(T::NAME, stored, T::VERSION, value))
            .and_then(|value| serde_json::from_value(value).map_err(DecodeErrorKind::Payload))
    };
    result.map_err(|kind| DecodeError::new(record, kind))
}

/// The error for a record whose name no event of the reader matches.
pub fn unknown_event(record: &RecordedEvent, known: &'static [&'static str]) -> DecodeError {
    DecodeError::new(record, DecodeErrorKind::UnknownEvent { known })
}

/// Serializes `event` at its current schema version.
pub fn encode_event<T: Event>(event: &T) -> Result<EncodedEvent, serde_json::Error> {
    Ok(EncodedEvent {
        name: T::NAME,
        version: T::VERSION,
        payload: serde_json::to_string(event)?,
    })
}
