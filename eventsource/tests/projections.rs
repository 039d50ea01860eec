//! The projection runner on the in-memory store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use eventsource::StoreError;
use eventsource::memory::{InMemoryDeadLetterStore, InMemoryProjectionBackend, InMemoryStore};
use eventsource::prelude::*;
use eventsource::projection::{
    InvalidOptions, ProjectionBackend, ProjectionState, ProjectionTx, RunnerError, RunnerOptions,
};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore};
use uuid::Uuid;

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "proj.Deposited")]
struct Deposited {
    account: String,
    amount: i64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "proj.Renamed", aliases = ["proj.Relabelled"])]
struct Renamed {
    account: String,
    label: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "proj.Ignored")]
struct Ignored {}

/// Balances per account, shared with the test; `applied` lists every
/// (position, account) applied, to catch double application.
#[derive(Clone, Default)]
struct Balances {
    balances: Arc<Mutex<BTreeMap<String, i64>>>,
    labels: Arc<Mutex<BTreeMap<String, String>>>,
    applied: Arc<Mutex<Vec<u64>>>,
    /// While set, deposits of 13 fail (a bug, fixed by clearing the flag).
    poison: Arc<AtomicBool>,
}

#[projection(name = "proj.balances")]
impl Balances {
    async fn on_deposited(
        &mut self,
        e: &Deposited,
        meta: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        if e.amount == 13 && self.poison.load(Ordering::SeqCst) {
            return Err(ProjectionError::handler("unlucky amount"));
        }
        if e.amount == 666 {
            panic!("the handler panicked on purpose");
        }
        *self
            .balances
            .lock()
            .unwrap()
            .entry(e.account.clone())
            .or_default() += e.amount;
        self.applied.lock().unwrap().push(meta.global_position);
        Ok(())
    }

    fn on_renamed(&mut self, e: &Renamed) {
        self.labels
            .lock()
            .unwrap()
            .insert(e.account.clone(), e.label.clone());
    }

    #[reset]
    fn clear(&mut self) {
        self.balances.lock().unwrap().clear();
        self.labels.lock().unwrap().clear();
        self.applied.lock().unwrap().clear();
    }
}

/// A second projection in the same runner.
#[derive(Clone, Default)]
struct Count {
    seen: Arc<Mutex<u64>>,
}

#[projection(name = "proj.count")]
impl Count {
    async fn on_deposited(&mut self, _e: &Deposited) {
        *self.seen.lock().unwrap() += 1;
    }
}

fn options() -> RunnerOptions {
    RunnerOptions::default()
        .with_batch_size(4)
        .with_max_retries(2)
        .with_lease_ttl(Duration::from_millis(300))
        .with_standby_poll(Duration::from_millis(20))
        .with_reconnect_delay(Duration::from_millis(10))
        .with_retry_backoff(Duration::from_millis(1), Duration::from_millis(5))
}

async fn deposit(store: &InMemoryStore, account: &str, amount: i64) -> u64 {
    append(
        store,
        account,
        &Deposited {
            account: account.into(),
            amount,
        },
    )
    .await
}

async fn append<E: Event>(store: &InMemoryStore, account: &str, event: &E) -> u64 {
    store
        .append(
            &format!("acct-{account}"),
            "proj.Account",
            ExpectedVersion::Any,
            vec![NewEvent::from_event(event, Metadata::new()).unwrap()],
        )
        .await
        .unwrap()
        .last_position
}

const WAIT: Duration = Duration::from_secs(5);

/// Polls until projection `name` reports `state` (a projection reaches the
/// head's position just before it reports being live).
async fn reaches(runner: &ProjectionRunner, name: &str, state: ProjectionState) {
    for _ in 0..1000 {
        if runner.status(name).await.unwrap().state == state {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("projection {name} never reached {state:?}");
}

#[tokio::test]
async fn catches_up_then_follows_live_for_several_projections() {
    let store = InMemoryStore::new();
    for amount in [1, 2, 3, 4, 5, 6] {
        deposit(&store, "a", amount).await;
    }
    append(&store, "a", &Ignored {}).await;
    let old_name = NewEvent::new(
        "proj.Relabelled",
        1,
        r#"{"account":"a","label":"old"}"#,
        Metadata::new(),
    );
    store
        .append(
            "acct-a",
            "proj.Account",
            ExpectedVersion::Any,
            vec![old_name],
        )
        .await
        .unwrap();

    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options());
    let balances = Balances::default();
    let count = Count::default();
    runner
        .start(balances.clone(), InMemoryProjectionBackend::new())
        .await
        .unwrap();
    runner
        .start(count.clone(), InMemoryProjectionBackend::new())
        .await
        .unwrap();
    assert!(matches!(
        runner
            .start(Count::default(), InMemoryProjectionBackend::new())
            .await,
        Err(RunnerError::AlreadyRunning(_))
    ));
    assert_eq!(runner.names(), ["proj.balances", "proj.count"]);

    let head = store.head_position().await.unwrap();
    runner
        .wait_until("proj.balances", head, WAIT)
        .await
        .unwrap();
    assert_eq!(balances.balances.lock().unwrap()["a"], 21);
    assert_eq!(balances.labels.lock().unwrap()["a"], "old", "alias decoded");

    let live = deposit(&store, "b", 10).await;
    runner
        .wait_until("proj.balances", live, WAIT)
        .await
        .unwrap();
    runner.wait_until("proj.count", live, WAIT).await.unwrap();
    assert_eq!(balances.balances.lock().unwrap()["b"], 10);
    assert_eq!(*count.seen.lock().unwrap(), 7);

    // The position is published a moment before the state turns `Live`.
    reaches(&runner, "proj.balances", ProjectionState::Live).await;
    let status = runner.status("proj.balances").await.unwrap();
    assert_eq!(status.position, Some(live));
    assert_eq!(status.head, live);
    assert_eq!(status.lag, 0);
    assert_eq!(status.parked, 0);
    assert_eq!(status.processed, 8);
    runner.shutdown().await;
}

#[tokio::test]
async fn waiting_for_a_position_times_out_with_a_typed_error() {
    let store = InMemoryStore::new();
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options());
    runner
        .start(Count::default(), InMemoryProjectionBackend::new())
        .await
        .unwrap();
    match runner
        .wait_until("proj.count", 99, Duration::from_millis(50))
        .await
    {
        Err(RunnerError::Timeout { position: 99, .. }) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(matches!(
        runner.wait_until("nope", 1, WAIT).await,
        Err(RunnerError::UnknownProjection(_))
    ));
    runner.shutdown().await;
}

#[tokio::test]
async fn a_poison_event_is_parked_after_retries_and_can_be_retried_after_a_fix() {
    let store = InMemoryStore::new();
    let balances = Balances::default();
    balances.poison.store(true, Ordering::SeqCst);
    deposit(&store, "p", 1).await;
    let poison = deposit(&store, "p", 13).await;
    deposit(&store, "p", 2).await;
    let bad_payload = NewEvent::new("proj.Deposited", 1, r#"{"account":"p"}"#, Metadata::new());
    let undecodable = store
        .append(
            "acct-p",
            "proj.Account",
            ExpectedVersion::Any,
            vec![bad_payload],
        )
        .await
        .unwrap()
        .last_position;
    let panics = deposit(&store, "p", 666).await;
    let last = deposit(&store, "p", 4).await;

    let dead_letters = InMemoryDeadLetterStore::new();
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options())
        .with_dead_letters(dead_letters.clone());
    runner
        .start(balances.clone(), InMemoryProjectionBackend::new())
        .await
        .unwrap();
    runner
        .wait_until("proj.balances", last, WAIT)
        .await
        .unwrap();

    assert_eq!(
        balances.balances.lock().unwrap()["p"],
        7,
        "later events still projected"
    );
    let parked = runner.parked("proj.balances").await.unwrap();
    let positions: Vec<u64> = parked.iter().map(|p| p.global_position).collect();
    assert_eq!(positions, [poison, undecodable, panics]);
    assert_eq!(parked[0].attempts, 3, "first try and two retries");
    assert_eq!(parked[0].error, "unlucky amount");
    assert_eq!(parked[0].event_name, "proj.Deposited");
    assert_eq!(
        parked[1].attempts, 1,
        "a record that does not decode is not retried"
    );
    assert!(
        parked[1].error.contains("cannot decode"),
        "{}",
        parked[1].error
    );
    assert!(
        parked[2].error.contains("panicked on purpose"),
        "{}",
        parked[2].error
    );
    assert_eq!(runner.status("proj.balances").await.unwrap().parked, 3);

    // Still broken: the retry fails and the event stays parked.
    assert!(matches!(
        runner.retry_parked("proj.balances", poison).await,
        Err(RunnerError::Handler { .. })
    ));
    balances.poison.store(false, Ordering::SeqCst);
    runner.retry_parked("proj.balances", poison).await.unwrap();
    assert_eq!(balances.balances.lock().unwrap()["p"], 20);
    assert_eq!(runner.parked("proj.balances").await.unwrap().len(), 2);
    assert!(matches!(
        runner.retry_parked("proj.balances", poison).await,
        Err(RunnerError::NotParked { .. })
    ));
    runner.shutdown().await;
}

#[tokio::test]
async fn a_rebuild_reproduces_the_live_read_model() {
    let store = InMemoryStore::new();
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options());
    let balances = Balances::default();
    runner
        .start(balances.clone(), InMemoryProjectionBackend::new())
        .await
        .unwrap();
    let mut last = 0;
    for i in 0..50 {
        last = deposit(&store, &format!("r{}", i % 7), i).await;
        if i % 10 == 0 {
            append(
                &store,
                "r1",
                &Renamed {
                    account: "r1".into(),
                    label: format!("l{i}"),
                },
            )
            .await;
        }
    }
    runner
        .wait_until("proj.balances", last, WAIT)
        .await
        .unwrap();
    let live_balances = balances.balances.lock().unwrap().clone();
    let live_labels = balances.labels.lock().unwrap().clone();

    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = reports.clone();
    let done = runner
        .rebuild("proj.balances", move |p| seen.lock().unwrap().push(*p))
        .await
        .unwrap();
    assert_eq!(done.total, 55);
    assert_eq!(done.done, 55);
    assert!(done.rate > 0.0);
    // A rebuild returns once the projection is live again.
    let status = runner.status("proj.balances").await.unwrap();
    assert_eq!(status.state, ProjectionState::Live);
    let reports = reports.lock().unwrap().clone();
    assert!(reports.len() >= 2, "progress reported per batch");
    assert!(reports.windows(2).all(|w| w[0].done < w[1].done));

    assert_eq!(*balances.balances.lock().unwrap(), live_balances);
    assert_eq!(*balances.labels.lock().unwrap(), live_labels);
    let applied = balances.applied.lock().unwrap().clone();
    assert_eq!(
        applied.len(),
        50,
        "each deposit applied once after the reset"
    );

    // Live again after the rebuild.
    let after = deposit(&store, "r0", 1).await;
    runner
        .wait_until("proj.balances", after, WAIT)
        .await
        .unwrap();
    assert_eq!(balances.applied.lock().unwrap().len(), 51);
    runner.shutdown().await;
}

#[tokio::test]
async fn two_runners_share_a_projection_through_its_lease() {
    let store = InMemoryStore::new();
    let backend = InMemoryProjectionBackend::new();
    let balances = Balances::default();
    let first = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options());
    let second = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options());
    first
        .start(balances.clone(), backend.clone())
        .await
        .unwrap();
    let one = deposit(&store, "l", 1).await;
    first.wait_until("proj.balances", one, WAIT).await.unwrap();
    // Same read model, same backend: the second instance must stand by.
    second
        .start(balances.clone(), backend.clone())
        .await
        .unwrap();
    for amount in 2..=20 {
        deposit(&store, "l", amount).await;
    }
    let head = store.head_position().await.unwrap();
    first.wait_until("proj.balances", head, WAIT).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        second.status("proj.balances").await.unwrap().state,
        ProjectionState::Standby
    );

    // The first instance stops; the second takes over from the checkpoint.
    first.shutdown().await;
    let more = deposit(&store, "l", 100).await;
    second
        .wait_until("proj.balances", more, WAIT)
        .await
        .unwrap();
    let applied = balances.applied.lock().unwrap().clone();
    let mut unique = applied.clone();
    unique.dedup();
    assert_eq!(applied, unique, "no event applied twice");
    assert_eq!(applied.len(), 21);
    assert_eq!(balances.balances.lock().unwrap()["l"], 310);
    second.shutdown().await;
}

#[tokio::test]
async fn a_projection_without_reset_refuses_to_rebuild_and_keeps_its_read_model() {
    const { assert!(<Balances as Projection>::RESETS) };
    const { assert!(!<Count as Projection>::RESETS) };
    let store = InMemoryStore::new();
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options());
    let count = Count::default();
    runner
        .start(count.clone(), InMemoryProjectionBackend::new())
        .await
        .unwrap();
    let mut last = 0;
    for amount in 1..=5 {
        last = deposit(&store, "n", amount).await;
    }
    runner.wait_until("proj.count", last, WAIT).await.unwrap();

    let progress = Arc::new(Mutex::new(0));
    let reported = progress.clone();
    let refused = runner
        .rebuild("proj.count", move |_| *reported.lock().unwrap() += 1)
        .await;
    match &refused {
        Err(RunnerError::NoReset(name)) => assert_eq!(name, "proj.count"),
        other => panic!("expected the rebuild to be refused, got {other:?}"),
    }
    let message = refused.unwrap_err().to_string();
    assert!(
        message.contains("proj.count") && message.contains("add a #[reset] method"),
        "{message}"
    );
    assert_eq!(*progress.lock().unwrap(), 0, "no replay started");

    // Nothing was replayed onto the read model, and it goes on as before.
    assert_eq!(*count.seen.lock().unwrap(), 5);
    reaches(&runner, "proj.count", ProjectionState::Live).await;
    assert_eq!(
        runner.status("proj.count").await.unwrap().position,
        Some(last)
    );
    let after = deposit(&store, "n", 6).await;
    runner.wait_until("proj.count", after, WAIT).await.unwrap();
    assert_eq!(*count.seen.lock().unwrap(), 6);
    runner.shutdown().await;
}

/// A projection whose reset panics while `fragile` is set.
#[derive(Clone, Default)]
struct Fragile {
    seen: Arc<Mutex<Vec<u64>>>,
    fragile: Arc<AtomicBool>,
}

#[projection(name = "proj.fragile")]
impl Fragile {
    fn on_deposited(&mut self, _e: &Deposited, meta: &RecordedEvent) {
        self.seen.lock().unwrap().push(meta.global_position);
    }

    #[reset]
    fn clear(&mut self) {
        if self.fragile.load(Ordering::SeqCst) {
            panic!("the reset broke on purpose");
        }
        self.seen.lock().unwrap().clear();
    }
}

#[tokio::test]
async fn a_panicking_reset_is_reported_and_the_projection_goes_on_from_its_checkpoint() {
    let store = InMemoryStore::new();
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options());
    let fragile = Fragile::default();
    runner
        .start(fragile.clone(), InMemoryProjectionBackend::new())
        .await
        .unwrap();
    let first = deposit(&store, "f", 1).await;
    let second = deposit(&store, "f", 2).await;
    runner
        .wait_until("proj.fragile", second, WAIT)
        .await
        .unwrap();

    fragile.fragile.store(true, Ordering::SeqCst);
    match runner.rebuild("proj.fragile", |_| {}).await {
        Err(RunnerError::Reset { name, source }) => {
            assert_eq!(name, "proj.fragile");
            assert!(
                matches!(&*source, ProjectionError::Panicked(m) if m.contains("broke on purpose")),
                "{source}"
            );
        }
        other => panic!("expected the reset's panic as an error, got {other:?}"),
    }
    let status = runner.status("proj.fragile").await.unwrap();
    assert_ne!(status.state, ProjectionState::Rebuilding);
    assert_eq!(status.position, Some(second), "the checkpoint was kept");
    assert!(
        status
            .last_error
            .is_some_and(|e| e.contains("broke on purpose")),
        "the failure is in the status"
    );

    // The task survived: it follows the log on from the checkpoint...
    let third = deposit(&store, "f", 3).await;
    runner
        .wait_until("proj.fragile", third, WAIT)
        .await
        .unwrap();
    assert_eq!(*fragile.seen.lock().unwrap(), [first, second, third]);
    reaches(&runner, "proj.fragile", ProjectionState::Live).await;
    // ...and rebuilds once the reset works.
    fragile.fragile.store(false, Ordering::SeqCst);
    let done = runner.rebuild("proj.fragile", |_| {}).await.unwrap();
    assert_eq!(done.done, 3);
    assert_eq!(*fragile.seen.lock().unwrap(), [first, second, third]);
    runner.shutdown().await;
}

#[tokio::test]
async fn options_that_cannot_work_are_refused_at_start_with_a_typed_error() {
    let store = InMemoryStore::new();
    let cases = [
        (
            options().with_lease_ttl(Duration::ZERO),
            InvalidOptions::LeaseTooShort(Duration::ZERO),
        ),
        (
            options().with_lease_ttl(Duration::from_nanos(2)),
            InvalidOptions::LeaseTooShort(Duration::from_nanos(2)),
        ),
        (options().with_batch_size(0), InvalidOptions::ZeroBatchSize),
        (
            options().with_standby_poll(Duration::ZERO),
            InvalidOptions::ZeroStandbyPoll,
        ),
    ];
    for (options, expected) in cases {
        let runner = ProjectionRunner::new(store.clone())
            .unwrap()
            .with_options(options);
        match runner
            .start(Count::default(), InMemoryProjectionBackend::new())
            .await
        {
            Err(RunnerError::InvalidOptions(found)) => assert_eq!(found, expected),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
        assert!(runner.names().is_empty(), "nothing was started");
    }
}

/// Blocks in its handler until the test lets it go.
#[derive(Clone)]
struct Gated {
    entered: Arc<Notify>,
    gate: Arc<Semaphore>,
}

#[projection(name = "proj.gated")]
impl Gated {
    async fn on_deposited(&mut self, _e: &Deposited) {
        self.entered.notify_one();
        if let Ok(permit) = self.gate.acquire().await {
            permit.forget();
        }
    }
}

#[tokio::test]
async fn a_projection_behind_the_head_reports_catching_up_then_live() {
    let store = InMemoryStore::new();
    for amount in 1..=3 {
        deposit(&store, "c", amount).await;
    }
    let head = store.head_position().await.unwrap();
    let gated = Gated {
        entered: Arc::new(Notify::new()),
        gate: Arc::new(Semaphore::new(0)),
    };
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options());
    runner
        .start(gated.clone(), InMemoryProjectionBackend::new())
        .await
        .unwrap();

    // Held in the first past event.
    gated.entered.notified().await;
    let status = runner.status("proj.gated").await.unwrap();
    assert_eq!(status.state, ProjectionState::CatchingUp);
    assert_eq!((status.position, status.lag), (None, 3));

    gated.gate.add_permits(3);
    runner.wait_until("proj.gated", head, WAIT).await.unwrap();
    reaches(&runner, "proj.gated", ProjectionState::Live).await;
    assert_eq!(runner.status("proj.gated").await.unwrap().lag, 0);
    runner.shutdown().await;
}

/// An in-memory backend whose checkpoint cannot be read while `broken`.
#[derive(Clone, Default)]
struct Unreachable {
    inner: InMemoryProjectionBackend,
    broken: Arc<AtomicBool>,
}

#[async_trait]
impl ProjectionBackend<()> for Unreachable {
    async fn begin(
        &self,
        time_limit: std::time::Duration,
    ) -> Result<Box<dyn ProjectionTx<()>>, StoreError> {
        self.inner.begin(time_limit).await
    }
    async fn checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(StoreError::Connection(
                "the checkpoint store is down".into(),
            ));
        }
        self.inner.checkpoint(name).await
    }
    async fn acquire(&self, name: &str, owner: Uuid, ttl: Duration) -> Result<bool, StoreError> {
        self.inner.acquire(name, owner, ttl).await
    }
    async fn release(&self, name: &str, owner: Uuid) -> Result<(), StoreError> {
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

#[tokio::test]
async fn a_store_failure_is_reported_as_failed_until_the_store_recovers() {
    let store = InMemoryStore::new();
    let first = deposit(&store, "u", 1).await;
    let backend = Unreachable::default();
    backend.broken.store(true, Ordering::SeqCst);
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options());
    let count = Count::default();
    runner.start(count.clone(), backend.clone()).await.unwrap();

    let mut failed = None;
    for _ in 0..1000 {
        let status = runner.status("proj.count").await.unwrap();
        if let ProjectionState::Failed(error) = status.state {
            failed = Some((error, status.last_error));
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (error, last_error) = failed.expect("the projection reports the failure");
    assert!(error.contains("the checkpoint store is down"), "{error}");
    assert_eq!(last_error, Some(error));
    assert_eq!(*count.seen.lock().unwrap(), 0);

    backend.broken.store(false, Ordering::SeqCst);
    runner.wait_until("proj.count", first, WAIT).await.unwrap();
    assert_eq!(*count.seen.lock().unwrap(), 1);
    reaches(&runner, "proj.count", ProjectionState::Live).await;
    runner.shutdown().await;
}

#[tokio::test]
async fn an_event_the_projection_does_not_handle_is_never_decoded() {
    let store = InMemoryStore::new();
    let before = deposit(&store, "x", 1).await;
    // Registered, but not handled by `Balances`; its payload does not even
    // fit its type.
    let corrupt = store
        .append(
            "acct-x",
            "proj.Account",
            ExpectedVersion::Any,
            vec![NewEvent::new(
                "proj.Ignored",
                1,
                r#"["not", "its", "shape"]"#,
                Metadata::new(),
            )],
        )
        .await
        .unwrap();
    let after = deposit(&store, "x", 2).await;

    // The generated dispatch passes over it by name...
    let record = store
        .read_all(corrupt.last_position, EventFilter::all())
        .next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&*record.event_name, "proj.Ignored");
    assert!(!Balances::default().handle(&record, &mut ()).await.unwrap());

    // ...and the runner's filter keeps it from the projection altogether.
    let balances = Balances::default();
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options());
    runner
        .start(balances.clone(), InMemoryProjectionBackend::new())
        .await
        .unwrap();
    runner
        .wait_until("proj.balances", after, WAIT)
        .await
        .unwrap();
    assert_eq!(*balances.applied.lock().unwrap(), [before, after]);
    assert_eq!(balances.balances.lock().unwrap()["x"], 3);
    let status = runner.status("proj.balances").await.unwrap();
    assert_eq!(
        (status.parked, status.processed, status.last_error),
        (0, 2, None)
    );
    runner.shutdown().await;
}
