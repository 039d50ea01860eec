//! A walkthrough of the order domain: aggregates, the order-summary read
//! model and the fulfilment saga.
//!
//! Run it with `cargo run -p orders`.

use std::time::Duration;

use eventsource::memory::{InMemoryProjectionBackend, InMemorySagaStore, InMemoryStore};
use eventsource::prelude::*;
use orders::inventory::Restock;
use orders::order::{
    AddLine, CancelOrder, Line, Order, PlaceOrder, ShipOrder, Status, SubmitOrder,
};
use orders::saga::{Fulfilment, WAREHOUSE};
use orders::summary::InMemorySummaries;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();

    let store = InMemoryStore::new();
    let bus = CommandBus::new(store.clone())?;
    let runner = ProjectionRunner::new(store.clone())?;
    let summaries = InMemorySummaries::default();
    runner.start(summaries.clone(), InMemoryProjectionBackend::new())?;
    runner.start(
        SagaProcessor::<Fulfilment>::new(bus.clone(), InMemorySagaStore::new()),
        InMemoryProjectionBackend::new(),
    )?;
    println!("eventsource orders walkthrough (store: in memory)\n");

    bus.dispatch(Restock {
        warehouse: WAREHOUSE.into(),
        sku: "tea".into(),
        quantity: 20,
    })
    .await?;
    println!("Stocked 20 tea in warehouse `{WAREHOUSE}`.\n");

    println!("1. An order that goes through: reserve, pay, approve, then ship");
    let id = "order-1";
    place(&bus, id, &[("tea", 4, 1_250)]).await?;
    let order = settle(&bus, &store, &runner, id).await?;
    println!("   the saga drove it to {:?}", order.status);
    bus.dispatch(ShipOrder {
        order_id: id.into(),
    })
    .await?;
    show(&store, &runner, &summaries, id).await?;

    println!("\n2. An order whose payment is declined: the saga compensates");
    let id = "order-2";
    place(&bus, id, &[("tea", 10, 15_000)]).await?;
    let order = settle(&bus, &store, &runner, id).await?;
    println!(
        "   the saga released the stock and moved it to {:?}",
        order.status
    );
    show(&store, &runner, &summaries, id).await?;

    println!("\n3. A customer cancels before submitting");
    let id = "order-3";
    bus.dispatch(PlaceOrder {
        order_id: id.into(),
        customer: "ann".into(),
    })
    .await?;
    bus.dispatch(CancelOrder {
        order_id: id.into(),
        reason: "changed my mind".into(),
    })
    .await?;
    match bus
        .dispatch(SubmitOrder {
            order_id: id.into(),
        })
        .await
    {
        Err(CommandError::Rejected(err)) => println!("   submitting it now is refused: {err}"),
        other => return Err(format!("expected a rejection, got {other:?}").into()),
    }
    show(&store, &runner, &summaries, id).await?;

    println!("\n4. Read model status");
    for name in runner.names() {
        let status = runner.status(name).await?;
        println!(
            "   {name}: {:?}, checkpoint {:?}, lag {}, parked {}",
            status.state, status.position, status.lag, status.parked
        );
    }
    runner.shutdown().await;
    Ok(())
}

async fn place(bus: &CommandBus, id: &str, lines: &[(&str, u32, i64)]) -> Result<(), BoxError> {
    bus.dispatch(PlaceOrder {
        order_id: id.into(),
        customer: "cy".into(),
    })
    .await?;
    for (sku, quantity, unit_price) in lines {
        bus.dispatch(AddLine {
            order_id: id.into(),
            line: Line {
                sku: (*sku).into(),
                quantity: *quantity,
                unit_price: *unit_price,
            },
        })
        .await?;
    }
    bus.dispatch(SubmitOrder {
        order_id: id.into(),
    })
    .await?;
    println!("   placed and submitted {id}");
    Ok(())
}

/// Waits for the saga to approve or cancel the order.
async fn settle(
    bus: &CommandBus,
    store: &InMemoryStore,
    runner: &ProjectionRunner,
    id: &str,
) -> Result<Order, BoxError> {
    let orders = bus.repository::<Order>();
    for _ in 0..500 {
        let order = orders.load(id).await?.ok_or("the order exists")?;
        if matches!(order.state.status, Status::Approved | Status::Cancelled) {
            let head = store.head_position().await?;
            runner
                .wait_until("orders.fulfilment", head, Duration::from_secs(5))
                .await?;
            return Ok(order.state);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err(format!("{id} did not settle").into())
}

/// Prints the order's row once the summary has caught up (read-your-writes).
async fn show(
    store: &InMemoryStore,
    runner: &ProjectionRunner,
    summaries: &InMemorySummaries,
    id: &str,
) -> Result<(), BoxError> {
    let head = store.head_position().await?;
    runner
        .wait_until("orders.summary.memory", head, Duration::from_secs(5))
        .await?;
    let row = summaries.get(id).ok_or("the summary has the order")?;
    println!(
        "   summary: {} | {} line(s) | total {} | {}{}",
        row.order_id,
        row.lines,
        row.total,
        row.status,
        row.cancel_reason
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    Ok(())
}
