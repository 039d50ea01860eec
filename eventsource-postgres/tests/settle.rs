//! Waiting until processing settles on PostgreSQL: a saga's commands and
//! the events they cause are processed before `settle` returns, and a
//! projection held back is reported when the wait times out.

mod common;

use std::time::Duration;

use eventsource::BoxError;
use eventsource::prelude::*;
use eventsource::projection::SettleError;
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(20);

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "pgsettle.Placed")]
struct Placed {
    order: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "pgsettle.Paid")]
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
#[aggregate(name = "pgsettle.Order")]
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

#[saga(name = "pgsettle.payment")]
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

#[projection(name = "pgsettle.counts")]
impl Counts {
    fn on_placed(&mut self, _: &Placed) {
        self.placed += 1;
    }

    fn on_paid(&mut self, _: &Paid) {
        self.paid += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settles_after_the_events_a_saga_caused_on_postgres() {
    let store = common::store().await;
    let bus = CommandBus::new(store.clone()).unwrap();
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_dead_letters(store.dead_letters());
    runner
        .start(
            SagaProcessor::<Payment>::new(bus.clone(), store.saga_store()),
            store.projection_backend(),
        )
        .await
        .unwrap();
    runner
        .start(Counts::default(), store.projection_backend())
        .await
        .unwrap();
    let mut last = 0;
    for order in ["o1", "o2", "o3"] {
        let placed = bus
            .dispatch(Place {
                order: order.into(),
            })
            .await
            .unwrap();
        last = placed.appended.unwrap().last_position;
    }
    let settled = runner.settle(last, WAIT).await.unwrap();
    // Every order was paid by the saga, and both processors saw it all.
    let head = store.head_position().await.unwrap();
    assert_eq!(settled.position, head);
    assert!(head > last, "the saga's payments come after the orders");
    assert_eq!(
        store
            .count_events(1, eventsource::store::EventFilter::all())
            .await
            .unwrap(),
        6
    );
    for name in ["pgsettle.counts", "pgsettle.payment"] {
        let status = runner.status(name).await.unwrap();
        // Positions on PostgreSQL are not dense: a checkpoint may stand
        // past the last event (at the horizon the log was read up to).
        assert!(
            status.position.is_some_and(|p| p >= head),
            "{name}: {status:?}"
        );
    }

    // A second runner on the same store, whose processors another instance
    // owns: they stay on standby, and the timeout says so.
    let other = ProjectionRunner::new(store.clone()).unwrap();
    other
        .start(Counts::default(), store.projection_backend())
        .await
        .unwrap();
    bus.dispatch(Place { order: "o4".into() }).await.unwrap();
    let head = store.head_position().await.unwrap();
    let err = other
        .settle(head, Duration::from_millis(500))
        .await
        .unwrap_err();
    match &err {
        SettleError::Timeout { pending, .. } => {
            assert_eq!(pending.len(), 1, "{pending:?}");
            assert_eq!(pending[0].name, "pgsettle.counts");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    other.shutdown().await;
    runner.shutdown().await;
    common::drop_schema(&store).await;
}
