//! The fulfilment saga end to end, on the in-memory store and on PostgreSQL:
//! the happy path, and the compensation path when the payment is declined.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use eventsource::StoreError;
use eventsource::memory::{InMemoryProjectionBackend, InMemorySagaStore, InMemoryStore};
use eventsource::prelude::*;
use eventsource::projection::RunnerError;
use eventsource::saga::{SagaInstance, SagaStore};
use eventsource_postgres::{PgEventStore, PgStoreOptions};
use futures::TryStreamExt;
use orders::inventory::{Restock, Warehouse};
use orders::order::{AddLine, Line, Order, PlaceOrder, Status, SubmitOrder};
use orders::saga::{Fulfilment, Step, WAREHOUSE};
use orders::summary::{InMemorySummaries, OrderSummary, PgSummaries};
use uuid::Uuid;

struct World {
    store: Arc<dyn EventStore>,
    bus: CommandBus,
    runner: ProjectionRunner,
    sagas: Arc<dyn SagaStore>,
    summaries: Summaries,
}

enum Summaries {
    Memory(InMemorySummaries),
    Postgres(PgSummaries, PgEventStore),
}

impl World {
    fn summary_projection(&self) -> &'static str {
        match self.summaries {
            Summaries::Memory(_) => "orders.summary.memory",
            Summaries::Postgres(..) => "orders.summary.postgres",
        }
    }

    async fn summary(&self, id: &str) -> OrderSummary {
        match &self.summaries {
            Summaries::Memory(rows) => rows.get(id),
            Summaries::Postgres(rows, store) => rows.get(store.pool(), id).await.unwrap(),
        }
        .unwrap()
    }

    async fn finish(self) {
        self.runner.shutdown().await;
        if let Summaries::Postgres(_, store) = &self.summaries {
            let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", store.schema());
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(store.pool())
                .await
                .unwrap();
        }
    }
}

async fn memory_world() -> World {
    memory_world_with(Arc::new(InMemorySagaStore::new())).await
}

async fn memory_world_with(sagas: Arc<dyn SagaStore>) -> World {
    let store = InMemoryStore::new();
    let bus = CommandBus::new(store.clone()).unwrap();
    let runner = ProjectionRunner::new(store.clone()).unwrap();
    let summaries = InMemorySummaries::default();
    runner
        .start(
            SagaProcessor::<Fulfilment>::shared(bus.clone(), sagas.clone()),
            InMemoryProjectionBackend::new(),
        )
        .await
        .unwrap();
    runner
        .start(summaries.clone(), InMemoryProjectionBackend::new())
        .await
        .unwrap();
    stocked(World {
        store: Arc::new(store),
        bus,
        runner,
        sagas,
        summaries: Summaries::Memory(summaries),
    })
    .await
}

/// A world in a fresh schema of the server at `DATABASE_URL`.
async fn postgres_world() -> World {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!("DATABASE_URL is not set: run ./scripts/test, which finds or starts PostgreSQL")
    });
    let schema = format!("orders_t_{:08x}", fastrand::u32(..));
    let store = PgEventStore::connect_with(&url, PgStoreOptions::new(&schema).unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let bus = CommandBus::new(store.clone()).unwrap();
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_dead_letters(store.dead_letters());
    let summaries = PgSummaries::create(&store).await.unwrap();
    runner
        .start(
            SagaProcessor::<Fulfilment>::new(bus.clone(), store.saga_store()),
            store.projection_backend(),
        )
        .await
        .unwrap();
    runner
        .start(summaries.clone(), store.projection_backend())
        .await
        .unwrap();
    stocked(World {
        store: Arc::new(store.clone()),
        bus,
        runner,
        sagas: Arc::new(store.saga_store()),
        summaries: Summaries::Postgres(summaries, store),
    })
    .await
}

async fn stocked(world: World) -> World {
    world
        .bus
        .dispatch(Restock {
            warehouse: WAREHOUSE.into(),
            sku: "book".into(),
            quantity: 10,
        })
        .await
        .unwrap();
    world
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
    // A header on the command that starts the flow (a tenant, say) must
    // follow it through every saga step.
    world
        .bus
        .dispatch_with(
            SubmitOrder {
                order_id: id.into(),
            },
            Metadata::new().with_header("tenant", "acme"),
        )
        .await
        .unwrap();
}

/// Waits until the order reaches a final status.
async fn settled(world: &World, id: &str) -> Order {
    let orders = world.bus.repository::<Order>();
    for _ in 0..2000 {
        let order = orders.load(id).await.unwrap().unwrap();
        if matches!(order.state.status, Status::Approved | Status::Cancelled) {
            let head = world.store.head_position().await.unwrap();
            for name in ["orders.fulfilment", world.summary_projection()] {
                world
                    .runner
                    .wait_until(name, head, Duration::from_secs(20))
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

async fn happy_path_reserves_pays_and_approves(world: World) {
    order(&world, "o-1", 3, 1_000).await;
    let order = settled(&world, "o-1").await;
    assert_eq!(order.status, Status::Approved);
    assert_eq!(saga_step(&world, "o-1").await, (Step::Approved, true));
    let warehouse = warehouse(&world).await;
    assert_eq!(warehouse.available["book"], 7);
    let summary = world.summary("o-1").await;
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
    for event in &flow {
        assert_eq!(
            event.metadata.headers.get("tenant").map(String::as_str),
            Some("acme"),
            "{} lost the flow's header",
            event.event_name
        );
    }
    world.finish().await;
}

async fn a_declined_payment_releases_the_stock_and_cancels_the_order(world: World) {
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
    let summary = world.summary("o-2").await;
    assert_eq!(summary.status, "cancelled");
    assert!(summary.cancel_reason.unwrap().contains("card declined"));
    world.finish().await;
}

async fn out_of_stock_cancels_without_payment(world: World) {
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
    world.finish().await;
}

macro_rules! on_both_stores {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::memory_world().await).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::postgres_world().await).await;
                }
            )*
        }
    };
}

on_both_stores!(
    happy_path_reserves_pays_and_approves,
    a_declined_payment_releases_the_stock_and_cancels_the_order,
    out_of_stock_cancels_without_payment,
);

/// Saga instances in memory, where the process "crashes" once: the first
/// save of an approved fulfilment fails, after `ApproveOrder` went out.
#[derive(Default)]
struct CrashAfterApproving {
    inner: InMemorySagaStore,
    crashed: AtomicBool,
}

#[async_trait]
impl SagaStore for CrashAfterApproving {
    async fn load(
        &self,
        saga: &str,
        correlation_id: Uuid,
    ) -> Result<Option<SagaInstance>, StoreError> {
        self.inner.load(saga, correlation_id).await
    }

    async fn save(
        &self,
        saga: &str,
        correlation_id: Uuid,
        instance: SagaInstance,
    ) -> Result<(), StoreError> {
        let state: Fulfilment = serde_json::from_str(&instance.state).unwrap();
        if state.step == Step::Approved && !self.crashed.swap(true, Ordering::SeqCst) {
            return Err(StoreError::Connection(
                "the process died before saving the saga".into(),
            ));
        }
        self.inner.save(saga, correlation_id, instance).await
    }

    async fn list(&self, saga: &str) -> Result<Vec<(Uuid, SagaInstance)>, StoreError> {
        self.inner.list(saga).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_redelivered_after_the_approval_approves_once() {
    let sagas = Arc::new(CrashAfterApproving::default());
    let world = memory_world_with(sagas.clone()).await;
    order(&world, "o-4", 1, 500).await;
    let order = settled(&world, "o-4").await;
    assert!(sagas.crashed.load(Ordering::SeqCst), "the crash happened");

    // The payment came again to a saga still waiting for it; the order
    // was approved already, which the saga takes as its step done.
    assert_eq!(order.status, Status::Approved);
    assert_eq!(saga_step(&world, "o-4").await, (Step::Approved, true));
    assert!(
        world
            .runner
            .parked("orders.fulfilment")
            .await
            .unwrap()
            .is_empty()
    );
    let approvals: Vec<RecordedEvent> = world
        .store
        .read_all(
            1,
            EventFilter::all().with_event_names(["orders.OrderApproved"]),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(approvals.len(), 1, "approved once");

    // A saga is never rebuilt: replaying it would dispatch its commands again.
    assert!(matches!(
        world.runner.rebuild("orders.fulfilment", |_| {}).await,
        Err(RunnerError::NoReset(_))
    ));
    world.finish().await;
}
