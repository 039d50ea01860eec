//! The fulfilment saga end to end on the in-memory store: the happy path,
//! and the compensation path when the payment is declined.

use std::time::Duration;

use eventsource::memory::{InMemoryProjectionBackend, InMemorySagaStore, InMemoryStore};
use eventsource::prelude::*;
use eventsource::saga::SagaStore;
use futures::TryStreamExt;
use orders::inventory::{Restock, Warehouse};
use orders::order::{AddLine, Line, Order, PlaceOrder, Status, SubmitOrder};
use orders::saga::{Fulfilment, Step, WAREHOUSE};
use orders::summary::InMemorySummaries;

struct World {
    store: InMemoryStore,
    bus: CommandBus,
    runner: ProjectionRunner,
    sagas: InMemorySagaStore,
    summaries: InMemorySummaries,
}

async fn world() -> World {
    let store = InMemoryStore::new();
    let bus = CommandBus::new(store.clone()).unwrap();
    let runner = ProjectionRunner::new(store.clone()).unwrap();
    let sagas = InMemorySagaStore::new();
    let summaries = InMemorySummaries::default();
    runner
        .start(
            SagaProcessor::<Fulfilment>::new(bus.clone(), sagas.clone()),
            InMemoryProjectionBackend::new(),
        )
        .unwrap();
    runner
        .start(summaries.clone(), InMemoryProjectionBackend::new())
        .unwrap();
    bus.dispatch(Restock {
        warehouse: WAREHOUSE.into(),
        sku: "book".into(),
        quantity: 10,
    })
    .await
    .unwrap();
    World {
        store,
        bus,
        runner,
        sagas,
        summaries,
    }
}

async fn order(world: &World, id: &str, quantity: u32, unit_price: i64) {
    world
        .bus
        .dispatch(PlaceOrder {
            order_id: id.into(),
            customer: "cy".into(),
        })
        .await
        .unwrap();
    world
        .bus
        .dispatch(AddLine {
            order_id: id.into(),
            line: Line {
                sku: "book".into(),
                quantity,
                unit_price,
            },
        })
        .await
        .unwrap();
    world
        .bus
        .dispatch(SubmitOrder {
            order_id: id.into(),
        })
        .await
        .unwrap();
}

/// Waits until the order reaches a final status.
async fn settled(world: &World, id: &str) -> Order {
    let orders = world.bus.repository::<Order>();
    for _ in 0..500 {
        let order = orders.load(id).await.unwrap().unwrap();
        if matches!(order.state.status, Status::Approved | Status::Cancelled) {
            let head = world.store.head_position().await.unwrap();
            for name in ["orders.fulfilment", "orders.summary.memory"] {
                world
                    .runner
                    .wait_until(name, head, Duration::from_secs(5))
                    .await
                    .unwrap();
            }
            return order.state;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("order {id} never settled");
}

async fn warehouse(world: &World) -> Warehouse {
    let repo = world.bus.repository::<Warehouse>();
    repo.load(WAREHOUSE).await.unwrap().unwrap().state
}

async fn saga_step(world: &World, order_id: &str) -> (Step, bool) {
    let instances = world.sagas.list("orders.fulfilment").await.unwrap();
    instances
        .into_iter()
        .find_map(|(_, instance)| {
            let state: Fulfilment = serde_json::from_str(&instance.state).unwrap();
            (state.order_id == order_id).then_some((state.step, instance.completed))
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_reserves_pays_and_approves() {
    let world = world().await;
    order(&world, "o-1", 3, 1_000).await;
    let order = settled(&world, "o-1").await;
    assert_eq!(order.status, Status::Approved);
    assert_eq!(saga_step(&world, "o-1").await, (Step::Approved, true));
    let warehouse = warehouse(&world).await;
    assert_eq!(warehouse.available["book"], 7);
    let summary = world.summaries.get("o-1").unwrap();
    assert_eq!(
        (summary.status.as_str(), summary.total, summary.lines),
        ("approved", 3_000, 1)
    );

    // Every event of the flow shares the submit command's correlation id, and
    // names its cause.
    let events: Vec<RecordedEvent> = world
        .store
        .read_all(1, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    let submitted = events
        .iter()
        .find(|e| &*e.event_name == "orders.OrderSubmitted")
        .unwrap();
    let correlation = submitted.metadata.correlation_id.unwrap();
    let flow: Vec<&RecordedEvent> = events
        .iter()
        .filter(|e| e.metadata.correlation_id == Some(correlation))
        .collect();
    let names: Vec<&str> = flow.iter().map(|e| &*e.event_name).collect();
    assert_eq!(
        names,
        [
            "orders.OrderSubmitted",
            "orders.InventoryReserved",
            "orders.PaymentTaken",
            "orders.OrderApproved"
        ]
    );
    for pair in flow.windows(2) {
        assert_eq!(pair[1].metadata.causation_id, Some(pair[0].event_id));
    }
    world.runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_payment_releases_the_stock_and_cancels_the_order() {
    let world = world().await;
    // Over the card limit: the payment is declined.
    order(&world, "o-2", 2, 60_000).await;
    let order = settled(&world, "o-2").await;
    assert_eq!(order.status, Status::Cancelled);
    assert_eq!(saga_step(&world, "o-2").await, (Step::Compensated, true));
    let warehouse = warehouse(&world).await;
    assert_eq!(
        warehouse.available["book"], 10,
        "the reservation was released"
    );
    assert!(warehouse.reserved.is_empty());
    let summary = world.summaries.get("o-2").unwrap();
    assert_eq!(summary.status, "cancelled");
    assert!(summary.cancel_reason.unwrap().contains("card declined"));
    world.runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_stock_cancels_without_payment() {
    let world = world().await;
    order(&world, "o-3", 50, 10).await;
    let order = settled(&world, "o-3").await;
    assert_eq!(order.status, Status::Cancelled);
    assert_eq!(saga_step(&world, "o-3").await, (Step::Rejected, true));
    let payments: Vec<RecordedEvent> = world
        .store
        .read_all(
            1,
            EventFilter::all().with_aggregate_types(["orders.Payment"]),
        )
        .try_collect()
        .await
        .unwrap();
    assert!(payments.is_empty());
    world.runner.shutdown().await;
}
