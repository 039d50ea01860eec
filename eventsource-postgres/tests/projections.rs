//! Projections with read models in PostgreSQL: the read model and the
//! checkpoint commit together, failing events are parked, rebuilds replay,
//! and two runners never both apply an event.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use eventsource::StoreError;
use eventsource::prelude::*;
use eventsource::projection::{
    CommitError, DeadLetterStore, ProjectionBackend, ProjectionState, ProjectionTx, RunnerOptions,
};
use eventsource_postgres::{PgEventStore, PgProjectionBackend};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, PgConnection};
use tokio::sync::{Notify, Semaphore};
use uuid::Uuid;

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "pgproj.Deposited")]
struct Deposited {
    account: String,
    amount: i64,
}

/// Balances in `<schema>.balances`; every applied position goes into
/// `<schema>.applied`, whose primary key makes a second application fail.
struct Balances {
    schema: String,
    /// While set, a deposit of 13 fails.
    poison: Arc<AtomicBool>,
    /// How many times a deposit of 13 failed.
    poison_runs: Arc<AtomicU32>,
}

#[projection(name = "pgproj.balances")]
impl Balances {
    async fn on_deposited(
        &mut self,
        e: &Deposited,
        meta: &RecordedEvent,
        ctx: &mut PgConnection,
    ) -> Result<(), ProjectionError> {
        if e.amount == 13 && self.poison.load(Ordering::SeqCst) {
            self.poison_runs.fetch_add(1, Ordering::SeqCst);
            return Err(ProjectionError::handler("thirteen is unlucky"));
        }
        let s = &self.schema;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO \"{s}\".applied (position) VALUES ($1)"
        )))
        .bind(meta.global_position as i64)
        .execute(&mut *ctx)
        .await
        .map_err(ProjectionError::handler)?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO \"{s}\".balances (account, total) VALUES ($1, $2) \
             ON CONFLICT (account) DO UPDATE SET total = balances.total + EXCLUDED.total"
        )))
        .bind(&e.account)
        .bind(e.amount)
        .execute(&mut *ctx)
        .await
        .map_err(ProjectionError::handler)?;
        Ok(())
    }

    #[reset]
    async fn clear(&mut self, ctx: &mut PgConnection) -> Result<(), sqlx::Error> {
        let s = &self.schema;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "TRUNCATE \"{s}\".applied, \"{s}\".balances"
        )))
        .execute(ctx)
        .await?;
        Ok(())
    }
}

fn balances(store: &PgEventStore) -> Balances {
    Balances {
        schema: store.schema().to_owned(),
        poison: Arc::default(),
        poison_runs: Arc::default(),
    }
}

/// The positions in the read model's `applied` table, in order.
async fn applied_positions(store: &PgEventStore) -> Vec<u64> {
    let s = store.schema();
    let positions: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT position FROM \"{s}\".applied ORDER BY position"
    )))
    .fetch_all(store.pool())
    .await
    .unwrap();
    positions.into_iter().map(|p| p as u64).collect()
}

/// The positions of every event in the log, in order.
async fn logged_positions(store: &PgEventStore) -> Vec<u64> {
    use futures::TryStreamExt;
    let events: Vec<RecordedEvent> = store
        .read_all(1, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    events.iter().map(|e| e.global_position).collect()
}

const NAME: &str = "pgproj.balances";

/// Who holds the projection's lease, expired or not.
async fn lease_owner(store: &PgEventStore) -> Option<Uuid> {
    let s = store.schema();
    sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT owner FROM \"{s}\".projection_leases WHERE name = $1"
    )))
    .bind(NAME)
    .fetch_optional(store.pool())
    .await
    .unwrap()
}

/// Polls until `runner` reports a state `wanted` accepts.
async fn reaches(runner: &ProjectionRunner, wanted: impl Fn(&ProjectionState) -> bool) {
    for _ in 0..2000 {
        if wanted(&runner.status(NAME).await.unwrap().state) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the projection never reached the state waited for");
}

async fn read_model(store: &PgEventStore) {
    let s = store.schema();
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE TABLE \"{s}\".applied (position bigint PRIMARY KEY); \
         CREATE TABLE \"{s}\".balances (account text PRIMARY KEY, total bigint NOT NULL);"
    )))
    .execute(store.pool())
    .await
    .unwrap();
}

async fn rows(store: &PgEventStore) -> (i64, Vec<(String, i64)>) {
    let s = store.schema();
    let applied: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT count(*) FROM \"{s}\".applied"
    )))
    .fetch_one(store.pool())
    .await
    .unwrap();
    let totals: Vec<(String, i64)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT account, total FROM \"{s}\".balances ORDER BY account"
    )))
    .fetch_all(store.pool())
    .await
    .unwrap();
    (applied, totals)
}

async fn deposit(store: &PgEventStore, account: &str, amount: i64) -> u64 {
    let event = NewEvent::from_event(
        &Deposited {
            account: account.into(),
            amount,
        },
        Metadata::new(),
    )
    .unwrap();
    store
        .append(
            &format!("acct-{account}"),
            "pgproj.Account",
            ExpectedVersion::Any,
            vec![event],
        )
        .await
        .unwrap()
        .last_position
}

fn options() -> RunnerOptions {
    RunnerOptions::default()
        .with_batch_size(10)
        .with_max_retries(2)
        .with_lease_ttl(Duration::from_millis(600))
        .with_standby_poll(Duration::from_millis(50))
        .with_reconnect_delay(Duration::from_millis(20))
        .with_retry_backoff(Duration::from_millis(5), Duration::from_millis(20))
}

/// Options for an owner whose lease must lapse only when the test means it
/// to, not because a slow machine delayed a renewal.
fn long_lease() -> RunnerOptions {
    options().with_lease_ttl(Duration::from_secs(2))
}

fn runner(store: &PgEventStore) -> ProjectionRunner {
    ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options())
        .with_dead_letters(store.dead_letters())
}

const WAIT: Duration = Duration::from_secs(20);

/// Fails the `n`th commit after the read model was written: the process
/// "dies" between the read-model write and the checkpoint.
struct CrashOnce {
    inner: PgProjectionBackend,
    commits: Arc<AtomicUsize>,
    crash_at: usize,
    crashed: Arc<AtomicBool>,
}

struct CrashingTx {
    inner: Box<dyn ProjectionTx<PgConnection>>,
    crash: bool,
    crashed: Arc<AtomicBool>,
}

#[async_trait]
impl ProjectionBackend<PgConnection> for CrashOnce {
    async fn begin(
        &self,
        time_limit: std::time::Duration,
    ) -> Result<Box<dyn ProjectionTx<PgConnection>>, StoreError> {
        // A dead process does nothing more.
        self.alive()?;
        let n = self.commits.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Box::new(CrashingTx {
            inner: self.inner.begin(time_limit).await?,
            crash: n == self.crash_at,
            crashed: self.crashed.clone(),
        }))
    }
    async fn checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        ProjectionBackend::<PgConnection>::checkpoint(&self.inner, name).await
    }
    async fn acquire(&self, name: &str, owner: Uuid, ttl: Duration) -> Result<bool, StoreError> {
        // Nor does it renew its lease, or give it up: it lapses.
        self.alive()?;
        ProjectionBackend::<PgConnection>::acquire(&self.inner, name, owner, ttl).await
    }
    async fn release(&self, name: &str, owner: Uuid) -> Result<(), StoreError> {
        self.alive()?;
        ProjectionBackend::<PgConnection>::release(&self.inner, name, owner).await
    }

    async fn register(
        &self,
        name: &str,
        version: u32,
        events: &[String],
    ) -> Result<eventsource::projection::Registered, StoreError> {
        ProjectionBackend::<PgConnection>::register(&self.inner, name, version, events).await
    }

    async fn forget(&self, name: &str, version: u32) -> Result<(), StoreError> {
        ProjectionBackend::<PgConnection>::forget(&self.inner, name, version).await
    }

    async fn active_version(&self, name: &str) -> Result<Option<u32>, StoreError> {
        ProjectionBackend::<PgConnection>::active_version(&self.inner, name).await
    }

    async fn activate(&self, name: &str, version: u32) -> Result<u32, StoreError> {
        ProjectionBackend::<PgConnection>::activate(&self.inner, name, version).await
    }
}

impl CrashOnce {
    fn new(store: &PgEventStore, crash_at: usize) -> Self {
        Self {
            inner: store.projection_backend(),
            commits: Arc::default(),
            crash_at,
            crashed: Arc::default(),
        }
    }

    fn alive(&self) -> Result<(), StoreError> {
        if self.crashed.load(Ordering::SeqCst) {
            return Err(StoreError::Connection("the process is gone".into()));
        }
        Ok(())
    }
}

/// Waits for the crash injected by a [`CrashOnce`].
async fn crash(crashed: &AtomicBool) {
    for _ in 0..2000 {
        if crashed.load(Ordering::SeqCst) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the injected crash never happened");
}

#[async_trait]
impl ProjectionTx<PgConnection> for CrashingTx {
    fn context(&mut self) -> &mut PgConnection {
        self.inner.context()
    }
    async fn reset_checkpoint(&mut self, name: &str) -> Result<(), StoreError> {
        self.inner.reset_checkpoint(name).await
    }
    async fn commit(
        self: Box<Self>,
        name: &str,
        owner: Uuid,
        position: Option<u64>,
    ) -> Result<(), CommitError> {
        if self.crash {
            // The read model was written in this transaction; it dies with it.
            self.inner.rollback().await?;
            self.crashed.store(true, Ordering::SeqCst);
            return Err(CommitError::Store(StoreError::Connection(
                "simulated crash before the checkpoint".into(),
            )));
        }
        self.inner.commit(name, owner, position).await
    }
    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        self.inner.rollback().await
    }
}

/// 60 deposits over four accounts; the totals they add up to.
async fn sixty_deposits(store: &PgEventStore) -> Vec<(String, i64)> {
    let mut expected = std::collections::BTreeMap::new();
    for i in 0..60 {
        let account = format!("a{}", i % 4);
        *expected.entry(account.clone()).or_insert(0) += i;
        deposit(store, &account, i).await;
    }
    expected.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_read_model_and_checkpoint_loses_and_repeats_nothing() {
    let store = common::store().await;
    read_model(&store).await;
    let expected = sixty_deposits(&store).await;
    let first = runner(&store);
    let crashing = CrashOnce::new(&store, 3);
    let crashed = crashing.crashed.clone();
    first.start(balances(&store), crashing).await.unwrap();
    crash(&crashed).await;
    // The process is gone: stop it wherever it is, as a kill would (it
    // cannot release its lease any more).
    first.shutdown().await;

    // Whatever the batches held, the read model is exactly the events up
    // to the committed checkpoint: the crashed batch left nothing behind.
    let checkpoint =
        ProjectionBackend::<PgConnection>::checkpoint(&store.projection_backend(), NAME)
            .await
            .unwrap()
            .expect("batches were committed before the crash");
    let applied = applied_positions(&store).await;
    let logged = logged_positions(&store).await;
    let upto: Vec<u64> = logged
        .iter()
        .copied()
        .filter(|p| *p <= checkpoint)
        .collect();
    assert_eq!(applied, upto, "the read model matches its checkpoint");
    // Two commits came before the crash, of at most a batch (10) each; a
    // commit may carry fewer events, or none (a caught-up position alone).
    assert!(
        applied.len() <= 20,
        "two commits of at most a batch each came before the crash: {}",
        applied.len()
    );

    let second = runner(&store);
    second
        .start(balances(&store), store.projection_backend())
        .await
        .unwrap();
    let head = store.head_position().await.unwrap();
    second.wait_until(NAME, head, WAIT).await.unwrap();
    assert_eq!(
        applied_positions(&store).await,
        logged,
        "every event applied exactly once"
    );
    assert_eq!(rows(&store).await.1, expected);
    assert_eq!(second.status(NAME).await.unwrap().parked, 0);
    second.shutdown().await;
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_the_lease_of_an_owner_that_died_mid_stream() {
    let store = common::store().await;
    read_model(&store).await;
    let other = common::same_schema(&store, "standby-instance", |o| o).await;
    let expected = sixty_deposits(&store).await;

    // The owner dies at its third commit, with a batch written but not
    // committed; it never renews nor releases its lease again.
    let owner = runner(&store).with_options(long_lease());
    let crashing = CrashOnce::new(&store, 3);
    let crashed = crashing.crashed.clone();
    owner.start(balances(&store), crashing).await.unwrap();
    for _ in 0..2000 {
        if lease_owner(&store).await == Some(owner.owner()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(lease_owner(&store).await, Some(owner.owner()));
    let standby = runner(&other);
    standby
        .start(balances(&other), other.projection_backend())
        .await
        .unwrap();

    crash(&crashed).await;
    let head = store.head_position().await.unwrap();
    standby.wait_until(NAME, head, WAIT).await.unwrap();
    reaches(&standby, |s| *s == ProjectionState::Live).await;
    let status = standby.status(NAME).await.unwrap();
    assert!(status.processed > 0, "the standby took over");
    assert_eq!(
        applied_positions(&store).await,
        logged_positions(&store).await,
        "no event lost or applied twice"
    );
    assert_eq!(rows(&store).await.1, expected);
    assert_eq!(status.parked, 0);
    standby.shutdown().await;
    owner.shutdown().await;
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_by_an_owner_whose_lease_was_taken_over_is_refused_and_rolled_back() {
    let store = common::store().await;
    read_model(&store).await;
    let backend = store.projection_backend();
    let (stale, current) = (Uuid::now_v7(), Uuid::now_v7());
    let ttl = Duration::from_millis(50);
    assert!(
        ProjectionBackend::<PgConnection>::acquire(&backend, NAME, stale, ttl)
            .await
            .unwrap()
    );
    let mut tx = ProjectionBackend::<PgConnection>::begin(&backend, Duration::from_secs(30))
        .await
        .unwrap();
    let s = store.schema();
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO \"{s}\".applied (position) VALUES (7)"
    )))
    .execute(tx.context())
    .await
    .unwrap();

    // The owner is paused past its TTL, and another instance takes over.
    let mut taken = false;
    for _ in 0..500 {
        taken = ProjectionBackend::<PgConnection>::acquire(&backend, NAME, current, WAIT)
            .await
            .unwrap();
        if taken {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(taken, "the other instance took the lapsed lease");

    match tx.commit(NAME, stale, Some(7)).await {
        Err(CommitError::LeaseLost) => {}
        other => panic!("expected the stale commit to be refused, got {other:?}"),
    }
    assert!(
        applied_positions(&store).await.is_empty(),
        "its write was rolled back"
    );
    assert_eq!(
        ProjectionBackend::<PgConnection>::checkpoint(&backend, NAME)
            .await
            .unwrap(),
        None,
        "the checkpoint did not move"
    );
    // The new owner commits as usual.
    let tx = ProjectionBackend::<PgConnection>::begin(&backend, Duration::from_secs(30))
        .await
        .unwrap();
    tx.commit(NAME, current, Some(7)).await.unwrap();
    assert_eq!(
        ProjectionBackend::<PgConnection>::checkpoint(&backend, NAME)
            .await
            .unwrap(),
        Some(7)
    );
    common::drop_schema(&store).await;
}

/// A backend whose process freezes at the first commit of a position from
/// `freeze_from` on, until the test thaws it: meanwhile it cannot renew its
/// lease (as a paused process cannot), while its transaction stays open.
#[derive(Clone)]
struct Freezing {
    inner: PgProjectionBackend,
    freeze_from: Arc<AtomicU64>,
    frozen: Arc<AtomicBool>,
    entered: Arc<Notify>,
    thaw: Arc<Semaphore>,
    /// What the frozen commit came to.
    outcome: Arc<Mutex<Option<Result<(), String>>>>,
}

struct FreezingTx {
    inner: Box<dyn ProjectionTx<PgConnection>>,
    backend: Freezing,
}

impl Freezing {
    fn new(store: &PgEventStore) -> Self {
        Self {
            inner: store.projection_backend(),
            freeze_from: Arc::new(AtomicU64::new(u64::MAX)),
            frozen: Arc::default(),
            entered: Arc::default(),
            thaw: Arc::new(Semaphore::new(0)),
            outcome: Arc::default(),
        }
    }
}

#[async_trait]
impl ProjectionBackend<PgConnection> for Freezing {
    async fn begin(
        &self,
        time_limit: std::time::Duration,
    ) -> Result<Box<dyn ProjectionTx<PgConnection>>, StoreError> {
        Ok(Box::new(FreezingTx {
            inner: self.inner.begin(time_limit).await?,
            backend: self.clone(),
        }))
    }
    async fn checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        ProjectionBackend::<PgConnection>::checkpoint(&self.inner, name).await
    }
    async fn acquire(&self, name: &str, owner: Uuid, ttl: Duration) -> Result<bool, StoreError> {
        if self.frozen.load(Ordering::SeqCst) {
            return Err(StoreError::Connection("the process is frozen".into()));
        }
        ProjectionBackend::<PgConnection>::acquire(&self.inner, name, owner, ttl).await
    }
    async fn release(&self, name: &str, owner: Uuid) -> Result<(), StoreError> {
        ProjectionBackend::<PgConnection>::release(&self.inner, name, owner).await
    }

    async fn register(
        &self,
        name: &str,
        version: u32,
        events: &[String],
    ) -> Result<eventsource::projection::Registered, StoreError> {
        ProjectionBackend::<PgConnection>::register(&self.inner, name, version, events).await
    }

    async fn forget(&self, name: &str, version: u32) -> Result<(), StoreError> {
        ProjectionBackend::<PgConnection>::forget(&self.inner, name, version).await
    }

    async fn active_version(&self, name: &str) -> Result<Option<u32>, StoreError> {
        ProjectionBackend::<PgConnection>::active_version(&self.inner, name).await
    }

    async fn activate(&self, name: &str, version: u32) -> Result<u32, StoreError> {
        ProjectionBackend::<PgConnection>::activate(&self.inner, name, version).await
    }
}

#[async_trait]
impl ProjectionTx<PgConnection> for FreezingTx {
    fn context(&mut self) -> &mut PgConnection {
        self.inner.context()
    }
    async fn reset_checkpoint(&mut self, name: &str) -> Result<(), StoreError> {
        self.inner.reset_checkpoint(name).await
    }
    async fn commit(
        self: Box<Self>,
        name: &str,
        owner: Uuid,
        position: Option<u64>,
    ) -> Result<(), CommitError> {
        let backend = self.backend;
        let freezes = position >= Some(backend.freeze_from.load(Ordering::SeqCst))
            && backend.outcome.lock().unwrap().is_none();
        if !freezes {
            return self.inner.commit(name, owner, position).await;
        }
        backend.frozen.store(true, Ordering::SeqCst);
        backend.entered.notify_one();
        backend.thaw.acquire().await.unwrap().forget();
        backend.frozen.store(false, Ordering::SeqCst);
        let result = self.inner.commit(name, owner, position).await;
        *backend.outcome.lock().unwrap() =
            Some(result.as_ref().map(|_| ()).map_err(|e| format!("{e:?}")));
        result
    }
    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        self.inner.rollback().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_frozen_past_its_ttl_cannot_commit_what_it_wrote() {
    let store = common::store().await;
    read_model(&store).await;
    let other = common::same_schema(&store, "second-instance", |o| o).await;
    let freezing = Freezing::new(&store);
    let owner = runner(&store).with_options(long_lease());
    owner
        .start(balances(&store), freezing.clone())
        .await
        .unwrap();
    let mut last = 0;
    for amount in 1..=5 {
        last = deposit(&store, "f", amount).await;
    }
    owner.wait_until(NAME, last, WAIT).await.unwrap();
    let standby = runner(&other);
    standby
        .start(balances(&other), other.projection_backend())
        .await
        .unwrap();
    reaches(&standby, |s| *s == ProjectionState::Standby).await;

    // The owner writes the next event into its transaction and freezes
    // before committing; its lease lapses and the standby takes over (its
    // own write of that event waits on the frozen transaction's row).
    freezing.freeze_from.store(last + 1, Ordering::SeqCst);
    let frozen_at = deposit(&store, "f", 100).await;
    freezing.entered.notified().await;
    assert_eq!(
        lease_owner(&store).await,
        Some(owner.owner()),
        "the owner still held its lease when it froze"
    );
    reaches(&standby, |s| {
        matches!(s, ProjectionState::CatchingUp | ProjectionState::Live)
    })
    .await;

    // Thawed, the stale owner's commit is refused: fenced off by the lease,
    // or, when the freeze outlasted the unit of work's time limit (the lease
    // TTL), its transaction was already ended by the server.
    freezing.thaw.add_permits(1);
    standby.wait_until(NAME, frozen_at, WAIT).await.unwrap();
    reaches(&owner, |s| *s == ProjectionState::Standby).await;
    let outcome = freezing.outcome.lock().unwrap().clone();
    assert!(
        matches!(
            &outcome,
            Some(Err(refused)) if refused == "LeaseLost" || refused.contains("idle-in-transaction timeout")
        ),
        "the stale owner's commit was refused: {outcome:?}"
    );
    assert_eq!(lease_owner(&store).await, Some(standby.owner()));
    assert_eq!(
        applied_positions(&store).await,
        logged_positions(&store).await,
        "the event was applied once, by the new owner"
    );
    assert_eq!(rows(&store).await.1, vec![("f".to_owned(), 115)]);
    // The position is published a moment before the state turns `Live`.
    reaches(&standby, |s| *s == ProjectionState::Live).await;
    let status = standby.status(NAME).await.unwrap();
    assert_eq!((status.parked, status.processed), (0, 1));
    standby.shutdown().await;
    owner.shutdown().await;
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_is_parked_in_postgres_and_retried_after_a_fix() {
    let store = common::store().await;
    read_model(&store).await;
    deposit(&store, "p", 1).await;
    let poison = deposit(&store, "p", 13).await;
    let last = deposit(&store, "p", 2).await;
    let projection = balances(&store);
    projection.poison.store(true, Ordering::SeqCst);
    let flag = projection.poison.clone();
    let runs = projection.poison_runs.clone();
    let runner = runner(&store);
    runner
        .start(projection, store.projection_backend())
        .await
        .unwrap();
    runner
        .wait_until("pgproj.balances", last, WAIT)
        .await
        .unwrap();

    let (applied, totals) = rows(&store).await;
    assert_eq!((applied, totals), (2, vec![("p".to_owned(), 3)]));
    let parked = store.dead_letters().list("pgproj.balances").await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].global_position, poison);
    assert_eq!(
        parked[0].attempts,
        runs.load(Ordering::SeqCst),
        "every run of the event counted, the one in a larger batch included"
    );
    assert_eq!(parked[0].attempts, 3, "first try and two retries");
    assert_eq!(parked[0].error, "thirteen is unlucky");
    assert_eq!(parked[0].stream_id, "acct-p");
    let status = runner.status("pgproj.balances").await.unwrap();
    assert_eq!((status.parked, status.lag), (1, 0));

    flag.store(false, Ordering::SeqCst);
    runner
        .retry_parked("pgproj.balances", poison)
        .await
        .unwrap();
    let (applied, totals) = rows(&store).await;
    assert_eq!((applied, totals), (3, vec![("p".to_owned(), 16)]));
    assert_eq!(
        store.dead_letters().count("pgproj.balances").await.unwrap(),
        0
    );
    runner.shutdown().await;
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_produces_the_read_model_live_processing_produced() {
    let store = common::store().await;
    read_model(&store).await;
    let runner = runner(&store);
    runner
        .start(balances(&store), store.projection_backend())
        .await
        .unwrap();
    let mut last = 0;
    for i in 0..120 {
        last = deposit(&store, &format!("r{}", i % 9), i * 3).await;
    }
    runner
        .wait_until("pgproj.balances", last, WAIT)
        .await
        .unwrap();
    let live = rows(&store).await;

    let progress = Arc::new(AtomicUsize::new(0));
    let seen = progress.clone();
    let done = runner
        .rebuild("pgproj.balances", move |p| {
            seen.store(p.done as usize, Ordering::SeqCst);
        })
        .await
        .unwrap();
    assert_eq!((done.done, done.total), (120, 120));
    assert_eq!(progress.load(Ordering::SeqCst), 120);
    // A rebuild returns once the projection is live again.
    let status = runner.status("pgproj.balances").await.unwrap();
    assert_eq!(status.state, ProjectionState::Live);
    assert_eq!(rows(&store).await, live);
    runner.shutdown().await;
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_on_one_database_never_both_apply_an_event() {
    let store = common::store().await;
    read_model(&store).await;
    let other = common::same_schema(&store, "second-instance", |o| o).await;
    let first = runner(&store);
    let second = runner(&other);
    first
        .start(balances(&store), store.projection_backend())
        .await
        .unwrap();
    second
        .start(balances(&other), other.projection_backend())
        .await
        .unwrap();

    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                deposit(&store, &format!("t{}", i % 5), 1).await;
            }
        })
    };
    writer.await.unwrap();
    let head = store.head_position().await.unwrap();
    // Whichever instance took the lease processes everything; the other
    // stands by.
    first
        .wait_until("pgproj.balances", head, WAIT)
        .await
        .unwrap();
    let first_live = first.status("pgproj.balances").await.unwrap().state == ProjectionState::Live;
    let (live, standby) = if first_live {
        (&first, &second)
    } else {
        (&second, &first)
    };
    live.wait_until("pgproj.balances", head, WAIT)
        .await
        .unwrap();
    assert_eq!(
        standby.status("pgproj.balances").await.unwrap().state,
        ProjectionState::Standby
    );
    assert_eq!(rows(&store).await.0, 200);

    // The live instance stops; the standby takes over from the checkpoint.
    live.shutdown().await;
    let mut more = 0;
    for _ in 0..50 {
        more = deposit(&store, "t0", 1).await;
    }
    standby
        .wait_until("pgproj.balances", more, WAIT)
        .await
        .unwrap();
    let (applied, totals) = rows(&store).await;
    assert_eq!(applied, 250, "no event applied twice, none lost");
    assert_eq!(totals.iter().map(|(_, t)| t).sum::<i64>(), 250);
    assert_eq!(
        store.dead_letters().count("pgproj.balances").await.unwrap(),
        0
    );
    standby.shutdown().await;
    common::drop_schema(&store).await;
}

/// What a renewal answers, and who may commit, around a release and a
/// takeover: as the in-memory backend (`eventsource/tests/projection_leases.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_or_commit_after_a_release_or_takeover_is_refused() {
    let store = common::store().await;
    read_model(&store).await;
    let backend = store.projection_backend();
    type B = dyn ProjectionBackend<PgConnection>;
    let backend: &B = &backend;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let ttl = Duration::from_millis(100);
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
    let tx = backend.begin(Duration::from_secs(30)).await.unwrap();
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
    common::drop_schema(&store).await;
}
