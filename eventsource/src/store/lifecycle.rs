//! The end of a stream's life: deleting it (softly, behind a tombstone, or
//! hard, removing its events), recreating it, and truncating its history
//! before a version.
//!
//! # Tombstones
//!
//! Both kinds of delete append one last event to the stream, a
//! [`StreamDeleted`] tombstone, through the ordinary append: subscribers and
//! projections learn of the delete in global order like of any event, and a
//! projection removes the stream's rows with a handler taking
//! [`StreamDeleted`]. A stream whose last event is a tombstone refuses
//! appends ([`StoreError::StreamDeleted`]) until it is recreated
//! ([`EventStore::recreate_stream`](crate::store::EventStore::recreate_stream)),
//! which removes every record of the stream, tombstone included, so that
//! it starts again at version 1.
//!
//! A hard delete then removes every event of the stream before the
//! tombstone, and its snapshot. The positions of removed events are simply
//! no longer there: readers order by position and never wait on a missing
//! one (PostgreSQL's readers wait on open transactions, never on gaps).
//!
//! # Truncation
//!
//! [`EventStore::truncate_before`](crate::store::EventStore::truncate_before)
//! removes the events of a stream before a version and keeps the rest.
//! Loading the aggregate then needs a snapshot at the version before the
//! first kept event or later: `Repository::truncate_before` saves that
//! snapshot first, then truncates.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use crate::event::{Event, Metadata, NewEvent};
use crate::registry::EventRegistration;

/// The name of the tombstone event ([`StreamDeleted::NAME`]).
pub const TOMBSTONE: &str = "eventsource.StreamDeleted";

/// How a stream is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeleteMode {
    /// Only the tombstone is appended: the events stay readable, the stream
    /// takes no more appends.
    Soft,
    /// The tombstone is appended and every earlier event of the stream, and
    /// its snapshot, are removed.
    Hard,
}

impl fmt::Display for DeleteMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Soft => "soft",
            Self::Hard => "hard",
        })
    }
}

/// The tombstone: the last event of a deleted stream.
///
/// A projection handles it like any event to remove the stream's rows
/// (its payload names the stream, so the handler needs no envelope).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamDeleted {
    /// The deleted stream.
    pub stream_id: String,
    /// Its aggregate type.
    pub aggregate_type: String,
    /// Soft or hard.
    pub mode: DeleteMode,
    /// The version of the stream's last event before the tombstone.
    pub last_version: u64,
}

impl Event for StreamDeleted {
    const NAME: &'static str = TOMBSTONE;
    const VERSION: u32 = 1;
    const ALIASES: &'static [&'static str] = &[];
}

// Registered like a derived event, so the registry's checks accept
// projections and sagas that handle it.
inventory::submit! {
    EventRegistration::new(TOMBSTONE, 1, &[], "eventsource::store::StreamDeleted")
}

impl StreamDeleted {
    /// The tombstone as an event to append, with id `event_id` (a store
    /// takes it from its clock).
    pub fn to_new_event(&self, event_id: uuid::Uuid) -> Result<NewEvent, StoreError> {
        let payload = serde_json::to_string(self)
            .map_err(|e| StoreError::Backend(format!("cannot encode a tombstone: {e}").into()))?;
        let mut event = NewEvent::new(TOMBSTONE, 1, payload, Metadata::new());
        event.event_id = event_id;
        Ok(event)
    }
}

/// What a delete did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deletion {
    /// Soft or hard.
    pub mode: DeleteMode,
    /// The tombstone's stream version.
    pub tombstone_version: u64,
    /// The tombstone's global position.
    pub tombstone_position: u64,
    /// How many events were removed (0 for a soft delete).
    pub removed: u64,
}

/// What a truncation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// The first version kept.
    pub first_kept_version: u64,
    /// How many events were removed.
    pub removed: u64,
}
