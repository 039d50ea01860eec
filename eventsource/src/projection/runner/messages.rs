//! What the runner tells a projection's worker, through its control channel.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::rebuild::ProgressFn;
use super::status::RebuildProgress;
use crate::projection::RunnerError;

/// A message to a worker.
pub(super) enum Control {
    Rebuild {
        progress: ProgressFn,
        reply: oneshot::Sender<Result<RebuildProgress, RunnerError>>,
    },
    RetryParked {
        position: u64,
        reply: oneshot::Sender<Result<(), RunnerError>>,
    },
    /// One partition's part in the rebuild of a partitioned projection,
    /// which the runner coordinates (see `ProjectionRunner::rebuild`).
    PartitionRebuild(PartitionRebuild),
    Stop,
}

/// What a partition's worker resets when the runner says go.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum ResetScope {
    /// The read model (once, by one partition) and this partition's checkpoint.
    ReadModel,
    /// This partition's checkpoint and parked events only.
    Checkpoint,
}

/// The steps of a partition's rebuild: the worker says it is ready (between
/// units of work, holding its lease), waits for the runner's go (dropped:
/// the rebuild was given up, nothing changed), resets and reports how many
/// events it will replay, then answers `reply` once its replay is live.
pub(super) struct PartitionRebuild {
    pub(super) ready: oneshot::Sender<Result<(), RunnerError>>,
    pub(super) go: oneshot::Receiver<ResetScope>,
    pub(super) reset: oneshot::Sender<Result<u64, RunnerError>>,
    pub(super) progress: ProgressFn,
    pub(super) reply: oneshot::Sender<Result<RebuildProgress, RunnerError>>,
}

/// The control channels of a partitioned version's workers, set once they
/// are all spawned; weak, so that they close with their workers.
pub(super) type Siblings = Arc<std::sync::OnceLock<Vec<mpsc::WeakSender<Control>>>>;
