//! Where a projection's effects and its checkpoint are committed.

use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;
use uuid::Uuid;

use crate::store::StoreError;

/// Checkpoints, leases and units of work for projections whose handlers
/// receive a `C` (`()` for projections with no context).
///
/// A lease makes one instance the processor of a projection among several
/// running the same code: commits are fenced by the lease owner, so an
/// instance that lost its lease cannot move the checkpoint or commit effects.
#[async_trait]
pub trait ProjectionBackend<C: ?Sized + Send>: Send + Sync + 'static {
    /// Starts a unit of work that may stay open, idle or in one statement,
    /// for at most `time_limit` (the runner passes its lease TTL).
    ///
    /// A backend whose units hold resources others wait for should have the
    /// server enforce the limit: a unit of a process that froze (a debugger,
    /// SIGSTOP, a handler blocked on I/O) must not hold them past the moment
    /// its lease has expired and a standby took over. The PostgreSQL backend
    /// sets `idle_in_transaction_session_timeout` and `statement_timeout`
    /// for the transaction, since an open transaction holding a transaction
    /// id holds back the read horizon of every subscriber of the database.
    async fn begin(&self, time_limit: Duration) -> Result<Box<dyn ProjectionTx<C>>, StoreError>;

    /// The last committed position of `name`.
    async fn checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError>;

    /// Takes or renews the lease on `name` for `owner`, for `ttl`. `false`
    /// when another owner holds an unexpired lease.
    async fn acquire(&self, name: &str, owner: Uuid, ttl: Duration) -> Result<bool, StoreError>;

    /// Extends the lease on `name` that `owner` holds, for `ttl`: `false`
    /// when it was released, or taken by another owner, since `owner` last
    /// took or renewed it, even if it is free now. The runner's renewals
    /// call this: another instance may have committed in such a gap, so
    /// the runner takes the lease again with
    /// [`ProjectionBackend::acquire`] and resumes from the stored
    /// checkpoint rather than from where it was. (Re-taking a free lease
    /// instead would let it commit again what the other instance had.)
    ///
    /// The default calls `acquire`, which cannot see such a gap; backends
    /// should override it.
    async fn renew(&self, name: &str, owner: Uuid, ttl: Duration) -> Result<bool, StoreError> {
        self.acquire(name, owner, ttl).await
    }

    /// Gives the lease up, if `owner` holds it.
    async fn release(&self, name: &str, owner: Uuid) -> Result<(), StoreError>;

    /// Records that `member` (a runner) runs the partitions of `slot` for
    /// another `ttl`, and returns how many members of `slot` are live
    /// (their last heartbeat has not expired), `member` included: the
    /// runners of a partitioned projection divide its partitions by that
    /// number (see "Partitions" in the [module docs](mod@crate::projection)).
    ///
    /// The default counts `member` alone, so each runner would take every
    /// partition it finds free (still one holder per partition, fenced by
    /// the leases, but not a fair share); backends should override it.
    async fn heartbeat(&self, slot: &str, member: Uuid, ttl: Duration) -> Result<u32, StoreError> {
        let _ = (slot, member, ttl);
        Ok(1)
    }

    /// Removes `member` from the members of `slot` at once, so the others
    /// take its partitions without waiting for its heartbeat to expire.
    async fn leave(&self, slot: &str, member: Uuid) -> Result<(), StoreError> {
        let _ = (slot, member);
        Ok(())
    }

    /// Records that a program runs `version` of projection `name`, handling
    /// `events` (sorted names), unless that version is recorded already; returns
    /// the events it was first recorded with and the active version.
    ///
    /// The runner refuses to run a version whose recorded events differ from
    /// its own: two programs that share a projection name (and so a
    /// checkpoint and a lease) without sharing its code would otherwise
    /// write one read model with two meanings.
    async fn register(
        &self,
        name: &str,
        version: u32,
        events: &[String],
    ) -> Result<Registered, StoreError>;

    /// Forgets what [`ProjectionBackend::register`] recorded of `version` of
    /// `name`, so that a program handling other events may register it.
    async fn forget(&self, name: &str, version: u32) -> Result<(), StoreError>;

    /// The active version of `name`: the highest one activated, which
    /// queries read (`None` before any was).
    async fn active_version(&self, name: &str) -> Result<Option<u32>, StoreError>;

    /// Activates `version` of `name` (idempotent); returns the active
    /// version afterwards, which is higher when a newer one was activated.
    async fn activate(&self, name: &str, version: u32) -> Result<u32, StoreError>;
}

/// What a [`ProjectionBackend`] has recorded of one version of a projection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    /// The events the version handles, as first recorded (sorted).
    pub events: Vec<String>,
    /// The active version of the projection, if one was activated.
    pub active: Option<u32>,
}

/// One unit of work: the handlers' effects (through [`ProjectionTx::context`])
/// and the checkpoint, committed or rolled back together.
#[async_trait]
pub trait ProjectionTx<C: ?Sized + Send>: Send {
    /// What the handlers receive.
    fn context(&mut self) -> &mut C;

    /// Clears the checkpoint of `name` as part of this unit of work (rebuilds).
    async fn reset_checkpoint(&mut self, name: &str) -> Result<(), StoreError>;

    /// Moves the checkpoint of `name` to `position` (never backwards) and
    /// commits, provided `owner` still holds the lease; `position: None`
    /// commits without touching it.
    async fn commit(
        self: Box<Self>,
        name: &str,
        owner: Uuid,
        position: Option<u64>,
    ) -> Result<(), CommitError>;

    /// Discards the unit of work.
    async fn rollback(self: Box<Self>) -> Result<(), StoreError>;
}

/// Why a unit of work did not commit. Nothing of it was kept.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CommitError {
    /// Another instance holds the lease now.
    #[error("the lease on this projection is held by another instance")]
    LeaseLost,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
