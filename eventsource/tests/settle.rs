//! Waiting until processing settles: every projection and saga reaches a
//! position, then the events of the commands sagas dispatched because of
//! it; a timeout reports who is behind. And the saga fixture.

use std::sync::Arc;
use std::time::Duration;

use eventsource::BoxError;
use eventsource::memory::{InMemoryProjectionBackend, InMemorySagaStore};
use eventsource::prelude::*;
use eventsource::projection::{
    ControlCommand, ControlStore, InMemoryControlStore, ProjectionState, SettleError,
};
use eventsource::testing::SagaFixture;
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(10);

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "settle.Placed")]
struct Placed {
    order: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "settle.Paid")]
struct Paid {
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

#[derive(Aggregate, Default)]
#[aggregate(name = "settle.Order")]
struct Order {
    paid: bool,
}

#[aggregate_impl]
impl Order {
    #[command_handler(create)]
    fn place(&self, cmd: &Place) -> Placed {
        Placed {
            order: cmd.order.clone(),
        }
    }

    #[command_handler]
    fn pay(&self, cmd: &Pay) -> Option<Paid> {
        (!self.paid).then(|| Paid {
            order: cmd.order.clone(),
        })
    }

    #[event_sourcing_handler]
    fn on_placed(&mut self, _: &Placed) {}

    #[event_sourcing_handler]
    fn on_paid(&mut self, _: &Paid) {
        self.paid = true;
    }
}

/// Pays every order placed.
#[derive(Default, Serialize, Deserialize, Debug)]
struct Payment {
    done: bool,
}

#[saga(name = "settle.payment")]
impl Payment {
    #[start]
    async fn on_placed(&mut self, e: &Placed, ctx: &mut SagaContext<'_>) -> Result<(), BoxError> {
        ctx.dispatch(Pay {
            order: e.order.clone(),
        })
        .await?;
        Ok(())
    }

    fn on_paid(&mut self, _: &Paid, ctx: &mut SagaContext<'_>) {
        self.done = true;
        ctx.complete();
    }
}

/// Counts the orders placed and paid.
#[derive(Default)]
struct Counts {
    placed: u32,
    paid: u32,
}

#[projection(name = "settle.counts")]
impl Counts {
    fn on_placed(&mut self, _: &Placed) {
        self.placed += 1;
    }

    fn on_paid(&mut self, _: &Paid) {
        self.paid += 1;
    }
}

#[tokio::test]
async fn settles_after_the_events_sagas_caused() {
    let store = InMemoryStore::new();
    let bus = CommandBus::new(store.clone()).unwrap();
    let runner = ProjectionRunner::new(store.clone()).unwrap();
    runner
        .start(
            SagaProcessor::<Payment>::new(bus.clone(), InMemorySagaStore::new()),
            InMemoryProjectionBackend::new(),
        )
        .await
        .unwrap();
    runner
        .start(Counts::default(), InMemoryProjectionBackend::new())
        .await
        .unwrap();
    let placed = bus.dispatch(Place { order: "o1".into() }).await.unwrap();
    let position = placed.appended.unwrap().last_position;
    let settled = runner.settle(position, WAIT).await.unwrap();
    // The saga paid the order: its event came after, and was processed too.
    assert_eq!(settled.position, 2);
    assert!(settled.rounds >= 2, "{settled:?}");
    assert_eq!(store.head_position().await.unwrap(), 2);
    for name in ["settle.counts", "settle.payment"] {
        let status = runner.status(name).await.unwrap();
        assert_eq!(status.position, Some(2), "{name}");
    }
    // Nothing new: settles at once, in one round.
    let again = runner.settle(2, WAIT).await.unwrap();
    assert_eq!((again.position, again.rounds), (2, 1));
    runner.shutdown().await;
}

#[tokio::test]
async fn a_timeout_reports_who_is_behind() {
    let store = InMemoryStore::new();
    let bus = CommandBus::new(store.clone()).unwrap();
    let control: Arc<dyn ControlStore> = Arc::new(InMemoryControlStore::new());
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_shared_control(control.clone());
    runner
        .start(Counts::default(), InMemoryProjectionBackend::new())
        .await
        .unwrap();
    bus.dispatch(Place { order: "o1".into() }).await.unwrap();
    runner.settle(1, WAIT).await.unwrap();
    control
        .request("settle.counts", ControlCommand::Pause, None)
        .await
        .unwrap();
    let mut state = None;
    for _ in 0..500 {
        state = Some(runner.status("settle.counts").await.unwrap().state);
        if state == Some(ProjectionState::Paused) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(state, Some(ProjectionState::Paused));
    bus.dispatch(Place { order: "o2".into() }).await.unwrap();
    let err = runner
        .settle(2, Duration::from_millis(300))
        .await
        .unwrap_err();
    match &err {
        SettleError::Timeout {
            target, pending, ..
        } => {
            assert_eq!(*target, 2);
            assert_eq!(pending.len(), 1, "{pending:?}");
            assert_eq!(pending[0].name, "settle.counts");
            assert_eq!(pending[0].reached, Some(1));
            assert_eq!(pending[0].state, ProjectionState::Paused);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(err.to_string().contains("settle.counts v1 at 1"), "{err}");
    runner.shutdown().await;
}

#[test]
fn the_saga_fixture_expects_the_commands_dispatched() {
    SagaFixture::<Payment>::new()
        .when(Placed { order: "o1".into() })
        .then_expect_dispatched(Pay { order: "o1".into() })
        .then_expect_completed(false);
    SagaFixture::<Payment>::given([Placed { order: "o1".into() }])
        .when(Paid { order: "o1".into() })
        .then_expect_no_commands()
        .then_expect_completed(true)
        .then_expect_state(|state| assert!(state.done));
    // An event that starts no instance is not handled.
    let outcome = SagaFixture::<Payment>::new().when(Paid { order: "o9".into() });
    assert!(!outcome.handled());
    assert!(outcome.commands().is_empty());
}

#[test]
#[should_panic(expected = "expected exactly")]
fn the_saga_fixture_fails_on_other_commands() {
    SagaFixture::<Payment>::new()
        .when(Placed { order: "o1".into() })
        .then_expect_dispatched(Pay { order: "o2".into() });
}
