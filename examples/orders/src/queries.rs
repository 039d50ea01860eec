//! The questions the order service answers, and the read model answering
//! them: the order summary, in memory or in PostgreSQL.

use eventsource::StoreError;
use eventsource::prelude::*;

use crate::summary::{InMemorySummaries, OrderSummary, PgSummaries};

/// One order's summary (`None`: no such order).
#[derive(Query, Clone, Debug)]
#[query(result = Option<OrderSummary>, name = "orders.GetOrder")]
pub struct GetOrder {
    /// The order.
    pub order_id: String,
}

/// One order's status (`None`: no such order): the live status stream,
/// which changes less often than the summary.
#[derive(Query, Clone, Debug)]
#[query(result = Option<String>, name = "orders.OrderStatus")]
pub struct OrderStatus {
    /// The order.
    pub order_id: String,
}

/// The order summaries as queries see them, wherever they are kept. Its
/// projection depends on the store, so it is given to the bus with it
/// (`QueryBus::with_read_model_fed_by`).
#[derive(Clone, Debug)]
pub enum OrderSummaries {
    /// Kept in memory by [`InMemorySummaries`].
    Memory(InMemorySummaries),
    /// Kept in PostgreSQL by [`PgSummaries`], read through `pool`.
    Postgres(PgSummaries, sqlx::PgPool),
}

impl OrderSummaries {
    /// The projection that keeps them.
    pub fn projection(&self) -> &'static str {
        match self {
            Self::Memory(_) => <InMemorySummaries as Projection>::NAME,
            Self::Postgres(..) => <PgSummaries as Projection>::NAME,
        }
    }

    async fn get(&self, order_id: &str) -> Result<Option<OrderSummary>, StoreError> {
        match self {
            Self::Memory(rows) => Ok(rows.get(order_id)),
            Self::Postgres(rows, pool) => rows
                .get(pool, order_id)
                .await
                .map_err(eventsource_postgres::store_error),
        }
    }
}

#[read_model]
impl OrderSummaries {
    #[query_handler]
    async fn order(&self, q: &GetOrder) -> Result<Option<OrderSummary>, StoreError> {
        self.get(&q.order_id).await
    }

    #[query_handler]
    async fn status(&self, q: &OrderStatus) -> Result<Option<String>, StoreError> {
        Ok(self.get(&q.order_id).await?.map(|row| row.status))
    }
}
