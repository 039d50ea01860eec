//! The stores the operations CLI and the worker use: PostgreSQL when
//! `DATABASE_URL` is set (schema `ORDERS_SCHEMA`, else `orders_example`),
//! otherwise empty in-memory stores (where only `registry`, `check` and
//! the empty listings mean anything).

use eventsource::memory::{InMemoryProjectionBackend, InMemorySagaStore, InMemoryStore};
use eventsource::ops::Operations;
use eventsource_postgres::{PgEventStore, PgStoreOptions};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The schema used on PostgreSQL when `ORDERS_SCHEMA` is not set.
pub const DEFAULT_SCHEMA: &str = "orders_example";

/// The PostgreSQL store `DATABASE_URL` and `ORDERS_SCHEMA` name, if any.
/// Nothing is migrated: that is `admin migrate apply`'s job, or the
/// walkthrough's and the worker's at start.
pub async fn postgres() -> Result<Option<PgEventStore>, BoxError> {
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => return Ok(None),
    };
    let schema = match std::env::var("ORDERS_SCHEMA") {
        Ok(schema) if !schema.trim().is_empty() => schema,
        _ => DEFAULT_SCHEMA.to_owned(),
    };
    let options = PgStoreOptions::new(&schema)
        .map_err(|e| format!("ORDERS_SCHEMA `{schema}` is not a valid schema name: {e}"))?;
    Ok(Some(PgEventStore::connect_with(&url, options).await?))
}

/// The operations over the orders stores.
pub async fn operations() -> Result<Operations, BoxError> {
    Ok(match postgres().await? {
        Some(store) => store.operations(),
        None => Operations::new(InMemoryStore::new())
            .with_catalog(InMemoryProjectionBackend::new())
            .with_sagas(InMemorySagaStore::new()),
    })
}
