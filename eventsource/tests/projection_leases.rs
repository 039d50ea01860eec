//! Leases on the in-memory store: the owner keeps its lease through long
//! work, a standby takes over a lease its owner left behind when it died,
//! and a commit by an owner that lost its lease is refused.
//!
//! Most tests run on Tokio's paused clock (the in-memory backend measures
//! leases with it), so "longer than the TTL" is exact, not a race.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use eventsource::StoreError;
use eventsource::memory::{InMemoryProjectionBackend, InMemoryStore};
use eventsource::prelude::*;
use eventsource::projection::{
    CommitError, ProjectionBackend, ProjectionState, ProjectionTx, RunnerOptions,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "lease.Ticked")]
struct Ticked {}

const NAME: &str = "lease.tally";

/// The positions it applied, shared by every instance given a clone (one
/// read model, as several processes writing one database would share it).
#[derive(Clone, Default)]
struct Tally {
    applied: Arc<Mutex<Vec<u64>>>,
    /// How long each event takes to handle, in milliseconds.
    slowness_ms: Arc<AtomicU64>,
    /// How many more runs fail before one succeeds.
    failures_left: Arc<AtomicU32>,
}

#[projection(name = "lease.tally")]
impl Tally {
    async fn on_ticked(
        &mut self,
        _e: &Ticked,
        meta: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        let slowness = self.slowness_ms.load(Ordering::SeqCst);
        if slowness > 0 {
            tokio::time::sleep(Duration::from_millis(slowness)).await;
        }
        let failing = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(ProjectionError::handler("not yet"));
        }
        self.applied.lock().unwrap().push(meta.global_position);
        Ok(())
    }

    #[reset]
    fn clear(&mut self) {
        self.applied.lock().unwrap().clear();
    }
}

impl Tally {
    fn applied(&self) -> Vec<u64> {
        self.applied.lock().unwrap().clone()
    }
}

const TTL: Duration = Duration::from_millis(300);
const WAIT: Duration = Duration::from_secs(30);

fn options() -> RunnerOptions {
    RunnerOptions::default()
        .with_batch_size(4)
        .with_max_retries(5)
        .with_lease_ttl(TTL)
        .with_standby_poll(Duration::from_millis(20))
        .with_reconnect_delay(Duration::from_millis(10))
        .with_retry_backoff(Duration::from_millis(100), Duration::from_millis(200))
}

fn runner(store: &InMemoryStore) -> ProjectionRunner {
    ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options())
}

async fn tick(store: &InMemoryStore) -> u64 {
    store
        .append(
            "clock",
            "lease.Clock",
            ExpectedVersion::Any,
            vec![NewEvent::from_event(&Ticked {}, Metadata::new()).unwrap()],
        )
        .await
        .unwrap()
        .last_position
}

async fn ticks(store: &InMemoryStore, n: usize) -> u64 {
    let mut last = 0;
    for _ in 0..n {
        last = tick(store).await;
    }
    last
}

/// Polls until `runner` reports `state` for the projection.
async fn reaches(runner: &ProjectionRunner, state: ProjectionState) {
    for _ in 0..1000 {
        if runner.status(NAME).await.unwrap().state == state {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the projection never reached {state:?}");
}

/// An owner, live on the first events, and a standby sharing its backend
/// and read model.
async fn owner_and_standby(
    store: &InMemoryStore,
    tally: &Tally,
) -> (ProjectionRunner, ProjectionRunner) {
    let backend = InMemoryProjectionBackend::new();
    let owner = runner(store);
    owner.start(tally.clone(), backend.clone()).await.unwrap();
    let first = ticks(store, 3).await;
    owner.wait_until(NAME, first, WAIT).await.unwrap();
    let standby = runner(store);
    standby.start(tally.clone(), backend).await.unwrap();
    reaches(&standby, ProjectionState::Standby).await;
    (owner, standby)
}

/// The standby never took over: it handled nothing and still stands by.
async fn stood_by(standby: &ProjectionRunner) {
    let status = standby.status(NAME).await.unwrap();
    assert_eq!(status.state, ProjectionState::Standby);
    assert_eq!(status.processed, 0, "the standby handled no event");
}

#[tokio::test(start_paused = true)]
async fn the_owner_keeps_its_lease_through_retry_backoff_longer_than_the_ttl() {
    let store = InMemoryStore::new();
    let tally = Tally::default();
    let (owner, standby) = owner_and_standby(&store, &tally).await;

    // Five failures: backoff of 100 + 200 * 4 ms, three TTLs, before the
    // last retry succeeds.
    tally.failures_left.store(5, Ordering::SeqCst);
    let flaky = tick(&store).await;
    owner.wait_until(NAME, flaky, WAIT).await.unwrap();

    assert_eq!(tally.applied(), [1, 2, 3, flaky], "each event applied once");
    // The position is published a moment before the state turns `Live`.
    reaches(&owner, ProjectionState::Live).await;
    let status = owner.status(NAME).await.unwrap();
    assert_eq!(status.parked, 0);
    assert_eq!(status.processed, 4);
    stood_by(&standby).await;
    owner.shutdown().await;
    standby.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_owner_keeps_its_lease_through_a_rebuild_longer_than_the_ttl() {
    let store = InMemoryStore::new();
    let tally = Tally::default();
    let (owner, standby) = owner_and_standby(&store, &tally).await;
    let head = ticks(&store, 7).await;
    owner.wait_until(NAME, head, WAIT).await.unwrap();

    // Ten events at 100 ms each: a rebuild of three TTLs.
    tally.slowness_ms.store(100, Ordering::SeqCst);
    let done = owner.rebuild(NAME, |_| {}).await.unwrap();
    assert_eq!((done.done, done.total), (10, 10));

    assert_eq!(tally.applied(), (1..=head).collect::<Vec<_>>());
    assert_eq!(owner.status(NAME).await.unwrap().position, Some(head));
    stood_by(&standby).await;
    owner.shutdown().await;
    standby.shutdown().await;
}

/// A backend that records whether its user released the lease.
#[derive(Clone)]
struct Watched {
    inner: InMemoryProjectionBackend,
    released: Arc<AtomicBool>,
}

#[async_trait]
impl ProjectionBackend<()> for Watched {
    async fn begin(
        &self,
        time_limit: std::time::Duration,
    ) -> Result<Box<dyn ProjectionTx<()>>, StoreError> {
        self.inner.begin(time_limit).await
    }
    async fn checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        self.inner.checkpoint(name).await
    }
    async fn acquire(&self, name: &str, owner: Uuid, ttl: Duration) -> Result<bool, StoreError> {
        self.inner.acquire(name, owner, ttl).await
    }
    async fn release(&self, name: &str, owner: Uuid) -> Result<(), StoreError> {
        self.released.store(true, Ordering::SeqCst);
        self.inner.release(name, owner).await
    }

    async fn register(
        &self,
        name: &str,
        version: u32,
        events: &[String],
    ) -> Result<eventsource::projection::Registered, StoreError> {
        ProjectionBackend::<()>::register(&self.inner, name, version, events).await
    }

    async fn forget(&self, name: &str, version: u32) -> Result<(), StoreError> {
        ProjectionBackend::<()>::forget(&self.inner, name, version).await
    }

    async fn active_version(&self, name: &str) -> Result<Option<u32>, StoreError> {
        ProjectionBackend::<()>::active_version(&self.inner, name).await
    }

    async fn activate(&self, name: &str, version: u32) -> Result<u32, StoreError> {
        ProjectionBackend::<()>::activate(&self.inner, name, version).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_standby_takes_over_the_lease_of_an_owner_that_died_and_loses_nothing() {
    let store = InMemoryStore::new();
    let tally = Tally::default();
    let backend = InMemoryProjectionBackend::new();
    let released = Arc::new(AtomicBool::new(false));

    // The owner runs in a runtime of its own, so that it can die the way a
    // killed process does: its tasks vanish at whatever await they were at,
    // without releasing the lease.
    let doomed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let owner = runner(&store);
    {
        let _inside = doomed.enter();
        let watched = Watched {
            inner: backend.clone(),
            released: released.clone(),
        };
        owner.start(tally.clone(), watched).await.unwrap();
    }
    let before = ticks(&store, 10).await;
    owner.wait_until(NAME, before, WAIT).await.unwrap();
    let standby = runner(&store);
    standby.start(tally.clone(), backend.clone()).await.unwrap();
    reaches(&standby, ProjectionState::Standby).await;

    // Waits until its thread has dropped every task: a worker still in the
    // middle of a poll could otherwise handle some of the events below
    // before it stops, which a killed process cannot.
    tokio::task::spawn_blocking(move || doomed.shutdown_timeout(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(
        !released.load(Ordering::SeqCst),
        "the owner died without releasing its lease"
    );
    let after = ticks(&store, 10).await;
    standby.wait_until(NAME, after, WAIT).await.unwrap();

    assert_eq!(
        tally.applied(),
        (1..=after).collect::<Vec<_>>(),
        "every event applied once, in order"
    );
    reaches(&standby, ProjectionState::Live).await;
    assert_eq!(standby.status(NAME).await.unwrap().processed, 10);
    standby.shutdown().await;
    drop(owner);
}

#[tokio::test(start_paused = true)]
async fn a_commit_by_an_owner_whose_lease_was_taken_over_is_refused() {
    let backend = InMemoryProjectionBackend::new();
    let (stale, current) = (Uuid::now_v7(), Uuid::now_v7());
    assert!(backend.acquire(NAME, stale, TTL).await.unwrap());
    let tx = ProjectionBackend::<()>::begin(&backend, TTL).await.unwrap();

    // The owner is paused past its TTL; another instance takes over.
    assert!(!backend.acquire(NAME, current, TTL).await.unwrap());
    tokio::time::sleep(TTL * 2).await;
    assert!(backend.acquire(NAME, current, TTL).await.unwrap());

    match tx.commit(NAME, stale, Some(7)).await {
        Err(CommitError::LeaseLost) => {}
        other => panic!("expected the stale commit to be refused, got {other:?}"),
    }
    assert_eq!(
        ProjectionBackend::<()>::checkpoint(&backend, NAME)
            .await
            .unwrap(),
        None
    );
    // Renewing does not give the lease back to the stale owner either.
    assert!(!backend.acquire(NAME, stale, TTL).await.unwrap());

    let tx = ProjectionBackend::<()>::begin(&backend, TTL).await.unwrap();
    tx.commit(NAME, current, Some(7)).await.unwrap();
    assert_eq!(
        ProjectionBackend::<()>::checkpoint(&backend, NAME)
            .await
            .unwrap(),
        Some(7)
    );
}

/// What a renewal answers, and who may commit, around a release and a
/// takeover. The PostgreSQL backend answers the same (its
/// `tests/projections.rs`).
#[tokio::test(start_paused = true)]
async fn a_renewal_or_commit_after_a_release_or_takeover_is_refused() {
    let backend = InMemoryProjectionBackend::new();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let ttl = Duration::from_secs(1);
    assert!(backend.acquire(NAME, a, ttl).await.unwrap());
    assert!(
        backend.renew(NAME, a, ttl).await.unwrap(),
        "the holder renews"
    );
    assert!(
        !backend.renew(NAME, b, ttl).await.unwrap(),
        "another cannot"
    );

    backend.release(NAME, a).await.unwrap();
    assert!(
        !backend.renew(NAME, a, ttl).await.unwrap(),
        "a released lease is not renewed, free as it is"
    );
    let tx = backend.begin(ttl).await.unwrap();
    assert!(
        matches!(
            tx.commit(NAME, a, Some(1)).await,
            Err(CommitError::LeaseLost)
        ),
        "nor committed on"
    );

    assert!(backend.acquire(NAME, a, ttl).await.unwrap());
    tokio::time::sleep(ttl * 2).await;
    assert!(
        backend.renew(NAME, a, ttl).await.unwrap(),
        "lapsed but taken by no one: still the holder's"
    );
    tokio::time::sleep(ttl * 2).await;
    assert!(backend.acquire(NAME, b, ttl).await.unwrap());
    backend.release(NAME, b).await.unwrap();
    assert!(
        !backend.renew(NAME, a, ttl).await.unwrap(),
        "taken over and released meanwhile: not renewed"
    );
    assert_eq!(backend.checkpoint(NAME).await.unwrap(), None);
}
