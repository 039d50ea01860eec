//! A saga run by a `SagaProcessor` over a tiny aggregate: a `#[start]`
//! handler begins an instance and dispatches a command, follow-up handlers
//! (with the metadata, the context, both or neither; sync and async;
//! fallible and not) react to the events it causes, and the last one ends
//! the instance. Events of no instance are ignored unless they start one.

use std::time::Duration;

use eventsource::BoxError;
use eventsource::memory::{InMemoryProjectionBackend, InMemorySagaStore};
use eventsource::prelude::*;
use eventsource::saga::SagaStore;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "pass.OrderPlaced")]
struct OrderPlaced {
    order: String,
    total: i64,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "pass.PaymentTaken")]
struct PaymentTaken {
    order: String,
    amount: i64,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "pass.OrderApproved")]
struct OrderApproved {
    order: String,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "pass.OrderQuoted")]
struct OrderQuoted {
    order: String,
}

#[derive(Command)]
#[command(aggregate = Order)]
struct PlaceOrder {
    #[aggregate_id]
    order: String,
    total: i64,
}

#[derive(Command)]
#[command(aggregate = Order)]
struct TakePayment {
    #[aggregate_id]
    order: String,
    amount: i64,
}

#[derive(Command)]
#[command(aggregate = Order)]
struct ApproveOrder {
    #[aggregate_id]
    order: String,
}

#[derive(Aggregate, Default)]
#[aggregate(name = "pass.Order")]
struct Order {
    paid: bool,
    approved: bool,
}

#[aggregate_impl]
impl Order {
    #[command_handler(create)]
    fn place(&self, cmd: &PlaceOrder) -> OrderPlaced {
        OrderPlaced {
            order: cmd.order.clone(),
            total: cmd.total,
        }
    }

    #[command_handler(create_if_missing)]
    fn pay(&self, cmd: &TakePayment) -> PaymentTaken {
        PaymentTaken {
            order: cmd.order.clone(),
            amount: cmd.amount,
        }
    }

    #[command_handler]
    fn approve(&self, cmd: &ApproveOrder) -> Option<OrderApproved> {
        (self.paid && !self.approved).then(|| OrderApproved {
            order: cmd.order.clone(),
        })
    }

    #[event_sourcing_handler]
    fn on_placed(&mut self, _: &OrderPlaced) {}

    #[event_sourcing_handler]
    fn on_paid(&mut self, _: &PaymentTaken) {
        self.paid = true;
    }

    #[event_sourcing_handler]
    fn on_approved(&mut self, _: &OrderApproved) {
        self.approved = true;
    }
}

/// One order's fulfilment: the steps it saw.
#[derive(Default, Serialize, Deserialize, Debug)]
struct Fulfilment {
    order: String,
    steps: Vec<String>,
}

#[saga(name = "pass.fulfilment")]
impl Fulfilment {
    #[start]
    async fn on_placed(
        &mut self,
        e: &OrderPlaced,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        self.order = e.order.clone();
        self.steps.push("placed".into());
        ctx.dispatch(TakePayment {
            order: e.order.clone(),
            amount: e.total,
        })
        .await?;
        Ok(())
    }

    #[start]
    fn on_quoted(&mut self, e: &OrderQuoted) {
        self.order = e.order.clone();
    }

    async fn on_paid(
        &mut self,
        e: &PaymentTaken,
        meta: &RecordedEvent,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        let caused = meta.metadata.causation_id.is_some();
        self.steps
            .push(format!("paid {} (caused: {caused})", e.amount));
        ctx.dispatch(ApproveOrder {
            order: self.order.clone(),
        })
        .await?;
        Ok(())
    }

    fn on_approved(&mut self, e: &OrderApproved, ctx: &mut SagaContext<'_>) {
        self.steps.push(format!("approved {}", e.order));
        ctx.complete();
    }
}

#[tokio::main]
async fn main() {
    assert_eq!(<Fulfilment as Saga>::NAME, "pass.fulfilment");
    assert_eq!(
        <Fulfilment as Saga>::EVENTS,
        [
            "pass.OrderPlaced",
            "pass.OrderQuoted",
            "pass.PaymentTaken",
            "pass.OrderApproved",
        ]
    );
    let starts = |name| Fulfilment::starts(&eventsource_tests::stored(name, 1, "{}"));
    assert!(starts("pass.OrderPlaced"));
    assert!(starts("pass.OrderQuoted"));
    assert!(!starts("pass.PaymentTaken"));
    assert!(!starts("pass.OrderApproved"));

    let store = InMemoryStore::new();
    let bus = CommandBus::new(store.clone()).unwrap();
    let runner = ProjectionRunner::new(store.clone()).unwrap();
    let sagas = InMemorySagaStore::new();
    runner
        .start(
            SagaProcessor::<Fulfilment>::new(bus.clone(), sagas.clone()),
            InMemoryProjectionBackend::new(),
        ).await
        .unwrap();

    // A payment outside any fulfilment: no instance, and not a start event.
    bus.dispatch(TakePayment {
        order: "o2".into(),
        amount: 5,
    })
    .await
    .unwrap();
    bus.dispatch(PlaceOrder {
        order: "o1".into(),
        total: 30,
    })
    .await
    .unwrap();

    let orders = bus.repository::<Order>();
    let mut approved = false;
    for _ in 0..1000 {
        approved = orders.load("o1").await.unwrap().unwrap().state.approved;
        if approved {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(approved, "the saga approves the order");
    let head = store.head_position().await.unwrap();
    runner
        .wait_until("pass.fulfilment", head, Duration::from_secs(5))
        .await
        .unwrap();

    let instances = sagas.list("pass.fulfilment").await.unwrap();
    assert_eq!(instances.len(), 1);
    let instance = &instances[0].1;
    assert!(instance.completed);
    let state: Fulfilment = serde_json::from_str(&instance.state).unwrap();
    assert_eq!(state.order, "o1");
    assert_eq!(
        state.steps,
        ["placed", "paid 30 (caused: true)", "approved o1"]
    );
    runner.shutdown().await;
}
