//! Errors of projections and of the runner.

use thiserror::Error;

use super::runner::InvalidOptions;
use crate::BoxError;
use crate::error::Error;
use crate::event::DecodeError;
use crate::store::StoreError;

/// Why a projection could not handle an event.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// The stored record does not decode; retrying cannot help.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The handler failed.
    #[error("{0}")]
    Handler(#[source] BoxError),
    /// The handler panicked.
    #[error("the handler panicked: {0}")]
    Panicked(String),
}

impl ProjectionError {
    /// A handler error from any error value (or a message).
    pub fn handler(error: impl Into<BoxError>) -> Self {
        let boxed: BoxError = error.into();
        match boxed.downcast::<ProjectionError>() {
            Ok(projection) => *projection,
            Err(other) => Self::Handler(other),
        }
    }

    /// Whether retrying the same event could succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Decode(_))
    }
}

/// A failure of a [`ProjectionRunner`](super::ProjectionRunner) operation.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// No projection of that name runs in this runner.
    #[error("no projection named `{0}` runs here")]
    UnknownProjection(String),
    /// A projection of that name already runs in this runner.
    #[error("a projection named `{0}` already runs here")]
    AlreadyRunning(String),
    /// The projection did not reach the position in time.
    #[error(
        "projection `{name}` did not reach position {position} within the timeout (it is at {reached:?})"
    )]
    Timeout {
        /// The projection.
        name: String,
        /// The position waited for.
        position: u64,
        /// Where it was when the wait ended.
        reached: Option<u64>,
    },
    /// The projection's task has stopped.
    #[error("projection `{0}` is not running")]
    Stopped(String),
    /// This instance does not hold the projection's lease.
    #[error("projection `{0}` is processed by another instance")]
    NotOwner(String),
    /// No parked event at that position.
    #[error("projection `{name}` has no parked event at position {position}")]
    NotParked {
        /// The projection.
        name: String,
        /// The position asked for.
        position: u64,
    },
    /// The event failed again.
    #[error("projection `{name}` failed on the event at position {position}: {source}")]
    Handler {
        /// The projection.
        name: String,
        /// The event's position.
        position: u64,
        /// The failure.
        source: Box<ProjectionError>,
    },
    /// The store recorded other events for this version of the projection
    /// than this program handles: two programs would share its checkpoint,
    /// lease and read model with two meanings.
    #[error(
        "projection `{name}` version {version} was first run by a program handling [{}], and this program handles [{}]; \
         if this program's read model is a different one, bump its version (`#[projection(name = \"{name}\", version = {})]`): \
         it is rebuilt in the background and takes over once it is live; if it is the same read model, \
         start it once with `ProjectionRunner::start_fresh`, which rebuilds it in place under this program's events",
        .recorded.join(", "),
        .ours.join(", "),
        .version + 1
    )]
    Fingerprint {
        /// The projection.
        name: String,
        /// Its version.
        version: u32,
        /// The events the store recorded for the version.
        recorded: Vec<String>,
        /// The events this program's projection handles.
        ours: Vec<String>,
    },
    /// The `#[retire]` method of a version a newer one replaced failed or
    /// panicked; the version is retired all the same.
    #[error("the #[retire] method of projection `{name}` failed: {source}")]
    Retire {
        /// The projection.
        name: String,
        /// The failure.
        source: Box<ProjectionError>,
    },
    /// A projection declared version 0; versions start at 1.
    #[error("projection `{0}` declares version 0; versions start at 1")]
    VersionZero(String),
    /// A rebuild of the projection is already running.
    #[error("projection `{0}` is being rebuilt already")]
    Rebuilding(String),
    /// An operator paused the projection; resume it first.
    #[error("projection `{0}` is paused; resume it first")]
    Paused(String),
    /// The projection has no `#[reset]` method, so it cannot be rebuilt:
    /// replaying the log onto a read model that was not cleared would apply
    /// every event a second time.
    #[error(
        "projection `{0}` cannot be rebuilt: it has no #[reset] method, and replaying the log onto a read model that was not cleared would apply every event twice; add a #[reset] method that clears the read model (sagas are never rebuilt)"
    )]
    NoReset(String),
    /// The `#[reset]` method failed or panicked; the checkpoint was kept and
    /// the projection goes on from it.
    #[error("the #[reset] method of projection `{name}` failed: {source}")]
    Reset {
        /// The projection.
        name: String,
        /// The failure.
        source: Box<ProjectionError>,
    },
    /// The store recorded another number of partitions for this version
    /// of the projection: each partition keeps its own checkpoint, so the
    /// number changes only with the version.
    #[error(
        "projection `{name}` version {version} runs in {recorded} partition(s), and this program asks for {ours}; \
         the number of partitions changes only with the version: bump it (`#[projection(name = \"{name}\", version = {}, partitions = {ours})]`), \
         and the new version is built in the background and takes over once it is live",
        .version + 1
    )]
    PartitionsChanged {
        /// The projection.
        name: String,
        /// Its version.
        version: u32,
        /// The partitions the store recorded for the version (1: none).
        recorded: u32,
        /// The partitions this program's projection declares.
        ours: u32,
    },
    /// A projection declared a number of partitions the runner cannot run.
    #[error("projection `{name}`: {source}")]
    InvalidPartitions {
        /// The projection.
        name: String,
        /// Why.
        source: crate::store::InvalidPartition,
    },
    /// A rebuild in place was asked of a partitioned projection while this
    /// runner does not hold every one of its partitions: the reset of the
    /// read model would wipe what other instances' partitions write, and
    /// they would not replay it.
    #[error(
        "projection `{name}` is partitioned and this runner holds {held} of its {count} partitions; \
         a rebuild in place needs them all (run it where the others have stopped, or bump the version \
         to rebuild in the background)"
    )]
    PartitionsNotHeld {
        /// The projection.
        name: String,
        /// How many partitions this runner holds.
        held: u32,
        /// How many partitions the projection has.
        count: u32,
    },
    /// The runner's options cannot drive a projection.
    #[error("invalid runner options: {0}")]
    InvalidOptions(#[from] InvalidOptions),
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The registry is inconsistent.
    #[error(transparent)]
    Runtime(#[from] Box<Error>),
}
