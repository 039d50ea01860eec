//! Why a stored record could not be turned into a typed event.

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

use super::RecordedEvent;
use crate::upcast::UpcastError;

/// A stored record that could not be decoded into a typed event.
#[derive(Debug, Error)]
#[error(
    "cannot decode event `{event_name}` (schema v{schema_version}) in stream `{stream_id}` \
     at version {stream_version}, global position {global_position}: {kind}"
)]
pub struct DecodeError {
    /// The stream holding the record.
    pub stream_id: Arc<str>,
    /// The record's version in its stream.
    pub stream_version: u64,
    /// The record's position in the global log.
    pub global_position: u64,
    /// The stored event name.
    pub event_name: Arc<str>,
    /// The stored schema version.
    pub schema_version: u32,
    /// What went wrong.
    #[source]
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    /// A decode error for `record`.
    pub fn new(record: &RecordedEvent, kind: DecodeErrorKind) -> Self {
        Self {
            stream_id: record.stream_id.clone(),
            stream_version: record.stream_version,
            global_position: record.global_position,
            event_name: record.event_name.clone(),
            schema_version: record.schema_version,
            kind,
        }
    }
}

/// Why a record could not be decoded.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// No event type of the reader has this name or alias.
    #[error("unknown event name (the reader knows {})", KnownNames(.known))]
    UnknownEvent {
        /// The names the reader can decode.
        known: &'static [&'static str],
    },
    /// No upcaster takes the event from `from` to the next version.
    #[error("no upcaster from version {from} (the current version is {current})")]
    MissingUpcaster {
        /// The version with no way up.
        from: u32,
        /// The version the code knows.
        current: u32,
    },
    /// The record was written by newer code than this reader.
    #[error("stored schema version is newer than the current version {current}")]
    NewerVersion {
        /// The version the code knows.
        current: u32,
    },
    /// An upcaster failed.
    #[error("upcaster from version {from} failed: {source}")]
    Upcast {
        /// The version the failing upcaster starts from.
        from: u32,
        /// The upcaster's error.
        source: UpcastError,
    },
    /// The payload is not valid JSON or does not match the event type.
    #[error("payload does not match the event type: {0}")]
    Payload(#[source] serde_json::Error),
}

struct KnownNames<'a>(&'a [&'static str]);

impl fmt::Display for KnownNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no events");
        }
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{name}`")?;
        }
        Ok(())
    }
}
