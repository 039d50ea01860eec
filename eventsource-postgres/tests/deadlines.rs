//! Saga deadlines on PostgreSQL in real time: fired once by several
//! schedulers, and fired after the process that scheduled them was killed
//! and another started (a real child process: this test binary run again).

mod common;

use std::process::{Child, Command as Process, Stdio};
use std::time::Duration;

use eventsource::BoxError;
use eventsource::clock::Clock;
use eventsource::prelude::*;
use eventsource::projection::RunnerOptions;
use eventsource::saga::{Deadline, DeadlineReached, DeadlineScheduler, DeadlineStore};
use eventsource::store::{EventFilter, EventStore};
use eventsource_postgres::{PgEventStore, PgStoreOptions};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

/// How long after an order its reminder is due.
const DELAY: Duration = Duration::from_secs(3);
/// The schema a child process works in; unset in a normal test run.
const CHILD_SCHEMA: &str = "EVENTSOURCE_DEADLINE_CHILD_SCHEMA";

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "pgdl.Placed")]
struct Placed {
    order: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "pgdl.Paid")]
struct Paid {
    order: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "pgdl.Reminded")]
struct Reminded {
    order: String,
}

#[derive(Command, Debug, PartialEq)]
#[command(aggregate = Order)]
struct Place {
    #[aggregate_id]
    order: String,
}

#[derive(Command, Debug, PartialEq)]
#[command(aggregate = Order)]
struct Pay {
    #[aggregate_id]
    order: String,
}

#[derive(Command, Debug, PartialEq)]
#[command(aggregate = Order)]
struct Remind {
    #[aggregate_id]
    order: String,
}

#[derive(Aggregate, Default)]
#[aggregate(name = "pgdl.Order")]
struct Order;

#[aggregate_impl]
impl Order {
    #[command_handler(create)]
    fn place(&self, cmd: &Place) -> Placed {
        Placed {
            order: cmd.order.clone(),
        }
    }

    #[command_handler]
    fn pay(&self, cmd: &Pay) -> Paid {
        Paid {
            order: cmd.order.clone(),
        }
    }

    #[command_handler]
    fn remind(&self, cmd: &Remind) -> Reminded {
        Reminded {
            order: cmd.order.clone(),
        }
    }

    #[event_sourcing_handler]
    fn on_placed(&mut self, _: &Placed) {}

    #[event_sourcing_handler]
    fn on_paid(&mut self, _: &Paid) {}

    #[event_sourcing_handler]
    fn on_reminded(&mut self, _: &Reminded) {}
}

/// Reminds the customer of an order not paid within the hour.
#[derive(Default, Serialize, Deserialize, Debug)]
struct Reminder {
    order: String,
}

#[saga(name = "pgdl.reminder")]
impl Reminder {
    #[start]
    fn on_placed(&mut self, e: &Placed, ctx: &mut SagaContext<'_>) {
        self.order = e.order.clone();
        ctx.schedule_after("remind", DELAY, serde_json::json!({ "order": e.order }));
    }

    fn on_paid(&mut self, _: &Paid, ctx: &mut SagaContext<'_>) {
        ctx.cancel_deadline("remind");
        ctx.complete();
    }

    async fn on_deadline(
        &mut self,
        e: &DeadlineReached,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        assert_eq!(e.name, "remind");
        assert_eq!(e.payload["order"], self.order.as_str());
        ctx.dispatch(Remind {
            order: self.order.clone(),
        })
        .await?;
        ctx.complete();
        Ok(())
    }
}

async fn names(store: &PgEventStore) -> Vec<String> {
    let events: Vec<RecordedEvent> = store
        .read_all(1, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    events.iter().map(|e| e.event_name.to_string()).collect()
}

/// Runs the saga and a deadline scheduler on `store` until `stop` passes or
/// the process is killed: what one instance of an application does.
async fn work(store: PgEventStore, stop: Duration) {
    let bus = CommandBus::new(store.clone()).unwrap();
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(
            RunnerOptions::default()
                .with_lease_ttl(Duration::from_millis(800))
                .with_standby_poll(Duration::from_millis(100)),
        )
        .with_dead_letters(store.dead_letters());
    runner
        .start(
            SagaProcessor::<Reminder>::new(bus, store.saga_store())
                .with_deadlines(store.saga_store()),
            store.projection_backend(),
        )
        .await
        .unwrap();
    let scheduler = DeadlineScheduler::new(store.clone(), store.saga_store())
        .with_poll(Duration::from_millis(100))
        .spawn();
    tokio::time::sleep(stop).await;
    scheduler.abort();
    runner.shutdown().await;
}

/// Waits (bounded) until `check` holds.
async fn eventually(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let clock = Clock::system();
    let start = clock.instant();
    while start.elapsed() < within {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within {within:?}");
}

fn spawn_child(schema: &str) -> Child {
    let exe = std::env::current_exe().expect("the test binary's path");
    Process::new(exe)
        .args([
            "deadline_worker_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_SCHEMA, schema)
        .env("DATABASE_URL", common::database_url())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child process")
}

/// In a normal run, one application instance fires a due reminder on its
/// own schema. Run by `a_deadline_survives_a_process_restart` with
/// `EVENTSOURCE_DEADLINE_CHILD_SCHEMA` set, it is that test's child
/// process: it works on the given schema until killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_worker_process() {
    if let Ok(schema) = std::env::var(CHILD_SCHEMA) {
        let pool = common::pool(8, "eventsource-deadline-child").await;
        let options = PgStoreOptions::new(&schema).expect("a valid schema");
        work(
            PgEventStore::with_options(pool, options),
            Duration::from_secs(60),
        )
        .await;
        return;
    }
    let store = common::store().await;
    let worker = tokio::spawn(work(store.clone(), DELAY * 4));
    let bus = CommandBus::new(store.clone()).unwrap();
    bus.dispatch(Place { order: "w1".into() }).await.unwrap();
    eventually("the reminder", DELAY * 3, async || {
        names(&store).await.contains(&"pgdl.Reminded".to_owned())
    })
    .await;
    worker.abort();
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_survives_a_process_restart() {
    let store = common::store().await;
    let mut first = spawn_child(store.schema());
    let bus = CommandBus::new(store.clone()).unwrap();
    bus.dispatch(Place { order: "r1".into() }).await.unwrap();
    // The child's saga scheduled the reminder.
    eventually("the deadline stored", Duration::from_secs(20), async || {
        store
            .saga_store()
            .pending("pgdl.reminder")
            .await
            .unwrap()
            .len()
            == 1
    })
    .await;
    first.kill().expect("kill the child");
    first.wait().expect("reap the child");

    // Downtime past the due time: nothing fires while no process runs.
    tokio::time::sleep(DELAY + Duration::from_secs(1)).await;
    assert!(
        !names(&store)
            .await
            .contains(&"eventsource.DeadlineReached".to_owned())
    );

    // A new process fires it, late, and its saga handles it.
    let mut second = spawn_child(store.schema());
    eventually(
        "the reminder after the restart",
        Duration::from_secs(30),
        async || names(&store).await.contains(&"pgdl.Reminded".to_owned()),
    )
    .await;
    second.kill().expect("kill the child");
    second.wait().expect("reap the child");
    let names = names(&store).await;
    let count = |name: &str| names.iter().filter(|n| *n == name).count();
    assert_eq!(count("eventsource.DeadlineReached"), 1, "{names:?}");
    assert_eq!(count("pgdl.Reminded"), 1, "{names:?}");
    assert!(
        store
            .saga_store()
            .pending("pgdl.reminder")
            .await
            .unwrap()
            .is_empty()
    );
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_schedulers_fire_each_deadline_once() {
    let store = common::store().await;
    let deadlines = store.saga_store();
    let clock = Clock::system();
    let now = clock.now();
    for i in 0..20u32 {
        deadlines
            .schedule(Deadline {
                id: clock.uuid_v7(),
                saga: "pgdl.reminder".into(),
                correlation_id: clock.uuid_v7(),
                name: format!("d{i}"),
                due_at: now - chrono::Duration::seconds(i64::from(i)),
                payload: "null".into(),
            })
            .await
            .unwrap();
    }
    let other = common::same_schema(&store, "eventsource-tests-dl", |o| o).await;
    let schedulers: Vec<DeadlineScheduler> = (0..4)
        .map(|i| {
            let events = if i % 2 == 0 {
                store.clone()
            } else {
                other.clone()
            };
            DeadlineScheduler::new(events.clone(), events.saga_store())
        })
        .collect();
    let fired = futures::future::join_all(schedulers.iter().map(|s| s.fire_due())).await;
    let total: usize = fired.into_iter().map(Result::unwrap).sum();
    assert_eq!(total, 20);
    let names = names(&store).await;
    assert_eq!(names.len(), 20);
    assert!(deadlines.pending("pgdl.reminder").await.unwrap().is_empty());
    common::drop_schema(&store).await;
}
