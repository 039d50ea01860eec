//! Projections: read models kept up to date from the global event log.
//!
//! A projection is a type with an `#[projection(name = "...")]` impl block
//! whose methods each handle one event type. The [`ProjectionRunner`] catches
//! it up from its checkpoint through the global log, then follows new events
//! live, with retries, a dead-letter store, rebuilds, status and
//! read-your-writes waits.
//!
//! Where a projection's effects and its checkpoint are committed is the
//! [`ProjectionBackend`]'s business: in memory for in-memory read models, or
//! one PostgreSQL transaction per batch (see `eventsource-postgres`) so a read
//! model in PostgreSQL and its checkpoint commit together.
//!
//! # Delivery guarantees
//!
//! What a crash (or a lost lease) can do to a read model depends on whether
//! the handlers write through the unit of work:
//!
//! - **Exactly-once effect** for *transactional* projections, whose handlers
//!   write through the context (a read model in PostgreSQL written with the
//!   batch's `&mut PgConnection`). The read-model changes and the checkpoint
//!   commit in one transaction, fenced by the lease: after a crash, a
//!   failed commit or a takeover, each event's effect is in the read model
//!   once. A handler may still *run* more than once (a rolled-back batch is
//!   run again); only what it writes through the transaction is kept once.
//! - **At-least-once delivery** for every other projection: in-memory read
//!   models, and any handler that writes outside the transaction (another
//!   database, a cache, an HTTP call, a saga's commands). The checkpoint is
//!   committed after the handlers ran, so a crash between the two, or a
//!   retry after a failure, delivers some events again. Such handlers must
//!   be idempotent (for example keep the last applied position with the
//!   data, or upsert by a key the event carries).
//!
//! Events the projection does not handle are skipped by name, unread: they
//! are filtered out by the store and never decoded, so an unknown or
//! corrupt payload of another event cannot fail the projection.
//!
//! # Bad records never wedge a projection
//!
//! A failure of one record is the record's, and parked; only a failure of
//! the store itself stops the projection, which then pauses and resumes
//! from its checkpoint:
//!
//! - an event whose handler keeps failing is retried with backoff, then
//!   parked in the [`DeadLetterStore`] with the stored record and the
//!   reason (a panic counts as a failure);
//! - an event that does not decode (a payload that does not fit its type,
//!   a schema version with no upcaster, a newer version) is parked at once,
//!   since retrying cannot help;
//! - a stored record that cannot even be read as an event (metadata of the
//!   wrong shape, a version out of range) reaches the runner as
//!   [`SubscriptionItem::Corrupt`](crate::store::SubscriptionItem::Corrupt)
//!   and is parked with its columns as stored.
//!
//! In every case the events before it are committed, the checkpoint moves
//! past it, and the projection goes on; a rebuild over such records
//! completes and parks them again. [`ProjectionRunner::retry_parked`] runs
//! a parked event again once the cause is fixed.
//!
//! # Rebuilds
//!
//! A rebuild needs the projection's `#[reset]` method, which clears its read
//! model; without one, [`ProjectionRunner::rebuild`] refuses with
//! [`RunnerError::NoReset`] rather than apply every event a second time.
//! [`ProjectionRunner::rebuild`] resets the read model, its checkpoint and
//! its parked events, replays the log like any catch-up, and returns when
//! the projection is live again. While it replays, the read model is
//! incomplete; to rebuild without that gap, change the version instead.
//!
//! # Versions
//!
//! `#[projection(name = "...", version = N)]` declares which version of the
//! read model the code writes (1 by default). Each version keeps its own
//! checkpoint, lease and parked events, and handlers name the tables they
//! write after it (`Self::VERSION`, as in `order_summary_v2`). The store
//! records which version is *active*, the one queries should read
//! ([`ProjectionStatus::active_version`]):
//!
//! - the first version a store sees becomes active at once;
//! - when a program starts a higher version, that version catches up in
//!   the background while the active one goes on serving, in the same
//!   process or in others still running the old code; once the new version
//!   is live it becomes active;
//! - an instance of the old version notices (at its next lease renewal),
//!   runs the old version's `#[retire]` method once, on the instance that
//!   held the lease (to drop its tables, say), and stops, in the state
//!   [`ProjectionState::Retired`]. An old version started later retires at
//!   once.
//!
//! [`ProjectionRunner::statuses`] shows both versions while they run side by
//! side in one runner.
//!
//! The store also records, for each version, the names of the events it
//! handles. A program whose projection of the same name and version handles
//! other events (another program using the same name, or a change to the
//! handlers without a new version) is refused at start with
//! [`RunnerError::Fingerprint`]: bump the version, or, if the read model
//! is the same, rebuild it in place with [`ProjectionRunner::start_fresh`].
//!
//! # Partitions
//!
//! `#[projection(name = "...", partitions = N)]` (or `#[saga(...)]`)
//! splits the projection's events into N partitions by their stream (a
//! stable hash of the stream id: see [`PartitionFilter`]), so events of
//! one stream keep their order. Each partition keeps its own checkpoint,
//! lease and parked events, under its own slot (`name#p3/8`, see
//! [`partition_slot`]), and each is read through a subscription of its
//! own, filtered by the store: an instance reads only the events of the
//! partitions it holds, once.
//!
//! Instances started with the same projection share its partitions: each
//! renews a heartbeat in the backend ([`ProjectionBackend::heartbeat`]),
//! holds at most `ceil(N / live instances)` partition leases, and gives
//! the extra ones up when another instance joins; when one leaves (or dies:
//! once its heartbeat and leases have expired, about one lease TTL), the
//! others take its partitions over from their checkpoints. The backend is
//! the only coordinator; commits are fenced by the partition's lease as
//! for any projection. Within one instance, the partitions' workers share
//! the projection value, one handler call at a time.
//!
//! A new version of a partitioned projection becomes active once every
//! one of its partitions has caught up, whichever instance holds it.
//!
//! [`ProjectionRunner::partitions`] shows each partition: who holds it,
//! its checkpoint and lag; [`ProjectionRunner::status`] folds them (the
//! lowest checkpoint, the summed lag). The number of partitions is
//! recorded with the version: a program asking for another number under
//! the same version is refused with [`RunnerError::PartitionsChanged`].
//! A partitioned projection is rebuilt by bumping its version (the new
//! version replays every partition in the background), or in place with
//! [`ProjectionRunner::rebuild`] (or a `Rebuild` control request for the
//! version, carried out by the holder of partition 0): the read model is
//! reset once and every partition replays from the start. That needs one
//! runner holding every partition; while others hold some, it is refused
//! with [`RunnerError::PartitionsNotHeld`], since they would go on writing
//! from their old checkpoints into the cleared read model.
//!
//! [`PartitionFilter`]: crate::store::PartitionFilter
//!
//! # Control from other processes
//!
//! An operator pauses, resumes, rebuilds or resets a projection, or retries
//! its parked events, by recording a request in a [`ControlStore`] (the
//! admin CLI and console of `eventsource-admin` do): the instance holding
//! the projection's lease, in whichever process, carries it out after the
//! batch it is in and records the outcome there. A runner watches the
//! store given to [`ProjectionRunner::with_control`] (an
//! [`InMemoryControlStore`] of its own by default); on PostgreSQL, give it
//! the store's (`PgEventStore::control_store`), which wakes runners of
//! every process through `NOTIFY` and is polled as well. See
//! [`control`] for the rules.
//!
//! # Interceptors and settling
//!
//! [`ProjectionRunner::with_event_interceptor`] adds an [`EventInterceptor`]
//! that runs around each event of the projections and sagas started
//! afterwards: it may skip the event, fail it (retried, then parked, like a
//! handler's failure) or observe the result. [`ProjectionRunner::settle`]
//! waits until every projection and saga of the runner has processed a
//! position and the events the sagas' commands added because of it, and
//! says who is behind when it times out ([`SettleError`]).
//!
//! # Frozen instances
//!
//! The runner asks its backend to bound each unit of work by the lease TTL
//! ([`ProjectionBackend::begin`]): an instance frozen in the middle of a
//! batch (SIGSTOP, a debugger, a handler stuck on I/O) cannot hold its
//! transaction, its locks, or anything other readers wait for, longer than
//! its lease. On PostgreSQL this matters beyond the projection: an open
//! transaction holding a transaction id holds back every subscriber of the
//! database, so the server ends such a transaction after the TTL, the
//! standby takes over and every subscriber moves on, within about the TTL
//! plus a polling interval. A handler that needs longer between two
//! statements of one batch needs a longer TTL.

mod backend;
mod catalog;
pub mod control;
mod dead_letter;
mod error;
pub(crate) mod handler;
mod interceptor;
mod runner;

use async_trait::async_trait;

use crate::event::RecordedEvent;

pub use backend::{CommitError, ProjectionBackend, ProjectionTx, Registered};
pub use catalog::{ProjectionCatalog, StoredLease, StoredProjection, StoredSlot};
pub use control::{
    ControlCommand, ControlRequest, ControlStatus, ControlStore, InMemoryControlStore,
};
pub use dead_letter::{DeadLetterStore, ParkedEvent, SkippedEvent};
pub use error::{ProjectionError, RunnerError};
pub use interceptor::{EventDecision, EventInfo, EventInterceptor};
pub(crate) use runner::recorded_partitions;
pub use runner::{
    CommittedPosition, InvalidOptions, PartitionStatus, Pending, ProjectionRunner, ProjectionState,
    ProjectionStatus, RebuildProgress, RunnerOptions, SettleError, Settled, partition_slot, slot,
};

/// A read model fed by events, generated by `#[projection]`.
///
/// `handle` decodes a record (through upcasters) and runs the matching
/// handler; records of events it does not handle are ignored. Handlers that
/// take a context (`&mut Self::Context`, for example a PostgreSQL
/// connection inside the batch's transaction) make the projection
/// *transactional*: its effects are rolled back with a failed batch.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a projection",
    note = "put `#[projection(name = \"...\")]` on an `impl {Self}` block of event handlers"
)]
#[async_trait]
pub trait Projection: Send + 'static {
    /// The projection's name: its checkpoint, lease and dead-letter key.
    const NAME: &'static str;
    /// The names of the events it handles (their aliases are added by the runner).
    const EVENTS: &'static [&'static str];
    /// Whether its handlers write through the context, so their effects
    /// commit and roll back with the checkpoint.
    const TRANSACTIONAL: bool;
    /// Whether it has a `#[reset]` method that clears its read model. A
    /// projection without one cannot be rebuilt: replaying the log onto a
    /// read model that was not cleared would apply every event twice.
    const RESETS: bool;
    /// The version of its read model (`#[projection(version = N)]`; 1 when
    /// not given). Each version keeps its own checkpoint, lease and parked
    /// events; a new version catches up in the background while the old
    /// one serves, then takes over (see "Versions" in the module docs).
    /// Handlers can name versioned tables after it (`Self::VERSION`).
    const VERSION: u32 = 1;
    /// Whether it has a `#[retire]` method.
    const RETIRES: bool = false;
    /// How many partitions it is processed in (`#[projection(partitions =
    /// N)]`; 1, unpartitioned, when not given): each with its own
    /// checkpoint and lease, shared fairly by the runners running it (see
    /// "Partitions" in the module docs). Changes only with the version.
    const PARTITIONS: u32 = 1;
    /// What handlers receive besides the event: `()` when none asks for it.
    type Context: ?Sized + Send;

    /// Handles one record; returns `false` if the projection ignores it.
    async fn handle(
        &mut self,
        record: &RecordedEvent,
        context: &mut Self::Context,
    ) -> Result<bool, ProjectionError>;

    /// Clears the read model before a rebuild (the `#[reset]` method); a
    /// no-op, never called by the runner, when [`Projection::RESETS`] is `false`.
    async fn reset(&mut self, context: &mut Self::Context) -> Result<(), ProjectionError>;

    /// Runs once on this version after a newer version of the projection
    /// took over (the `#[retire]` method): drops the old read model's
    /// tables, say. Called by the instance that held the lease, in a unit of
    /// work of its own; it may run again after a crash, so make it
    /// idempotent (`DROP TABLE IF EXISTS`). A no-op by default.
    async fn retire(&mut self, context: &mut Self::Context) -> Result<(), ProjectionError> {
        let _ = context;
        Ok(())
    }
}
