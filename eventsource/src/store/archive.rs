//! Archived events: the older events of a stream moved out of the hot log
//! into archive storage, keeping their global positions.
//!
//! # What moves, and what stays
//!
//! [`EventStore::archive_streams`](crate::store::EventStore::archive_streams)
//! moves every event of a stream **but its last** into the archive. The
//! last event stays hot on purpose:
//!
//! - the stream's version, the optimistic check of an append and the
//!   store's head position read the hot log only, and stay exact: nothing
//!   on the append path looks at the archive, and an append to an archived
//!   stream simply continues after its last version (no restore, no error);
//! - the stream is still listed ([`EventStore::streams`](crate::store::EventStore::streams))
//!   with its version and the time of its last event, so a policy run
//!   again finds it and archives what was appended since.
//!
//! A move is idempotent: archiving a stream whose older events are already
//! archived moves nothing. Each batch of streams moves in one short
//! transaction (PostgreSQL: insert into the archive and delete from the hot
//! table in one statement), so a job killed half-way leaves every stream
//! either moved or not, and a rerun finishes the rest.
//!
//! # Reading
//!
//! - [`EventStore::read_all`](crate::store::EventStore::read_all) and
//!   [`EventStore::subscribe`](crate::store::EventStore::subscribe) read
//!   archived and hot events in one order by global position: a catch-up
//!   from position 0 sees every event, and one running while a job moves
//!   events sees each once (a page reads both places in one snapshot).
//! - [`EventStore::read_stream`](crate::store::EventStore::read_stream)
//!   and `visit_stream` read the hot events only; the repository notices
//!   the gap before the first hot event, reads the missing versions with
//!   [`EventStore::read_archived_stream`](crate::store::EventStore::read_archived_stream)
//!   (unless a snapshot covers them) and says so in
//!   [`Loaded::archived_events`](crate::repository::Loaded::archived_events).
//! - Deleting a stream hard, recreating it and truncating it remove its
//!   archived events too.
//!
//! Event ids of archived events no longer guard against a replayed append
//! in PostgreSQL (the unique index covers the hot table only): retrying a
//! batch after its stream was archived would store it again. Archive
//! streams whose last event is older than any retry.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What archiving one stream did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedStream {
    /// The stream.
    pub stream_id: String,
    /// How many events moved now (0: nothing left to move).
    pub moved: u64,
    /// The version of the stream's last event, which stays hot.
    pub last_version: u64,
}

/// One range of the archive (a partition of PostgreSQL's archive table).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveRange {
    /// A name for the range (PostgreSQL: the partition's table).
    pub name: String,
    /// The first global position the range may hold (inclusive).
    pub from_position: u64,
    /// The end of the range (exclusive).
    pub to_position: u64,
    /// How many archived events it holds.
    pub events: u64,
}

/// What the archive holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveStatus {
    /// Archived events.
    pub events: u64,
    /// Streams with at least one archived event.
    pub streams: u64,
    /// The lowest archived position (`None`: the archive is empty).
    pub first_position: Option<u64>,
    /// The highest archived position.
    pub last_position: Option<u64>,
    /// When the latest event was archived.
    pub last_archived_at: Option<DateTime<Utc>>,
    /// The ranges, by position.
    pub ranges: Vec<ArchiveRange>,
}
