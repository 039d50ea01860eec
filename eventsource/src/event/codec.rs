//! Turning stored records into typed events, through the upcaster chain.

use super::{DecodeError, DecodeErrorKind, EncodedEvent, Event, RecordedEvent};
use crate::registry::Registry;
use crate::upcast::UpcasterChain;

/// Decodes `record` as event type `T`, upcasting an older schema version.
///
/// The record's name is not checked here; see [`Event::is_named`]. A record
/// at the current version is decoded straight from its JSON text; an older one
/// goes through every upcaster from its version to the current one, in order.
#[inline]
pub fn decode_event<T: Event>(record: &RecordedEvent) -> Result<T, DecodeError> {
    if record.schema_version == T::VERSION {
        // The common case, ahead of `decode_on`'s own branches: it needs no
        // upcasters, and this early return measurably keeps loads leaner.
        return serde_json::from_str(&record.payload)
            .map_err(|error| DecodeError::new(record, DecodeErrorKind::Payload(error)));
    }
    decode_on::<T>(record, T::upcasters())
}

/// Like [`decode_event`], with upcasters from `registry`.
pub fn decode_with<T: Event>(
    record: &RecordedEvent,
    registry: &Registry,
) -> Result<T, DecodeError> {
    decode_on::<T>(record, registry.chain(T::NAME))
}

fn decode_on<T: Event>(record: &RecordedEvent, chain: &UpcasterChain) -> Result<T, DecodeError> {
    let stored = record.schema_version;
    let result = if stored == T::VERSION {
        serde_json::from_str(&record.payload).map_err(DecodeErrorKind::Payload)
    } else if stored > T::VERSION {
        Err(DecodeErrorKind::NewerVersion {
            current: T::VERSION,
        })
    } else {
        upcast::<T>(&record.payload, stored, chain)
    };
    result.map_err(|kind| DecodeError::new(record, kind))
}

/// Lifts `payload`, stored at version `stored`, to `T`.
///
/// When the last step of the chain is a typed upcaster returning `T`, that
/// step hands its struct over as it is, rather than through a JSON value, and
/// a record one version behind is decoded from its text straight into the
/// upcaster's input.
fn upcast<T: Event>(
    payload: &str,
    stored: u32,
    chain: &UpcasterChain,
) -> Result<T, DecodeErrorKind> {
    let last = T::VERSION - 1;
    let mut slot: Option<T> = None;
    let typed = chain.typed(last).filter(|typed| (typed.accepts)(&slot));
    if let Some(typed) = typed.filter(|_| stored == last) {
        (typed.from_text)(payload, &mut slot)?;
        return slot.ok_or_else(|| nothing_handed_over(last));
    }
    let value = serde_json::from_str(payload).map_err(DecodeErrorKind::Payload)?;
    match typed.and_then(|typed| typed.from_value) {
        Some(from_value) => {
            let value = chain.upcast_towards(stored, last, T::VERSION, value)?;
            from_value(value, &mut slot)?;
            slot.ok_or_else(|| nothing_handed_over(last))
        }
        None => {
            let value = chain.upcast(stored, T::VERSION, value)?;
            serde_json::from_value(value).map_err(DecodeErrorKind::Payload)
        }
    }
}

fn nothing_handed_over(from: u32) -> DecodeErrorKind {
    DecodeErrorKind::Upcast {
        from,
        source: crate::UpcastError::new(
            "the typed upcaster returned without handing its output over",
        ),
    }
}

/// Serializes `event` at its current schema version.
pub fn encode_event<T: Event>(event: &T) -> Result<EncodedEvent, serde_json::Error> {
    Ok(EncodedEvent {
        name: T::NAME,
        version: T::VERSION,
        payload: serde_json::to_string(event)?,
    })
}
