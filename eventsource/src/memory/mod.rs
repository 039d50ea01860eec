//! The embedded in-memory store: events, snapshots and live subscriptions.
//!
//! It keeps the same rules as the PostgreSQL store (checked by the same
//! conformance suite, `testing::conformance`), so code tested against
//! it behaves the same in production. Nothing survives the process.

mod archive;
mod checkpoints;
mod dead_letters;
mod deadlines;
mod events;
mod ids;
mod lifecycle;
mod log;
mod projections;
mod sagas;
mod snapshots;
mod state;

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::Notify;

use crate::clock::Clock;

use state::State;

pub use checkpoints::InMemoryCheckpointStore;
pub use dead_letters::InMemoryDeadLetterStore;
pub use projections::InMemoryProjectionBackend;
pub use sagas::InMemorySagaStore;

/// An event store and snapshot store held in memory.
///
/// Cloning gives another handle to the same store.
///
/// ```
/// use eventsource::memory::InMemoryStore;
/// use eventsource::store::{EventStore, ExpectedVersion};
/// use eventsource::{Metadata, NewEvent};
/// use futures::TryStreamExt;
///
/// # tokio_test();
/// # fn tokio_test() {
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let store = InMemoryStore::new();
/// let event = NewEvent::new("docs.Noted", 1, r#"{"text":"hi"}"#, Metadata::new());
/// let result = store
///     .append("note-1", "docs.Note", ExpectedVersion::NoStream, vec![event])
///     .await?;
/// assert_eq!(result.last_version, 1);
///
/// let events: Vec<_> = store.read_stream("note-1", 1).try_collect().await?;
/// assert_eq!(&*events[0].event_name, "docs.Noted");
/// # Ok::<(), eventsource::StoreError>(())
/// # }).unwrap();
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct InMemoryStore {
    shared: Arc<Shared>,
    clock: Clock,
}

impl Default for InMemoryStore {
    fn default() -> Self {
        Self {
            shared: Arc::default(),
            clock: Clock::current(),
        }
    }
}

#[derive(Debug)]
struct Shared {
    state: RwLock<State>,
    /// Wakes subscribers when events commit. A `Notify` wakes its waiters
    /// in the order they began waiting; a `watch` channel spreads them over
    /// several lists by Tokio's random draw, which a seeded run cannot fix.
    appended: Notify,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            state: RwLock::default(),
            appended: Notify::new(),
        }
    }
}

impl Shared {
    // A panic while holding the lock cannot leave `State` half-updated (every
    // mutation is checked before it starts), so a poisoned lock is still usable.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stamps the events this handle appends with `clock`'s time (by default
    /// the ambient clock when the store was built: see [`Clock::current`]).
    /// Clones made afterwards share it.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// How many events the store holds.
    pub fn len(&self) -> usize {
        let state = self.shared.read();
        state.log.len() - state.removed.len()
    }

    /// Whether the store holds no events.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
