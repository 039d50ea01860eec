//! The aggregate state cache: commands skip the load, yet stay correct when
//! another writer moves the stream on.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use eventsource::memory::InMemoryStore;
use eventsource::prelude::*;
use eventsource::store::{AppendResult, EventStream, Subscription};
use eventsource::{CommandError, Error, RetryPolicy, StoreError};
use support::*;

/// Counts how often the repository reads a stream.
struct Counting {
    inner: InMemoryStore,
    reads: Arc<AtomicUsize>,
}

#[async_trait]
impl EventStore for Counting {
    async fn append(
        &self,
        stream_id: &str,
        aggregate_type: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        self.inner
            .append(stream_id, aggregate_type, expected, events)
            .await
    }
    fn read_stream(&self, stream_id: &str, from_version: u64) -> EventStream {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.read_stream(stream_id, from_version)
    }
    fn read_all(&self, from_position: u64, filter: EventFilter) -> EventStream {
        self.inner.read_all(from_position, filter)
    }
    fn subscribe(&self, from_position: u64, filter: EventFilter) -> Subscription {
        self.inner.subscribe(from_position, filter)
    }
    async fn stream_version(&self, stream_id: &str) -> Result<Option<u64>, StoreError> {
        self.inner.stream_version(stream_id).await
    }
    async fn head_position(&self) -> Result<u64, StoreError> {
        self.inner.head_position().await
    }
}

fn counting() -> (InMemoryStore, Arc<AtomicUsize>, Repository<Ledger>) {
    let inner = InMemoryStore::new();
    let reads = Arc::new(AtomicUsize::new(0));
    let repo = Repository::<Ledger>::new(Counting {
        inner: inner.clone(),
        reads: reads.clone(),
    })
    .unwrap()
    .with_cache(16);
    (inner, reads, repo)
}

async fn sneak_credit(store: &InMemoryStore, id: &str, amount: i64) {
    let event = NewEvent::from_event(&Credited { amount }, Metadata::new()).unwrap();
    store
        .append(
            &format!("test.Ledger-{id}"),
            "test.Ledger",
            ExpectedVersion::Any,
            vec![event],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn cached_commands_skip_the_load() {
    let (_, reads, repo) = counting();
    repo.execute(open("c")).await.unwrap();
    let first_reads = reads.load(Ordering::SeqCst);
    for amount in 1..=10 {
        let done = repo.execute(credit("c", amount)).await.unwrap();
        assert_eq!(done.attempts, 1);
    }
    assert_eq!(
        reads.load(Ordering::SeqCst),
        first_reads,
        "no stream was read"
    );
    assert_eq!(repo.cache().unwrap().len(), 1);
    let loaded = repo.load("c").await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.state.balance), (11, 55));
}

#[tokio::test]
async fn another_writer_is_caught_by_the_append_and_the_command_reruns() {
    let (store, _, repo) = counting();
    repo.execute(open("w")).await.unwrap();
    repo.execute(credit("w", 10)).await.unwrap();
    sneak_credit(&store, "w", 100).await;
    let done = repo.execute(credit("w", 1)).await.unwrap();
    assert_eq!(done.attempts, 2, "the cached version conflicted");
    assert_eq!((done.version, done.state.balance), (4, 111));
}

#[tokio::test]
async fn a_rejection_on_a_stale_state_is_decided_again() {
    let (store, _, repo) = counting();
    repo.execute(open("r")).await.unwrap();
    repo.execute(credit("r", 10)).await.unwrap();
    sneak_credit(&store, "r", 100).await;
    // On the cached state (balance 10) this debit would be refused.
    let done = repo.execute(debit("r", 50)).await.unwrap();
    assert_eq!(done.attempts, 2);
    assert_eq!(done.state.balance, 60);

    // A rejection on a current cached state stands, and keeps the cache.
    let err = repo.execute(debit("r", 1_000)).await.unwrap_err();
    assert_eq!(
        err.rejection(),
        Some(&LedgerError::Insufficient {
            balance: 60,
            wanted: 1_000
        })
    );
    assert_eq!(repo.cache().unwrap().len(), 1);
}

#[tokio::test]
async fn a_create_on_a_cached_aggregate_is_already_exists() {
    let (_, _, repo) = counting();
    repo.execute(open("x")).await.unwrap();
    let err = repo.execute(open("x")).await.unwrap_err();
    assert!(matches!(
        err,
        CommandError::Failed(Error::AlreadyExists { version: 1, .. })
    ));
    assert_eq!(repo.cache().unwrap().len(), 1, "the state went back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commands_through_a_caching_bus_all_land() {
    let store = InMemoryStore::new();
    let bus = CommandBus::new(store.clone())
        .unwrap()
        .with_cache::<Ledger>(8)
        .with_retry(RetryPolicy::attempts(100));
    bus.dispatch(open("hot")).await.unwrap();
    let tasks: Vec<_> = (1..=32)
        .map(|amount| {
            let bus = bus.clone();
            tokio::spawn(async move { bus.dispatch(credit("hot", amount)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let loaded = bus
        .repository::<Ledger>()
        .load("hot")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(loaded.version, 33);
    assert_eq!(loaded.state.balance, (1..=32).sum::<i64>());
    assert_eq!(bus.repository::<Ledger>().cache().unwrap().len(), 1);
}
