//! Reads from a hot standby: which reads go there, and what a standby's
//! errors and lag mean to them.
//!
//! A store built with [`PgEventStore::with_replica`](crate::PgEventStore::with_replica)
//! keeps every write on the primary (appends, snapshots saved, checkpoints,
//! leases, dead letters, sagas, control requests, `NOTIFY`) and reads on the
//! standby what [`ReplicaReads`] names. The crate docs
//! ([Reading from a standby](crate#reading-from-a-standby)) give the
//! argument that the gap-free order holds there.

use eventsource::StoreError;

/// Which reads a store with a standby sends to it; writes always go to the
/// primary.
///
/// ```no_run
/// use eventsource_postgres::{PgEventStore, PgStoreOptions, ReplicaReads};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let primary = sqlx::PgPool::connect("postgres://app@primary/app").await?;
/// let standby = sqlx::PgPool::connect("postgres://app@standby/app").await?;
/// // Projections and other subscribers read the standby; commands load
/// // their aggregates from the primary, so they never decide on stale state.
/// let store = PgEventStore::with_options(primary, PgStoreOptions::new("shop")?)
///     .with_replica(standby, ReplicaReads::GlobalLog);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplicaReads {
    /// The global log only: `subscribe`, `read_all`, `count_events`,
    /// `head_position`, and the catalog reads (`streams`, `event_types`).
    /// Stream reads (`read_stream`, `visit_stream`, so aggregate loads) and
    /// snapshot loads stay on the primary.
    ///
    /// The choice for a store that runs commands: a command decides on the
    /// state it loaded and appends expecting its version, and a load from a
    /// standby that has not applied the stream's last commit yet fails that
    /// append with a conflict (the repository retries it, loading again from
    /// a standby that may still lag).
    GlobalLog,
    /// Every read: the global log's, and stream and snapshot loads too.
    ///
    /// For processes that mostly read (query services, projections that
    /// load aggregates), or where the primary runs commits with
    /// `synchronous_commit = remote_apply` (its commit waits until the
    /// standby has applied it, so a load after an append sees it). With
    /// asynchronous replication a command may load a state older than its
    /// stream's head: its append then conflicts and the repository retries,
    /// which costs a round of work per lagging load and, under heavy lag,
    /// may exhaust the retry policy (`Error::Conflict` to the caller).
    Everything,
}

impl ReplicaReads {
    /// Whether stream and snapshot loads go to the standby.
    pub fn loads_on_replica(self) -> bool {
        matches!(self, Self::Everything)
    }
}

/// How many quick re-checks a subscription on a standby makes after a
/// wake-up. `NOTIFY` comes from the primary, usually before the standby has
/// applied the commits it announces; the re-checks (1 ms doubling up to
/// [`PgStoreOptions::recheck_max`](crate::PgStoreOptions::recheck_max),
/// about one second in all with the default 100 ms) catch them as they
/// arrive, and the polling interval covers a standby further behind.
pub(crate) const CHASE_ROUNDS: u32 = 16;

/// Whether a standby cancelled the statement because replaying the
/// primary's changes needed what it read (`40001`, "canceling statement due
/// to conflict with recovery", after `max_standby_streaming_delay`), or
/// ended the session for it (`57P04`). The reader starts again from its last
/// position, like after a lost connection.
pub(crate) fn recovery_conflict(err: &StoreError) -> bool {
    let StoreError::Backend(source) = err else {
        return false;
    };
    let Some(sqlx::Error::Database(db)) = source.downcast_ref::<sqlx::Error>() else {
        return false;
    };
    match db.code().as_deref() {
        Some("57P04") => true,
        Some("40001") => db.message().contains("conflict with recovery"),
        _ => false,
    }
}
