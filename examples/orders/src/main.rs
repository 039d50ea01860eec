//! A walkthrough of the order domain: aggregates, the order-summary read
//! model and the fulfilment saga.
//!
//! Run it with `cargo run -p orders`. With `DATABASE_URL` set, events, the
//! order summary (a PostgreSQL table written in the projection's
//! transaction), checkpoints and saga state live in PostgreSQL, in the
//! schema `orders_example` or the one named by `ORDERS_SCHEMA` (the smoke
//! test gives each run its own); otherwise everything is in memory. Every
//! run uses new order ids, so it can run again on the same schema. For a
//! server that requires TLS, put `?sslmode=verify-full&sslrootcert=<CA file>`
//! in `DATABASE_URL`.

use std::sync::Arc;
use std::time::Duration;

use eventsource::CommandError;
use eventsource::memory::{InMemoryProjectionBackend, InMemorySagaStore, InMemoryStore};
use eventsource::prelude::*;
use eventsource_postgres::{PgEventStore, PgStoreOptions};
use orders::inventory::Restock;
use orders::order::{
    AddLine, CancelOrder, Line, Order, PlaceOrder, ShipOrder, Status, SubmitOrder,
};
use orders::saga::{Fulfilment, WAREHOUSE};
use orders::summary::{InMemorySummaries, OrderSummary, PgSummaries};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The schema used on PostgreSQL when `ORDERS_SCHEMA` is not set.
const DEFAULT_SCHEMA: &str = "orders_example";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();

    let app = App::start().await?;
    let (bus, runner) = (&app.bus, &app.runner);
    println!("eventsource orders walkthrough (store: {})\n", app.kind);
    // Order ids unique to this run, so it can run again on the same database.
    let run = eventsource::uuid::Uuid::now_v7().simple().to_string();
    let order_id = |n: u32| format!("order-{n}-{}", &run[run.len() - 6..]);

    bus.dispatch(Restock {
        warehouse: WAREHOUSE.into(),
        sku: "tea".into(),
        quantity: 20,
    })
    .await?;
    println!("Stocked 20 tea in warehouse `{WAREHOUSE}`.\n");

    println!("1. An order that goes through: reserve, pay, approve, then ship");
    let id = &order_id(1);
    place(bus, id, &[("tea", 4, 1_250)]).await?;
    let order = settle(&app, id).await?;
    println!("   the saga drove it to {:?}", order.status);
    bus.dispatch(ShipOrder {
        order_id: id.into(),
    })
    .await?;
    app.show(id).await?;

    println!("\n2. An order whose payment is declined: the saga compensates");
    let id = &order_id(2);
    place(bus, id, &[("tea", 10, 15_000)]).await?;
    let order = settle(&app, id).await?;
    println!(
        "   the saga released the stock and moved it to {:?}",
        order.status
    );
    app.show(id).await?;

    println!("\n3. A customer cancels before submitting");
    let id = &order_id(3);
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
    app.show(id).await?;

    println!("\n4. Read model status");
    // Everything is written; let every processor reach the head first, so
    // the status shows where they settle rather than a moment in between.
    let head = app.store.head_position().await?;
    for name in runner.names() {
        runner
            .wait_until(name, head, Duration::from_secs(10))
            .await?;
    }
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
async fn settle(app: &App, id: &str) -> Result<Order, BoxError> {
    let orders = app.bus.repository::<Order>();
    for _ in 0..1000 {
        let order = orders.load(id).await?.ok_or("the order exists")?;
        if matches!(order.state.status, Status::Approved | Status::Cancelled) {
            let head = app.store.head_position().await?;
            app.runner
                .wait_until("orders.fulfilment", head, Duration::from_secs(10))
                .await?;
            return Ok(order.state);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err(format!("{id} did not settle").into())
}

/// The stores, the bus and the runner, in memory or on PostgreSQL.
struct App {
    /// Which store, for the heading.
    kind: String,
    store: Arc<dyn EventStore>,
    bus: CommandBus,
    runner: ProjectionRunner,
    summaries: Summaries,
}

enum Summaries {
    Memory(InMemorySummaries),
    Postgres(PgSummaries, PgEventStore),
}

impl App {
    async fn start() -> Result<Self, BoxError> {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => {
                let schema = match std::env::var("ORDERS_SCHEMA") {
                    Ok(schema) if !schema.trim().is_empty() => schema,
                    _ => DEFAULT_SCHEMA.to_owned(),
                };
                let options = PgStoreOptions::new(&schema).map_err(|e| {
                    format!("ORDERS_SCHEMA `{schema}` is not a valid schema name: {e}")
                })?;
                let store = PgEventStore::connect_with(&url, options).await?;
                store.migrate().await?;
                let summaries = PgSummaries::create(&store).await?;
                let bus = CommandBus::new(store.clone())?.with_snapshots(store.clone());
                let runner =
                    ProjectionRunner::new(store.clone())?.with_dead_letters(store.dead_letters());
                runner
                    .start(summaries.clone(), store.projection_backend())
                    .await?;
                runner
                    .start(
                        SagaProcessor::<Fulfilment>::new(bus.clone(), store.saga_store()),
                        store.projection_backend(),
                    )
                    .await?;
                Ok(Self {
                    kind: format!("PostgreSQL, schema {schema}"),
                    store: Arc::new(store.clone()),
                    bus,
                    runner,
                    summaries: Summaries::Postgres(summaries, store),
                })
            }
            _ => {
                let store = InMemoryStore::new();
                let bus = CommandBus::new(store.clone())?.with_snapshots(store.clone());
                let runner = ProjectionRunner::new(store.clone())?;
                let summaries = InMemorySummaries::default();
                runner
                    .start(summaries.clone(), InMemoryProjectionBackend::new())
                    .await?;
                runner
                    .start(
                        SagaProcessor::<Fulfilment>::new(bus.clone(), InMemorySagaStore::new()),
                        InMemoryProjectionBackend::new(),
                    )
                    .await?;
                Ok(Self {
                    kind: "in memory".to_owned(),
                    store: Arc::new(store),
                    bus,
                    runner,
                    summaries: Summaries::Memory(summaries),
                })
            }
        }
    }

    fn summary_projection(&self) -> &'static str {
        match self.summaries {
            Summaries::Memory(_) => "orders.summary.memory",
            Summaries::Postgres(..) => "orders.summary.postgres",
        }
    }

    async fn summary(&self, id: &str) -> Result<Option<OrderSummary>, BoxError> {
        Ok(match &self.summaries {
            Summaries::Memory(rows) => rows.get(id),
            Summaries::Postgres(rows, store) => rows.get(store.pool(), id).await?,
        })
    }

    /// Prints the order's row once the summary has caught up (read-your-writes).
    async fn show(&self, id: &str) -> Result<(), BoxError> {
        let head = self.store.head_position().await?;
        self.runner
            .wait_until(self.summary_projection(), head, Duration::from_secs(10))
            .await?;
        let row = self.summary(id).await?.ok_or("the summary has the order")?;
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
}
