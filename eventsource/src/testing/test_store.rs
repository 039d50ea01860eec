//! [`TestStore`]: a real event store (the in-memory one, or any other it
//! wraps) whose next calls a test can script: hold appends at a rendezvous,
//! answer them with a version conflict, or fail them outright.
//!
//! Everything not scripted goes to the wrapped store unchanged, so the
//! events a test reads back are the ones really stored.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::Barrier;

use crate::clock::Clock;
use crate::event::{NewEvent, RecordedEvent};
use crate::memory::InMemoryStore;
use crate::store::{
    AppendResult, ArchiveStatus, ArchivedStream, EventFilter, EventStore, EventStream,
    ExpectedVersion, IntoEventStore, StoreError, StoredEventType, StreamQuery, StreamSummary,
    Subscription,
};

/// An event store for tests, scripted call by call.
///
/// Clones share the script and the wrapped store: hand one clone to the
/// command bus and keep another to script it.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use eventsource::store::{EventStore, ExpectedVersion, StoreError};
/// use eventsource::testing::TestStore;
///
/// let store = TestStore::new();
/// store.conflict_next_appends(1);
/// let first = store.append("s-1", "T", ExpectedVersion::NoStream, vec![]).await;
/// assert!(matches!(first, Err(StoreError::Conflict { .. })));
/// assert_eq!(store.stream_version("s-1").await.unwrap(), None);
/// assert_eq!(store.counts().injected_conflicts, 1);
/// # });
/// ```
#[derive(Clone)]
pub struct TestStore {
    inner: Arc<dyn EventStore>,
    script: Arc<Mutex<Script>>,
    clock: Clock,
}

/// What the next calls do, and what the store has seen.
#[derive(Default)]
struct Script {
    /// Appends still to be held, with the rendezvous they meet at.
    hold: Option<Hold>,
    conflicts: usize,
    failures: usize,
    appends: usize,
    stream_reads: usize,
    injected_conflicts: usize,
    injected_failures: usize,
}

struct Hold {
    remaining: usize,
    parties: usize,
    within: Duration,
    barrier: Arc<Barrier>,
}

/// How often each scripted outcome happened, for assertions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestStoreCounts {
    /// Appends asked of the store (held, refused or passed on).
    pub appends: usize,
    /// Reads of one stream (`read_stream`, `visit_stream`, `stream_version`):
    /// what loading an aggregate does.
    pub stream_reads: usize,
    /// Appends answered with an injected [`StoreError::Conflict`].
    pub injected_conflicts: usize,
    /// Calls answered with an injected [`StoreError::Connection`].
    pub injected_failures: usize,
}

impl Default for TestStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for TestStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestStore")
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl TestStore {
    /// A scripted store over a fresh [`InMemoryStore`].
    pub fn new() -> Self {
        Self::wrapping(InMemoryStore::new())
    }

    /// A scripted store over `inner` (the PostgreSQL store, for instance).
    pub fn wrapping(inner: impl IntoEventStore) -> Self {
        Self {
            inner: inner.into_event_store(),
            script: Arc::default(),
            clock: Clock::current(),
        }
    }

    /// Uses `clock` for the rendezvous timeout.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The wrapped store, unscripted.
    pub fn inner(&self) -> Arc<dyn EventStore> {
        self.inner.clone()
    }

    /// Holds the next `parties` appends until all of them have arrived,
    /// then lets them proceed together: two commands that loaded the same
    /// version both decide before either appends, so one of them really
    /// loses the race. A held append that waits longer than `within` for
    /// the others fails with [`StoreError::Backend`] saying how many came.
    pub fn hold_appends(&self, parties: usize, within: Duration) {
        self.script().hold = (parties > 0).then(|| Hold {
            remaining: parties,
            parties,
            within,
            barrier: Arc::new(Barrier::new(parties)),
        });
    }

    /// Answers the next `count` appends with [`StoreError::Conflict`],
    /// carrying the stream's real version, without storing anything: the
    /// caller sees exactly what losing a race looks like.
    pub fn conflict_next_appends(&self, count: usize) {
        self.script().conflicts = count;
    }

    /// Fails the next `count` calls, of any method, with
    /// [`StoreError::Connection`] (a stream fails on its first item).
    pub fn fail_next_calls(&self, count: usize) {
        self.script().failures = count;
    }

    /// How often each scripted outcome happened.
    pub fn counts(&self) -> TestStoreCounts {
        let script = self.script();
        TestStoreCounts {
            appends: script.appends,
            stream_reads: script.stream_reads,
            injected_conflicts: script.injected_conflicts,
            injected_failures: script.injected_failures,
        }
    }

    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes one scripted failure, if any is left.
    fn failure(&self, call: &str) -> Option<StoreError> {
        let mut script = self.script();
        if script.failures == 0 {
            return None;
        }
        script.failures -= 1;
        script.injected_failures += 1;
        Some(StoreError::Connection(
            format!("injected by TestStore::fail_next_calls ({call})").into(),
        ))
    }

    fn failed_stream(error: StoreError) -> EventStream {
        futures::stream::once(async move { Err(error) }).boxed()
    }

    /// Waits at the rendezvous if this append is one of those held.
    async fn rendezvous(&self) -> Result<(), StoreError> {
        let held = {
            let mut script = self.script();
            match &mut script.hold {
                Some(hold) if hold.remaining > 0 => {
                    hold.remaining -= 1;
                    Some((hold.barrier.clone(), hold.parties, hold.within))
                }
                _ => None,
            }
        };
        let Some((barrier, parties, within)) = held else {
            return Ok(());
        };
        match self.clock.timeout(within, barrier.wait()).await {
            Ok(_) => Ok(()),
            Err(_) => Err(StoreError::Backend(
                format!(
                    "TestStore::hold_appends: {parties} appends were to meet, \
                     fewer arrived within {within:?}"
                )
                .into(),
            )),
        }
    }
}

#[async_trait]
impl EventStore for TestStore {
    async fn append(
        &self,
        stream_id: &str,
        aggregate_type: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        self.script().appends += 1;
        if let Some(error) = self.failure("append") {
            return Err(error);
        }
        self.rendezvous().await?;
        let conflict = {
            let mut script = self.script();
            let conflict = script.conflicts > 0;
            if conflict {
                script.conflicts -= 1;
                script.injected_conflicts += 1;
            }
            conflict
        };
        if conflict {
            let actual = self.inner.stream_version(stream_id).await?;
            return Err(StoreError::Conflict {
                stream_id: stream_id.into(),
                expected,
                actual,
            });
        }
        self.inner
            .append(stream_id, aggregate_type, expected, events)
            .await
    }

    fn read_stream(&self, stream_id: &str, from_version: u64) -> EventStream {
        self.script().stream_reads += 1;
        match self.failure("read_stream") {
            Some(error) => Self::failed_stream(error),
            None => self.inner.read_stream(stream_id, from_version),
        }
    }

    async fn visit_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        visit: &mut (dyn for<'e> FnMut(&'e [RecordedEvent]) -> bool + Send),
    ) -> Result<(), StoreError> {
        self.script().stream_reads += 1;
        if let Some(error) = self.failure("visit_stream") {
            return Err(error);
        }
        self.inner
            .visit_stream(stream_id, from_version, visit)
            .await
    }

    fn read_all(&self, from_position: u64, filter: EventFilter) -> EventStream {
        match self.failure("read_all") {
            Some(error) => Self::failed_stream(error),
            None => self.inner.read_all(from_position, filter),
        }
    }

    fn subscribe(&self, from_position: u64, filter: EventFilter) -> Subscription {
        match self.failure("subscribe") {
            Some(error) => futures::stream::once(async move { Err(error) }).boxed(),
            None => self.inner.subscribe(from_position, filter),
        }
    }

    // A source keeping state per consumer (JetStream) sees the runner's
    // names and commits through the wrapper; failures are scripted under
    // `subscribe` for both.
    fn subscribe_as(
        &self,
        consumer: &str,
        from_position: u64,
        filter: EventFilter,
    ) -> Subscription {
        match self.failure("subscribe") {
            Some(error) => futures::stream::once(async move { Err(error) }).boxed(),
            None => self.inner.subscribe_as(consumer, from_position, filter),
        }
    }

    fn committed(&self, consumer: &str, position: u64) {
        self.inner.committed(consumer, position);
    }

    async fn stream_version(&self, stream_id: &str) -> Result<Option<u64>, StoreError> {
        self.script().stream_reads += 1;
        if let Some(error) = self.failure("stream_version") {
            return Err(error);
        }
        self.inner.stream_version(stream_id).await
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        if let Some(error) = self.failure("head_position") {
            return Err(error);
        }
        self.inner.head_position().await
    }

    async fn count_events(
        &self,
        from_position: u64,
        filter: EventFilter,
    ) -> Result<u64, StoreError> {
        if let Some(error) = self.failure("count_events") {
            return Err(error);
        }
        self.inner.count_events(from_position, filter).await
    }

    async fn streams(&self, query: &StreamQuery) -> Result<Vec<StreamSummary>, StoreError> {
        if let Some(error) = self.failure("streams") {
            return Err(error);
        }
        self.inner.streams(query).await
    }

    async fn event_types(&self) -> Result<Vec<StoredEventType>, StoreError> {
        if let Some(error) = self.failure("event_types") {
            return Err(error);
        }
        self.inner.event_types().await
    }

    async fn archive_streams(
        &self,
        stream_ids: &[String],
    ) -> Result<Vec<ArchivedStream>, StoreError> {
        if let Some(error) = self.failure("archive_streams") {
            return Err(error);
        }
        self.inner.archive_streams(stream_ids).await
    }

    fn read_archived_stream(&self, stream_id: &str, from_version: u64) -> EventStream {
        match self.failure("read_archived_stream") {
            Some(error) => Self::failed_stream(error),
            None => self.inner.read_archived_stream(stream_id, from_version),
        }
    }

    fn read_archive(&self, from_position: u64, to_position: u64) -> EventStream {
        self.inner.read_archive(from_position, to_position)
    }

    async fn archive_status(&self) -> Result<ArchiveStatus, StoreError> {
        self.inner.archive_status().await
    }
}
