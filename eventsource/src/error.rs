//! Typed errors. Each names the stream, version, event and position involved.

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

use crate::event::RecordedEvent;
use crate::registry::RegistryReport;
use crate::store::{AppendResult, ExpectedVersion};
use crate::upcast::UpcastError;

/// A boxed error from a store backend or a user hook.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failure reported by an [`EventStore`](crate::store::EventStore) or
/// [`SnapshotStore`](crate::store::SnapshotStore).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The stream was not at the version the append expected.
    #[error(
        "wrong expected version on stream `{stream_id}`: expected {expected}, found {}",
        CurrentVersion(*.actual)
    )]
    Conflict {
        /// The stream appended to.
        stream_id: Arc<str>,
        /// What the append expected.
        expected: ExpectedVersion,
        /// The stream's version when the append was checked (`None`: no stream).
        actual: Option<u64>,
    },
    /// Some event ids of the batch are already stored, but not as this exact batch.
    #[error(
        "event {event_id} is already stored (stream `{stored_stream}`, version {stored_version}); \
         the batch for `{stream_id}` is not a replay of the stored events"
    )]
    DuplicateEvent {
        /// The stream appended to.
        stream_id: Arc<str>,
        /// The event id found in the store.
        event_id: uuid::Uuid,
        /// Where that event is stored.
        stored_stream: Arc<str>,
        /// Its version there.
        stored_version: u64,
    },
    /// The batch is already stored, by an earlier transaction that committed,
    /// and this append ran inside a transaction of the caller's (such as
    /// PostgreSQL's `append_in`).
    ///
    /// A store's own append answers such a retry with a replayed success; in
    /// a caller's transaction that would be a lie by omission. The events
    /// are safe, but the transaction that stored them committed whatever
    /// else it wrote, so this transaction's other writes most likely repeat
    /// that work, and the database may already have aborted it (a later
    /// `COMMIT` would then silently roll back). Roll it back, and treat
    /// `stored` as the outcome of the append.
    #[error(
        "the batch for `{stream_id}` is already stored by an earlier, committed transaction \
         (versions {}..={}, positions {}..={}); {}",
        .stored.first_version,
        .stored.last_version,
        .stored.first_position,
        .stored.last_position,
        if *.transaction_aborted {
            "the database aborted this transaction: roll it back"
        } else {
            "roll this transaction back unless its other writes may be repeated"
        }
    )]
    AlreadyStored {
        /// The stream appended to.
        stream_id: Arc<str>,
        /// Where the events are stored, as the original append returned it
        /// (with `replayed` set).
        stored: AppendResult,
        /// Whether the database aborted the caller's transaction, so that it
        /// can only be rolled back. When `false` it is intact.
        transaction_aborted: bool,
    },
    /// A stored row could not be turned into a [`RecordedEvent`].
    #[error("corrupt record at global position {global_position}: {reason}")]
    Corrupt {
        /// Where the record sits in the global log.
        global_position: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The request itself is invalid (for example an empty stream id).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The connection to the store failed or was dropped.
    #[error("connection to the store failed: {0}")]
    Connection(#[source] BoxError),
    /// Any other backend failure.
    #[error("store backend error: {0}")]
    Backend(#[source] BoxError),
}

impl StoreError {
    /// Whether this is a version conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }
}

/// Renders a stream's current version, `None` being "no stream".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurrentVersion(pub Option<u64>);

impl fmt::Display for CurrentVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("no stream"),
            Some(v) => write!(f, "version {v}"),
        }
    }
}

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

/// A failure of the runtime: loading, appending, decoding or validation.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The command targets an aggregate whose stream does not exist.
    #[error("{aggregate} stream `{stream_id}` does not exist")]
    NotFound {
        /// The aggregate type.
        aggregate: &'static str,
        /// The stream looked for.
        stream_id: Arc<str>,
    },
    /// A creating command found its stream already present.
    #[error("{aggregate} stream `{stream_id}` already exists (at version {version})")]
    AlreadyExists {
        /// The aggregate type.
        aggregate: &'static str,
        /// The stream.
        stream_id: Arc<str>,
        /// Its current version.
        version: u64,
    },
    /// Concurrent writers kept winning; the retries ran out.
    #[error(
        "version conflict on stream `{stream_id}` after {attempts} attempt(s): expected {expected}, found {}",
        CurrentVersion(*.actual)
    )]
    Conflict {
        /// The stream.
        stream_id: Arc<str>,
        /// What the last append expected.
        expected: ExpectedVersion,
        /// The version found by the last append.
        actual: Option<u64>,
        /// How many times the command was run.
        attempts: u32,
    },
    /// A stored event could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A new event could not be serialized.
    #[error("cannot serialize event `{event_name}` for stream `{stream_id}`: {source}")]
    Encode {
        /// The event's name.
        event_name: &'static str,
        /// The stream it was meant for.
        stream_id: Arc<str>,
        /// The serializer's error.
        source: serde_json::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The registry of events, upcasters and handlers is inconsistent.
    #[error(transparent)]
    Registry(#[from] Box<RegistryReport>),
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict {
                stream_id,
                expected,
                actual,
            } => Error::Conflict {
                stream_id,
                expected,
                actual,
                attempts: 1,
            },
            other => Error::Store(other),
        }
    }
}

impl Error {
    /// Whether this is a version conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }
}

/// The result of running a command: the domain may reject it, or the runtime may fail.
#[derive(Debug, Error)]
pub enum CommandError<E> {
    /// The command handler returned a domain error; nothing was appended.
    #[error("command rejected: {0}")]
    Rejected(E),
    /// Loading, appending or decoding failed.
    #[error(transparent)]
    Failed(#[from] Error),
}

impl<E> CommandError<E> {
    /// The domain error, if the handler rejected the command.
    pub fn rejection(&self) -> Option<&E> {
        match self {
            Self::Rejected(e) => Some(e),
            Self::Failed(_) => None,
        }
    }

    /// Whether the command failed on a version conflict after its retries.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Failed(e) if e.is_conflict())
    }
}

impl<E> From<StoreError> for CommandError<E> {
    fn from(err: StoreError) -> Self {
        Self::Failed(err.into())
    }
}

impl<E> From<DecodeError> for CommandError<E> {
    fn from(err: DecodeError) -> Self {
        Self::Failed(err.into())
    }
}
