//! What a store reports when it fails.

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

use super::append::{AppendResult, ExpectedVersion};
use super::invalid::InvalidRequest;
use crate::BoxError;

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
    /// A stored row could not be turned into a
    /// [`RecordedEvent`](crate::event::RecordedEvent).
    #[error("corrupt record at global position {global_position}: {reason}")]
    Corrupt {
        /// Where the record sits in the global log.
        global_position: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The request itself is invalid (an empty stream id, a payload that is
    /// not JSON): nothing was done. Says which field, and of which event.
    #[error("invalid request: {0}")]
    Invalid(InvalidRequest),
    /// The stream was deleted (its last event is a
    /// [`StreamDeleted`](crate::store::StreamDeleted) tombstone): it takes no
    /// appends until it is recreated.
    #[error(
        "stream `{stream_id}` is deleted; recreate it (`recreate_stream`) before writing to it again"
    )]
    StreamDeleted {
        /// The deleted stream.
        stream_id: Arc<str>,
    },
    /// The stream has no events, so there is nothing to delete or truncate.
    #[error("stream `{stream_id}` does not exist")]
    StreamNotFound {
        /// The stream asked for.
        stream_id: Arc<str>,
    },
    /// A recreate of a stream that is not deleted.
    #[error("stream `{stream_id}` is not deleted, so it cannot be recreated")]
    StreamNotDeleted {
        /// The stream asked for.
        stream_id: Arc<str>,
    },
    /// A truncation before a version past the stream's last event: it
    /// would remove every event, and the head with them.
    #[error(
        "cannot truncate stream `{stream_id}` before version {before}: its last event is version {head}"
    )]
    TruncateBeyondHead {
        /// The stream asked for.
        stream_id: Arc<str>,
        /// The version asked for.
        before: u64,
        /// The stream's last version.
        head: u64,
    },
    /// A personal event for a subject whose key was destroyed
    /// (`shredding::ShreddingStore::forget_subject`): nothing was written.
    #[error("subject `{subject}` was forgotten: no personal data of it can be stored again")]
    SubjectForgotten {
        /// The subject.
        subject: Arc<str>,
    },
    /// The store does not implement this operation.
    #[error("this store does not support {operation}")]
    Unsupported {
        /// What was asked.
        operation: &'static str,
    },
    /// The connection to the store failed or was dropped.
    #[error("connection to the store failed: {0}")]
    Connection(#[source] BoxError),
    /// Any other backend failure.
    #[error("store backend error: {0}")]
    Backend(#[source] BoxError),
}

impl StoreError {
    /// An [`StoreError::Invalid`] refusal that concerns no one field.
    pub fn invalid(problem: impl Into<String>) -> Self {
        Self::Invalid(InvalidRequest::new(problem))
    }

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
