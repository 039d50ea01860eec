//! Which streams an archive job moves.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::aggregate::{Aggregate, AggregateConfig};
use crate::error::Error;
use crate::repository::Repository;

/// An aggregate that can say its life is over (an order delivered, an
/// account closed): an [`ArchivePolicy`] with
/// [`closed_only`](ArchivePolicy::closed_only) archives only streams whose
/// aggregate, loaded, says so.
///
/// ```
/// use eventsource::archive::Closable;
/// # use eventsource::prelude::*;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug)]
/// # #[event(name = "docs.TicketClosed")]
/// # struct TicketClosed {}
/// #[derive(Aggregate, Default, Debug)]
/// #[aggregate(name = "docs.Ticket")]
/// struct Ticket { closed: bool }
///
/// #[aggregate_impl]
/// impl Ticket {
///     #[event_sourcing_handler]
///     fn on_closed(&mut self, _: &TicketClosed) { self.closed = true; }
/// }
///
/// impl Closable for Ticket {
///     fn is_closed(&self) -> bool { self.closed }
/// }
/// ```
pub trait Closable: Aggregate {
    /// Whether the aggregate takes no more commands, so its history may go
    /// to the archive.
    fn is_closed(&self) -> bool;
}

/// Asks whether the aggregate of a stream is closed (a [`Repository`] of a
/// [`Closable`] aggregate is one).
#[async_trait]
pub trait ClosedCheck: Send + Sync {
    /// The aggregate type this check loads.
    fn aggregate_type(&self) -> &str;

    /// Whether the aggregate of `stream_id` is closed (`false` when the
    /// stream has no events).
    async fn is_closed(&self, stream_id: &str) -> Result<bool, Error>;
}

#[async_trait]
impl<A: Closable> ClosedCheck for Repository<A> {
    fn aggregate_type(&self) -> &str {
        A::NAME
    }

    async fn is_closed(&self, stream_id: &str) -> Result<bool, Error> {
        Ok(self
            .load_stream(stream_id)
            .await?
            .is_some_and(|loaded| loaded.state.is_closed()))
    }
}

/// Which streams to archive: those of one aggregate type whose last event
/// is older than a duration, and optionally whose aggregate says it is
/// closed.
#[derive(Clone)]
pub struct ArchivePolicy {
    pub(super) aggregate_type: String,
    pub(super) older_than: Duration,
    pub(super) closed: Option<Arc<dyn ClosedCheck>>,
    pub(super) batch_streams: usize,
    pub(super) pause: Duration,
}

impl ArchivePolicy {
    /// Streams of `aggregate_type` whose last event is older than `older_than`.
    pub fn new(aggregate_type: impl Into<String>, older_than: Duration) -> Self {
        Self {
            aggregate_type: aggregate_type.into(),
            older_than,
            closed: None,
            batch_streams: 8,
            pause: Duration::ZERO,
        }
    }

    /// Streams of aggregate `A` whose last event is older than `older_than`.
    pub fn for_aggregate<A: AggregateConfig>(older_than: Duration) -> Self {
        Self::new(A::NAME, older_than)
    }

    /// Only streams whose aggregate, loaded through `repository`, says it
    /// is closed ([`Closable::is_closed`]). The repository's aggregate
    /// must be the policy's type.
    pub fn closed_only<A: Closable>(mut self, repository: Repository<A>) -> Self {
        self.closed = Some(Arc::new(repository));
        self
    }

    /// Only streams whose aggregate `check` says is closed.
    pub fn closed_by(mut self, check: Arc<dyn ClosedCheck>) -> Self {
        self.closed = Some(check);
        self
    }

    /// How many streams move in one transaction (default 8, at least 1).
    /// Larger batches move faster and hold the subscribers' horizon longer.
    pub fn with_batch_size(mut self, streams: usize) -> Self {
        self.batch_streams = streams.max(1);
        self
    }

    /// Waits `pause` after each batch (default none): spreads the job's
    /// load on a busy database.
    pub fn with_pause(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }

    /// The aggregate type.
    pub fn aggregate_type(&self) -> &str {
        &self.aggregate_type
    }

    /// The age a stream's last event must exceed.
    pub fn older_than(&self) -> Duration {
        self.older_than
    }

    /// Whether the aggregates are asked whether they are closed.
    pub fn is_closed_only(&self) -> bool {
        self.closed.is_some()
    }
}

impl fmt::Debug for ArchivePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArchivePolicy")
            .field("aggregate_type", &self.aggregate_type)
            .field("older_than", &self.older_than)
            .field("closed_only", &self.closed.is_some())
            .field("batch_streams", &self.batch_streams)
            .field("pause", &self.pause)
            .finish()
    }
}
