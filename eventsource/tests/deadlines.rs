//! Saga deadlines on a controllable clock: scheduled by a handler, fired
//! into the log once their time has come (late after downtime, never
//! early), cancelled by an event that arrives first, fired once however many
//! schedulers run.

use std::time::Duration;

use eventsource::BoxError;
use eventsource::clock::Clock;
use eventsource::memory::{InMemoryProjectionBackend, InMemorySagaStore};
use eventsource::prelude::*;
use eventsource::saga::{DeadlineReached, DeadlineScheduler, DeadlineStore};
use eventsource::store::{EventFilter, EventStore};
use eventsource::testing::SagaFixture;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "dl.Placed")]
struct Placed {
    order: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "dl.Paid")]
struct Paid {
    order: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "dl.Reminded")]
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
#[aggregate(name = "dl.Order")]
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

#[saga(name = "dl.reminder")]
impl Reminder {
    #[start]
    fn on_placed(&mut self, e: &Placed, ctx: &mut SagaContext<'_>) {
        self.order = e.order.clone();
        ctx.schedule_after("remind", HOUR, serde_json::json!({ "order": e.order }));
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

struct World {
    store: InMemoryStore,
    sagas: InMemorySagaStore,
    bus: CommandBus,
    runner: ProjectionRunner,
    clock: Clock,
}

async fn world() -> World {
    let clock = Clock::seeded(19);
    let _ambient = clock.enter();
    let store = InMemoryStore::new();
    let sagas = InMemorySagaStore::new();
    let bus = CommandBus::new(store.clone()).unwrap();
    let runner = ProjectionRunner::new(store.clone()).unwrap();
    runner
        .start(
            SagaProcessor::<Reminder>::new(bus.clone(), sagas.clone())
                .with_deadlines(sagas.clone()),
            InMemoryProjectionBackend::new(),
        )
        .await
        .unwrap();
    World {
        store,
        sagas,
        bus,
        runner,
        clock,
    }
}

impl World {
    fn scheduler(&self) -> DeadlineScheduler {
        DeadlineScheduler::new(self.store.clone(), self.sagas.clone())
            .with_clock(self.clock.clone())
    }

    async fn settle(&self) {
        let head = self.store.head_position().await.unwrap();
        self.runner.settle(head, WAIT).await.unwrap();
    }

    async fn names(&self) -> Vec<String> {
        let events: Vec<RecordedEvent> = self
            .store
            .read_all(1, EventFilter::all())
            .try_collect()
            .await
            .unwrap();
        events.iter().map(|e| e.event_name.to_string()).collect()
    }
}

#[tokio::test(start_paused = true)]
async fn a_deadline_fires_when_due_and_not_before() {
    let w = world().await;
    w.bus.dispatch(Place { order: "o1".into() }).await.unwrap();
    w.settle().await;
    let pending = w.sagas.pending("dl.reminder").await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].name, "remind");

    let scheduler = w.scheduler();
    assert_eq!(scheduler.fire_due().await.unwrap(), 0);
    tokio::time::advance(HOUR - Duration::from_secs(60)).await;
    assert_eq!(scheduler.fire_due().await.unwrap(), 0, "not a minute early");
    tokio::time::advance(Duration::from_secs(120)).await;
    assert_eq!(scheduler.fire_due().await.unwrap(), 1);
    w.settle().await;
    assert_eq!(
        w.names().await,
        ["dl.Placed", "eventsource.DeadlineReached", "dl.Reminded"]
    );
    assert!(w.sagas.pending("dl.reminder").await.unwrap().is_empty());
    assert_eq!(scheduler.fire_due().await.unwrap(), 0, "fired once");
    w.runner.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_event_that_arrives_first_cancels_the_deadline() {
    let w = world().await;
    // The payment belongs to the order's business transaction (its
    // correlation id), so it reaches the order's saga instance.
    let together = Metadata::new().with_correlation_id(w.clock.uuid_v7());
    w.bus
        .dispatch_with(Place { order: "o2".into() }, together.clone())
        .await
        .unwrap();
    w.bus
        .dispatch_with(Pay { order: "o2".into() }, together)
        .await
        .unwrap();
    w.settle().await;
    assert!(w.sagas.pending("dl.reminder").await.unwrap().is_empty());
    tokio::time::advance(2 * HOUR).await;
    assert_eq!(w.scheduler().fire_due().await.unwrap(), 0);
    assert_eq!(w.names().await, ["dl.Placed", "dl.Paid"]);
    w.runner.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn overdue_deadlines_fire_late_and_once_with_several_schedulers() {
    let w = world().await;
    for order in ["a", "b", "c"] {
        w.bus
            .dispatch(Place {
                order: order.into(),
            })
            .await
            .unwrap();
    }
    w.settle().await;
    // Ten hours of downtime: no scheduler ran.
    tokio::time::advance(10 * HOUR).await;
    let (first, second) = (w.scheduler(), w.scheduler());
    let (x, y) = tokio::join!(first.fire_due(), second.fire_due());
    assert_eq!(x.unwrap() + y.unwrap(), 3, "each deadline claimed once");
    w.settle().await;
    let names = w.names().await;
    let fired = names
        .iter()
        .filter(|n| *n == "eventsource.DeadlineReached")
        .count();
    assert_eq!(fired, 3);
    assert_eq!(names.iter().filter(|n| *n == "dl.Reminded").count(), 3);
    w.runner.shutdown().await;
}

#[test]
fn the_saga_fixture_expects_deadlines() {
    SagaFixture::<Reminder>::new()
        .when(Placed { order: "o1".into() })
        .then_expect_deadline("remind")
        .then_expect_no_commands();
    SagaFixture::<Reminder>::given([Placed { order: "o1".into() }])
        .when(Paid { order: "o1".into() })
        .then_expect_deadline_cancelled("remind")
        .then_expect_completed(true);
}
