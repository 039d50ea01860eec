//! Projections with read models in PostgreSQL: the read model and the
//! checkpoint commit together, failing events are parked, rebuilds replay,
//! and two runners never both apply an event.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use eventsource::prelude::*;
use eventsource::projection::{
    CommitError, DeadLetterStore, ProjectionBackend, ProjectionState, ProjectionTx, RunnerOptions,
};
use eventsource_postgres::{PgEventStore, PgProjectionBackend};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, PgConnection};
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
    }
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
    RunnerOptions {
        batch_size: 10,
        max_retries: 2,
        retry_base_delay: Duration::from_millis(5),
        retry_max_delay: Duration::from_millis(20),
        lease_ttl: Duration::from_millis(600),
        standby_poll: Duration::from_millis(50),
        reconnect_delay: Duration::from_millis(20),
    }
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
    async fn begin(&self) -> Result<Box<dyn ProjectionTx<PgConnection>>, StoreError> {
        if self.crashed.load(Ordering::SeqCst) {
            // A dead process does nothing more.
            return Err(StoreError::Connection("the process is gone".into()));
        }
        let n = self.commits.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Box::new(CrashingTx {
            inner: self.inner.begin().await?,
            crash: n == self.crash_at,
            crashed: self.crashed.clone(),
        }))
    }
    async fn checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        ProjectionBackend::<PgConnection>::checkpoint(&self.inner, name).await
    }
    async fn acquire(&self, name: &str, owner: Uuid, ttl: Duration) -> Result<bool, StoreError> {
        ProjectionBackend::<PgConnection>::acquire(&self.inner, name, owner, ttl).await
    }
    async fn release(&self, name: &str, owner: Uuid) -> Result<(), StoreError> {
        ProjectionBackend::<PgConnection>::release(&self.inner, name, owner).await
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_read_model_and_checkpoint_loses_and_repeats_nothing() {
    let store = common::store().await;
    read_model(&store).await;
    let mut expected = std::collections::BTreeMap::new();
    for i in 0..60 {
        let account = format!("a{}", i % 4);
        *expected.entry(account.clone()).or_insert(0) += i;
        deposit(&store, &account, i).await;
    }
    let crashed = Arc::new(AtomicBool::new(false));
    let first = runner(&store);
    first
        .start(
            balances(&store),
            CrashOnce {
                inner: store.projection_backend(),
                commits: Arc::default(),
                crash_at: 3,
                crashed: crashed.clone(),
            },
        )
        .unwrap();
    for _ in 0..200 {
        if crashed.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        crashed.load(Ordering::SeqCst),
        "the injected crash happened"
    );
    // The process is gone: stop it wherever it is, as a kill would.
    first.shutdown().await;
    let (applied, _) = rows(&store).await;
    assert_eq!(applied, 20, "two batches of 10 committed before the crash");

    let second = runner(&store);
    second
        .start(balances(&store), store.projection_backend())
        .unwrap();
    let head = store.head_position().await.unwrap();
    second
        .wait_until("pgproj.balances", head, WAIT)
        .await
        .unwrap();
    let (applied, totals) = rows(&store).await;
    assert_eq!(applied, 60, "every event applied exactly once");
    let expected: Vec<(String, i64)> = expected.into_iter().collect();
    assert_eq!(totals, expected);
    assert_eq!(second.status("pgproj.balances").await.unwrap().parked, 0);
    second.shutdown().await;
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
    let runner = runner(&store);
    runner
        .start(projection, store.projection_backend())
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
    assert_eq!(parked[0].attempts, 3);
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
        .unwrap();
    second
        .start(balances(&other), other.projection_backend())
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
