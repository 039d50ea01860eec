//! What a projection is doing, as reported by the runner.

use std::time::Duration;

/// The lifecycle state of a projection in one runner.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProjectionState {
    /// Starting up.
    Starting,
    /// Another instance holds the lease; this one waits to take over.
    Standby,
    /// Reading past events towards the head of the log.
    CatchingUp,
    /// Caught up; handling new events as they are committed.
    Live,
    /// Resetting and replaying from the start.
    Rebuilding,
    /// Paused by an operator (a control request): holding the lease but
    /// handling no events until resumed.
    Paused,
    /// Waiting to recover from a store failure (the error is kept).
    Failed(String),
    /// Stopped for good.
    Stopped,
    /// A newer version of the projection took over; this one has stopped
    /// (after its `#[retire]` method ran, on the instance that held the
    /// lease).
    Retired,
}

/// A projection's progress and health.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectionStatus {
    /// The projection.
    pub name: String,
    /// The version this runner runs.
    pub version: u32,
    /// The version queries read, as the store says: this one once it is
    /// live, an older one while this one catches up in the background
    /// after a version change, a newer one once this one is retired.
    pub active_version: Option<u32>,
    /// What it is doing.
    pub state: ProjectionState,
    /// Its committed checkpoint (`None`: nothing processed yet).
    pub position: Option<u64>,
    /// The head of the global log.
    pub head: u64,
    /// How many events it handles are after its checkpoint.
    pub lag: u64,
    /// How many events are parked in the dead-letter store.
    pub parked: u64,
    /// Events handled by this runner since it started.
    pub processed: u64,
    /// The last handler or store error.
    pub last_error: Option<String>,
}

/// How far a rebuild has come.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RebuildProgress {
    /// Events replayed so far.
    pub done: u64,
    /// Events to replay (as counted when the rebuild started).
    pub total: u64,
    /// Time since the rebuild started.
    pub elapsed: Duration,
    /// Events per second so far.
    pub rate: f64,
}

/// The part of the status a projection's task publishes.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Published {
    pub(super) state: ProjectionState,
    pub(super) active: Option<u32>,
    pub(super) position: Option<u64>,
    pub(super) processed: u64,
    pub(super) last_error: Option<String>,
    /// This runner, while it holds the lease.
    pub(super) owner: Option<uuid::Uuid>,
}

impl Default for Published {
    fn default() -> Self {
        Self {
            state: ProjectionState::Starting,
            active: None,
            position: None,
            processed: 0,
            last_error: None,
            owner: None,
        }
    }
}

/// One partition of a partitioned projection, as this runner sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionStatus {
    /// The partition's number, from 0.
    pub index: u32,
    /// How many partitions the projection has.
    pub count: u32,
    /// Where it keeps its checkpoint, lease and parked events
    /// (see [`partition_slot`](super::partition_slot)).
    pub slot: String,
    /// What this runner's worker of the partition is doing: `Standby` while
    /// another instance holds it (or this runner holds its fair share).
    pub state: ProjectionState,
    /// This runner's identity while it holds the partition's lease; `None`
    /// while another instance does, or none.
    pub owner: Option<uuid::Uuid>,
    /// Its committed checkpoint, as last read (a standby reads the owner's).
    pub position: Option<u64>,
    /// How many of its events are after its checkpoint.
    pub lag: u64,
    /// How many of its events are parked.
    pub parked: u64,
    /// Events of the partition handled by this runner since it started.
    pub processed: u64,
}
