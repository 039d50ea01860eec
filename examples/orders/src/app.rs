//! The running order service: stores, command bus, projections, saga and
//! query bus, in memory or on PostgreSQL.

use std::sync::Arc;

use eventsource::memory::{InMemoryProjectionBackend, InMemorySagaStore, InMemoryStore};
use eventsource::ops::Operations;
use eventsource::prelude::*;
use eventsource_postgres::{PgEventStore, PgStoreOptions};

use crate::queries::OrderSummaries;
use crate::saga::Fulfilment;
use crate::summary::{InMemorySummaries, PgSummaries};

/// A failure while starting.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The schema used on PostgreSQL when `ORDERS_SCHEMA` is not set.
pub const DEFAULT_SCHEMA: &str = "orders_example";

/// Everything the walkthrough and the HTTP service run on.
#[derive(Clone)]
pub struct App {
    /// Which store, for headings.
    pub kind: String,
    /// The event store.
    pub store: Arc<dyn EventStore>,
    /// Runs commands.
    pub bus: CommandBus,
    /// Runs the order summary and the fulfilment saga.
    pub runner: Arc<ProjectionRunner>,
    /// The order summaries, as queries see them.
    pub summaries: OrderSummaries,
    /// Answers queries from the summaries.
    pub queries: QueryBus,
    /// How often an idle SSE stream sends a keep-alive (which also finds
    /// clients that went away).
    pub keep_alive: std::time::Duration,
    /// The operations API over the same stores, for the console.
    pub ops: Operations,
}

impl App {
    /// On PostgreSQL when `DATABASE_URL` is set (in the schema named by
    /// `ORDERS_SCHEMA`, by default [`DEFAULT_SCHEMA`]), else in memory.
    pub async fn from_env() -> Result<Self, BoxError> {
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
                Self::on_postgres(store).await
            }
            _ => Self::in_memory().await,
        }
    }

    /// Everything in memory.
    pub async fn in_memory() -> Result<Self, BoxError> {
        let store = InMemoryStore::new();
        let bus = CommandBus::new(store.clone())?.with_snapshots(store.clone());
        let runner = Arc::new(ProjectionRunner::new(store.clone())?);
        let summaries = InMemorySummaries::default();
        // One backend and saga store, shared with the console's view of them.
        let backend = InMemoryProjectionBackend::new();
        let sagas = InMemorySagaStore::new();
        runner.start(summaries.clone(), backend.clone()).await?;
        runner
            .start(
                SagaProcessor::<Fulfilment>::new(bus.clone(), sagas.clone()),
                backend.clone(),
            )
            .await?;
        let ops = Operations::new(store.clone())
            .with_catalog(backend)
            .with_sagas(sagas);
        Self::assemble(
            "in memory".to_owned(),
            Arc::new(store),
            bus,
            runner,
            OrderSummaries::Memory(summaries),
            ops,
        )
    }

    /// Everything on `store`, whose schema is migrated first.
    pub async fn on_postgres(store: PgEventStore) -> Result<Self, BoxError> {
        store.migrate().await?;
        let summaries = PgSummaries::create(&store).await?;
        let bus = CommandBus::new(store.clone())?.with_snapshots(store.clone());
        let runner =
            Arc::new(ProjectionRunner::new(store.clone())?.with_dead_letters(store.dead_letters()));
        runner
            .start(summaries.clone(), store.projection_backend())
            .await?;
        runner
            .start(
                SagaProcessor::<Fulfilment>::new(bus.clone(), store.saga_store()),
                store.projection_backend(),
            )
            .await?;
        Self::assemble(
            format!("PostgreSQL, schema {}", store.schema()),
            Arc::new(store.clone()),
            bus,
            runner,
            OrderSummaries::Postgres(summaries, store.pool().clone()),
            store.operations(),
        )
    }

    fn assemble(
        kind: String,
        store: Arc<dyn EventStore>,
        bus: CommandBus,
        runner: Arc<ProjectionRunner>,
        summaries: OrderSummaries,
        ops: Operations,
    ) -> Result<Self, BoxError> {
        let queries = QueryBus::new()?
            .with_runner(runner.clone())
            .with_read_model_fed_by(summaries.clone(), summaries.projection());
        Ok(Self {
            kind,
            store,
            bus,
            runner,
            summaries,
            queries,
            keep_alive: eventsource_axum::KEEP_ALIVE,
            ops,
        })
    }
}
