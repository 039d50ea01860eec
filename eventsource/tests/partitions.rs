//! Partitioned projections on the in-memory store: runners sharing one
//! backend divide the partitions fairly, rebalance when one joins or
//! leaves, and every event is applied once, in stream order.
//!
//! On Tokio's paused clock, as the lease tests: the in-memory backend
//! measures leases and heartbeats with it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use eventsource::memory::{InMemoryProjectionBackend, InMemoryStore};
use eventsource::ops::Operations;
use eventsource::prelude::*;
use eventsource::projection::{
    ControlCommand, ControlRequest, ControlStatus, ControlStore, InMemoryControlStore,
    PartitionStatus, ProjectionState, RunnerError, RunnerOptions,
};
use eventsource::store::partition_of;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "part.Noted")]
struct Noted {
    n: u64,
}

const NAME: &str = "part.notes";
const PARTITIONS: u32 = 4;

/// What each runner applied, shared as one read model would be: by
/// stream, the stream versions in the order they were applied.
#[derive(Clone, Default)]
struct Notes {
    applied: Arc<Mutex<BTreeMap<String, Vec<u64>>>>,
}

#[projection(name = "part.notes", partitions = 4)]
impl Notes {
    async fn on_noted(&mut self, _e: &Noted, meta: &RecordedEvent) {
        self.applied
            .lock()
            .unwrap()
            .entry(meta.stream_id.to_string())
            .or_default()
            .push(meta.stream_version);
    }
}

const TTL: Duration = Duration::from_millis(300);
const WAIT: Duration = Duration::from_secs(60);

fn runner(store: &InMemoryStore) -> ProjectionRunner {
    ProjectionRunner::new(store.clone()).unwrap().with_options(
        RunnerOptions::default()
            .with_batch_size(8)
            .with_lease_ttl(TTL)
            .with_standby_poll(Duration::from_millis(20)),
    )
}

/// Appends `per_stream` events to each of `streams` streams; returns the last position.
async fn write(store: &InMemoryStore, streams: u64, per_stream: u64) -> u64 {
    let mut last = 0;
    for round in 0..per_stream {
        for s in 0..streams {
            let event = NewEvent::from_event(&Noted { n: round }, Metadata::new()).unwrap();
            last = store
                .append(
                    &format!("note-{s}"),
                    "part.Note",
                    ExpectedVersion::Any,
                    vec![event],
                )
                .await
                .unwrap()
                .last_position;
        }
    }
    last
}

/// How many partitions each runner holds, once they hold `want` (by the
/// order given), polling for at most a minute of (paused) time.
async fn held(runners: &[&ProjectionRunner], want: &[usize]) -> Vec<Vec<PartitionStatus>> {
    let mut last = Vec::new();
    for _ in 0..3000 {
        last.clear();
        for runner in runners {
            last.push(runner.partitions(NAME).await.unwrap());
        }
        let counts: Vec<usize> = last
            .iter()
            .map(|parts| parts.iter().filter(|p| p.owner.is_some()).count())
            .collect();
        if counts == want {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the runners never held {want:?} partitions: {last:#?}");
}

/// Every stream's versions were applied once each, in order.
fn exactly_once(notes: &Notes, streams: u64, per_stream: u64) {
    let applied = notes.applied.lock().unwrap();
    assert_eq!(applied.len() as u64, streams);
    for (stream, versions) in applied.iter() {
        let want: Vec<u64> = (1..=per_stream).collect();
        assert_eq!(versions, &want, "stream {stream}");
    }
}

#[tokio::test(start_paused = true)]
async fn runners_share_partitions_and_rebalance() {
    let store = InMemoryStore::new();
    let backend = InMemoryProjectionBackend::new();
    let notes = Notes::default();

    let a = runner(&store);
    a.start(notes.clone(), backend.clone()).await.unwrap();
    let last = write(&store, 8, 5).await;
    a.wait_until(NAME, last, WAIT).await.unwrap();
    let parts = held(&[&a], &[4]).await;
    assert_eq!(parts[0].len(), PARTITIONS as usize);
    for (i, part) in parts[0].iter().enumerate() {
        assert_eq!((part.index, part.count), (i as u32, PARTITIONS));
        assert_eq!(part.slot, format!("{NAME}#p{i}/{PARTITIONS}"));
        assert_eq!(part.owner, Some(a.owner()));
    }

    // A second runner joins: each holds two.
    let b = runner(&store);
    b.start(notes.clone(), backend.clone()).await.unwrap();
    let parts = held(&[&a, &b], &[2, 2]).await;
    let mut owners: HashMap<u32, uuid::Uuid> = HashMap::new();
    for part in parts.iter().flatten() {
        if let Some(owner) = part.owner {
            assert!(
                owners.insert(part.index, owner).is_none(),
                "two owners of {}",
                part.index
            );
        }
    }
    assert_eq!(owners.len(), PARTITIONS as usize);

    let last = write(&store, 8, 5).await;
    b.wait_until(NAME, last, WAIT).await.unwrap();
    a.wait_until(NAME, last, WAIT).await.unwrap();
    // Each runner processed only the streams of its partitions.
    let status = b.status(NAME).await.unwrap();
    assert_eq!(status.lag, 0);
    assert!(status.processed < 80, "{status:?}");

    // The second leaves: the first takes every partition back.
    b.shutdown().await;
    held(&[&a], &[4]).await;
    let last = write(&store, 8, 5).await;
    a.wait_until(NAME, last, WAIT).await.unwrap();
    exactly_once(&notes, 8, 15);
    a.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_dead_runners_partitions_are_taken_over() {
    let store = InMemoryStore::new();
    let backend = InMemoryProjectionBackend::new();
    let notes = Notes::default();
    let a = runner(&store);
    let b = runner(&store);
    a.start(notes.clone(), backend.clone()).await.unwrap();
    b.start(notes.clone(), backend.clone()).await.unwrap();
    held(&[&a, &b], &[2, 2]).await;
    let last = write(&store, 8, 3).await;
    a.wait_until(NAME, last, WAIT).await.unwrap();

    // Killed: no lease released, no heartbeat ended.
    b.abort();
    let last = write(&store, 8, 3).await;
    held(&[&a], &[4]).await;
    a.wait_until(NAME, last, WAIT).await.unwrap();
    assert_eq!(a.status(NAME).await.unwrap().state, ProjectionState::Live);
    exactly_once(&notes, 8, 6);
    a.shutdown().await;
}

#[test]
fn every_stream_has_one_stable_partition() {
    // Fixed by MD5, whatever the process: see `eventsource::store::stream_bucket`.
    assert_eq!(eventsource::store::stream_bucket("order-1"), 639);
    assert_eq!(partition_of("order-1", 4), 3);
    assert_eq!(partition_of("order-1", 1), 0);
}

/// The same projection under another number of partitions, without a new
/// version (written out, so the registry keeps one projection of the name).
struct Renumbered;

#[async_trait]
impl Projection for Renumbered {
    const NAME: &'static str = NAME;
    const EVENTS: &'static [&'static str] = &["part.Noted"];
    const TRANSACTIONAL: bool = false;
    const RESETS: bool = false;
    const PARTITIONS: u32 = 8;
    type Context = ();

    async fn handle(&mut self, _: &RecordedEvent, _: &mut ()) -> Result<bool, ProjectionError> {
        Ok(true)
    }

    async fn reset(&mut self, _: &mut ()) -> Result<(), ProjectionError> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn another_number_of_partitions_needs_a_new_version() {
    let store = InMemoryStore::new();
    let backend = InMemoryProjectionBackend::new();
    let a = runner(&store);
    a.start(Notes::default(), backend.clone()).await.unwrap();
    let b = runner(&store);
    let refused = b.start(Renumbered, backend.clone()).await.unwrap_err();
    match &refused {
        RunnerError::PartitionsChanged {
            name,
            version,
            recorded,
            ours,
        } => {
            assert_eq!((name.as_str(), *version, *recorded, *ours), (NAME, 1, 4, 8));
        }
        other => panic!("expected PartitionsChanged, got {other:?}"),
    }
    assert!(
        refused.to_string().contains("version = 2, partitions = 8"),
        "{refused}"
    );
    // Without a `#[reset]` method, no rebuild in place.
    let rebuild = a.rebuild(NAME, |_| {}).await.unwrap_err();
    assert!(matches!(rebuild, RunnerError::NoReset(_)), "{rebuild:?}");
    a.shutdown().await;
}

/// Version 1, unpartitioned, and version 2 in three partitions, of one
/// projection (written out: two versions of one name).
#[derive(Clone, Default)]
struct Versioned<const V: u32, const N: u32> {
    applied: Arc<Mutex<Vec<u64>>>,
}

#[async_trait]
impl<const V: u32, const N: u32> Projection for Versioned<V, N> {
    const NAME: &'static str = "part.versioned";
    const EVENTS: &'static [&'static str] = &["part.Noted"];
    const TRANSACTIONAL: bool = false;
    const RESETS: bool = false;
    const VERSION: u32 = V;
    const PARTITIONS: u32 = N;
    type Context = ();

    async fn handle(
        &mut self,
        record: &RecordedEvent,
        _: &mut (),
    ) -> Result<bool, ProjectionError> {
        self.applied.lock().unwrap().push(record.global_position);
        Ok(true)
    }

    async fn reset(&mut self, _: &mut ()) -> Result<(), ProjectionError> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_new_partitioned_version_takes_over_once_every_partition_caught_up() {
    let store = InMemoryStore::new();
    let backend = InMemoryProjectionBackend::new();
    let old = runner(&store);
    old.start(Versioned::<1, 1>::default(), backend.clone())
        .await
        .unwrap();
    let last = write(&store, 6, 4).await;
    old.wait_until("part.versioned", last, WAIT).await.unwrap();

    let new = runner(&store);
    let v2 = Versioned::<2, 3>::default();
    new.start(v2.clone(), backend.clone()).await.unwrap();
    new.wait_until("part.versioned", last, WAIT).await.unwrap();
    let mut retired = false;
    for _ in 0..3000 {
        let status = old.status("part.versioned").await.unwrap();
        if status.state == ProjectionState::Retired {
            retired = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(retired, "the old version retires");
    let status = new.status("part.versioned").await.unwrap();
    assert_eq!(status.active_version, Some(2));
    let mut applied = v2.applied.lock().unwrap().clone();
    applied.sort_unstable();
    let before = applied.len();
    applied.dedup();
    assert_eq!((before, applied.len()), (24, 24), "every event once");
    let parts = new.partitions("part.versioned").await.unwrap();
    assert_eq!(parts.len(), 3);
    assert!(
        parts
            .iter()
            .all(|p| p.slot.starts_with("part.versioned@v2#p"))
    );
    new.shutdown().await;
    old.shutdown().await;
}

/// A partitioned projection with a reset: by stream, the versions applied,
/// and how many times the read model was reset.
#[derive(Clone, Default)]
struct Rebuilt {
    applied: Arc<Mutex<BTreeMap<String, Vec<u64>>>>,
    resets: Arc<Mutex<u32>>,
}

const REBUILT: &str = "part.rebuilt";

#[async_trait]
impl Projection for Rebuilt {
    const NAME: &'static str = REBUILT;
    const EVENTS: &'static [&'static str] = &["part.Noted"];
    const TRANSACTIONAL: bool = false;
    const RESETS: bool = true;
    const PARTITIONS: u32 = 4;
    type Context = ();

    async fn handle(
        &mut self,
        record: &RecordedEvent,
        _: &mut (),
    ) -> Result<bool, ProjectionError> {
        self.applied
            .lock()
            .unwrap()
            .entry(record.stream_id.to_string())
            .or_default()
            .push(record.stream_version);
        Ok(true)
    }

    async fn reset(&mut self, _: &mut ()) -> Result<(), ProjectionError> {
        self.applied.lock().unwrap().clear();
        *self.resets.lock().unwrap() += 1;
        Ok(())
    }
}

/// Waits until `runner` holds `want` partitions of [`REBUILT`].
async fn holds(runner: &ProjectionRunner, want: usize) {
    for _ in 0..3000 {
        let parts = runner.partitions(REBUILT).await.unwrap();
        if parts
            .iter()
            .filter(|p| p.owner == Some(runner.owner()))
            .count()
            == want
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the runner never held {want} partitions of {REBUILT}");
}

#[tokio::test(start_paused = true)]
async fn a_partitioned_projection_is_rebuilt_in_place_by_the_holder_of_every_partition() {
    let store = InMemoryStore::new();
    let backend = InMemoryProjectionBackend::new();
    let model = Rebuilt::default();
    let a = runner(&store);
    a.start(model.clone(), backend.clone()).await.unwrap();
    let last = write(&store, 8, 5).await;
    a.wait_until(REBUILT, last, WAIT).await.unwrap();
    holds(&a, 4).await;
    let before = model.applied.lock().unwrap().clone();
    assert_eq!(before.values().map(Vec::len).sum::<usize>(), 40);

    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = reports.clone();
    let done = a
        .rebuild(REBUILT, move |p| seen.lock().unwrap().push(p.done))
        .await
        .unwrap();
    assert_eq!((done.done, done.total), (40, 40), "{done:?}");
    assert_eq!(
        *model.resets.lock().unwrap(),
        1,
        "the read model is reset once"
    );
    let reports = reports.lock().unwrap().clone();
    assert_eq!(reports.last(), Some(&40), "{reports:?}");
    assert_eq!(*model.applied.lock().unwrap(), before);
    for part in a.partitions(REBUILT).await.unwrap() {
        assert_eq!(part.state, ProjectionState::Live, "{part:?}");
        assert_eq!(part.position, Some(last), "{part:?}");
        assert_eq!(part.lag, 0, "{part:?}");
    }

    // Events after the rebuild go on once each.
    let last = write(&store, 8, 2).await;
    a.wait_until(REBUILT, last, WAIT).await.unwrap();
    let applied = model.applied.lock().unwrap().clone();
    for (stream, versions) in &applied {
        assert_eq!(versions, &(1..=7).collect::<Vec<u64>>(), "stream {stream}");
    }

    // With another runner holding half the partitions, refused, and
    // nothing is reset.
    let b = runner(&store);
    b.start(model.clone(), backend.clone()).await.unwrap();
    holds(&a, 2).await;
    holds(&b, 2).await;
    let refused = a.rebuild(REBUILT, |_| {}).await.unwrap_err();
    match &refused {
        RunnerError::PartitionsNotHeld { name, held, count } => {
            assert_eq!((name.as_str(), *held, *count), (REBUILT, 2, 4));
        }
        other => panic!("expected PartitionsNotHeld, got {other:?}"),
    }
    assert!(
        refused.to_string().contains("holds 2 of its 4"),
        "{refused}"
    );
    assert_eq!(*model.resets.lock().unwrap(), 1);
    assert_eq!(*model.applied.lock().unwrap(), applied);

    // Once the other left, the rebuild goes through again.
    b.shutdown().await;
    holds(&a, 4).await;
    let done = a.rebuild(REBUILT, |_| {}).await.unwrap();
    assert_eq!(done.done, 56, "{done:?}");
    assert_eq!(*model.resets.lock().unwrap(), 2);
    assert_eq!(*model.applied.lock().unwrap(), applied);
    a.shutdown().await;
}

/// Polls request `id` until it is final, for at most a minute of (paused) time.
async fn outcome(control: &dyn ControlStore, id: uuid::Uuid) -> ControlRequest {
    for _ in 0..3000 {
        let request = control.get(id).await.unwrap().unwrap();
        if request.status.is_final() {
            return request;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("request {id} never ended");
}

#[tokio::test(start_paused = true)]
async fn a_pause_for_the_version_reaches_every_partition_whoever_holds_it() {
    let store = InMemoryStore::new();
    let backend = InMemoryProjectionBackend::new();
    let control: Arc<dyn ControlStore> = Arc::new(InMemoryControlStore::new());
    let notes = Notes::default();
    let a = runner(&store).with_shared_control(control.clone());
    let b = runner(&store).with_shared_control(control.clone());
    a.start(notes.clone(), backend.clone()).await.unwrap();
    b.start(notes.clone(), backend.clone()).await.unwrap();
    held(&[&a, &b], &[2, 2]).await;
    let last = write(&store, 8, 2).await;
    a.wait_until(NAME, last, WAIT).await.unwrap();
    b.wait_until(NAME, last, WAIT).await.unwrap();

    // Recorded for the version, as `admin pause part.notes` does.
    let pause = control
        .request(NAME, ControlCommand::Pause, Some("ops"))
        .await
        .unwrap();
    let done = outcome(&*control, pause.id).await;
    assert_eq!(done.status, ControlStatus::Done, "{done:?}");
    for i in 0..PARTITIONS {
        assert!(
            done.outcome
                .as_deref()
                .unwrap()
                .contains(&format!("partition {i}: paused")),
            "{done:?}"
        );
        assert!(
            control
                .paused(&format!("{NAME}#p{i}/{PARTITIONS}"))
                .await
                .unwrap()
        );
    }
    for runner in [&a, &b] {
        let parts = runner.partitions(NAME).await.unwrap();
        for part in parts.iter().filter(|p| p.owner == Some(runner.owner())) {
            assert_eq!(part.state, ProjectionState::Paused, "{part:?}");
        }
    }

    // Nothing is handled while paused, on either runner.
    let before = notes
        .applied
        .lock()
        .unwrap()
        .values()
        .map(Vec::len)
        .sum::<usize>();
    let last = write(&store, 8, 2).await;
    tokio::time::sleep(TTL * 5).await;
    let during = notes
        .applied
        .lock()
        .unwrap()
        .values()
        .map(Vec::len)
        .sum::<usize>();
    assert_eq!(before, during, "events were handled while paused");

    let resume = control
        .request(NAME, ControlCommand::Resume, Some("ops"))
        .await
        .unwrap();
    assert_eq!(
        outcome(&*control, resume.id).await.status,
        ControlStatus::Done
    );
    a.wait_until(NAME, last, WAIT).await.unwrap();
    b.wait_until(NAME, last, WAIT).await.unwrap();
    exactly_once(&notes, 8, 4);

    // A retry of a position no partition parked names the problem.
    let retry = control
        .request(
            NAME,
            ControlCommand::Retry {
                position: Some(last + 100),
            },
            None,
        )
        .await
        .unwrap();
    let failed = outcome(&*control, retry.id).await;
    assert_eq!(failed.status, ControlStatus::Failed);
    assert!(
        failed.outcome.as_deref().unwrap().contains(&format!(
            "no partition of `{NAME}` has an event parked at position {}",
            last + 100
        )),
        "{failed:?}"
    );
    a.shutdown().await;
    b.shutdown().await;
}

/// A partitioned projection that fails on `n == 13` while `poison` is set.
#[derive(Clone, Default)]
struct Picky {
    applied: Arc<Mutex<Vec<u64>>>,
    poison: Arc<std::sync::atomic::AtomicBool>,
}

#[projection(name = "part.picky", partitions = 4)]
impl Picky {
    async fn on_noted(&mut self, e: &Noted, meta: &RecordedEvent) -> Result<(), ProjectionError> {
        if e.n == 13 && self.poison.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ProjectionError::handler("unlucky number"));
        }
        self.applied.lock().unwrap().push(meta.global_position);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_partitions_parked_events_are_listed_and_retried_through_the_version() {
    let store = InMemoryStore::new();
    let backend = InMemoryProjectionBackend::new();
    let picky = Picky::default();
    picky
        .poison
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let runner = ProjectionRunner::new(store.clone()).unwrap().with_options(
        RunnerOptions::default()
            .with_batch_size(8)
            .with_lease_ttl(TTL)
            .with_standby_poll(Duration::from_millis(20))
            .with_max_retries(1)
            .with_retry_backoff(Duration::from_millis(1), Duration::from_millis(2)),
    );
    runner.start(picky.clone(), backend.clone()).await.unwrap();
    let mut poison = 0;
    let mut last = 0;
    for n in [1, 13, 2] {
        let event = NewEvent::from_event(&Noted { n }, Metadata::new()).unwrap();
        last = store
            .append("picky-1", "part.Note", ExpectedVersion::Any, vec![event])
            .await
            .unwrap()
            .last_position;
        if n == 13 {
            poison = last;
        }
    }
    runner.wait_until("part.picky", last, WAIT).await.unwrap();

    let ops = Operations::new(store.clone())
        .with_runner(&runner)
        .with_catalog(backend.clone());
    let letters = ops.dead_letters(Some("part.picky")).await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    let partition = partition_of("picky-1", 4);
    assert_eq!(letters[0].parked.global_position, poison);
    assert_eq!(
        letters[0].parked.projection,
        format!("part.picky#p{partition}/4")
    );

    // Fixed, then retried through the version's name: the partition that
    // parked it runs it again.
    picky
        .poison
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let retry = ops
        .retry("part.picky", Some(poison), Some("ops"))
        .await
        .unwrap();
    let done = outcome(&**runner.control(), retry.id).await;
    assert_eq!(done.status, ControlStatus::Done, "{done:?}");
    assert!(
        done.outcome
            .as_deref()
            .unwrap()
            .starts_with(&format!("partition {partition}: 1 parked event(s) handled")),
        "{done:?}"
    );
    assert!(picky.applied.lock().unwrap().contains(&poison));
    assert!(
        ops.dead_letters(Some("part.picky"))
            .await
            .unwrap()
            .is_empty()
    );
    runner.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn runners_started_together_claim_their_share_from_the_first() {
    let store = InMemoryStore::new();
    let backend = InMemoryProjectionBackend::new();
    let notes = Notes::default();
    let last = write(&store, 8, 2).await;
    let a = runner(&store);
    let b = runner(&store);
    a.start(notes.clone(), backend.clone()).await.unwrap();
    b.start(notes.clone(), backend.clone()).await.unwrap();
    // The first to start waits one heartbeat for its peers instead of
    // taking every partition and handing two back.
    let mut most = 0;
    for _ in 0..200 {
        let held = a
            .partitions(NAME)
            .await
            .unwrap()
            .iter()
            .filter(|p| p.owner.is_some())
            .count();
        most = most.max(held);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(most, 2, "the first runner held more than its share");
    held(&[&a, &b], &[2, 2]).await;
    a.wait_until(NAME, last, WAIT).await.unwrap();
    b.wait_until(NAME, last, WAIT).await.unwrap();
    exactly_once(&notes, 8, 2);
    a.shutdown().await;
    b.shutdown().await;
}
