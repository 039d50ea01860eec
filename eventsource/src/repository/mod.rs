//! The repository: loads aggregates and runs commands against them.

mod cache;
mod execute;
mod load;
mod retry;
mod truncate;

use std::marker::PhantomData;
use std::sync::Arc;

use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::clock::Clock;
use crate::error::Error;
use crate::registry::Registry;
use crate::store::{
    AppendResult, EventStore, IntoEventStore, IntoSnapshotStore, InvalidRequest, RequestField,
    SnapshotStore, StoreError,
};

pub use cache::StateCache;
pub use retry::RetryPolicy;

/// Loads and saves one aggregate type through an event store.
///
/// ```
/// use eventsource::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
/// #[event(name = "docs.Incremented")]
/// struct Incremented { by: u32 }
///
/// #[derive(Command)]
/// #[command(aggregate = Counter)]
/// struct Increment { #[aggregate_id] id: String, by: u32 }
///
/// #[derive(Aggregate, Default, Debug)]
/// #[aggregate(name = "docs.Counter")]
/// struct Counter { value: u32 }
///
/// #[aggregate_impl]
/// impl Counter {
///     #[command_handler(create_if_missing)]
///     fn increment(&self, cmd: &Increment) -> Incremented {
///         Incremented { by: cmd.by }
///     }
///
///     #[event_sourcing_handler]
///     fn on_incremented(&mut self, e: &Incremented) {
///         self.value += e.by;
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let repo = Repository::<Counter>::new(InMemoryStore::new())?;
/// repo.execute(Increment { id: "c1".into(), by: 2 }).await?;
/// let done = repo.execute(Increment { id: "c1".into(), by: 3 }).await?;
/// assert_eq!(done.version, 2);
///
/// let counter = repo.load("c1").await?.expect("the counter exists");
/// assert_eq!(counter.state.value, 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Repository<A: Aggregate> {
    store: Arc<dyn EventStore>,
    snapshots: Option<Arc<dyn SnapshotStore>>,
    snapshot_every: Option<u64>,
    retry: RetryPolicy,
    cache: Option<Arc<StateCache<A>>>,
    clock: Clock,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A: Aggregate> Clone for Repository<A> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            snapshots: self.snapshots.clone(),
            snapshot_every: self.snapshot_every,
            retry: self.retry.clone(),
            cache: self.cache.clone(),
            clock: self.clock.clone(),
            _aggregate: PhantomData,
        }
    }
}

impl<A: Aggregate> std::fmt::Debug for Repository<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("aggregate", &A::NAME)
            .field("snapshots", &self.snapshots.is_some())
            .field("snapshot_every", &self.snapshot_every)
            .field("retry", &self.retry)
            .field("cache", &self.cache)
            .field("clock", &self.clock)
            .finish()
    }
}

impl<A: Aggregate> Repository<A> {
    /// A repository over `store`, after checking the registry.
    ///
    /// Fails with the registry's report when events, upcasters or handlers
    /// are inconsistent (see [`Registry::validate`]).
    pub fn new(store: impl IntoEventStore) -> Result<Self, Error> {
        Registry::global().validate().map_err(Box::new)?;
        Ok(Self::unchecked(store.into_event_store()))
    }

    pub(crate) fn unchecked(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            snapshots: None,
            snapshot_every: A::SNAPSHOT_EVERY,
            retry: RetryPolicy::default(),
            cache: None,
            clock: Clock::current(),
            _aggregate: PhantomData,
        }
    }

    /// Uses `snapshots` to shorten loads and to keep the snapshots taken
    /// under the aggregate's policy.
    pub fn with_snapshots(mut self, snapshots: impl IntoSnapshotStore) -> Self {
        self.snapshots = Some(snapshots.into_snapshot_store());
        self
    }

    pub(crate) fn with_shared_snapshots(
        mut self,
        snapshots: Option<Arc<dyn SnapshotStore>>,
    ) -> Self {
        self.snapshots = snapshots;
        self
    }

    /// Overrides the aggregate's snapshot interval (`None`: never snapshot).
    ///
    /// Has no effect on aggregates without `snapshot_every`, which do not
    /// generate snapshot serialization.
    pub fn with_snapshot_every(mut self, every: Option<u64>) -> Self {
        self.snapshot_every = every.filter(|n| *n > 0);
        self
    }

    /// Sets the retry policy for version conflicts.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Keeps the states of up to `capacity` recently used aggregates in
    /// memory, so commands on them skip the load: one round trip (the
    /// append) instead of the load's (a snapshot read and an events read,
    /// or one read of both when the event store keeps the snapshots) and
    /// the append.
    ///
    /// Safe with other writers: the append still states the cached version,
    /// so a state another process moved on is caught as a conflict and the
    /// command runs again on a fresh load; a rejection decided on a cached
    /// state is confirmed against the stream's version first. Clones share
    /// the cache.
    pub fn with_cache(mut self, capacity: usize) -> Self
    where
        A: Clone,
    {
        self.cache = Some(Arc::new(StateCache::new(capacity)));
        self
    }

    pub(crate) fn with_shared_cache(mut self, cache: Option<Arc<StateCache<A>>>) -> Self {
        self.cache = cache;
        self
    }

    /// Takes command ids, event ids, snapshot times, retry waits and their
    /// jitter from `clock` (by default the ambient clock when the repository
    /// was built: see [`Clock::current`]).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The clock the repository reads.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The state cache, if one is set.
    pub fn cache(&self) -> Option<&Arc<StateCache<A>>> {
        self.cache.as_ref()
    }

    /// The event store.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The stream id of the aggregate with this id.
    pub fn stream_id(id: impl std::fmt::Display) -> String {
        A::stream_id(&id.to_string())
    }

    /// The stream id of the aggregate with this id, refusing an empty id
    /// (which would name the stream `<aggregate>-` that no real aggregate
    /// has). Longer ids and NUL characters are the store's to refuse.
    pub(super) fn checked_stream_id(id: &str) -> Result<String, StoreError> {
        if id.is_empty() {
            return Err(StoreError::Invalid(InvalidRequest::of(
                RequestField::AggregateId,
                format!("is empty (aggregate `{}`)", A::NAME),
            )));
        }
        Ok(A::stream_id(id))
    }
}

/// An aggregate rebuilt from its stream.
#[derive(Clone, Debug)]
pub struct Loaded<A> {
    /// The stream it was read from.
    pub stream_id: Arc<str>,
    /// The version of the last event applied.
    pub version: u64,
    /// The state.
    pub state: A,
    /// The version of the snapshot the load started from, if one was used.
    pub snapshot_version: Option<u64>,
    /// How many events were applied on top of the snapshot (or the default state).
    pub events_applied: u64,
    /// How many of them were read from the archive (`store::archive`): 0
    /// when the hot log (and the snapshot) held everything needed.
    pub archived_events: u64,
}

/// What running a command did.
pub struct Executed<A: Aggregate> {
    /// The id given to the command; the events' causation starts from it.
    pub command_id: Uuid,
    /// The aggregate's stream.
    pub stream_id: Arc<str>,
    /// The stream version after the command.
    pub version: u64,
    /// The events produced, in order (empty when the handler produced none).
    pub events: Vec<A::Event>,
    /// Where they were stored (`None` when there were none).
    pub appended: Option<AppendResult>,
    /// The aggregate's state after the events.
    pub state: A,
    /// How many times the handler ran (more than 1 after conflicts).
    pub attempts: u32,
    /// Whether a snapshot was saved after this command.
    pub snapshot_saved: bool,
}

impl<A: Aggregate> std::fmt::Debug for Executed<A> {
    // Hand-written so `Executed` is `Debug` (and `unwrap_err` works) without
    // requiring the aggregate's state to be `Debug`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executed")
            .field("command_id", &self.command_id)
            .field("stream_id", &self.stream_id)
            .field("version", &self.version)
            .field("events", &self.events)
            .field("appended", &self.appended)
            .field("attempts", &self.attempts)
            .field("snapshot_saved", &self.snapshot_saved)
            .finish_non_exhaustive()
    }
}
